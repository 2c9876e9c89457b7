"""SSM Run Command that really runs: AWS-RunShellScript executes on the instance's node
(its network and UTS namespaces, its Docker socket as DOCKER_HOST), and
GetCommandInvocation reports Pending/InProgress, then the real exit code and output,
capped as AWS caps them.

While tracing is on (`POST /_lab/exec-traces {"on": true}`), every command runs under
`strace -f -e trace=execve`, and each process it starts is kept with its arguments
(`GET /_lab/exec-traces`): what any other process on the host could read in /proc."""

from __future__ import annotations

import ast
import datetime
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.ssm.models import Command, SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from . import config
from .lablock import LAB_LOCK
from .nodes import NodeManager

log = logging.getLogger("swarmlab.ssm")

STDOUT_CAP = 24000
PLUGIN_OUTPUT_CAP = 2500
STDERR_CAP = 8000
RUN_SHELL_SCRIPT = "AWS-RunShellScript"

_send = SimpleSystemManagerBackend.send_command
_targets = Command._get_instance_ids_from_targets


class ExecTraces:
    """The processes Run Command started while tracing was on, with their arguments."""

    # strace -f: `PID execve("/usr/bin/curl", ["curl", "-s", …], 0x… /* 12 vars */) = 0`
    LINE = re.compile(r'^\d+\s+execve\("(?:[^"\\]|\\.)*", (\[.*?\]), (?:0x[0-9a-f]+|\[)')

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.on = False
        self.execs: list[dict[str, Any]] = []

    def set(self, on: bool) -> None:
        with self.lock:
            self.on = on
            self.execs.clear()

    def enabled(self) -> bool:
        with self.lock:
            return self.on

    def keep(self, instance_id: str, command_id: str, trace: str) -> None:
        execs = []
        for line in trace.splitlines():
            m = self.LINE.match(line)
            if not m:
                continue
            try:
                argv = ast.literal_eval(m.group(1))  # a list of C-escaped strings
            except (ValueError, SyntaxError):
                argv = [m.group(1)]
            execs.append({"instance_id": instance_id, "command_id": command_id, "argv": argv})
        with self.lock:
            self.execs.extend(execs)

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {"on": self.on, "execs": list(self.execs)}


TRACES = ExecTraces()


def _instance_ids_from_targets(self: Command) -> list[str]:
    # moto resolves empty Targets to every instance in the region; AWS to none.
    return _targets(self) if self.targets else []


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _script(parameters: dict[str, list[str]]) -> str:
    commands = parameters.get("commands") or []
    if isinstance(commands, str):
        commands = [commands]
    return "\n".join(commands)


def _run(nodes: NodeManager, command: Any, invocation: dict[str, Any], region: str) -> None:
    instance_id = invocation["InstanceId"]
    node = nodes.get(instance_id)
    params = command.parameters or {}
    timeout = int((params.get("executionTimeout") or ["3600"])[0])
    workdir = (params.get("workingDirectory") or [""])[0] or "/"
    with LAB_LOCK:
        invocation["Status"] = invocation["StatusDetails"] = "InProgress"
        invocation["ExecutionStartDateTime"] = _now()
        _refresh(command)
    started = time.monotonic()
    env = {
        "PATH": f"{config.node_tools_bin()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        # The instance profile's credentials, as the node's own identity would give them.
        "AWS_ACCESS_KEY_ID": f"node-{instance_id}",
        "AWS_SECRET_ACCESS_KEY": "swarmlab",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DOCKER_HOST": node.docker_host if node else "",
        "AWS_SSM_INSTANCE_ID": instance_id,
        "AWS_SSM_REGION_NAME": region,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": f"http://{config.bridge_address().ip}:{config.moto_port()}",
    }
    status, code, out, err = "Failed", -1, "", ""
    if node is None or node.pid is None or node.state != "online":
        err = f"instance {instance_id} is not online"
    else:
        argv = ["nsenter", f"--target={node.pid}", "--net", "--uts", "--", "/bin/sh", "-c", _script(params)]
        trace = None
        if TRACES.enabled():
            fd, trace = tempfile.mkstemp(prefix="exec-trace-", dir=str(config.paths().run))
            os.close(fd)
            argv = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=execve", "-s", "65535", "-o", trace] + argv
        try:
            proc = subprocess.run(
                argv,
                capture_output=True, env=env, cwd=workdir if os.path.isdir(workdir) else "/", timeout=timeout,
            )
            code = proc.returncode
            out = proc.stdout.decode(errors="replace")
            err = proc.stderr.decode(errors="replace")
            status = "Success" if code == 0 else "Failed"
        except subprocess.TimeoutExpired as exc:
            status, code = "TimedOut", 124
            out = (exc.stdout or b"").decode(errors="replace")
            err = (exc.stderr or b"").decode(errors="replace")
        finally:
            if trace is not None:
                with open(trace, errors="replace") as f:
                    TRACES.keep(instance_id, command.command_id, f.read())
                os.unlink(trace)
    elapsed = time.monotonic() - started
    with LAB_LOCK:
        invocation.update(
            {
                "Status": status,
                "StatusDetails": "ExecutionTimedOut" if status == "TimedOut" else status,
                "ResponseCode": code,
                "StandardOutputContent": out[:STDOUT_CAP],
                "StandardErrorContent": err[:STDERR_CAP],
                "ExecutionEndDateTime": _now(),
                "ExecutionElapsedTime": f"PT{elapsed:.3f}S",
            }
        )
        _refresh(command)
    log.info("command %s on %s: %s (%d) in %.2fs", command.command_id, instance_id, status, code, elapsed)


def _plugin(invocation: dict[str, Any]) -> dict[str, Any]:
    """ListCommandInvocations' Details: the shell plugin's combined output, 2500 characters
    at most, as AWS gives it."""
    out = invocation.get("StandardOutputContent") or ""
    err = invocation.get("StandardErrorContent") or ""
    if err:
        out += "\n----------ERROR-------\n" + err
    return {
        "Name": "aws:runShellScript",
        "Status": invocation.get("Status"),
        "StatusDetails": invocation.get("StatusDetails"),
        "ResponseCode": invocation.get("ResponseCode", -1),
        "Output": out[:PLUGIN_OUTPUT_CAP],
    }


def _refresh(command: Any) -> None:
    statuses = [i["Status"] for i in command.invocations]
    done = [s for s in statuses if s not in ("Pending", "InProgress")]
    command.completed_count = len(done)
    command.error_count = len([s for s in statuses if s in ("Failed", "TimedOut")])
    if len(done) < len(statuses):
        command.status = command.status_details = "InProgress" if any(s == "InProgress" for s in statuses) else "Pending"
    elif command.error_count:
        command.status = command.status_details = "Failed"
    else:
        command.status = command.status_details = "Success"


def install(nodes: NodeManager) -> None:
    def send_command(self: SimpleSystemManagerBackend, **kwargs: Any) -> Any:
        document = kwargs.get("document_name")
        if document != RUN_SHELL_SCRIPT:
            raise JsonRESTError("InvalidDocument", f"the lab runs only {RUN_SHELL_SCRIPT}, not {document}")
        instance_ids = kwargs.get("instance_ids") or []
        offline = [i for i in instance_ids if not nodes.is_online(i)]
        if offline:
            raise JsonRESTError("InvalidInstanceId", f"Instances {offline} not in a valid state for account {self.account_id}")
        command = _send(self, **kwargs)
        for invocation in command.invocations:
            invocation.update(
                {
                    "Status": "Pending", "StatusDetails": "Pending", "ResponseCode": -1,
                    "ExecutionStartDateTime": "", "ExecutionEndDateTime": "", "ExecutionElapsedTime": "",
                }
            )
        _refresh(command)
        for invocation in command.invocations:
            threading.Thread(
                target=_run, args=(nodes, command, invocation, self.region_name), daemon=True,
                name=f"ssm-{invocation['InstanceId']}",
            ).start()
        return command

    def describe_instance_information(self: SimpleSystemManagerResponse) -> Any:
        wanted: set[str] = set()
        for f in self._get_param("Filters", []) or []:
            if f.get("Key") in ("InstanceIds", "tag:aws:ec2:instanceid"):
                wanted.update(f.get("Values", []))
        for f in self._get_param("InstanceInformationFilterList", []) or []:
            if f.get("key") == "InstanceIds":
                wanted.update(f.get("valueSet", []))
        items = []
        for node in nodes.all():
            if wanted and node.instance_id not in wanted:
                continue
            if node.state not in ("online", "booting", "stopped"):
                continue
            items.append(
                {
                    "InstanceId": node.instance_id,
                    "PingStatus": "Online" if node.state == "online" else "ConnectionLost",
                    "LastPingDateTime": datetime.datetime.now(datetime.timezone.utc),
                    "AgentVersion": "3.3.0.0",
                    "IsLatestVersion": True,
                    "PlatformType": "Linux",
                    "PlatformName": "swarmlab node",
                    "ResourceType": "EC2Instance",
                    "IPAddress": node.address,
                    "ComputerName": node.hostname,
                }
            )
        return ActionResult({"InstanceInformationList": items})

    def list_command_invocations(self: SimpleSystemManagerResponse) -> Any:
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        commands = self.ssm_backend.list_commands(command_id, None)
        details = str(self._get_param("Details")).lower() == "true"
        found = [
            dict(inv, RequestedDateTime=c.requested_date_time, **({"CommandPlugins": [_plugin(inv)]} if details else {}))
            for c in commands
            for inv in c.invocations
            if not instance_id or inv["InstanceId"] == instance_id
        ]
        return ActionResult({"CommandInvocations": found})

    Command._get_instance_ids_from_targets = _instance_ids_from_targets  # type: ignore[method-assign]
    SimpleSystemManagerBackend.send_command = send_command  # type: ignore[method-assign]
    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations  # type: ignore[attr-defined]
