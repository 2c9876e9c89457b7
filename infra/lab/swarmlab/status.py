"""`make lab-status`: groups, instances with lifecycle state, nodes, and the swarm as the
nodes see it; printed as tables and written as JSON to target/lab/report.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import config
from .cli_clients import client, lab_info


def _docker(docker_host: str, *args: str) -> tuple[int, str]:
    env = dict(os.environ, DOCKER_HOST=docker_host)
    try:
        p = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=15)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return p.returncode, (p.stdout if p.returncode == 0 else p.stderr).strip()


def _swarm_view(node: dict[str, Any]) -> dict[str, Any]:
    if node["state"] != "online":
        return {}
    code, out = _docker(node["docker_host"], "info", "--format", "{{json .Swarm}}")
    if code != 0:
        return {"error": out}
    swarm = json.loads(out)
    return {
        "swarm_state": swarm.get("LocalNodeState"),
        "node_id": swarm.get("NodeID") or None,
        "cluster_id": (swarm.get("Cluster") or {}).get("ID"),
        "is_manager": bool(swarm.get("ControlAvailable")),
        "managers": swarm.get("Managers"),
        "nodes": swarm.get("Nodes"),
    }


def gather() -> dict[str, Any]:
    info = lab_info()
    with urllib.request.urlopen(f"{info['endpoint']}/_lab/status", timeout=10) as r:
        lab = json.load(r)
    cfn, asg, ec2 = client("cloudformation"), client("autoscaling"), client("ec2")
    stacks = [
        {"name": s["StackName"], "status": s["StackStatus"], "id": s["StackId"]}
        for s in cfn.describe_stacks().get("Stacks", [])
    ]
    groups, instances = [], []
    ips = {}
    for r in ec2.describe_instances().get("Reservations", []):
        for i in r["Instances"]:
            ips[i["InstanceId"]] = (i.get("PrivateIpAddress"), i["State"]["Name"])
    for g in asg.describe_auto_scaling_groups().get("AutoScalingGroups", []):
        hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=g["AutoScalingGroupName"]).get("LifecycleHooks", [])
        groups.append({
            "name": g["AutoScalingGroupName"], "desired": g["DesiredCapacity"], "min": g["MinSize"], "max": g["MaxSize"],
            "hooks": ", ".join(f"{h['LifecycleHookName']}({h['LifecycleTransition'].split('_')[-1].lower()})" for h in hooks),
        })
        for i in g.get("Instances", []):
            ip, ec2_state = ips.get(i["InstanceId"], (None, None))
            instances.append({
                "instance_id": i["InstanceId"], "group": g["AutoScalingGroupName"],
                "lifecycle_state": i["LifecycleState"], "private_ip": ip, "ec2_state": ec2_state,
            })
    grouped = {i["instance_id"] for i in instances}
    for iid, (ip, state) in ips.items():
        if iid not in grouped and state != "terminated":
            instances.append({"instance_id": iid, "group": None, "lifecycle_state": None, "private_ip": ip, "ec2_state": state})
    nodes = lab["nodes"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = list(pool.map(_swarm_view, nodes))
    for node, view in zip(nodes, views):
        node.update(view)
    swarm: list[dict[str, Any]] = []
    manager = next((n for n in nodes if n.get("is_manager")), None)
    if manager is not None:
        code, out = _docker(manager["docker_host"], "node", "ls", "--format", "{{json .}}")
        if code == 0:
            swarm = [json.loads(line) for line in out.splitlines() if line.strip()]
    by_host = {n.get("Hostname"): n for n in swarm}
    group_of = {i["instance_id"]: i["group"] for i in instances}
    for node in nodes:
        member = by_host.get(node.get("hostname")) or {}
        node["group"] = group_of.get(node["instance_id"])
        node["role"] = ("manager" if member.get("ManagerStatus") else "worker") if member else None
        node["status"] = member.get("Status")
        node["availability"] = member.get("Availability")
        node["manager_status"] = member.get("ManagerStatus") or None
    actions = lifecycle_actions(lab["lifecycle"])
    return {
        "endpoint": info["endpoint"],
        "stack_status": stacks[0]["status"] if len(stacks) == 1 else None,
        "stacks": stacks,
        "groups": groups,
        "instances": instances,
        "nodes": nodes,
        "swarm": {"seen_from": manager["instance_id"] if manager else None, "nodes": swarm},
        "cluster_ids": sorted({n["cluster_id"] for n in nodes if n.get("cluster_id")}),
        "lifecycle": lab["lifecycle"],
        "lifecycle_actions": actions,
        "timings": timings(lab["lifecycle"], join_millis(client("ssm")), lab["nodes"]),
        "functions": lab["functions"],
        "custom_resources": lab["custom_resources"],
        "azure_vms": lab.get("azure", {}).get("vms", []),
        "azure_function_apps": [
            {"app": a["name"], "function": f, "trigger": fn["trigger"], "invocations": fn["invocations"],
             "failures": fn["failures"], "log": fn["log"]}
            for a in lab.get("azure", {}).get("function_apps", []) for f, fn in a["functions"].items()
        ],
    }


JOINED = re.compile(r"^joined \S+ in (\d+) ms$", re.MULTILINE)
TOKEN_READ = re.compile(r"^token read in (\d+) ms$", re.MULTILINE)


def join_millis(ssm: Any) -> dict[str, dict[str, int]]:
    """Per node, as its join script reported them: how long its own `docker swarm join`
    took ("join"), and its read of the join token from the parameter store ("token")."""
    found: dict[str, dict[str, int]] = {}
    for inv in ssm.list_command_invocations(Details=True).get("CommandInvocations", []):
        for plugin in inv.get("CommandPlugins", []):
            out = plugin.get("Output") or ""
            joined, read = JOINED.search(out), TOKEN_READ.search(out)
            if joined:
                found[inv["InstanceId"]] = {"join": int(joined.group(1))}
                if read:
                    found[inv["InstanceId"]]["token"] = int(read.group(1))
    return found


def lifecycle_actions(lifecycle: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (instance, transition): its result, and how often it was completed
    (accepted completions, and refused ones: completions of an action already over)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c in lifecycle["completed"]:
        row = rows.setdefault((c["instance_id"], c["transition"]), {
            "instance_id": c["instance_id"], "group": c["group_name"], "transition": c["transition"].split(":")[-1],
            "result": c["result"], "by": c["by"], "times_completed": 0, "refused_completions": 0,
        })
        row["times_completed"] += 1
    for r in lifecycle.get("refused_completions", []):
        key = (r["instance_id"], r["transition"])
        if key in rows:
            rows[key]["refused_completions"] += 1
    return list(rows.values())


def timings(lifecycle: dict[str, Any], node_ms: dict[str, dict[str, int]], nodes: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per launched instance: lifecycle event delivered → action completed, beside the
    raw time its engine took to join and its read of the token, how long its node took
    to boot (to take commands), and so how long the join took once the node could take
    commands."""
    boot = {n["instance_id"]: n.get("boot_seconds") for n in nodes or []}
    online_at = {n["instance_id"]: n.get("online_at") for n in nodes or []}
    rows = []
    for c in lifecycle["completed"]:
        if not c["transition"].endswith("LAUNCHING"):
            continue
        reported = node_ms.get(c["instance_id"], {})
        raw, token = reported.get("join"), reported.get("token")
        rows.append({
            "instance_id": c["instance_id"], "group": c["group_name"], "result": c["result"],
            "event_to_completed_s": c["waited_seconds"],
            "boot_s": boot.get(c["instance_id"]),
            # Both ends on the lab's clock: when the engine first answered, and when the
            # action was completed (not the event's wait less the boot: the node starts
            # a moment after the action begins).
            "online_to_completed_s": None if online_at.get(c["instance_id"]) is None
            else round(max(c["at"] - online_at[c["instance_id"]], 0.0), 3),
            "raw_join_s": None if raw is None else raw / 1000,
            "token_read_s": None if token is None else token / 1000,
            "overhead_ratio": None if not raw else round(c["waited_seconds"] / (raw / 1000), 1),
        })
    return rows


def table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> str:
    if not rows:
        return f"{title}: none\n"
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = [f"{title}:", "  " + "  ".join(c.upper().ljust(w) for c, w in zip(cols, widths))]
    out += ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out) + "\n"


def render(report: dict[str, Any]) -> str:
    parts = [
        f"lab at {report['endpoint']}\n",
        table("stacks", report["stacks"], ["name", "status"]),
        table("groups", report["groups"], ["name", "desired", "min", "max", "hooks"]),
        table("instances", report["instances"], ["instance_id", "group", "lifecycle_state", "private_ip", "ec2_state"]),
        table("nodes", report["nodes"], ["instance_id", "group", "address", "state", "swarm_state", "role", "availability", "manager_status", "cluster_id"]),
        table(f"swarm (seen from {report['swarm']['seen_from']})", report["swarm"]["nodes"], ["Hostname", "Status", "Availability", "ManagerStatus"]),
        table("lifecycle actions", report["lifecycle_actions"], ["instance_id", "group", "transition", "result", "by", "times_completed", "refused_completions"]),
        table("timings", report["timings"], ["instance_id", "group", "event_to_completed_s", "raw_join_s", "overhead_ratio"]),
        table("pending lifecycle actions", report["lifecycle"]["pending"], ["instance_id", "group", "hook", "transition", "seconds_left"]),
        table("functions", report["functions"], ["function", "workers", "busy", "queued", "log"]),
        table("Azure VMs", report["azure_vms"], ["vm", "scale_set", "address", "state", "not_before_s"]),
        table("Azure function apps", report["azure_function_apps"], ["app", "function", "trigger", "invocations", "failures", "log"]),
    ]
    return "\n".join(parts)


def main(as_json: bool = False) -> None:
    report = gather()
    out = config.REPO_ROOT / "target" / "lab" / "report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str) if as_json else render(report))
    if not as_json:
        print(f"(also written to {out})")
