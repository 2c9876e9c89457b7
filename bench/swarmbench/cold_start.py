"""Cold start of each function: from process start to its first request for work on the
Lambda Runtime API (init done: configuration read, SDK clients built), and the process's
peak resident memory at that moment. A Python/boto3 process creating the same clients is
measured the same way, beside it."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RUNS = 7

# What each function builds at cold start, for the Python stand-in to build too.
CLIENTS = {
    "swarmhook-lifecycle": ["dynamodb", "ssm", "autoscaling", "ec2", "cloudformation", "sqs"],
    "swarmhook-swarm-resource": ["dynamodb", "ssm"],
    "swarmhook-console": ["dynamodb", "ssm", "autoscaling", "ec2"],
}

FUNCTION_ENV = {
    "SWARMHOOK_CLUSTER": "bench",
    "SWARMHOOK_TABLE": "bench",
    "SWARMHOOK_MANAGER_GROUP": "bench-managers",
    "SWARMHOOK_WORKER_GROUP": "bench-workers",
    "SWARMHOOK_TOKEN_PREFIX": "/swarmhook/bench/join-token",
    "SWARMHOOK_QUEUE_URL": "http://127.0.0.1:9/queue/bench",
    "SWARMHOOK_STACK": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench/1",
}

PYTHON_STAND_IN = """
import os, urllib.request, boto3
clients = [boto3.client(name) for name in os.environ["BENCH_CLIENTS"].split(",")]
urllib.request.urlopen("http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/next")
"""


class FirstNext:
    """A Runtime API that notes when the process first asks for work, and never answers."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.at = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                if self.path.endswith("/runtime/invocation/next") and not outer.asked.is_set():
                    outer.at = time.perf_counter()
                    outer.asked.set()
                time.sleep(30)  # held open: the process stays as it was after init

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    api = FirstNext()
    full_env = dict(os.environ, **env, AWS_LAMBDA_RUNTIME_API=api.address)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not api.asked.wait(30):
            err = proc.stderr.read(2000).decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
            raise RuntimeError(f"{argv[0]} never asked for work: {err}")
        return (api.at - started) * 1000, peak_rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        api.close()


def measure(binaries: Path, python: str) -> list[dict[str, Any]]:
    rows = []
    for name, clients in CLIENTS.items():
        binary = binaries / name
        if not binary.is_file():
            sys.exit(f"no {binary}: build the release binaries first")
        for kind, argv, extra in (
            ("rust", [str(binary)], {}),
            ("python+boto3", [python, "-c", PYTHON_STAND_IN], {"BENCH_CLIENTS": ",".join(clients)}),
        ):
            env = dict(FUNCTION_ENV, AWS_LAMBDA_FUNCTION_NAME=name, **extra)
            one_run(argv, env)  # warm the page cache: a cold start is a process start, not a disk read
            samples = [one_run(argv, env) for _ in range(RUNS)]
            rows.append({
                "function": name,
                "runtime": kind,
                "clients": clients,
                "runs": RUNS,
                "init_ms_median": round(statistics.median(s[0] for s in samples), 1),
                "init_ms_min": round(min(s[0] for s in samples), 1),
                "peak_rss_mb_median": round(statistics.median(s[1] for s in samples), 1),
            })
            print(f"  {name:26} {kind:13} init {rows[-1]['init_ms_median']:7.1f} ms  "
                  f"peak {rows[-1]['peak_rss_mb_median']:6.1f} MB", flush=True)
    return rows
