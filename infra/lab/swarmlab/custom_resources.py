"""CloudFormation custom resources, delivered to the function named by ServiceToken.

Create, Update and Delete requests are all sent (on stack create, update and delete, and
Delete again on rollback), each with a ResponseURL that reaches the lab. The stack waits
for the answers: SUCCESS moves it on, FAILED fails it (CREATE → ROLLBACK_COMPLETE,
UPDATE → UPDATE_ROLLBACK_COMPLETE, DELETE → DELETE_FAILED), and no answer within the
resource's ServiceTimeout (default 3600 s, as AWS) counts as FAILED.
Runs under the lab lock, except the invocation itself, which is asynchronous.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.awslambda.models import lambda_backends
from moto.cloudformation.models import Event, Stack, cloudformation_backends

from . import config
from .lambda_host import FunctionNotRunnable, LambdaHost

log = logging.getLogger("swarmlab.cfn")

MAX_RESPONSE_BYTES = 4096
DEFAULT_TIMEOUT_SECONDS = 3600


def cfn_strings(value: Any) -> Any:
    """CloudFormation hands a custom resource every scalar property as a string."""
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


@dataclass
class CustomRequest:
    request_id: str
    request_type: str
    stack: Stack
    logical_id: str
    resource_type: str
    physical_id: str | None
    deadline: float
    on_answer: Callable[["CustomRequest"], None]
    status: str | None = None
    reason: str = ""
    answer_physical_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class CustomResources:
    def __init__(self, host: LambdaHost):
        self.host = host
        self.pending: dict[str, CustomRequest] = {}
        self.history: list[dict[str, Any]] = []

    def send(
        self,
        stack: Stack,
        request_type: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        on_answer: Callable[[CustomRequest], None],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> CustomRequest:
        request_id = str(uuid.uuid4())
        timeout = int(properties.get("ServiceTimeout") or DEFAULT_TIMEOUT_SECONDS)
        req = CustomRequest(
            request_id, request_type, stack, logical_id, resource_type, physical_id,
            time.monotonic() + timeout, on_answer,
        )
        self.pending[request_id] = req
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken", ""),
            "ResponseURL": f"http://127.0.0.1:{config.moto_port()}/_lab/cfn-response/{request_id}",
            "StackId": stack.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": cfn_strings(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = cfn_strings(old_properties)
        self._resource_event(req, f"{request_type.upper()}_IN_PROGRESS" if request_type != "Delete" else "DELETE_IN_PROGRESS", "")
        try:
            backend = lambda_backends[stack.account_id][stack.region_name]
            fn = backend.get_function(event["ServiceToken"])
            self.host.runtime_for(fn).submit(json.dumps(event).encode(), "cloudformation")
        except FunctionNotRunnable as exc:
            self._fail_soon(req, f"the lab could not invoke the ServiceToken's function: {exc}")
        except Exception as exc:  # unknown function: AWS fails the resource at once too
            self._fail_soon(req, f"ServiceToken {event['ServiceToken']!r} is not a function in this account and region ({exc})")
        return req

    def _fail_soon(self, req: CustomRequest, reason: str) -> None:
        # Settled by the next tick, never inside the stack operation that sent it.
        req.deadline = 0.0
        req.reason = reason

    def answer(self, request_id: str, body: bytes) -> tuple[int, str]:
        req = self.pending.get(request_id)
        if req is None:
            return 404, "no custom resource request is waiting for this response (answered already, or timed out)"
        if len(body) > MAX_RESPONSE_BYTES:
            self._settle(req, "FAILED", f"Response object is too long ({len(body)} bytes; the limit is {MAX_RESPONSE_BYTES})")
            return 200, "too long: counted as FAILED"
        try:
            answer = json.loads(body)
            status = answer["Status"]
            if status not in ("SUCCESS", "FAILED"):
                raise ValueError(f"Status must be SUCCESS or FAILED, not {status!r}")
            for key, want in (("StackId", req.stack.stack_id), ("RequestId", req.request_id), ("LogicalResourceId", req.logical_id)):
                if answer.get(key) != want:
                    raise ValueError(f"{key} does not match the request")
            if not answer.get("PhysicalResourceId"):
                raise ValueError("PhysicalResourceId is required")
        except (ValueError, KeyError, TypeError) as exc:
            self._settle(req, "FAILED", f"Invalid custom resource response: {exc}")
            return 200, "invalid: counted as FAILED"
        req.answer_physical_id = answer["PhysicalResourceId"]
        req.data = answer.get("Data") or {}
        self._settle(req, status, answer.get("Reason") or "")
        return 200, "ok"

    def tick(self) -> None:
        now = time.monotonic()
        for req in list(self.pending.values()):
            if now >= req.deadline:
                self._settle(req, "FAILED", req.reason or "CloudFormation did not receive a response from your Custom Resource within its timeout")

    def report(self) -> list[dict[str, Any]]:
        return self.history[-50:]

    def _settle(self, req: CustomRequest, status: str, reason: str) -> None:
        if self.pending.pop(req.request_id, None) is None:
            return
        req.status, req.reason = status, reason
        self.history.append({
            "stack": req.stack.name, "logical_id": req.logical_id, "request_type": req.request_type,
            "status": status, "reason": reason, "physical_id": req.answer_physical_id,
        })
        verb = {"Create": "CREATE", "Update": "UPDATE", "Delete": "DELETE"}[req.request_type]
        self._resource_event(req, f"{verb}_COMPLETE" if status == "SUCCESS" else f"{verb}_FAILED", reason)
        log.info("custom resource %s %s on %s: %s %s", req.logical_id, req.request_type, req.stack.name, status, reason)
        req.on_answer(req)

    def _resource_event(self, req: CustomRequest, status: str, reason: str) -> None:
        req.stack.events.append(
            Event(
                stack_id=req.stack.stack_id,
                stack_name=req.stack.name,
                logical_resource_id=req.logical_id,
                physical_resource_id=req.answer_physical_id or req.physical_id or "",
                resource_type=req.resource_type,
                resource_status=status,
                resource_status_reason=reason or None,
                resource_properties=None,
            )
        )


def backend_of(stack: Stack) -> Any:
    return cloudformation_backends[stack.account_id][stack.region_name]
