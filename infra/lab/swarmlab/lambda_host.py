"""Lambda, locally: the real function binaries behind a local Lambda Runtime API.

Each function gets up to `concurrency` worker processes, started on demand (a cold
start), each with its own Runtime API endpoint on loopback. Invocations queue per
function; a worker that overruns the function's timeout is killed, as AWS does.
A function's Handler names its binary in the functions folder (target/debug by default).
Logs (the function's own, plus START/END/REPORT lines) go to run/functions/<name>.log.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import queue
import subprocess
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import config, processes

log = logging.getLogger("swarmlab.lambda")

DEFAULT_CONCURRENCY = int(os.environ.get("SWARMLAB_LAMBDA_CONCURRENCY", "5"))
API = "/2018-06-01/runtime"


class FunctionNotRunnable(RuntimeError):
    pass


@dataclass
class Invocation:
    payload: bytes
    source: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    deadline: float | None = None  # epoch seconds
    result: bytes | None = None
    error: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, result: bytes | None = None, error: dict[str, Any] | None = None) -> None:
        if self.done.is_set():
            return
        self.result, self.error = result, error
        self.done.set()


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    binary: Path
    timeout: int
    memory: int
    env: tuple[tuple[str, str], ...]
    concurrency: int
    # The function's LoggingConfig, as Lambda hands it to the runtime.
    log_format: str = ""
    log_group: str = ""


class _Worker:
    def __init__(self, fn: "FunctionRuntime", index: int):
        self.fn = fn
        self.index = index
        self.current: Invocation | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name=f"rapi-{fn.spec.name}-{index}").start()
        env = dict(os.environ)
        for key in [k for k in env if k.startswith(("AWS_", "SWARMLAB_"))]:
            env.pop(key)
        spec = fn.spec
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.server.server_address[1]}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"lab/{index}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
                "LAMBDA_TASK_ROOT": str(spec.binary.parent),
                "_HANDLER": spec.binary.name,
                "AWS_REGION": config.REGION,
                "AWS_DEFAULT_REGION": config.REGION,
                # Credentials of its own, as an execution role gives: the lab counts each
                # function's calls by them.
                "AWS_ACCESS_KEY_ID": f"fn-{spec.name}",
                "AWS_SECRET_ACCESS_KEY": "swarmlab",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{config.moto_port()}",
                "AWS_MAX_ATTEMPTS": "2",
            }
        )
        if spec.log_format:
            env["AWS_LAMBDA_LOG_FORMAT"] = spec.log_format
        env.update(dict(spec.env))
        self.log = open(fn.log_path, "ab", buffering=0)
        self.proc = subprocess.Popen(
            [str(spec.binary)], env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        fn.write_log(f"INIT_START worker {index} pid {self.proc.pid} binary {spec.binary}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        processes.stop(self.proc.pid, grace=2)
        self.server.shutdown()
        self.server.server_close()
        self.log.close()


def _handler_for(worker: _Worker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet: the function log has the story
            pass

        def _reply(self, code: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            try:
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker was stopped while it waited for its next invocation

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next":
                return self._reply(404, b'{"errorMessage":"unknown path"}')
            inv = worker.fn.next_invocation(worker)
            if inv is None:  # the lab is shutting down
                return self._reply(410, b'{"errorMessage":"lab stopping"}')
            self._reply(
                200,
                inv.payload,
                {
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int((inv.deadline or 0) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": worker.fn.spec.arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                },
            )

        def do_POST(self) -> None:
            body = self._body()
            parts = self.path.split("/")
            if self.path == f"{API}/init/error":
                worker.fn.write_log(f"INIT_ERROR worker {worker.index}: {body.decode(errors='replace')[:2000]}")
                return self._reply(202)
            if len(parts) == 6 and parts[3] == "invocation" and parts[5] in ("response", "error"):
                inv = worker.current
                if inv is None or inv.request_id != parts[4]:
                    return self._reply(400, b'{"errorMessage":"unknown request id"}')
                if parts[5] == "response":
                    worker.fn.complete(worker, inv, result=body)
                else:
                    try:
                        err = json.loads(body or b"{}")
                    except ValueError:
                        err = {"errorType": "Runtime.Unknown", "errorMessage": body.decode(errors="replace")}
                    worker.fn.complete(worker, inv, error=err)
                return self._reply(202, b'{"status":"OK"}')
            self._reply(404, b'{"errorMessage":"unknown path"}')

    return Handler


class FunctionRuntime:
    def __init__(self, spec: FunctionSpec):
        self.spec = spec
        self.queue: "queue.Queue[Invocation | None]" = queue.Queue()
        self.workers: list[_Worker] = []
        self.busy = 0
        self._lock = threading.Lock()
        self.stopping = False
        self.log_path = config.paths().functions / f"{spec.name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.journal_path = config.paths().functions / f"{spec.name}.invocations.jsonl"

    def write_log(self, line: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def submit(self, payload: bytes, source: str) -> Invocation:
        if not self.spec.binary.is_file():
            raise FunctionNotRunnable(
                f"function {self.spec.name}: no binary {self.spec.binary} (its Handler names the binary; "
                "build it with cargo build)"
            )
        inv = Invocation(payload, source)
        with self._lock:
            self.workers = [w for w in self.workers if w.alive() or w.current is not None]
            idle = len(self.workers) - self.busy - self.queue.qsize()
            if idle <= 0 and len(self.workers) < self.spec.concurrency:
                self.workers.append(_Worker(self, len(self.workers)))
        self.queue.put(inv)
        return inv

    def next_invocation(self, worker: _Worker) -> Invocation | None:
        while not self.stopping:
            try:
                inv = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if inv is None:
                return None
            with self._lock:
                self.busy += 1
            inv.started_at = time.time()
            inv.deadline = inv.started_at + self.spec.timeout
            worker.current = inv
            self.write_log(f"START RequestId: {inv.request_id} Version: $LATEST Source: {inv.source}")
            return inv
        return None

    def complete(self, worker: _Worker, inv: Invocation, result: bytes | None = None, error: dict | None = None) -> None:
        if worker.current is inv:
            worker.current = None
            with self._lock:
                self.busy -= 1
        duration_ms = (time.time() - (inv.started_at or time.time())) * 1000
        self.write_log(f"END RequestId: {inv.request_id}")
        self.write_log(
            f"REPORT RequestId: {inv.request_id} Duration: {duration_ms:.2f} ms"
            + (f" Error: {error.get('errorType')}" if error else "")
        )
        with open(self.journal_path, "a") as f:
            f.write(json.dumps({
                "request_id": inv.request_id, "source": inv.source, "queued_at": inv.queued_at,
                "started_at": inv.started_at, "duration_ms": round(duration_ms, 2),
                "outcome": "error" if error else "ok", "error_type": (error or {}).get("errorType"),
            }) + "\n")
        inv.finish(result, error)

    def watchdog(self) -> None:
        now = time.time()
        for worker in list(self.workers):
            inv = worker.current
            if inv is None:
                continue
            if inv.deadline and now > inv.deadline:
                self.write_log(f"{inv.request_id} Task timed out after {self.spec.timeout:.2f} seconds")
                worker.stop()
                self.complete(worker, inv, error={"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {self.spec.timeout} seconds"})
            elif not worker.alive():
                self.write_log(f"{inv.request_id} Runtime exited with {worker.proc.returncode}")
                self.complete(worker, inv, error={"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited with error: exit status {worker.proc.returncode}"})

    def stop(self) -> None:
        self.stopping = True
        for worker in self.workers:
            worker.stop()
        while not self.queue.empty():
            inv = self.queue.get_nowait()
            if inv is not None:
                inv.finish(error={"errorType": "Lab.Stopping", "errorMessage": "the lab is stopping"})


def _binary_for(fn: Any) -> Path:
    """The `bootstrap` of the function's deployment package, as the provided.al2023 runtime
    runs it; without a package (a template under development), the binary its Handler
    names in the functions folder."""
    code = getattr(fn, "code_bytes", b"") or b""
    if code:
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as z:
                if "bootstrap" in z.namelist():
                    digest = hashlib.sha256(code).hexdigest()[:16]
                    target = config.paths().functions / fn.function_name / digest / "bootstrap"
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(z.read("bootstrap"))
                        target.chmod(0o755)
                    return target
        except zipfile.BadZipFile:
            pass
    return config.functions_dir() / (fn.handler or fn.function_name)


class LambdaHost:
    def __init__(self) -> None:
        self.functions: dict[str, FunctionRuntime] = {}
        self._lock = threading.Lock()

    def runtime_for(self, fn: Any) -> FunctionRuntime:
        """fn: moto's LambdaFunction. Picks up configuration changes on the next invocation."""
        spec = FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            binary=_binary_for(fn),
            timeout=int(fn.timeout or 3),
            memory=int(fn.memory_size or 128),
            # Lambda keeps every environment value as a string (a template's Ref to a
            # Number parameter arrives as one).
            env=tuple(sorted((k, v if isinstance(v, str) else json.dumps(v)) for k, v in (fn.environment_vars or {}).items())),
            concurrency=int(getattr(fn, "reserved_concurrency", None) or DEFAULT_CONCURRENCY),
            log_format=str((getattr(fn, "logging_config", None) or {}).get("LogFormat", "")),
            log_group=str((getattr(fn, "logging_config", None) or {}).get("LogGroup", "")),
        )
        with self._lock:
            current = self.functions.get(spec.name)
            if current is not None and current.spec != spec:
                current.stop()
                current = None
            if current is None:
                current = self.functions[spec.name] = FunctionRuntime(spec)
            return current

    def tick(self) -> None:
        for fn in list(self.functions.values()):
            fn.watchdog()

    def report(self) -> list[dict[str, Any]]:
        return [
            {"function": f.spec.name, "workers": len([w for w in f.workers if w.alive()]), "busy": f.busy,
             "queued": f.queue.qsize(), "log": str(f.log_path)}
            for f in self.functions.values()
        ]

    def shutdown(self) -> None:
        for fn in list(self.functions.values()):
            fn.stop()
