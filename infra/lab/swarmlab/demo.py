"""`make demo`: launch a fleet in the lab and watch a real swarm form.

Until swarmhook's own functions land, the demo plays their part by hand, through the
same APIs they will use: it reads each launch's lifecycle event from the queue, forms
the swarm with SSM Run Command on the nodes, and completes the lifecycle action only
once the node is in the swarm. Then it prints the lab's tables and writes
target/lab/report.json. Exits non-zero if the swarm did not form as asked.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from . import config, status
from .cli_clients import client

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "fleet.yaml"


def say(msg: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {msg}", flush=True)


def run(ssm, instance_id: str, script: str, timeout: float = 120) -> str:
    cid = ssm.send_command(InstanceIds=[instance_id], DocumentName="AWS-RunShellScript",
                           Parameters={"commands": [script]})["Command"]["CommandId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=instance_id)
        if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
            if inv["Status"] != "Success":
                raise RuntimeError(f"{instance_id}: {inv['Status']} ({inv['ResponseCode']}): {inv['StandardErrorContent'].strip()}")
            return inv["StandardOutputContent"]
        time.sleep(0.2)
    raise RuntimeError(f"{instance_id}: command did not finish in {timeout}s")


def wait_online(ssm, instance_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
        if any(i["PingStatus"] == "Online" for i in info["InstanceInformationList"]):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{instance_id} did not come online in {timeout}s")


def main() -> int:
    size = int(os.environ.get("NODES", "4"))
    managers = min(int(os.environ.get("MANAGERS", "3")), size)
    started = time.monotonic()
    cfn, asg, sqs, ssm, ec2 = (client(s) for s in ("cloudformation", "autoscaling", "sqs", "ssm", "ec2"))
    say(f"launching a fleet of {size} instances ({managers} to be managers) from {TEMPLATE.name}", started)
    stack_id = cfn.create_stack(
        StackName="demo", TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "SubnetCidr", "ParameterValue": "10.200.1.0/24"},
                    {"ParameterKey": "GroupSize", "ParameterValue": str(size)}],
    )["StackId"]
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    say(f"stack demo: {stack['StackStatus']}", started)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    group, queue = outputs["GroupName"], outputs["EventQueueUrl"]

    events: list[dict] = []
    deadline = time.monotonic() + 60
    while len(events) < size and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            events.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    say(f"{len(events)} instances held in Pending:Wait, one lifecycle event each", started)

    ips = {i["InstanceId"]: i["PrivateIpAddress"]
           for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    leader_ip = None
    joins: dict[str, float] = {}
    for n, event in enumerate(events):
        detail = event["detail"]
        iid = detail["EC2InstanceId"]
        wait_online(ssm, iid)
        role = "manager" if n < managers else "worker"
        t0 = time.monotonic()
        if leader_ip is None:
            leader_ip = ips[iid]
            run(ssm, iid, f"docker swarm init --advertise-addr {leader_ip} >/dev/null")
            leader = iid
            say(f"{iid} ({ips[iid]}): swarm initialised", started)
        else:
            # The demo fetches the token per join and never prints it.
            token = run(ssm, leader, f"docker swarm join-token -q {role}").strip()
            run(ssm, iid, f"docker swarm join --token {token} {leader_ip}:2377 >/dev/null")
            say(f"{iid} ({ips[iid]}): joined as {role}", started)
        joins[iid] = time.monotonic() - t0
        asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName=detail["LifecycleHookName"],
                                      LifecycleActionToken=detail["LifecycleActionToken"], LifecycleActionResult="CONTINUE")

    report = status.gather()
    print()
    print(status.render(report))
    ready = [n for n in report["swarm"]["nodes"] if n.get("Status") == "Ready"]
    in_service = [i for i in report["instances"] if i["lifecycle_state"] == "InService"]
    ok = len(report["cluster_ids"]) == 1 and len(ready) == size and len(in_service) == size
    report["demo"] = {"asked": {"nodes": size, "managers": managers}, "join_seconds": joins, "formed": ok}
    out = config.REPO_ROOT / "target" / "lab" / "report.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    slowest = max(joins.values()) if joins else 0
    say(f"swarm {'formed' if ok else 'NOT formed'}: {len(ready)}/{size} nodes Ready in one cluster; "
        f"slowest join {slowest:.2f}s; report {out}", started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
