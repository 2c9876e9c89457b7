"""Every EC2 instance is a real Docker node: one dockerd in its own network namespace,
holding the instance's private IP and hostname, with its own data root and socket."""

from __future__ import annotations

import http.client
import ipaddress
import logging
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import config, network, processes

log = logging.getLogger("swarmlab.nodes")

BOOT_TIMEOUT_SECONDS = 90


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 2.0):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def engine_ping(sock_path: Path) -> bool:
    try:
        conn = _UnixHTTPConnection(str(sock_path))
        conn.request("GET", "/_ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def hostname_for(address: str) -> str:
    return "ip-" + address.replace(".", "-")


@dataclass
class Node:
    instance_id: str
    address: str
    state: str = "booting"  # booting | online | stopped | halted | failed
    pid: int | None = None
    error: str | None = None
    booted_at: float | None = None
    started_at: float = field(default_factory=time.time)
    # The engine was stopped while the instance runs (`POST /_lab/stop-engine`): the
    # instance and its agent stay up, `docker` no longer answers.
    engine_stopped: bool = False

    @property
    def hostname(self) -> str:
        return hostname_for(self.address)

    @property
    def exec_dir(self) -> Path:
        return config.paths().exec_root / self.instance_id

    @property
    def data_dir(self) -> Path:
        return config.paths().nodes / self.instance_id

    @property
    def socket(self) -> Path:
        return self.exec_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def as_dict(self) -> dict:
        return {
            "instance_id": self.instance_id,
            "address": self.address,
            "hostname": self.hostname,
            "state": self.state,
            "pid": self.pid,
            "docker_host": self.docker_host,
            "error": self.error,
            "engine_stopped": self.engine_stopped,
            "boot_seconds": round(self.booted_at - self.started_at, 2) if self.booted_at else None,
            "online_at": self.booted_at,
        }


class NodeManager:
    """Boots and halts nodes in the background; moto's request threads never wait on it."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="node")

    def get(self, instance_id: str) -> Node | None:
        with self._lock:
            return self._nodes.get(instance_id)

    def all(self) -> list[Node]:
        with self._lock:
            return list(self._nodes.values())

    def is_online(self, instance_id: str) -> bool:
        node = self.get(instance_id)
        return node is not None and node.state == "online"

    def launch(self, instance_id: str, address: str) -> None:
        ip = ipaddress.ip_address(address)
        node = Node(instance_id, address)
        with self._lock:
            clash = next(
                (n for n in self._nodes.values() if n.address == address and n.state in ("booting", "online", "stopped")),
                None,
            )
            self._nodes[instance_id] = node
        if clash is not None:
            node.state = "failed"
            node.error = (
                f"address {address} is already held by {clash.instance_id}: two VPCs in the lab share "
                "one bridge, so give each a subnet of its own"
            )
            log.warning("instance %s: %s", instance_id, node.error)
            return
        if ip not in config.LAB_CIDR:
            node.state = "failed"
            node.error = (
                f"address {address} is outside the lab's range {config.LAB_CIDR}: "
                "use a VPC/subnet inside it"
            )
            log.warning("instance %s: %s", instance_id, node.error)
            return
        self._pool.submit(self._boot, node)

    def start(self, instance_id: str) -> None:
        node = self.get(instance_id)
        if node is not None and node.state == "stopped":
            node.state = "booting"
            node.started_at = time.time()
            self._pool.submit(self._boot, node)

    def stop(self, instance_id: str) -> None:
        """EC2 stop: the engine halts, its data stays for the next start."""
        node = self.get(instance_id)
        if node is not None:
            self._pool.submit(self._halt, node, True)

    def stop_engine(self, instance_id: str) -> tuple[bool, str]:
        """Stops the node's dockerd (as `systemctl stop docker` would), leaving the
        instance, its network and its agent up. Returns whether it did, and why not."""
        node = self.get(instance_id)
        if node is None:
            return False, f"no node for {instance_id}"
        if node.state != "online" or node.pid is None:
            return False, f"{instance_id} is {node.state}, not online"
        node.engine_stopped = True
        processes.stop(node.pid)
        for pid in processes.pids_with_cmdline_containing(str(node.exec_dir)):
            processes.stop(pid, grace=2)
        log.info("instance %s: engine stopped; the instance and its agent stay up", instance_id)
        return True, "engine stopped"

    def terminate(self, instance_id: str) -> None:
        node = self.get(instance_id)
        if node is not None:
            self._pool.submit(self._halt, node, False)

    def shutdown(self) -> None:
        """Halts every node, several at once: an engine takes a few seconds to stop, and a
        lab of a hundred nodes halted one by one would take minutes to tear down."""

        def halt(node: Node) -> None:
            try:
                self._halt(node, False)
            except Exception:  # keep tearing down the rest
                log.exception("halting %s", node.instance_id)

        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="halt") as pool:
            list(pool.map(halt, self.all()))
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _boot(self, node: Node) -> None:
        try:
            self._boot_engine(node)
        except Exception as exc:  # reported on the node, the lab keeps going
            if node.state in ("halted", "stopped"):
                return  # halted while booting: not a failure
            node.state = "failed"
            node.error = str(exc)
            log.error("instance %s: node failed to boot: %s", node.instance_id, exc)

    def _boot_engine(self, node: Node) -> None:
        node.exec_dir.mkdir(parents=True, exist_ok=True)
        (node.data_dir / "docker").mkdir(parents=True, exist_ok=True)
        network.create_node_netns(node.instance_id, ipaddress.ip_address(node.address))
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise RuntimeError("dockerd not found: install Debian's docker.io (make setup)")
        cmd = (
            f"hostname {node.hostname} && exec {dockerd}"
            f" --data-root {node.data_dir / 'docker'}"
            f" --exec-root {node.exec_dir / 'exec'}"
            f" -H {node.docker_host}"
            f" --pidfile {node.exec_dir / 'docker.pid'}"
            " --iptables=false --ip-masq=false --bridge=none --userland-proxy=false"
            f" --cgroup-parent=swarmlab-{node.instance_id}"
        )
        logf = open(node.data_dir / "dockerd.log", "ab")
        proc = subprocess.Popen(
            ["nsenter", f"--net={network.netns_path(node.instance_id)}", "unshare", "--uts", "--", "sh", "-c", cmd],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        node.pid = proc.pid
        (node.data_dir / "dockerd.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if node.state != "booting":
                return  # halted while booting
            if proc.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited with {proc.returncode}; see {node.data_dir / 'dockerd.log'}"
                )
            if engine_ping(node.socket):
                node.state = "online"
                node.booted_at = time.time()
                log.info(
                    "instance %s: node %s online at %s in %.1fs",
                    node.instance_id, node.hostname, node.address, node.booted_at - node.started_at,
                )
                return
            time.sleep(0.1)
        raise RuntimeError(f"dockerd did not answer within {BOOT_TIMEOUT_SECONDS}s")

    def _halt(self, node: Node, keep_data: bool) -> None:
        node.state = "stopped" if keep_data else "halted"
        if node.pid is not None:
            processes.stop(node.pid)
        for pid in processes.pids_with_cmdline_containing(str(node.exec_dir)):
            processes.stop(pid, grace=2)
        processes.unmount_under(node.exec_dir, node.data_dir)
        network.delete_node_netns(node.instance_id)
        if not keep_data:
            shutil.rmtree(node.exec_dir, ignore_errors=True)
            shutil.rmtree(node.data_dir, ignore_errors=True)
        log.info("instance %s: node %s %s", node.instance_id, node.hostname, node.state)


def sweep() -> list[str]:
    """Stop and remove whatever nodes a previous run left, even if the lab process died."""
    p = config.paths()
    done = [d.name for d in p.nodes.iterdir()] if p.nodes.exists() else []
    pids = []
    for name in done:
        try:
            pids.append(int((p.nodes / name / "dockerd.pid").read_text().strip()))
        except (OSError, ValueError):
            pass
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="sweep") as pool:
        list(pool.map(lambda pid: processes.stop(pid, grace=5), pids))
    for pid in processes.pids_with_cmdline_containing(str(p.exec_root) + "/"):
        processes.stop(pid, grace=2)
    processes.unmount_under(p.exec_root, p.nodes)
    for ns in network.list_lab_netns():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(config.VETH_PREFIX):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
    network.delete_bridge()
    network.restore_neighbour_limits()
    shutil.rmtree(p.exec_root, ignore_errors=True)
    shutil.rmtree(p.nodes, ignore_errors=True)
    return done
