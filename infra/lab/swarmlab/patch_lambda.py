"""moto's Lambda, served by the lab's LambdaHost: Invoke runs the real binary, and SQS
queues that are a function's event source are polled and delivered as SQS batches,
honouring ReportBatchItemFailures, as Lambda's pollers do."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends
from moto.sqs import models as sqs_models
from moto.sqs.models import sqs_backends

from .lablock import LAB_LOCK, released
from .lambda_host import FunctionNotRunnable, LambdaHost

log = logging.getLogger("swarmlab.lambda")

POLLERS_PER_SOURCE = int(os.environ.get("SWARMLAB_SQS_POLLERS", "5"))


def _record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    body = message.body
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "SentTimestamp": str(message.sent_timestamp or int(time.time() * 1000)),
            "SenderId": str(message.sender_id),
            "ApproximateFirstReceiveTimestamp": str(
                getattr(message, "approximate_first_receive_timestamp", None) or int(time.time() * 1000)
            ),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    def __init__(self, host: LambdaHost, account: str, region: str, esm_uuid: str):
        self.host, self.account, self.region, self.uuid = host, account, region, esm_uuid
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"sqs-poller-{esm_uuid[:8]}")
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            try:
                if not self._poll_once():
                    time.sleep(0.2)
            except Exception:
                log.exception("SQS poller %s", self.uuid)
                time.sleep(1)

    def _poll_once(self) -> bool:
        with LAB_LOCK:
            backend = lambda_backends[self.account][self.region]
            esm = backend._event_source_mappings.get(self.uuid)
            if esm is None:
                self.running = False
                return False
            if not esm.enabled:
                return False
            sqs = sqs_backends[self.account][self.region]
            queue = next((q for q in sqs.queues.values() if q.queue_arn == esm.event_source_arn), None)
            if queue is None:
                return False
            messages = sqs.receive_message(queue.name, int(esm.batch_size or 10), 0, int(queue.visibility_timeout))
            if not messages:
                return False
            fn = backend.get_function(esm.function_arn)
            runtime = self.host.runtime_for(fn)
            event = {"Records": [_record(m, queue.queue_arn, self.region) for m in messages]}
            report_failures = "ReportBatchItemFailures" in (esm.function_response_types or [])
        try:
            inv = runtime.submit(json.dumps(event).encode(), f"sqs:{queue.name}")
        except FunctionNotRunnable as exc:
            log.error("%s", exc)
            return True  # messages come back after their visibility timeout
        inv.done.wait()
        keep: set[str] = set()
        if inv.error is not None:
            keep = {m.id for m in messages}
        elif report_failures:
            try:
                answer = json.loads(inv.result or b"null") or {}
                keep = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            except (ValueError, TypeError, KeyError, AttributeError):
                keep = {m.id for m in messages}  # an unreadable answer fails the whole batch
        with LAB_LOCK:
            for m in messages:
                if m.id not in keep:
                    try:
                        sqs.delete_message(queue.name, m.receipt_handle)
                    except Exception:  # the queue or message went away meanwhile
                        pass
        return True


class EventSources:
    """Keeps one poller per enabled SQS event source mapping, across accounts and regions."""

    def __init__(self, host: LambdaHost):
        self.host = host
        self.pollers: dict[str, SqsPoller] = {}

    def tick(self) -> None:
        with LAB_LOCK:
            wanted = {
                esm.uuid: (account, region)
                for account, regions in lambda_backends.items()
                for region, backend in regions.items()
                for esm in backend._event_source_mappings.values()
                if ":sqs:" in esm.event_source_arn
            }
        # Lambda reads an SQS source with several pollers at once (five to start with),
        # each delivering its own batches: that is what makes invocations concurrent.
        for esm_uuid, (account, region) in wanted.items():
            for i in range(POLLERS_PER_SOURCE):
                key = f"{esm_uuid}/{i}"
                poller = self.pollers.get(key)
                if poller is None or not poller.running:
                    self.pollers[key] = SqsPoller(self.host, account, region, esm_uuid)
        for key in [k for k in self.pollers if k.split("/")[0] not in wanted]:
            self.pollers.pop(key).running = False

    def stop(self) -> None:
        for poller in self.pollers.values():
            poller.running = False


def install(host: LambdaHost) -> None:
    # moto would invoke a function synchronously (in Docker) from inside SendMessage;
    # the lab's pollers deliver instead.
    sqs_models.Queue.lambda_event_source_mappings = property(lambda self: {}, lambda self, value: None)  # type: ignore[assignment]

    def invoke(self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any) -> Any:
        fn = self.get_function(function_name, qualifier)
        runtime = host.runtime_for(fn)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        try:
            inv = runtime.submit(payload, "invoke")
        except FunctionNotRunnable as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Lab.FunctionNotRunnable", "errorMessage": str(exc)}).encode()
        if headers.get("X-Amz-Invocation-Type") == "Event":
            return b""
        with released():
            inv.done.wait()
        if inv.error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(inv.error).encode()
        return inv.result or b"null"

    LambdaBackend.invoke = invoke  # type: ignore[method-assign]
    _keep_logging_config()


def _keep_logging_config() -> None:
    """moto drops a template's LoggingConfig; Lambda turns it into the runtime's
    AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_GROUP_NAME, which the host sets from it."""
    create = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def created(cls: Any, name: str, cfn: dict[str, Any], account_id: str, region: str, **kwargs: Any) -> Any:
        fn = create(cls, name, cfn, account_id, region, **kwargs)
        fn.logging_config = cfn["Properties"].get("LoggingConfig") or {}
        return fn

    def updated(cls: Any, original: Any, name: str, cfn: dict[str, Any], account_id: str, region: str) -> Any:
        fn = update(cls, original, name, cfn, account_id, region)
        fn.logging_config = cfn["Properties"].get("LoggingConfig") or {}
        return fn

    LambdaFunction.create_from_cloudformation_json = classmethod(created)  # type: ignore[method-assign,assignment]
    LambdaFunction.update_from_cloudformation_json = classmethod(updated)  # type: ignore[method-assign,assignment]
