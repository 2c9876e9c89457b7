"""The lab's network: one Linux bridge, one network namespace and veth pair per node.

Everything is named with the lab's prefixes so teardown can find what a crashed run left.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import subprocess
from pathlib import Path

from . import config

log = logging.getLogger("swarmlab.network")


class NetworkError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def check_range_is_free() -> None:
    """Refuse to start if the lab's range overlaps one of the machine's own routes:
    a bridge that shadows the default gateway's network cuts the machine off."""
    out = _ip("-4", "route", "show").stdout
    for line in out.splitlines():
        dest = line.split()[0]
        if dest == "default":
            continue
        if f"dev {config.BRIDGE}" in line:
            continue
        try:
            net = ipaddress.ip_network(dest, strict=False)
        except ValueError:
            continue
        if net.overlaps(config.LAB_CIDR):
            raise NetworkError(
                f"the lab's range {config.LAB_CIDR} overlaps this machine's route '{line.strip()}'; "
                "set SWARMLAB_CIDR to a free range"
            )


# A bridge without an address of its own takes the lowest of its ports' MACs, and changes
# it when that port goes: every node's ARP entry for the lab's address then points at a
# MAC nobody answers for, and their calls stall until the entry is re-resolved. A fixed,
# locally administered MAC keeps the lab's address where the nodes last saw it.
BRIDGE_MAC = "02:5a:1a:b0:00:01"


def ensure_bridge() -> None:
    if _ip("link", "show", config.BRIDGE, check=False).returncode != 0:
        _ip("link", "add", config.BRIDGE, "address", BRIDGE_MAC, "type", "bridge")
    _ip("link", "set", "dev", config.BRIDGE, "address", BRIDGE_MAC)
    addr = str(config.bridge_address())
    if addr not in _ip("-4", "addr", "show", "dev", config.BRIDGE).stdout:
        _ip("addr", "add", addr, "dev", config.BRIDGE)
    _ip("link", "set", config.BRIDGE, "up")


# The kernel keeps one ARP table for every network namespace, and its default cap
# (gc_thresh3 = 1024 entries) is reached at about 30 swarm nodes: each node gossips with
# every other, so n nodes hold n*n entries. Past the cap new entries are refused
# ("neighbor table overflow") and nodes can no longer reach the lab's endpoint or a
# manager. The lab raises the caps while it runs and restores the machine's own after.
NEIGHBOUR_LIMITS = {
    "/proc/sys/net/ipv4/neigh/default/gc_thresh1": 8192,
    "/proc/sys/net/ipv4/neigh/default/gc_thresh2": 32768,
    "/proc/sys/net/ipv4/neigh/default/gc_thresh3": 65536,
}


def _saved_limits_file() -> Path:
    return config.paths().run / "neighbour-limits.json"


def raise_neighbour_limits() -> None:
    """Raises the ARP table's caps to fit 100+ nodes; the machine's values are saved once."""
    saved = _saved_limits_file()
    current = {}
    for path in NEIGHBOUR_LIMITS:
        try:
            current[path] = int(Path(path).read_text().strip())
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s (%s): large fleets may lose their network", path, exc)
            return
    if not saved.exists():
        saved.write_text(json.dumps(current))
    for path, want in NEIGHBOUR_LIMITS.items():
        if current[path] < want:
            try:
                Path(path).write_text(str(want))
            except OSError as exc:
                log.warning("cannot raise %s to %d (%s): large fleets may lose their network", path, want, exc)


def restore_neighbour_limits() -> None:
    """Puts back the caps `raise_neighbour_limits` found, if it changed them."""
    saved = _saved_limits_file()
    try:
        values = json.loads(saved.read_text())
    except (OSError, ValueError):
        return
    for path, value in values.items():
        try:
            Path(path).write_text(str(int(value)))
        except (OSError, ValueError) as exc:
            log.warning("cannot restore %s to %s: %s", path, value, exc)
    saved.unlink(missing_ok=True)


def delete_bridge() -> None:
    if _ip("link", "show", config.BRIDGE, check=False).returncode == 0:
        _ip("link", "del", config.BRIDGE, check=False)


def netns_name(instance_id: str) -> str:
    return f"{config.NETNS_PREFIX}{instance_id}"


def _veth_name(instance_id: str) -> str:
    # Interface names are limited to 15 bytes; instance ids are 19.
    return config.VETH_PREFIX + hashlib.sha1(instance_id.encode()).hexdigest()[:10]


def create_node_netns(instance_id: str, address: ipaddress.IPv4Address) -> str:
    """A namespace holding `address` on an eth0 bridged to the lab, plus loopback."""
    ns = netns_name(instance_id)
    host_if = _veth_name(instance_id)
    peer_if = host_if + "p"
    delete_node_netns(instance_id)
    _ip("netns", "add", ns)
    _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
    _ip("link", "set", peer_if, "netns", ns)
    _ip("link", "set", host_if, "master", config.BRIDGE, "up")
    _ip("-n", ns, "link", "set", peer_if, "name", "eth0")
    _ip("-n", ns, "addr", "add", f"{address}/{config.LAB_CIDR.prefixlen}", "dev", "eth0")
    _ip("-n", ns, "link", "set", "eth0", "up")
    _ip("-n", ns, "link", "set", "lo", "up")
    _ip("-n", ns, "route", "add", "default", "via", str(config.bridge_address().ip))
    return ns


def delete_node_netns(instance_id: str) -> None:
    ns = netns_name(instance_id)
    if ns in list_lab_netns():
        _ip("netns", "del", ns, check=False)
    _ip("link", "del", _veth_name(instance_id), check=False)


def list_lab_netns() -> list[str]:
    out = _ip("netns", "list", check=False).stdout
    return [
        line.split()[0]
        for line in out.splitlines()
        if line.strip() and line.split()[0].startswith(config.NETNS_PREFIX)
    ]


def netns_path(instance_id: str) -> str:
    return f"/var/run/netns/{netns_name(instance_id)}"
