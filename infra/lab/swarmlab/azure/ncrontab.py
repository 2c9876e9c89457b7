"""NCRONTAB, the schedule language of Azure Functions' timer trigger: six fields,
`{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a number, a range
`a-b`, a list `a,b`, or a step `*/n` / `a-b/n` (Microsoft's "Timer trigger for Azure
Functions", NCRONTAB expressions). Times are UTC (no WEBSITE_TIME_ZONE in the lab).
A TimeSpan schedule (`hh:mm:ss`) is also taken, as the host takes it on dedicated plans."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day-of-week", 0, 6))
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
          "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_SPAN = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")


class ScheduleError(ValueError):
    pass


def _value(text: str, low: int, high: int, name: str) -> int:
    v = _NAMES.get(text.lower()) if not text.isdigit() else int(text)
    if v is None or not low <= v <= high:
        raise ScheduleError(f"'{text}' is not a {name} ({low}-{high})")
    return v


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"'{step_text}' is not a step for the {name}")
            step = int(step_text)
        if part == "*":
            a, b = low, high
        elif "-" in part:
            x, y = part.split("-", 1)
            a, b = _value(x, low, high, name), _value(y, low, high, name)
        else:
            a = _value(part, low, high, name)
            b = high if step > 1 else a
        out.update(range(a, b + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Schedule:
    text: str
    fields: tuple[frozenset[int], ...] | None
    every: datetime.timedelta | None

    def next_after(self, t: datetime.datetime) -> datetime.datetime:
        """The first time strictly after `t` that the schedule names."""
        if self.every is not None:
            return t + self.every
        assert self.fields is not None
        sec, minute, hour, day, month, dow = self.fields
        c = t.replace(microsecond=0) + datetime.timedelta(seconds=1)
        limit = t + datetime.timedelta(days=366 * 5)
        while c < limit:
            if c.month not in month:
                c = (c.replace(day=1, hour=0, minute=0, second=0) + datetime.timedelta(days=32)).replace(day=1)
                continue
            if c.day not in day or (c.isoweekday() % 7) not in dow:
                c = c.replace(hour=0, minute=0, second=0) + datetime.timedelta(days=1)
                continue
            if c.hour not in hour:
                c = c.replace(minute=0, second=0) + datetime.timedelta(hours=1)
                continue
            if c.minute not in minute:
                c = c.replace(second=0) + datetime.timedelta(minutes=1)
                continue
            if c.second not in sec:
                c += datetime.timedelta(seconds=1)
                continue
            return c
        raise ScheduleError(f"the schedule '{self.text}' names no time in five years")


def parse(text: str) -> Schedule:
    span = _SPAN.match(text.strip())
    if span:
        h, m, s = (int(g) for g in span.groups())
        every = datetime.timedelta(hours=h, minutes=m, seconds=s)
        if every.total_seconds() <= 0:
            raise ScheduleError("a TimeSpan schedule must be longer than zero")
        return Schedule(text, None, every)
    parts = text.split()
    if len(parts) != 6:
        raise ScheduleError(f"an NCRONTAB schedule has six fields ({{second}} {{minute}} {{hour}} {{day}} {{month}} "
                            f"{{day-of-week}}), not {len(parts)}: '{text}'")
    return Schedule(text, tuple(_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS)), None)
