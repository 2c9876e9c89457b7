"""`make demo`: launch swarmhook's own template in the lab, as a user launches it, and
watch the swarm form.

The packaged functions and the template are published to the lab's S3 by `make publish`'s
own script, and the stack is created from the published template's URL with the
questions' defaults (the machine image from the public Amazon Linux 2023 parameter, the
code where publishing put it). The lifecycle function (the packaged `bootstrap`) joins
every instance by itself. The demo only watches: progress while the swarm forms, then a scale-out
of the workers by 2 and a scale-in by 2 (the leavers drained and removed), then a worker
killed outside any hook (as from the EC2 console) whose node the scheduled reconcile
removes while the group's replacement joins, the lab's tables, and target/lab/report.json.
It exits non-zero if the swarm did not end as asked.
"""

from __future__ import annotations

import json
import os
import sys
import time

from . import config, status
from .cli_clients import client, lab_post
from .publish import PublishFailed, publish_release

STACK = "demo"
RELEASES = "swarmhook-demo-releases"


def say(msg: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {msg}", flush=True)


def in_service(asg, groups: list[str]) -> tuple[int, int]:
    """(instances InService, instances in the groups)."""
    out = asg.describe_auto_scaling_groups(AutoScalingGroupNames=groups)["AutoScalingGroups"]
    states = [i["LifecycleState"] for g in out for i in g["Instances"]]
    return sum(1 for s in states if s == "InService"), len(states)


def stack_status(cfn, stack_id: str) -> str:
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def wait_for(asg, cfn, stack_id: str, groups: list[str], want: int, started: float, timeout: float = 600) -> bool:
    """Until `want` instances are InService and the stack has settled; progress as it goes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ready, total = in_service(asg, groups)
        status = stack_status(cfn, stack_id)
        if (ready, total, status) != last:
            say(f"{ready}/{want} instances in service ({total} launched); stack {status}", started)
            last = (ready, total, status)
        if ready == want and total == want and not status.endswith("IN_PROGRESS"):
            return status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        if status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
            return False
        time.sleep(1)
    return False


def swarm_nodes() -> list[dict]:
    """The swarm's nodes as a manager reports them (empty while none answers)."""
    return status.gather()["swarm"]["nodes"]


def repair(asg, cfn, stack_id: str, groups: list[str], want: int, started: float, timeout: float = 300) -> float | None:
    """Kills a worker outside any hook; returns how long until the swarm was whole again
    (the dead node removed by reconcile, the replacement Ready), or None."""
    workers = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[groups[1]])["AutoScalingGroups"][0]["Instances"]
    if not workers:
        say("no worker to kill: skipping the repair", started)
        return None
    victim = workers[0]["InstanceId"]
    say(f"killing worker {victim} outside any hook, as from the EC2 console: its node stays in the swarm, "
        "Down, until the scheduled reconcile removes it (fired every 10 s here rather than every minute); "
        "the group launches a replacement", started)
    client("ec2").terminate_instances(InstanceIds=[victim])
    killed_at = time.monotonic()
    last_fire, last = 0.0, None
    while time.monotonic() - killed_at < timeout:
        if time.monotonic() - last_fire >= 10:
            lab_post("/_lab/fire-schedules", {})
            last_fire = time.monotonic()
        nodes = swarm_nodes()
        down = sum(1 for n in nodes if n.get("Status") != "Ready")
        ready, total = in_service(asg, groups)
        seen = (len(nodes), down, ready, total)
        if seen != last:
            say(f"swarm: {len(nodes)} nodes, {down} not Ready; {ready}/{want} instances in service ({total} launched)", started)
            last = seen
        if len(nodes) == want and down == 0 and ready == want and total == want:
            return time.monotonic() - killed_at
        time.sleep(2)
    return None


def main() -> int:
    managers = int(os.environ.get("MANAGERS", "3"))
    workers = int(os.environ.get("WORKERS", "3"))
    started = time.monotonic()
    cfn, asg = client("cloudformation"), client("autoscaling")
    say("publishing the packaged functions and the template to the lab's S3 (make publish)", started)
    try:
        published = publish_release(RELEASES, prefix="swarmhook")
    except PublishFailed as exc:
        say(f"FAILED: {exc}", started)
        return 1
    for line in published["output"].splitlines():
        print(f"           {line}", flush=True)
    # Only the size and the lab's addresses are answered; every other question keeps its
    # default, as a console user who clicks through would.
    params = {
        "ManagerCount": str(managers),
        "WorkerCount": str(workers),
        "VpcCidr": "10.200.0.0/16",
        "SubnetACidr": "10.200.1.0/24",
        "SubnetBCidr": "10.200.2.0/24",
    }
    stack_id = cfn.create_stack(
        StackName=STACK, TemplateURL=published["template_url"], Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )["StackId"]
    say(f"stack {STACK}: {stack_status(cfn, stack_id)} — {managers} managers, {workers} workers launching; "
        "CREATE_COMPLETE comes once every one of them is Ready in the swarm", started)
    groups = [f"{STACK}-managers", f"{STACK}-workers"]

    formed = wait_for(asg, cfn, stack_id, groups, managers + workers, started)
    t_formed = time.monotonic() - started
    say(f"swarm {'formed' if formed else 'NOT formed'}: stack {stack_status(cfn, stack_id)}", started)
    scaled = False
    if formed:
        say(f"scaling the workers out by 2 (to {workers + 2})", started)
        asg.set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=workers + 2)
        scaled = wait_for(asg, cfn, stack_id, groups, managers + workers + 2, started)

    scaled_in = False
    if scaled:
        say(f"scaling the workers back in by 2 (to {workers}): each leaver is drained, leaves and is removed", started)
        asg.set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=workers)
        scaled_in = wait_for(asg, cfn, stack_id, groups, managers + workers, started)

    repaired = None
    if scaled_in:
        repaired = repair(asg, cfn, stack_id, groups, managers + workers, started)
        say(f"swarm whole again {repaired:.1f}s after the kill" if repaired is not None
            else "the swarm was NOT repaired", started)

    report = status.gather()
    print()
    print(status.render(report))
    want = managers + workers
    ready = [n for n in report["swarm"]["nodes"] if n.get("Status") == "Ready"]
    ok = (formed and scaled and scaled_in and repaired is not None and len(report["cluster_ids"]) == 1
          and len(ready) == want and len(report["swarm"]["nodes"]) == want)
    report["demo"] = {
        "published": {k: published[k] for k in ("version", "template_url", "launch_stack_url")},
        "asked": {"managers": managers, "workers": workers, "scale_out": 2, "scale_in": 2},
        "formed": formed,
        "scaled_out": scaled,
        "scaled_in": scaled_in,
        "seconds_to_repair_a_killed_worker": round(repaired, 1) if repaired is not None else None,
        "seconds_to_form": round(t_formed, 1),
        "ready_nodes": len(ready),
    }
    out = config.REPO_ROOT / "target" / "lab" / "report.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    say(
        f"{'OK' if ok else 'FAILED'}: {len(ready)}/{want} nodes Ready in {len(report['cluster_ids'])} cluster(s) "
        f"({len(report['swarm']['nodes'])} in the swarm) after +2 and -2 workers and a killed worker; "
        f"the first {managers + workers} formed in {t_formed:.1f}s; report {out}",
        started,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
