"""The Azure lab's controls from the command line (`make lab-up CLOUD=azure`, `lab-scale`,
`lab-terminate`, `lab-kill`, `lab-reconcile` with `CLOUD=azure`): each talks to the
running lab as an operator would, through the management endpoint over TLS with a token
of the lab's `lab-operator` identity, or through the lab's own controls where Azure has
no API for the thing (a VM lost without notice, timers fired now)."""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ..cli_clients import lab_info, lab_post

RESOURCES_VERSION = "2024-03-01"
COMPUTE_VERSION = "2025-04-01"
OPERATOR = "lab-operator"


class Arm:
    def __init__(self) -> None:
        info = lab_info()
        if "azure" not in info or "management_endpoint" not in info["azure"]:
            sys.exit("the running lab has no Azure management plane: restart it with `make lab-down lab-up`")
        self.azure = info["azure"]
        self.tls = ssl.create_default_context(cafile=self.azure["ca_cert"])
        ident = lab_post("/_lab/azure/identities", {"name": OPERATOR})
        url = (f"{ident['identity_endpoint']}?" +
               urllib.parse.urlencode({"resource": "https://management.azure.com/", "api-version": "2019-08-01"}))
        req = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": ident["identity_header"]})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.token = json.loads(r.read())["access_token"]

    def call(self, method: str, path: str, body: Any = None, version: str = COMPUTE_VERSION) -> tuple[int, Any, dict[str, str]]:
        base = path if path.startswith("https://") else self.azure["management_endpoint"] + path
        url = base if "api-version=" in base else f"{base}{'&' if '?' in base else '?'}api-version={version}"
        req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.tls) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None, dict(r.headers.items())
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else None, dict(exc.headers.items())

    def group(self, name: str) -> str:
        return f"/subscriptions/{self.azure['subscription_id']}/resourceGroups/{name}"


def _refused(status: int, body: Any, what: str) -> None:
    message = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    sys.exit(f"{what}: {status} {message.get('code', '')}: {message.get('message', body)}")


def deploy(template: Path, group: str, name: str, params: list[str], wait: int) -> None:
    """A resource group, and the template deployed in it as the portal would."""
    arm = Arm()
    try:
        body = json.loads(template.read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"{template}: not a JSON template: {exc}")
    parameters: dict[str, Any] = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep:
            sys.exit(f"a parameter is KEY=VALUE, not {p!r}")
        try:
            parameters[key] = {"value": json.loads(value)}
        except ValueError:
            parameters[key] = {"value": value}
    status, answer, _ = arm.call("PUT", arm.group(group), {"location": arm.azure["location"]}, RESOURCES_VERSION)
    if status not in (200, 201):
        _refused(status, answer, f"resource group {group}")
    path = f"{arm.group(group)}/providers/Microsoft.Resources/deployments/{name}"
    status, answer, headers = arm.call("PUT", path, {"properties": {"mode": "Incremental", "template": body,
                                                                      "parameters": parameters}}, RESOURCES_VERSION)
    if status not in (200, 201):
        _refused(status, answer, f"deployment {name}")
    print(f"deployment {name} in {group}: accepted, {template.name}")
    deadline = time.monotonic() + wait
    state = "Accepted"
    while time.monotonic() < deadline:
        _, answer, _ = arm.call("GET", path, version=RESOURCES_VERSION)
        state = answer["properties"]["provisioningState"]
        if state in ("Succeeded", "Failed", "Canceled"):
            break
        time.sleep(0.5)
    if state != "Succeeded":
        sys.exit(f"deployment {name}: {state}: {json.dumps(answer['properties'].get('error'), indent=2)}")
    _, ops, _ = arm.call("GET", f"{path}/operations", version=RESOURCES_VERSION)
    print(f"deployment {name}: Succeeded, {len(ops['value'])} resources")
    for key, out in (answer["properties"].get("outputs") or {}).items():
        print(f"  {key} = {out.get('value')}")


def scale(set_id: str, capacity: int) -> None:
    arm = Arm()
    status, answer, _ = arm.call("PATCH", set_id, {"sku": {"capacity": capacity}})
    if status != 200:
        _refused(status, answer, f"scale {set_id}")
    print(f"{set_id.rsplit('/', 1)[-1]}: capacity {capacity}")


def terminate(vm_id: str) -> None:
    """A VM deleted as from the portal: with the set's terminate notice, it is told first."""
    arm = Arm()
    status, answer, _ = arm.call("DELETE", vm_id)
    if status not in (200, 202, 204):
        _refused(status, answer, f"delete {vm_id}")
    print(f"{vm_id.rsplit('/', 1)[-1]}: " + ("deleting (a Terminate event first, if the set gives notice)"
                                              if status == 202 else "no such VM"))


def kill(vm_id: str) -> None:
    lab_post("/_lab/azure/lose-vm", {"vm": vm_id})
    print(f"{vm_id.rsplit('/', 1)[-1]}: lost without notice")


def fire_timers() -> None:
    answer = lab_post("/_lab/azure/fire-timers", {})
    print(f"fired: {', '.join(answer['fired']) or 'no timer'}")
