"""`make demo CLOUD=azure`: deploy swarmhook's own Azure template in the lab, as a user
deploys it with the Deploy to Azure button, and watch the swarm form.

The Function app's package, the template and its portal form are published to the lab's
Azurite by `make publish-azure`'s own script; the template is read back from its
published URL, as the portal reads it, and deployed with the form's answers (the size,
the lab's address range, an SSH key; everything else its default). The deployment runs
the app from the published package and succeeds only once the swarm has formed. The demo
then only watches: the workers scaled out by 2 and back in by 2 (each leaver told by its
Terminate notice, drained and removed before it goes), a worker lost without notice
whose node the reconcile timer removes (fired every 10 s here rather than every 5
minutes) and whose place a new VM takes when the set is scaled back, then the lab's
tables and target/lab/report-azure.json. It exits non-zero if the swarm did not end as
asked."""

from __future__ import annotations

import json
import os
import ssl
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .. import config, status
from ..cli_clients import lab_post
from . import publishing
from .cli import RESOURCES_VERSION, Arm

GROUP = "demo"
DEPLOYMENT = "swarmhook"
CLUSTER = "demo"


def say(msg: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {msg}", flush=True)


def swarm_nodes() -> list[dict[str, Any]]:
    """The swarm's nodes as a manager reports them (empty while none answers)."""
    return status.gather()["swarm"]["nodes"]


def vms(arm: Arm, scale_set: str) -> list[str]:
    path = (f"{arm.group(GROUP)}/providers/Microsoft.Compute/virtualMachines?$filter="
            + urllib.parse.quote(f"'virtualMachineScaleSet/id' eq '{arm.group(GROUP)}/providers/Microsoft.Compute/virtualMachineScaleSets/{scale_set}'"))
    _, answer, _ = arm.call("GET", path)
    return sorted(v["name"] for v in (answer or {}).get("value", []))


def wait_for(arm: Arm, want: int, started: float, timeout: float = 420, fire: bool = False) -> bool:
    """Until the swarm has exactly `want` Ready nodes and the scale sets `want` VMs."""
    deadline, last, last_fire = time.monotonic() + timeout, None, 0.0
    while time.monotonic() < deadline:
        if fire and time.monotonic() - last_fire >= 10:
            lab_post("/_lab/azure/fire-timers", {})
            last_fire = time.monotonic()
        nodes = swarm_nodes()
        ready = sum(1 for n in nodes if n.get("Status") == "Ready")
        count = len(vms(arm, f"{CLUSTER}-managers")) + len(vms(arm, f"{CLUSTER}-workers"))
        seen = (len(nodes), ready, count)
        if seen != last:
            say(f"swarm: {len(nodes)} nodes, {ready} Ready; scale sets: {count} VMs (want {want})", started)
            last = seen
        if len(nodes) == want and ready == want and count == want:
            return True
        time.sleep(2)
    return False


def scale(arm: Arm, scale_set: str, capacity: int) -> None:
    status_code, answer, _ = arm.call("PATCH", f"{arm.group(GROUP)}/providers/Microsoft.Compute/virtualMachineScaleSets/{scale_set}",
                                      {"sku": {"capacity": capacity}})
    if status_code != 200:
        raise RuntimeError(f"scaling {scale_set}: {status_code} {answer}")


def deploy(arm: Arm, template: dict[str, Any], managers: int, workers: int, started: float) -> dict[str, Any]:
    """Deploys as the portal does, showing progress; the deployment as ARM answers it at the end."""
    answers = {"clusterName": CLUSTER, "managerCount": managers, "workerCount": workers,
               "addressPrefix": "10.200.1.0/24", "terminateNoticeMinutes": 5, "formationTimeoutMinutes": 10,
               "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoDemoDemoDemoDemoDemoDemoDemoDemoDemoDemo demo"}
    code, answer, _ = arm.call("PUT", arm.group(GROUP), {"location": arm.azure["location"]}, RESOURCES_VERSION)
    if code not in (200, 201):
        raise RuntimeError(f"resource group {GROUP}: {code} {answer}")
    path = f"{arm.group(GROUP)}/providers/Microsoft.Resources/deployments/{DEPLOYMENT}"
    code, answer, _ = arm.call("PUT", path, {"properties": {"mode": "Incremental", "template": template,
                                                            "parameters": {k: {"value": v} for k, v in answers.items()}}},
                               RESOURCES_VERSION)
    if code not in (200, 201):
        raise RuntimeError(f"deployment {DEPLOYMENT}: {code} {answer}")
    say(f"deployment {DEPLOYMENT}: accepted — {managers} managers, {workers} workers; it succeeds once every one "
        "of them is Ready in the swarm (its deployment script waits on the `formed` function)", started)
    last = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        _, answer, _ = arm.call("GET", path, version=RESOURCES_VERSION)
        state = answer["properties"]["provisioningState"]
        nodes = swarm_nodes() if state == "Running" else []
        seen = (state, len(nodes))
        if seen != last:
            say(f"deployment {state}; swarm: {len(nodes)} nodes", started)
            last = seen
        if state in ("Succeeded", "Failed", "Canceled"):
            return answer
        time.sleep(2)
    return answer


def main() -> int:
    managers = int(os.environ.get("MANAGERS", "3"))
    workers = int(os.environ.get("WORKERS", "3"))
    started = time.monotonic()
    say("publishing the Function app's package, the template and its portal form to the lab's Azurite "
        "(make publish-azure)", started)
    record = Path(tempfile.mkdtemp(prefix="demo-publish-")) / "published.json"
    published = publishing.publish("published", "swarmhook", record)
    arm = Arm()
    tls = ssl.create_default_context(cafile=arm.azure["ca_cert"])
    with urllib.request.urlopen(published["template_url"], timeout=30, context=tls) as r:
        template = json.loads(r.read())
    say("the portal reads the template from its published URL; deploying it with the form's answers", started)

    deployment = deploy(arm, template, managers, workers, started)
    formed = deployment["properties"]["provisioningState"] == "Succeeded"
    t_formed = time.monotonic() - started
    if formed:
        say(f"deployment Succeeded: the swarm formed — {deployment['properties']['outputs']['swarm']['value']}", started)
    else:
        say(f"deployment {deployment['properties']['provisioningState']}: {deployment['properties'].get('error')}", started)
    workers_set = f"{CLUSTER}-workers"
    want = managers + workers
    scaled = scaled_in = healed = False
    if formed:
        say(f"scaling the workers out by 2 (to {workers + 2}): each new VM announces itself and joins", started)
        scale(arm, workers_set, workers + 2)
        scaled = wait_for(arm, want + 2, started)
    if scaled:
        say(f"scaling the workers back in by 2 (to {workers}): each leaver gets a Terminate notice, is drained "
            "and removed, and only then approves its event", started)
        scale(arm, workers_set, workers)
        scaled_in = wait_for(arm, want, started)
    repaired = None
    if scaled_in:
        victim = vms(arm, workers_set)[0]
        say(f"worker {victim} lost without notice: its node stays in the swarm, Down, until the reconcile timer "
            "removes it (fired every 10 s here)", started)
        lab_post("/_lab/azure/lose-vm", {"vm": f"{arm.group(GROUP)}/providers/Microsoft.Compute/virtualMachines/{victim}"})
        lost_at = time.monotonic()
        if wait_for(arm, want - 1, started, timeout=300, fire=True):
            say(f"its node removed {time.monotonic() - lost_at:.1f}s after the loss; scaling the workers back "
                f"to {workers}: a new VM takes its place", started)
            scale(arm, workers_set, workers)
            healed = wait_for(arm, want, started)
            repaired = time.monotonic() - lost_at
    report = status.gather()
    print()
    print(status.render(report))
    ready = [n for n in report["swarm"]["nodes"] if n.get("Status") == "Ready"]
    ok = (formed and scaled and scaled_in and healed and len(report["cluster_ids"]) == 1
          and len(ready) == want and len(report["swarm"]["nodes"]) == want)
    report["demo"] = {
        "cloud": "azure",
        "published": {k: published[k] for k in ("version", "template_url", "deploy_url")},
        "asked": {"managers": managers, "workers": workers, "scale_out": 2, "scale_in": 2},
        "formed": formed, "scaled_out": scaled, "scaled_in": scaled_in, "healed": healed,
        "seconds_to_form": round(t_formed, 1),
        "seconds_to_heal_a_lost_worker": round(repaired, 1) if repaired is not None else None,
        "ready_nodes": len(ready),
    }
    out = config.REPO_ROOT / "target" / "lab" / "report-azure.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    say(f"{'OK' if ok else 'FAILED'}: {len(ready)}/{want} nodes Ready in {len(report['cluster_ids'])} cluster(s) "
        f"after +2 and -2 workers and a lost worker; deployed and formed in {t_formed:.1f}s; report {out}", started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
