"""Counts every AWS API call the lab serves, by caller and by service:action, so a
benchmark can say how many calls one join costs. The caller is told by its User-Agent:
the functions use the Rust SDK, the nodes the AWS CLI; anything else (tests, the lab's
own CLI, boto3) is "other". Each function signs with credentials of its own
(`fn-<function name>`), so its calls are also counted by function."""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/[^/]+/([^/]+)/aws4_request")


def caller_of(user_agent: str) -> str:
    if "aws-sdk-rust" in user_agent:
        return "functions"
    if "aws-cli/" in user_agent:
        return "nodes"
    return "other"


class ApiCalls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.by_function: Counter[tuple[str, str]] = Counter()

    def record(self, environ: dict[str, Any]) -> None:
        """Notes one request; the body it reads is put back for moto to read."""
        m = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = m.group(2) if m else "unsigned"
        key = m.group(1) if m else ""
        action = (environ.get("HTTP_X_AMZ_TARGET") or "").rsplit(".", 1)[-1]
        if not action and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action = (parse_qs(body.decode(errors="replace")).get("Action") or [""])[0]
        if not action:
            action = f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}".split("?")[0]
            action = re.sub(r"/[^/]{24,}", "/…", action)  # ids out of REST paths
        with self.lock:
            self.counts[(caller_of(environ.get("HTTP_USER_AGENT", "")), f"{service}:{action}")] += 1
            if key.startswith("fn-"):
                self.by_function[(key[3:], f"{service}:{action}")] += 1

    def report(self) -> dict[str, dict[str, Any]]:
        """{caller: {call: n}}, and under "by_function" {function: {call: n}}."""
        with self.lock:
            out: dict[str, dict[str, Any]] = {}
            for (caller, call), n in sorted(self.counts.items()):
                out.setdefault(caller, {})[call] = n
            functions: dict[str, dict[str, int]] = {}
            for (function, call), n in sorted(self.by_function.items()):
                functions.setdefault(function, {})[call] = n
            out["by_function"] = functions
            return out

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.by_function.clear()
