"""Auto Scaling lifecycle hooks as AWS does them.

Launches with a launch hook wait in Pending:Wait and scale-in victims with a terminate
hook in Terminating:Wait, each with a lifecycle action (token, heartbeat timeout,
default result) and an EventBridge event "EC2 Instance-launch/terminate Lifecycle
Action". CompleteLifecycleAction (by token or by instance id) or the heartbeat timeout
ends the action. Everything here runs under the lab lock.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, autoscaling_backends
from moto.events.models import events_backends

log = logging.getLogger("swarmlab.lifecycle")

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
TRANSITIONS = (LAUNCHING, TERMINATING)
RESULTS = ("CONTINUE", "ABANDON")
IN_CAPACITY = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")
# AWS caps an action at 100 heartbeat timeouts or 48 hours, whichever is smaller.
GLOBAL_TIMEOUT_SECONDS = 172800


@dataclass
class LifecycleAction:
    token: str
    account_id: str
    region: str
    group_name: str
    hook_name: str
    instance_id: str
    transition: str
    heartbeat_timeout: int
    default_result: str
    started: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    global_deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = self.started + self.heartbeat_timeout
        self.global_deadline = self.started + min(100 * self.heartbeat_timeout, GLOBAL_TIMEOUT_SECONDS)


@dataclass
class Completion:
    instance_id: str
    group_name: str
    hook_name: str
    transition: str
    result: str
    by: str  # token | instance | timeout
    at: float
    waited_seconds: float


class LifecycleRegistry:
    def __init__(self) -> None:
        self.pending: dict[str, LifecycleAction] = {}
        self.completions: list[Completion] = []
        # Finished actions by token, so a late second completion is counted against its
        # instance (AWS answers it ValidationError, as here).
        self.finished: dict[str, LifecycleAction] = {}
        self.refused: list[dict[str, Any]] = []
        # A lab knob: groups whose launches wait until released (to order launches).
        self.held: set[str] = set()

    # --- observation -------------------------------------------------------------------
    def for_instance(self, instance_id: str) -> list[LifecycleAction]:
        return [a for a in self.pending.values() if a.instance_id == instance_id]

    def as_report(self) -> dict[str, Any]:
        return {
            "pending": [
                {
                    "instance_id": a.instance_id,
                    "group": a.group_name,
                    "hook": a.hook_name,
                    "transition": a.transition,
                    "seconds_left": round(a.deadline - time.monotonic(), 1),
                }
                for a in self.pending.values()
            ],
            "completed": [c.__dict__ for c in self.completions],
            "refused_completions": list(self.refused),
            "held_groups": sorted(self.held),
        }

    # --- moto's group calls these --------------------------------------------------------
    def converge(self, group: FakeAutoScalingGroup, new_capacity: int | None) -> None:
        """set_desired_capacity, with lifecycle hooks: launches and scale-in go through them."""
        group.desired_capacity = group.min_size if new_capacity is None else new_capacity
        target = group.desired_capacity or 0
        live = [s for s in group.instance_states if s.lifecycle_state in IN_CAPACITY]
        delta = target - len(live)
        if delta > 0 and group.name in self.held:
            log.info("launches in %s are held: %d waiting", group.name, delta)
        elif delta > 0:
            self.launch(group, delta)
        elif delta < 0:
            # Newest first among unprotected instances that are not already leaving.
            candidates = [s for s in live if not s.protected_from_scale_in]
            for state in list(reversed(candidates))[: -delta]:
                self.begin_termination(group, state)
        self.refresh_targets(group)

    def launch(self, group: FakeAutoScalingGroup, count: int) -> None:
        before = set(id(s) for s in group.instance_states)
        _original_replace(group, count, group.get_propagated_tags())
        hooks = _hooks(group, LAUNCHING)
        for state in group.instance_states:
            if id(state) in before:
                continue
            if hooks:
                state.lifecycle_state = "Pending:Wait"
                for hook in hooks:
                    self._start_action(group, state, hook, LAUNCHING)
            else:
                state.lifecycle_state = "InService"

    def begin_termination(self, group: FakeAutoScalingGroup, state: InstanceState) -> None:
        # Actions still pending for this instance (e.g. its launch) end with it.
        for action in self.for_instance(state.instance.id):
            self.pending.pop(action.token, None)
        hooks = _hooks(group, TERMINATING)
        if hooks:
            state.lifecycle_state = "Terminating:Wait"
            for hook in hooks:
                self._start_action(group, state, hook, TERMINATING)
        else:
            self.finish_termination(group, state)

    def finish_termination(self, group: FakeAutoScalingGroup, state: InstanceState) -> None:
        state.lifecycle_state = "Terminating:Proceed"
        group.instance_states = [s for s in group.instance_states if s is not state]
        _deregister(group, state.instance.id)
        try:
            group.autoscaling_backend.ec2_backend.terminate_instances([state.instance.id])
        except Exception as exc:  # already gone from EC2
            log.info("terminating %s: %s", state.instance.id, exc)
        # An abandoned launch is replaced; a scale-in victim is not (desired went down).
        self.top_up(group)

    def instance_vanished(self, group: FakeAutoScalingGroup, instance_id: str) -> None:
        """The instance died outside any hook (EC2 console, crash): no hook runs, the
        group notices and launches a replacement."""
        for action in self.for_instance(instance_id):
            self.pending.pop(action.token, None)
        group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]
        _deregister(group, instance_id)
        self.top_up(group)

    def hold(self, group_name: str, held: bool) -> None:
        """Holds a group's launches (even before the group exists), or releases them."""
        if held:
            self.held.add(group_name)
            return
        self.held.discard(group_name)
        for backend in _all_autoscaling_backends():
            group = backend.autoscaling_groups.get(group_name)
            if group is not None:
                self.top_up(group)

    def top_up(self, group: FakeAutoScalingGroup) -> None:
        """Launch what the group lacks; never terminate (that is converge's job)."""
        if group.name not in group.autoscaling_backend.autoscaling_groups or group.name in self.held:
            return
        live = [s for s in group.instance_states if s.lifecycle_state in IN_CAPACITY]
        missing = (group.desired_capacity or 0) - len(live)
        if missing > 0:
            self.launch(group, missing)
            self.refresh_targets(group)

    def refresh_targets(self, group: FakeAutoScalingGroup) -> None:
        if not group.target_group_arns or group.name not in group.autoscaling_backend.autoscaling_groups:
            return
        elbv2 = group.autoscaling_backend.elbv2_backend
        in_service = [s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"]
        for tg in elbv2.describe_target_groups(target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None):
            if in_service:
                elbv2.register_targets(tg.arn, [{"Id": i, "Port": tg.port} for i in in_service])

    # --- the API ---------------------------------------------------------------------------
    def find(self, group_name: str, hook_name: str, token: str | None, instance_id: str | None) -> LifecycleAction:
        if token:
            action = self.pending.get(token)
            if action is None or action.group_name != group_name or action.hook_name != hook_name:
                raise ValidationError(f"No active Lifecycle Action found with token {token}")
            return action
        if instance_id:
            for action in self.pending.values():
                if (action.instance_id, action.group_name, action.hook_name) == (instance_id, group_name, hook_name):
                    return action
            raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
        raise ValidationError("Either LifecycleActionToken or InstanceId must be specified")

    def heartbeat(self, group_name: str, hook_name: str, token: str | None, instance_id: str | None) -> None:
        action = self.find(group_name, hook_name, token, instance_id)
        action.deadline = min(time.monotonic() + action.heartbeat_timeout, action.global_deadline)

    def complete(self, group_name: str, hook_name: str, result: str, token: str | None, instance_id: str | None) -> None:
        if result not in RESULTS:
            raise ValidationError(f"Invalid LifecycleActionResult {result!r}: must be CONTINUE or ABANDON")
        try:
            action = self.find(group_name, hook_name, token, instance_id)
        except ValidationError:
            done = self.finished.get(token or "")
            self.refused.append({
                "instance_id": done.instance_id if done else instance_id, "group": group_name,
                "transition": done.transition if done else None, "result": result, "at": time.time(),
            })
            raise
        self._finish(action, result, "token" if token else "instance")

    def tick(self) -> None:
        now = time.monotonic()
        for action in list(self.pending.values()):
            if now >= action.deadline or now >= action.global_deadline:
                log.info(
                    "lifecycle action %s/%s on %s timed out: %s",
                    action.group_name, action.hook_name, action.instance_id, action.default_result,
                )
                self._finish(action, action.default_result, "timeout")

    # --- internals -------------------------------------------------------------------------
    def _start_action(self, group: FakeAutoScalingGroup, state: InstanceState, hook: Any, transition: str) -> None:
        action = LifecycleAction(
            token=str(uuid.uuid4()),
            account_id=group.account_id,
            region=group.region,
            group_name=group.name,
            hook_name=hook.name,
            instance_id=state.instance.id,
            transition=transition,
            heartbeat_timeout=int(hook.heartbeat_timeout),
            default_result=hook.default_result,
        )
        self.pending[action.token] = action
        _emit_event(group, hook, action)

    def _finish(self, action: LifecycleAction, result: str, by: str) -> None:
        self.pending.pop(action.token, None)
        self.finished[action.token] = action
        self.completions.append(
            Completion(
                action.instance_id, action.group_name, action.hook_name, action.transition,
                result, by, time.time(), round(time.monotonic() - action.started, 3),
            )
        )
        backend = autoscaling_backends[action.account_id][action.region]
        group = backend.autoscaling_groups.get(action.group_name)
        if group is None:
            return
        state = next((s for s in group.instance_states if s.instance.id == action.instance_id), None)
        if state is None:
            return
        siblings = [a for a in self.for_instance(action.instance_id) if a.transition == action.transition]
        if action.transition == LAUNCHING:
            if result == "ABANDON":
                for a in siblings:
                    self.pending.pop(a.token, None)
                self.begin_termination(group, state)
            elif not siblings:
                state.lifecycle_state = "InService"
                self.refresh_targets(group)
        elif not siblings:
            self.finish_termination(group, state)


REGISTRY = LifecycleRegistry()


def _all_autoscaling_backends() -> list[Any]:
    return [b for account in autoscaling_backends.values() for b in account.values()]
_original_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _hooks(group: FakeAutoScalingGroup, transition: str) -> list[Any]:
    if getattr(group, "swarmlab_force_delete", False):
        return []  # a group being deleted terminates its instances without hooks
    return [
        h for h in group.autoscaling_backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition
    ]


def _deregister(group: FakeAutoScalingGroup, instance_id: str) -> None:
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn in group.target_group_arns:
        try:
            elbv2.deregister_targets(arn, [{"Id": instance_id}])
        except Exception:  # target group gone or target never registered
            pass


def _emit_event(group: FakeAutoScalingGroup, hook: Any, action: LifecycleAction) -> None:
    launching = action.transition == LAUNCHING
    detail = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": group.name,
        "LifecycleHookName": hook.name,
        "EC2InstanceId": action.instance_id,
        "LifecycleTransition": action.transition,
        "Origin": "EC2" if launching else "AutoScalingGroup",
        "Destination": "AutoScalingGroup" if launching else "EC2",
    }
    metadata = getattr(hook, "notification_metadata", None)
    if metadata:
        detail["NotificationMetadata"] = metadata
    entry = {
        "Source": "aws.autoscaling",
        "DetailType": "EC2 Instance-launch Lifecycle Action" if launching else "EC2 Instance-terminate Lifecycle Action",
        "Detail": json.dumps(detail),
        "Resources": [group.arn],
    }
    results = events_backends[group.account_id][group.region].put_events([entry])
    for r in results:
        if r.get("ErrorCode"):
            log.error("lifecycle event for %s not delivered: %s", action.instance_id, r)
