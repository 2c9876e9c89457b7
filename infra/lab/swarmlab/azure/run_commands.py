"""Managed Run Command (`Microsoft.Compute/virtualMachines/{vm}/runCommands/{name}`),
really run on the VM's node.

`PUT {properties: {source: {script}, parameters: [{name, value}], protectedParameters,
timeoutInSeconds, asyncExecution}}` answers 201 (200 when replacing) with an
`Azure-AsyncOperation` URL; the script runs in the node's network namespace with each
parameter as an environment variable (as the Linux agent passes them), and `GET
…?$expand=instanceView` gives `{executionState: Pending | Running | Succeeded | Failed |
TimedOut, exitCode, output, error, startTime, endTime}`, output and error keeping their
last 4 KB. Several commands may run on one VM at once. A latency set by the lab (`POST
/_lab/azure/run-command-latency`) is waited before each script starts, as Azure's agent
takes seconds to pick a command up. Protected parameters are never logged or returned."""

from __future__ import annotations

import datetime
import logging
import re
import subprocess
import threading
import time
from typing import Any

from ..nodes import NodeManager
from .async_operations import AsyncOperations
from .resources import ResourceStore, ResourceType
from .scale_sets import ScaleSets
from .template_deploy import ResourceError

log = logging.getLogger("swarmlab.azure.runcommand")

TYPE = "Microsoft.Compute/virtualMachines/runCommands"
TAIL = 4096
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _tail(text: str) -> str:
    data = text.encode()
    return data[-TAIL:].decode(errors="replace") if len(data) > TAIL else text


class RunCommands:
    def __init__(self, store: ResourceStore, scale_sets: ScaleSets, nodes: NodeManager, operations: AsyncOperations):
        self.store = store
        self.scale_sets = scale_sets
        self.nodes = nodes
        self.operations = operations
        self.latency = 0.0
        self.ca_cert = ""
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}  # id -> what to run (protected values held here only)

    def install(self) -> None:
        self.store.register(ResourceType(TYPE, self._shape, starter=self._start))

    def _shape(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        vm_id = rid.split("/runCommands/", 1)[0]
        if self.scale_sets.vm(vm_id) is None:
            raise ResourceError("ParentResourceNotFound", f"The VM {vm_id.rsplit('/', 1)[-1]} was not found.", 404)
        props = dict(body.get("properties") or {})
        script = (props.get("source") or {}).get("script")
        if not isinstance(script, str) or not script.strip():
            raise ResourceError("InvalidParameter", "properties.source.script is required (the lab runs inline scripts).")
        env: dict[str, str] = {}
        for key in ("parameters", "protectedParameters"):
            for p in props.get(key) or []:
                name, value = (p or {}).get("name"), (p or {}).get("value")
                if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(value, str):
                    raise ResourceError("InvalidParameter", f"Each of properties.{key} needs a name (a shell variable name) and a string value.")
                env[name] = value
        timeout = props.get("timeoutInSeconds", 90 * 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= 86400:
            raise ResourceError("InvalidParameter", "properties.timeoutInSeconds must be 0 to 86400 (0: the default, 90 minutes).")
        with self._lock:
            self._pending[rid.lower()] = {"script": script, "env": env, "timeout": timeout or 90 * 60}
        shown = {k: v for k, v in props.items() if k != "protectedParameters"}
        if props.get("protectedParameters"):
            shown["protectedParameters"] = [{"name": p["name"]} for p in props["protectedParameters"]]
        shown.update(provisioningState="Creating", instanceView={"executionState": "Pending"})
        return {**body, "properties": shown}

    def _start(self, rid: str, api_version: str) -> dict[str, str]:
        op, header = self.operations.start("Microsoft.Compute", api_version)
        threading.Thread(target=self._run, args=(rid, op), daemon=True, name="run-command").start()
        return header

    def _set_view(self, rid: str, view: dict[str, Any], state: str | None = None) -> None:
        found = self.store.get(rid)
        if found is None:
            return
        found["properties"]["instanceView"] = view
        if state is not None:
            found["properties"]["provisioningState"] = state
        self.store.put_internal(rid, TYPE, found)

    def _run(self, rid: str, op: str) -> None:
        with self._lock:
            job = self._pending.pop(rid.lower(), None)
        if job is None:
            return
        vm = self.scale_sets.vm(rid.split("/runCommands/", 1)[0])
        if self.latency:
            time.sleep(self.latency)
        started = _now()
        self._set_view(rid, {"executionState": "Running", "startTime": started})
        node = self.nodes.get(vm.name) if vm else None
        state, code, out, err = "Failed", -1, "", ""
        t0 = time.monotonic()
        if vm is None or node is None or node.pid is None or node.state != "online":
            err = f"the VM is not running (its node is {node.state if node else 'gone'})"
        else:
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                   "LANG": "C.UTF-8", "DOCKER_HOST": node.docker_host,
                   # The VM trusts the lab's CA as an Azure VM trusts the public ones.
                   "CURL_CA_BUNDLE": str(self.ca_cert), "SSL_CERT_FILE": str(self.ca_cert), **job["env"]}
            argv = ["nsenter", f"--target={node.pid}", "--net", "--uts", "--", "/bin/bash", "-c", job["script"]]
            try:
                proc = subprocess.run(argv, capture_output=True, env=env, cwd="/", timeout=job["timeout"])
                code = proc.returncode
                out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
                state = "Succeeded" if code == 0 else "Failed"
            except subprocess.TimeoutExpired as exc:
                state, code = "TimedOut", -1
                out = (exc.stdout or b"").decode(errors="replace")
                err = (exc.stderr or b"").decode(errors="replace")
        view = {"executionState": state, "executionMessage": "" if state == "Succeeded" else f"Execution {state.lower()}",
                "exitCode": code, "output": _tail(out), "error": _tail(err), "startTime": started, "endTime": _now()}
        self._set_view(rid, view, "Succeeded")
        self.operations.finish(op, "Succeeded")
        log.info("run command %s on %s: %s (%d) in %.2fs", rid.rsplit("/", 1)[-1], vm.name if vm else "?", state, code,
                 time.monotonic() - t0)

