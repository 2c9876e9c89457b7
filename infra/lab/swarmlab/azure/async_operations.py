"""ARM's long-running operations: a write that finishes later answers with an
`Azure-AsyncOperation` URL, whose GET gives `{"status": "InProgress" | "Succeeded" |
"Failed" | "Canceled", "error"?, "startTime", "endTime"?}` (Microsoft's "track
asynchronous Azure operations")."""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any, Callable

from .resources import LOCATION, SUBSCRIPTION_ID


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class AsyncOperations:
    def __init__(self, base_url: Callable[[], str]):
        self.base_url = base_url
        self._lock = threading.Lock()
        self._ops: dict[str, dict[str, Any]] = {}

    def start(self, namespace: str, api_version: str, done: bool = False) -> tuple[str, dict[str, str]]:
        """A new operation (already Succeeded when `done`), and the header that names it."""
        op = str(uuid.uuid4())
        with self._lock:
            self._ops[op] = {"id": op, "name": op, "status": "Succeeded" if done else "InProgress", "startTime": _now()}
            if done:
                self._ops[op]["endTime"] = self._ops[op]["startTime"]
        url = (f"{self.base_url()}/subscriptions/{SUBSCRIPTION_ID}/providers/{namespace}/locations/{LOCATION}"
               f"/operations/{op}?api-version={api_version}")
        return op, {"Azure-AsyncOperation": url}

    def finish(self, op: str, status: str, error: dict[str, Any] | None = None) -> None:
        with self._lock:
            found = self._ops.get(op)
            if found is not None:
                found.update(status=status, endTime=_now())
                if error is not None:
                    found["error"] = error

    def get(self, op: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._ops.get(op)
            return dict(found) if found is not None else None
