"""One lock for moto's backends.

moto's models are plain dicts and lists; the lab serves requests from many threads and
also changes state from its own threads (lifecycle timeouts, SQS pollers, node boots).
Every moto request and every lab thread that touches a backend holds this lock.
Work that waits (a Lambda invocation, a node booting) is done without it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

LAB_LOCK = threading.RLock()


@contextlib.contextmanager
def released() -> Iterator[None]:
    """Let go of the lab lock while waiting on something that itself calls moto."""
    held = 0
    while LAB_LOCK._is_owned():  # type: ignore[attr-defined]
        LAB_LOCK.release()
        held += 1
    try:
        yield
    finally:
        for _ in range(held):
            LAB_LOCK.acquire()
