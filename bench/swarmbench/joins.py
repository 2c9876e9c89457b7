"""What a join costs: for workers joining a swarm of 3, 30 and 100 workers (a round of
three joins at each size), the AWS API calls and the remote commands per join (counted
by the lab, by caller), and the time from the lifecycle event to CONTINUE beside the two
things a join cannot do without, measured in the same round: the node's own `docker swarm
join`, and one Run Command round trip (send a no-op, poll until done). The event comes
while the instance boots, so event → CONTINUE holds the boot; the overhead ratio is the
brain's part: (node online → CONTINUE) / (raw join + one round trip), and the same with
the node's read of its join token (which every join needs) in the floor.

The reconciles are counted apart: the schedule is paused while the bench runs, each round
begins once the reconcile its growth asked for has run, and the reconcile the round's own
joins ask for (one, shared by the three) is counted after the round."""

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
ROUND_TRIPS = 10
# The stack's reconcile delay after a change (the template's default, 20 s) and a margin
# for the run itself.
RECONCILE_QUIET_S = 28


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


def launch(workers: int) -> list[str]:
    """The packaged release, published to the lab's S3, launched as a user launches it."""
    cfn, asg = client("cloudformation"), client("autoscaling")
    params = {
        "ManagerCount": "1", "WorkerCount": str(workers),
        "VpcCidr": "10.200.0.0/16", "SubnetACidr": "10.200.1.0/24", "SubnetBCidr": "10.200.2.0/24",
    }
    published = publish_release("swarmhook-bench-releases")
    cfn.create_stack(StackName=STACK, TemplateURL=published["template_url"], Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    groups = [f"{STACK}-managers", f"{STACK}-workers"]
    wait_in_service(asg, groups, 1 + workers)
    return groups


def run_command_round_trip(instance_id: str) -> float:
    """Seconds for one no-op through Run Command: SendCommand, then polls every 5 ms
    until the invocation is done (the least any remote command costs)."""
    ssm = client("ssm")
    started = time.monotonic()
    sent = ssm.send_command(InstanceIds=[instance_id], DocumentName="AWS-RunShellScript",
                            Parameters={"commands": ["true"]}, Comment="swarmbench round trip")
    command_id = sent["Command"]["CommandId"]
    while time.monotonic() - started < 30:
        try:
            inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ssm.exceptions.InvocationDoesNotExist:
            inv = {"Status": "Pending"}
        if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
            return time.monotonic() - started
        time.sleep(0.005)
    raise SystemExit(f"a no-op on {instance_id} was not done within 30 s")


def round_trips(instance_id: str) -> float:
    return statistics.median(run_command_round_trip(instance_id) for _ in range(ROUND_TRIPS))


def pause_schedule() -> None:
    """The reconcile schedule's rule disabled, so that no tick lands inside a round."""
    rule = client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="ReconcileSchedule")["StackResourceDetail"]["PhysicalResourceId"]
    client("events").disable_rule(Name=rule)
    say(f"reconcile schedule {rule} paused for the bench")


def reconcile_calls() -> dict[str, Any]:
    """The calls of the reconcile the round's joins asked for, counted once it has run."""
    lab_call("DELETE", "/_lab/api-calls")
    time.sleep(RECONCILE_QUIET_S)
    functions = lab_call("GET", "/_lab/api-calls").get("functions", {})
    return {"reconcile_calls_after_round": sum(functions.values()),
            "reconcile_calls_by_action": dict(sorted(functions.items()))}


def round_of_joins(groups: list[str], workers_before: int) -> dict[str, Any]:
    """Scales the workers from `workers_before` by JOINS_PER_ROUND and counts the calls."""
    asg = client("autoscaling")
    before = instance_ids(asg, groups[1])
    say(f"waiting {RECONCILE_QUIET_S} s for the reconcile the last change asked for")
    time.sleep(RECONCILE_QUIET_S)
    lab_call("DELETE", "/_lab/api-calls")
    asg.set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=workers_before + JOINS_PER_ROUND)
    wait_in_service(asg, groups, 1 + workers_before + JOINS_PER_ROUND)
    time.sleep(3)  # late calls of the last join (its signal, its log) land
    calls = lab_call("GET", "/_lab/api-calls")
    joined = sorted(instance_ids(asg, groups[1]) - before)
    round_trip = round_trips(joined[0])
    functions = calls.get("functions", {})
    nodes = calls.get("nodes", {})
    # Each delivery starts by asking Auto Scaling about the instance (a look again after a
    # pause within one does not).
    deliveries = functions.get("autoscaling:DescribeAutoScalingInstances", 0)
    per_join = {k: round(v / JOINS_PER_ROUND, 2) for k, v in sorted(functions.items())}
    return {
        "workers_before": workers_before,
        "joins": JOINS_PER_ROUND,
        "function_calls_per_join": round(sum(functions.values()) / JOINS_PER_ROUND, 2),
        "remote_commands_per_join": round(functions.get("ssm:SendCommand", 0) / JOINS_PER_ROUND, 2),
        "run_command_round_trip_s": round(round_trip, 3),
        "node_calls_per_join": round(sum(nodes.values()) / JOINS_PER_ROUND, 2),
        "deliveries_per_join": round(deliveries / JOINS_PER_ROUND, 2),
        "function_calls_per_delivery": round(sum(functions.values()) / deliveries, 2) if deliveries else None,
        "instances": joined,
        "function_calls_by_action_per_join": per_join,
        "node_calls_by_action_per_join": {k: round(v / JOINS_PER_ROUND, 2) for k, v in sorted(nodes.items())},
    }


def overheads() -> list[dict[str, Any]]:
    report = status.gather()
    return [t for t in report["timings"] if t.get("overhead_ratio") is not None]


def medians(timings: list[dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    """The medians over the joins of one round, and the overhead ratio against that
    round's raw join and Run Command round trip."""
    mine = [t for t in timings if t["instance_id"] in row["instances"] and t.get("raw_join_s") is not None]
    if not mine:
        return {}
    event = statistics.median(t["event_to_completed_s"] for t in mine)
    online = [t["online_to_completed_s"] for t in mine if t.get("online_to_completed_s") is not None]
    raw = statistics.median(t["raw_join_s"] for t in mine)
    reads = [t["token_read_s"] for t in mine if t.get("token_read_s") is not None]
    read = statistics.median(reads) if reads else None
    floor = raw + row["run_command_round_trip_s"]
    brain = statistics.median(online) if online else None
    return {
        "event_to_completed_s_median": round(event, 3),
        "boot_s_median": round(statistics.median(t["boot_s"] for t in mine if t.get("boot_s") is not None), 3)
        if any(t.get("boot_s") is not None for t in mine) else None,
        "online_to_completed_s_median": None if brain is None else round(brain, 3),
        "raw_join_s_median": round(raw, 3),
        "overhead_ratio": round(brain / floor, 2) if floor and brain is not None else None,
        # The node's own read of its token is part of every join (the token is never in a
        # command): the ratio with it in the floor is the brain's own overhead.
        "token_read_s_median": None if read is None else round(read, 3),
        "overhead_ratio_with_token_read": round(brain / (floor + read), 2)
        if brain is not None and read is not None else None,
    }


def measure(sizes: list[int]) -> dict[str, Any]:
    first = sizes[0]
    say(f"stack {STACK}: 1 manager, {first} workers")
    groups = launch(first)
    pause_schedule()
    rounds = []
    for size in sizes:
        current = len(instance_ids(client("autoscaling"), groups[1]))
        if size > current:
            say(f"growing the workers to {size}")
            client("autoscaling").set_desired_capacity(AutoScalingGroupName=groups[1], DesiredCapacity=size)
            wait_in_service(client("autoscaling"), groups, 1 + size, timeout=1800)
        row = round_of_joins(groups, size)
        row.update(reconcile_calls())
        say(f"{JOINS_PER_ROUND} joins at {size} workers: {row['function_calls_per_join']} calls, "
            f"{row['remote_commands_per_join']} remote commands each")
        rounds.append(row)
    timings = overheads()
    for row in rounds:
        row.update(medians(timings, row))
    return {"api_calls": rounds, "per_join": timings}
