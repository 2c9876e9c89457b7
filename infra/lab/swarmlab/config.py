"""Where the lab keeps things and which addresses it owns."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# The lab's own address range: the bridge and every node live here, and the VPC and
# subnet CIDRs of the lab's templates must fall inside it (moto hands out instance IPs
# from the subnet). Chosen to stay clear of docker's default local pools (172.17-31/16,
# 192.168/16) and of swarm's overlay pool at the low end of 10/8.
LAB_CIDR = ipaddress.ip_network(os.environ.get("SWARMLAB_CIDR", "10.200.0.0/16"))
BRIDGE = os.environ.get("SWARMLAB_BRIDGE", "swarmlab0")
NETNS_PREFIX = "swl-"
VETH_PREFIX = "swv"


@dataclass(frozen=True)
class Paths:
    run: Path  # logs, pid files, lab.json
    nodes: Path  # per-node data roots (big, on disk)
    exec_root: Path  # per-node exec roots and sockets (short paths: unix sockets max 108 bytes)
    functions: Path  # per-function logs

    @property
    def lab_json(self) -> Path:
        return self.run / "lab.json"

    @property
    def pid_file(self) -> Path:
        return self.run / "lab.pid"

    @property
    def log_file(self) -> Path:
        return self.run / "lab.log"


def paths() -> Paths:
    run = Path(os.environ.get("SWARMLAB_RUN_DIR", REPO_ROOT / "target" / "lab" / "run"))
    return Paths(
        run=run,
        nodes=run / "nodes",
        exec_root=Path(os.environ.get("SWARMLAB_EXEC_ROOT", "/run/swarmlab")),
        functions=run / "functions",
    )


def bridge_address() -> ipaddress.IPv4Interface:
    net = LAB_CIDR
    return ipaddress.ip_interface(f"{net.network_address + 1}/{net.prefixlen}")


def moto_port() -> int:
    return int(os.environ.get("SWARMLAB_PORT", "5599"))


def functions_dir() -> Path:
    """Where the lab finds function binaries: a function's Handler names its binary."""
    return Path(os.environ.get("SWARMLAB_FUNCTIONS_DIR", REPO_ROOT / "target" / "debug"))


def node_tools_bin() -> Path:
    """The tools a node's scripts find on PATH (the AWS CLI), as on Amazon Linux."""
    return REPO_ROOT / "target" / "lab" / "node-tools" / "bin"


REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT_ID = "123456789012"
