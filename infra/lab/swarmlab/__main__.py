"""python -m swarmlab up|serve|status|scale|terminate|kill|stop-engine|fire-schedules|down — the lab's controls."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from . import config, network, processes
from .azure import functions_host as azure_functions
from .azure import storage as azure_storage


def _running_pid() -> int | None:
    p = config.paths()
    if not p.pid_file.exists():
        return None
    try:
        pid = int(p.pid_file.read_text().strip())
    except ValueError:
        return None
    return pid if processes.alive(pid) else None


def _ready() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{config.moto_port()}/_lab/status", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def up(args: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        sys.exit("the lab needs root: it creates network namespaces, a bridge and dockerd nodes")
    p = config.paths()
    p.run.mkdir(parents=True, exist_ok=True)
    pid = _running_pid()
    if pid is not None:
        print(f"lab already running (pid {pid}) at http://127.0.0.1:{config.moto_port()}")
    else:
        # Each run starts with fresh logs; the previous run's stay beside them as *.1.
        if p.functions.exists():
            shutil.rmtree(p.run / "functions.1", ignore_errors=True)
            p.functions.rename(p.run / "functions.1")
        if p.log_file.exists():
            p.log_file.replace(p.run / "lab.log.1")
        log = open(p.log_file, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "swarmlab", "serve"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=Path(__file__).resolve().parents[1],
        )
        p.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + 60
        while not _ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = p.log_file.read_text(errors="replace").splitlines()[-15:]
                print("\n".join(tail), file=sys.stderr)
                _stop_server(proc.pid)
                sys.exit(f"the lab did not start; its log: {p.log_file}")
            time.sleep(0.2)
        print(f"lab up (pid {proc.pid}): AWS endpoint http://127.0.0.1:{config.moto_port()}, "
              f"nodes on {config.LAB_CIDR} (bridge {config.BRIDGE}); log {p.log_file}")
    if args.template and args.cloud == "azure":
        from .azure import cli as azure_cli

        azure_cli.deploy(Path(args.template), args.group, args.stack, args.param or [], args.wait)
    elif args.template:
        _create_stack(args)


def _create_stack(args: argparse.Namespace) -> None:
    from .cli_clients import client

    cfn = client("cloudformation")
    params = []
    for kv in args.param or []:
        key, _, value = kv.partition("=")
        params.append({"ParameterKey": key, "ParameterValue": value})
    body = Path(args.template).read_text()
    stack_id = cfn.create_stack(StackName=args.stack, TemplateBody=body, Parameters=params,
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])["StackId"]
    print(f"stack {args.stack}: creating ({stack_id})")
    deadline = time.monotonic() + args.wait
    status = ""
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(1)
    print(f"stack {args.stack}: {status}")
    if status != "CREATE_COMPLETE":
        sys.exit(1)


def _stop_server(pid: int) -> None:
    processes.stop(pid, grace=60)


def down(_args: argparse.Namespace) -> None:
    from .nodes import sweep

    p = config.paths()
    pid = _running_pid()
    if pid is not None:
        print(f"stopping the lab (pid {pid})")
        _stop_server(pid)
    for fn_pid in processes.pids_with_cmdline_containing(str(config.functions_dir()) + "/"):
        processes.stop(fn_pid, grace=2)
    for left_pid in azure_storage.leftover_pids() + azure_functions.leftover_pids():
        processes.stop(left_pid, grace=2)
    removed = sweep()
    if removed:
        print(f"removed nodes: {', '.join(removed)}")
    p.pid_file.unlink(missing_ok=True)
    p.lab_json.unlink(missing_ok=True)
    left = network.list_lab_netns()
    bridge = subprocess.run(["ip", "link", "show", config.BRIDGE], capture_output=True).returncode == 0
    dockerds = (processes.pids_with_cmdline_containing(str(p.exec_root) + "/") + azure_storage.leftover_pids()
                + azure_functions.leftover_pids())
    if left or bridge or dockerds:
        sys.exit(f"lab-down left things behind: netns={left} bridge={bridge} processes={dockerds}")
    print("lab down: no lab process, namespace or bridge left")


def main() -> None:
    ap = argparse.ArgumentParser(prog="swarmlab", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="start the lab (and optionally create a stack)")
    u.add_argument("--template")
    u.add_argument("--stack", default="swarm")
    u.add_argument("--param", action="append", help="KEY=VALUE, repeatable")
    u.add_argument("--wait", type=int, default=600, help="seconds to wait for the stack")
    u.add_argument("--cloud", choices=("aws", "azure"), default="aws",
                   help="whose template: a CloudFormation stack, or an ARM deployment in --group")
    u.add_argument("--group", default="swarm", help="the resource group of an Azure deployment")
    sub.add_parser("serve", help="run the lab in the foreground (what `up` starts)")
    s = sub.add_parser("status", help="groups, instances, nodes and the swarm")
    s.add_argument("--json", action="store_true")
    sc = sub.add_parser("scale", help="set a group's desired capacity (Azure: a scale set's capacity, by id)")
    sc.add_argument("group")
    sc.add_argument("n", type=int)
    sc.add_argument("--cloud", choices=("aws", "azure"), default="aws")
    t = sub.add_parser("terminate", help="terminate an instance through its group (hooks run)")
    t.add_argument("instance")
    t.add_argument("--decrement", action="store_true", help="lower desired capacity instead of replacing")
    t.add_argument("--cloud", choices=("aws", "azure"), default="aws", help="azure: delete the VM (by id), with notice")
    k = sub.add_parser("kill", help="terminate an instance outside any hook, as from the EC2 console")
    k.add_argument("instance")
    k.add_argument("--cloud", choices=("aws", "azure"), default="aws", help="azure: the VM (by id) is lost without notice")
    se = sub.add_parser("stop-engine", help="stop an instance's Docker engine, leaving the instance up")
    se.add_argument("instance")
    fs = sub.add_parser("fire-schedules", help="fire every EventBridge schedule now (reconcile runs)")
    fs.add_argument("--cloud", choices=("aws", "azure"), default="aws", help="azure: fire every Functions timer now")
    sub.add_parser("down", help="stop everything the lab started")
    pb = sub.add_parser("publish", help="publish the packaged functions and the template to the lab's S3 "
                        "(make publish against the lab); prints what was published as JSON")
    pb.add_argument("bucket")
    pb.add_argument("--prefix", default="lab")
    pa = sub.add_parser("publish-azure", help="publish the Azure package, template and portal form to the lab's "
                        "Azurite (make publish-azure against the lab); prints the Deploy to Azure link")
    # Not "swarmhook": the lab's storage accounts share Azurite's one account, whose
    # "swarmhook" container is the deployments' private store.
    pa.add_argument("--container", default="published")
    pa.add_argument("--prefix", default="lab")
    pa.add_argument("--record", type=Path, help="also write what was published here, as JSON")
    args = ap.parse_args()

    if args.cmd == "up":
        up(args)
    elif args.cmd == "serve":
        from .server import main as serve

        serve()
    elif args.cmd == "status":
        from .status import main as status

        status(as_json=args.json)
    elif args.cmd == "publish-azure":
        from .azure import publishing

        publishing.publish(args.container, args.prefix, args.record)
    elif args.cmd in ("scale", "terminate", "kill", "fire-schedules") and args.cloud == "azure":
        from .azure import cli as azure_cli

        if args.cmd == "scale":
            azure_cli.scale(args.group, args.n)
        elif args.cmd == "terminate":
            azure_cli.terminate(args.instance)
        elif args.cmd == "kill":
            azure_cli.kill(args.instance)
        else:
            azure_cli.fire_timers()
    elif args.cmd == "scale":
        from .cli_clients import client

        client("autoscaling").set_desired_capacity(AutoScalingGroupName=args.group, DesiredCapacity=args.n)
        print(f"group {args.group}: desired capacity {args.n}")
    elif args.cmd == "terminate":
        from .cli_clients import client

        a = client("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=args.instance, ShouldDecrementDesiredCapacity=args.decrement
        )["Activity"]
        print(f"{args.instance}: {a.get('Description') or 'terminating through its group'}")
    elif args.cmd == "kill":
        from .cli_clients import client

        client("ec2").terminate_instances(InstanceIds=[args.instance])
        print(f"{args.instance}: killed outside any lifecycle hook")
    elif args.cmd in ("stop-engine", "fire-schedules"):
        from .cli_clients import lab_post

        if args.cmd == "stop-engine":
            answer = lab_post("/_lab/stop-engine", {"instance": args.instance})
            print(f"{args.instance}: {answer['message']}")
        else:
            answer = lab_post("/_lab/fire-schedules", {})
            print(f"fired: {', '.join(answer['fired']) or 'no schedule'}")
    elif args.cmd == "down":
        down(args)
    elif args.cmd == "publish":
        from .publish import PublishFailed, publish_release

        try:
            published = publish_release(args.bucket, args.prefix)
        except PublishFailed as exc:
            sys.exit(str(exc))
        print(json.dumps(published))


if __name__ == "__main__":
    main()
