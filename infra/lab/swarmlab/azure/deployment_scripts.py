"""Deployment scripts (`Microsoft.Resources/deploymentScripts`, kind `AzureCLI`), run by
the lab: a stand-in for the container Azure starts for one, following its documented
contract.

`PUT {kind: AzureCLI, properties: {azCliVersion, scriptContent, arguments?,
environmentVariables: [{name, value | secureValue}], timeout (ISO 8601, default P1D),
retentionInterval, cleanupPreference}}`: the script runs with bash, its environment
variables set, `AZ_SCRIPTS_OUTPUT_PATH` naming the file whose JSON becomes
`properties.outputs`; a deployment waits for it. Exit 0 is `Succeeded`; anything else,
or the timeout, is `Failed` with `DeploymentScriptError` and the script's last error
output, and fails the deployment. Secure values are never shown or logged.

Where Azure runs the script in its own container (with the Azure CLI, on the internet),
the lab runs it on the host, in a new session in a scratch folder, with curl and jq and
the lab's CA trusted as the container trusts the public ones; every script still
running when the lab stops is killed by PID."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .. import processes
from .resources import ResourceStore, ResourceType
from .template_deploy import ResourceError

log = logging.getLogger("swarmlab.azure.scripts")

TYPE = "Microsoft.Resources/deploymentScripts"
TAIL = 2000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def duration_seconds(text: str) -> int:
    """An ISO 8601 duration (`PT30M`, `P1D`, `PT1H30M`) in seconds; ResourceError otherwise."""
    m = _DURATION.fullmatch(text or "")
    if not m or text in ("P", "PT") or text.endswith("T"):
        raise ResourceError("InvalidDeploymentScriptTimeout", f"'{text}' is not an ISO 8601 duration (e.g. PT30M).")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


class DeploymentScripts:
    def __init__(self, store: ResourceStore, ca_cert: Path):
        self.store = store
        self.ca_cert = ca_cert
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}  # id -> the run (secure values held here only)
        self._running: dict[int, str] = {}  # pid -> script id

    def install(self) -> None:
        self.store.register(ResourceType(TYPE, self._shape, settle=self._settle))

    def _shape(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        if str(body.get("kind", "")) != "AzureCLI":
            raise ResourceError("InvalidDeploymentScriptKind", "The lab runs deployment scripts of kind 'AzureCLI'.")
        props = dict(body.get("properties") or {})
        script = props.get("scriptContent")
        if not isinstance(script, str) or not script.strip():
            raise ResourceError("InvalidDeploymentScript", "properties.scriptContent is required (the lab runs inline scripts).")
        if not isinstance(props.get("azCliVersion"), str):
            raise ResourceError("InvalidDeploymentScript", "properties.azCliVersion is required for an AzureCLI script.")
        if not isinstance(props.get("retentionInterval"), str):
            raise ResourceError("InvalidDeploymentScript", "properties.retentionInterval is required (e.g. PT1H).")
        duration_seconds(props["retentionInterval"])
        timeout = duration_seconds(str(props.get("timeout", "P1D")))
        env: dict[str, str] = {}
        shown_env = []
        for v in props.get("environmentVariables") or []:
            name = (v or {}).get("name")
            secure = "secureValue" in (v or {})
            value = v.get("secureValue" if secure else "value") if isinstance(v, dict) else None
            if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(value, str):
                raise ResourceError("InvalidDeploymentScript",
                                    "Each of properties.environmentVariables needs a name and a string value or secureValue.")
            env[name] = value
            shown_env.append({"name": name} if secure else {"name": name, "value": value})
        with self._lock:
            self._pending[rid.lower()] = {"script": script, "env": env, "timeout": timeout,
                                          "arguments": str(props.get("arguments") or "")}
        props.update(environmentVariables=shown_env, provisioningState="Running",
                     status={"startTime": None, "endTime": None})
        return {**body, "properties": props}

    def _settle(self, rid: str) -> dict[str, Any]:
        with self._lock:
            job = self._pending.pop(rid.lower(), None)
        found = self.store.get(rid)
        if found is None:
            raise ResourceError("ResourceNotFound", f"The deployment script {rid.rsplit('/', 1)[-1]} is gone.", 404)
        if job is None:
            return found
        name = rid.rsplit("/", 1)[-1]
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with tempfile.TemporaryDirectory(prefix="deployment-script-") as tmp:
            out_path = Path(tmp) / "outputs.json"
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8",
                   "AZ_SCRIPTS_OUTPUT_PATH": str(out_path), "CURL_CA_BUNDLE": str(self.ca_cert),
                   "SSL_CERT_FILE": str(self.ca_cert), **job["env"]}
            t0 = time.monotonic()
            proc = subprocess.Popen(["/bin/bash", "-c", job["script"], name, *job["arguments"].split()], cwd=tmp, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            with self._lock:
                self._running[proc.pid] = rid
            try:
                out, err = proc.communicate(timeout=job["timeout"])
                code: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                processes.stop(proc.pid, grace=2)
                out, err = proc.communicate()
                code = None
            finally:
                with self._lock:
                    self._running.pop(proc.pid, None)
            outputs: Any = None
            if out_path.exists():
                try:
                    outputs = json.loads(out_path.read_text() or "null")
                except ValueError:
                    code, err = 1, err + b"\nAZ_SCRIPTS_OUTPUT_PATH does not hold JSON"
        elapsed = time.monotonic() - t0
        tail = err.decode(errors="replace")[-TAIL:]
        props = found["properties"]
        props["status"] = {"startTime": started, "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if code == 0:
            props.update(provisioningState="Succeeded", outputs=outputs)
        else:
            why = (f"the script ran over its timeout of {job['timeout']} s" if code is None
                   else f"The provided script failed with the following error: {tail.strip() or f'exit code {code}'}")
            props.update(provisioningState="Failed")
            props["status"]["error"] = {"code": "DeploymentScriptError", "message": why}
        self.store.put_internal(rid, TYPE, found)
        log.info("deployment script %s: %s in %.1fs (stdout %d bytes)", name, props["provisioningState"], elapsed, len(out))
        if code != 0:
            raise ResourceError("DeploymentScriptError", props["status"]["error"]["message"])
        return self.store.get(rid) or found

    def stop(self) -> None:
        """Kills every script still running."""
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            processes.stop(pid, grace=1)
