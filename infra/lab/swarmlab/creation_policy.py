"""CloudFormation creation policies with resource signals, which moto lacks.

An Auto Scaling group whose template has `CreationPolicy: ResourceSignal: {Count,
Timeout}` stays CREATE_IN_PROGRESS, and so does its stack, until SignalResource has
brought Count SUCCESS signals (each UniqueId counted once). A FAILURE signal, or the
timeout passing first, fails the resource and rolls the stack back. Signalling a stack
that is not being created is a ValidationError "... is in <status> state and cannot be
signaled", as on AWS. Runs under the lab lock.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack, cloudformation_backends
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import EmptyResult

from .patch_cloudformation import StackOperations

log = logging.getLogger("swarmlab.cfn")

DEFAULT_TIMEOUT = "PT5M"  # AWS's default for a ResourceSignal


def iso_seconds(duration: str) -> float:
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(duration).strip())
    if not m or not any(m.groups()):
        raise ValueError(f"{duration!r} is not an ISO 8601 duration such as PT15M")
    h, mi, s = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + s


@dataclass
class Awaited:
    stack: Stack
    logical_id: str
    resource_type: str
    physical_id: str
    count: int
    deadline: float
    successes: set[str] = field(default_factory=set)
    failed: bool = False

    @property
    def satisfied(self) -> bool:
        return not self.failed and len(self.successes) >= self.count


class ResourceSignals:
    def __init__(self, ops: StackOperations):
        self.ops = ops
        self.awaited: dict[tuple[str, str], Awaited] = {}

    def expect(self, stack: Stack, logical_id: str, resource: Any, policy: dict[str, Any]) -> None:
        signal = policy.get("ResourceSignal") or {}
        count = int(signal.get("Count", 1))
        timeout = iso_seconds(signal.get("Timeout", DEFAULT_TIMEOUT))
        awaited = Awaited(stack, logical_id, "AWS::AutoScaling::AutoScalingGroup", resource.physical_resource_id,
                          count, time.monotonic() + timeout)
        self.awaited[(stack.stack_id, logical_id)] = awaited
        resource.lab_awaited = awaited
        log.info("%s/%s waits for %d signal(s) within %ss", stack.name, logical_id, count, timeout)

    def signal(self, stack: Stack, logical_id: str, unique_id: str, status: str) -> None:
        if stack.status != "CREATE_IN_PROGRESS":
            raise ValidationError(message=f"Stack {stack.stack_id} is in {stack.status} state and cannot be signaled")
        awaited = self.awaited.get((stack.stack_id, logical_id))
        if awaited is None or awaited.satisfied or awaited.failed:
            state = "CREATE_FAILED" if awaited is not None and awaited.failed else "CREATE_COMPLETE"
            raise ValidationError(message=f"Resource {logical_id} is in {state} state and cannot be signaled")
        if status not in ("SUCCESS", "FAILURE"):
            raise ValidationError(message=f"Status must be SUCCESS or FAILURE, not {status!r}")
        self._event(awaited, "CREATE_IN_PROGRESS", f"Received {status} signal with UniqueId {unique_id}")
        if status == "FAILURE":
            self._fail(awaited, f"Received FAILURE signal with UniqueId {unique_id}")
            return
        awaited.successes.add(unique_id)
        if awaited.satisfied:
            self._event(awaited, "CREATE_COMPLETE", None)
            self.awaited.pop((stack.stack_id, logical_id), None)
            if stack.stack_id not in self.ops.ops:  # no custom resource still answering
                self.ops.verify_created(stack)

    def tick(self) -> None:
        now = time.monotonic()
        for awaited in list(self.awaited.values()):
            if awaited.stack.status != "CREATE_IN_PROGRESS":
                self.awaited.pop((awaited.stack.stack_id, awaited.logical_id), None)
            elif now >= awaited.deadline:
                missing = awaited.count - len(awaited.successes)
                self._fail(awaited, f"Failed to receive {missing} resource signal(s) within the specified duration")

    def _fail(self, awaited: Awaited, reason: str) -> None:
        awaited.failed = True
        self.awaited.pop((awaited.stack.stack_id, awaited.logical_id), None)
        self._event(awaited, "CREATE_FAILED", reason)
        log.info("%s/%s failed: %s", awaited.stack.name, awaited.logical_id, reason)
        self.ops.rollback(awaited.stack, f"The following resource(s) failed to create: [{awaited.logical_id}]. {reason}")

    @staticmethod
    def _event(awaited: Awaited, status: str, reason: str | None) -> None:
        awaited.stack.events.append(Event(
            stack_id=awaited.stack.stack_id, stack_name=awaited.stack.name, logical_resource_id=awaited.logical_id,
            physical_resource_id=awaited.physical_id, resource_type=awaited.resource_type, resource_status=status,
            resource_status_reason=reason, resource_properties=None,
        ))


def install(ops: StackOperations) -> ResourceSignals:
    signals = ResourceSignals(ops)
    group_from_cfn = FakeAutoScalingGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_group(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> Any:
        group = group_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        policy = cloudformation_json.get("CreationPolicy")
        if policy and kwargs.get("StackId"):
            stack = cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"])
            signals.expect(stack, kwargs["LogicalId"], group, policy)
        return group

    def group_is_created(self: FakeAutoScalingGroup) -> bool:
        awaited = getattr(self, "lab_awaited", None)
        return awaited is None or awaited.satisfied

    def signal_resource(self: CloudFormationResponse) -> EmptyResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        signals.signal(stack, self._get_param("LogicalResourceId"), self._get_param("UniqueId"), self._get_param("Status"))
        return EmptyResult()

    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(create_group)  # type: ignore[method-assign,assignment]
    FakeAutoScalingGroup.is_created = group_is_created  # type: ignore[method-assign]
    CloudFormationResponse.signal_resource = signal_resource  # type: ignore[attr-defined]
    return signals
