"""EventBridge schedules: moto keeps a rule's `ScheduleExpression` and never fires it.

The lab fires every enabled rule that has one, as EventBridge does: a `Scheduled Event`
from `aws.events` (its `resources` naming the rule), sent to each of the rule's targets
through moto's own target delivery, first one period after the lab first sees the rule.
`rate(N minute|minutes|hour|hours|day|days)` is modelled; a `cron(...)` expression is
reported once in the log and not fired. `POST /_lab/fire-schedules` fires every
schedule now (tests use it rather than wait a minute).

A rule with a schedule and no event pattern matches no event put on the bus, as on
AWS (moto's empty pattern matched every event, so every lifecycle event of every stack
reached every schedule's targets).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from moto.events.models import Rule, events_backends

from . import config

log = logging.getLogger("swarmlab.schedules")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


_moto_send_to_targets = Rule.send_to_targets


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if self.scheduled_expression and not self.event_pattern.get_pattern():
        return  # a schedule's own events go through Schedules._fire
    _moto_send_to_targets(self, original_event, transform_input)


def install() -> None:
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]


def period_seconds(expression: str) -> int | None:
    """A rate expression's period; None for anything else (cron is not modelled)."""
    m = _RATE.match(expression.strip())
    if m is None:
        return None
    n = int(m.group(1))
    unit = m.group(2).rstrip("s")
    if n < 1 or (n == 1) != (m.group(2) == unit):
        return None  # AWS wants "rate(1 minute)" and "rate(5 minutes)"
    return n * _SECONDS[unit]


class Schedules:
    """Fires scheduled rules. Called under the lab lock (it reads moto's backends)."""

    def __init__(self) -> None:
        self.next_at: dict[str, float] = {}
        self.fired: dict[str, int] = {}
        self._reported: set[str] = set()

    def _scheduled_rules(self) -> list[Any]:
        backend = events_backends[config.ACCOUNT_ID][config.REGION]
        rules = []
        for bus in backend.event_buses.values():
            for rule in bus.rules.values():
                if rule.scheduled_expression and rule.state == "ENABLED":
                    rules.append(rule)
        return rules

    def tick(self) -> None:
        now = time.monotonic()
        for rule in self._scheduled_rules():
            period = period_seconds(rule.scheduled_expression)
            if period is None:
                if rule.arn not in self._reported:
                    self._reported.add(rule.arn)
                    log.warning("rule %s: schedule %r is not modelled (only rate(...)); not fired", rule.name, rule.scheduled_expression)
                continue
            due = self.next_at.setdefault(rule.arn, now + period)
            if now >= due:
                self._fire(rule)
                self.next_at[rule.arn] = now + period

    def fire_all(self) -> list[str]:
        fired = []
        for rule in self._scheduled_rules():
            self._fire(rule)
            fired.append(rule.name)
        return fired

    def _fire(self, rule: Any) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": config.ACCOUNT_ID,
            # moto's SQS delivery formats an epoch time as AWS does (ISO 8601).
            "time": time.time(),
            "region": config.REGION,
            "resources": [rule.arn],
            "detail": {},
            # moto's target delivery reads it (as for put_events).
            "ingestion-time": time.time(),
        }
        _moto_send_to_targets(rule, event)
        self.fired[rule.name] = self.fired.get(rule.name, 0) + 1
        log.info("rule %s: scheduled event sent to %d targets", rule.name, len(rule.targets))

    def report(self) -> dict[str, int]:
        return dict(self.fired)

    def reset(self) -> None:
        self.next_at.clear()
        self.fired.clear()
