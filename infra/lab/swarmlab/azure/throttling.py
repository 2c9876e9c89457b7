"""Throttling on demand: the next N calls of an operation (`"PUT Microsoft.Network/
loadBalancers"`, `"GET Microsoft.KeyVault/vaults/secrets"`, or `"*"`) are refused with 429
and a `Retry-After`, as ARM and Key Vault throttle a subscription that asks too much."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Rule:
    left: int
    retry_after: int


class Throttle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, _Rule] = {}
        self.refused: dict[str, int] = {}

    def inject(self, operation: str, count: int, retry_after: int) -> None:
        if not operation or count < 0 or not 0 <= retry_after <= 3600:
            raise ValueError("an operation, a count ≥ 0 and a retry_after of 0-3600 seconds")
        with self._lock:
            self._rules[operation.lower()] = _Rule(count, retry_after)

    def take(self, operation: str) -> int | None:
        """The Retry-After seconds if this call is to be refused, else None."""
        with self._lock:
            for key in (operation.lower(), "*"):
                rule = self._rules.get(key)
                if rule is not None and rule.left > 0:
                    rule.left -= 1
                    self.refused[operation] = self.refused.get(operation, 0) + 1
                    return rule.retry_after
        return None

    def report(self) -> dict[str, object]:
        with self._lock:
            return {"rules": {k: {"left": r.left, "retry_after": r.retry_after} for k, r in self._rules.items()},
                    "refused": dict(self.refused)}
