"""What a join costs: for workers joining a swarm of 3 and of 30 workers, the AWS API
calls per join (counted by the lab, by caller), and per join the overhead ratio
(lifecycle event delivered → CONTINUE) / (the node's own `docker swarm join`)."""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from typing import Any

from swarmlab import config, status
from swarmlab.cli_clients import client, lab_info
from swarmlab.publish import publish_release

STACK = "bench"
JOINS_PER_ROUND = 3


def say(msg: str) -> None:
    print(f"  {msg}", flush=True)


def lab_call(method: str, path: str) -> Any:
    req = urllib.request.Request(f"{lab_info()['endpoint']}{path}", method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def instance_ids(asg: Any, group: str) -> set[str]:
    out = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return {i["InstanceId"] for g in out for i in g["Instances"]}


def in_service(asg: Any, groups: list[str]) -> int:
    out = asg.describe_auto_scaling_groups(AutoScalingGroupNames=groups)["AutoScalingGroups"]
    return sum(1 for g in out for i in g["Instances"] if i["LifecycleState"] == "InService")


def wait_in_service(asg: Any, groups: list[str], want: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        n = in_service(asg, groups)
        if n != last:
            say(f"{n}/{want} instances in service")
            last = n
        if n >= want:
            return
        time.sleep(1)
    raise SystemExit(f"only {last}/{want} instances came into service within {timeout:.0f}s")


def launch() -> list[str]:
    """The packaged release, published to the lab's S3, launched as a user launches it."""
    cfn, asg = client("cloudformation"), client("autoscaling")
    params = {
        "ManagerCount": "1", "WorkerCount": str(JOINS_PER_ROUND),
        "VpcCidr": "10.200.0.0/16", "SubnetACidr": "10.200.1.0/24", "SubnetBCidr": "10.200.2.0/24",
    }
    published = publish_release("swarmhook-bench-releases")
    cfn.create_stack(StackName=STACK, TemplateURL=published["template_url"], Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    groups = [f"{STACK}-managers", f"{STACK}-workers"]
    wait_in_service(asg, groups, 1 + JOINS_PER_ROUND)
    return groups


def round_of_joins(groups: list[str], workers_before: int) -> dict[str, Any]:
    """Scales the workers from `workers_before` by JOINS_PER_ROUND and counts the calls."""
    asg = client("autoscaling")
    before = instance_ids(asg, groups[1])
    lab_call("DELETE", "/_lab/api-calls")
    asg.set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=workers_before + JOINS_PER_ROUND)
    wait_in_service(asg, groups, 1 + workers_before + JOINS_PER_ROUND)
    time.sleep(3)  # late calls of the last join (its signal, its log) land
    calls = lab_call("GET", "/_lab/api-calls")
    functions = calls.get("functions", {})
    nodes = calls.get("nodes", {})
    # Each handling round (a delivery, or a second look within one) starts by asking
    # Auto Scaling about the instance.
    rounds = functions.get("autoscaling:DescribeAutoScalingInstances", 0)
    per_join = {k: round(v / JOINS_PER_ROUND, 2) for k, v in sorted(functions.items())}
    return {
        "workers_before": workers_before,
        "joins": JOINS_PER_ROUND,
        "function_calls_per_join": round(sum(functions.values()) / JOINS_PER_ROUND, 2),
        "node_calls_per_join": round(sum(nodes.values()) / JOINS_PER_ROUND, 2),
        "rounds_per_join": round(rounds / JOINS_PER_ROUND, 2),
        "function_calls_per_round": round(sum(functions.values()) / rounds, 2) if rounds else None,
        "instances": sorted(instance_ids(asg, groups[1]) - before),
        "function_calls_by_action_per_join": per_join,
        "node_calls_by_action_per_join": {k: round(v / JOINS_PER_ROUND, 2) for k, v in sorted(nodes.items())},
    }


def overheads() -> list[dict[str, Any]]:
    report = status.gather()
    return [t for t in report["timings"] if t.get("overhead_ratio") is not None]


def medians(timings: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    """The medians over the joins of one round."""
    mine = [t for t in timings if t["instance_id"] in ids]
    if not mine:
        return {}
    return {
        "event_to_completed_s_median": round(statistics.median(t["event_to_completed_s"] for t in mine), 3),
        "raw_join_s_median": round(statistics.median(t["raw_join_s"] for t in mine), 3),
        "overhead_ratio_median": round(statistics.median(t["overhead_ratio"] for t in mine), 1),
    }


def measure(big: int) -> dict[str, Any]:
    say(f"stack {STACK}: 1 manager, {JOINS_PER_ROUND} workers")
    groups = launch()
    small = round_of_joins(groups, JOINS_PER_ROUND)
    say(f"{JOINS_PER_ROUND} joins at {JOINS_PER_ROUND} workers: {small['function_calls_per_join']} function calls each")
    say(f"growing the workers to {big}")
    client("autoscaling").set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=big)
    wait_in_service(client("autoscaling"), groups, 1 + big, timeout=1800)
    large = round_of_joins(groups, big)
    say(f"{JOINS_PER_ROUND} joins at {big} workers: {large['function_calls_per_join']} function calls each")
    timings = overheads()
    for r in (small, large):
        r.update(medians(timings, r["instances"]))
    ratios = [t["overhead_ratio"] for t in timings]
    return {
        "api_calls": [small, large],
        "per_join": timings,
        "overhead_ratio_median": statistics.median(ratios) if ratios else None,
        "event_to_completed_s_median": statistics.median(t["event_to_completed_s"] for t in timings) if timings else None,
        "raw_join_s_median": statistics.median(t["raw_join_s"] for t in timings) if timings else None,
    }
