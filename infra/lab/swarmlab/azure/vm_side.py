"""What each lab VM has besides its engine, as an Azure VM has it:

- its Instance Metadata Service at `http://169.254.169.254` (port 80) inside the VM's own
  network namespace: the address is put on the namespace's loopback and a listening
  socket made there (a thread enters the namespace with setns(2) only to make it), served
  by the lab's IMDS for that VM alone. Nothing on the host gains that address.
- its custom data, run once the node is up (as cloud-init runs it at first boot), with
  bash in the node's namespaces. The lab's nodes share the host's filesystem, so the
  script runs with `SWARMHOOK_HOME` set to the node's own folder and in the foreground
  (`SWARMHOOK_FOREGROUND=1`: there is no systemd in a namespace); it trusts the lab's CA
  (`SSL_CERT_FILE`, `CURL_CA_BUNDLE`) as a VM trusts Azure's public ones. Its output goes
  to the node's `custom-data.log`; the process is stopped by PID when the VM goes."""

from __future__ import annotations

import base64
import ctypes
import logging
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from .. import network, processes
from ..nodes import NodeManager
from .scale_sets import ScaleSets

log = logging.getLogger("swarmlab.azure.vmside")

IMDS_ADDRESS = "169.254.169.254"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def socket_in_netns(netns_path: str, host: str, port: int) -> socket.socket:
    """A listening TCP socket bound in another network namespace."""
    made: dict[str, Any] = {}

    def enter_and_bind() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(netns_path, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {netns_path}")
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.listen(64)
                made["socket"] = s
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:
                    made["fatal"] = OSError(ctypes.get_errno(), "setns back")
        except Exception as exc:
            made["error"] = exc
        finally:
            os.close(own)
            os.close(target)

    t = threading.Thread(target=enter_and_bind, name="setns")
    t.start()
    t.join()
    if "error" in made:
        raise made["error"]
    return made["socket"]


class VmSide:
    def __init__(self, scale_sets: ScaleSets, nodes: NodeManager, imds_app_for: Any, ca_cert: Path):
        self.scale_sets = scale_sets
        self.nodes = nodes
        self.imds_app_for = imds_app_for  # vm name -> WSGI app
        self.ca_cert = ca_cert
        self.lock = threading.Lock()
        self.imds: dict[str, tuple[BaseWSGIServer, socket.socket]] = {}
        self.custom: dict[str, int] = {}  # vm name -> pid
        self.failed: set[str] = set()

    def tick(self) -> None:
        with self.scale_sets.lock:
            vms = {v.name: v for v in self.scale_sets.vms.values()}
        for name, vm in vms.items():
            node = self.nodes.get(name)
            if node is None or node.state != "online" or node.pid is None or name in self.failed:
                continue
            if name not in self.imds:
                try:
                    self._serve_imds(name)
                except Exception as exc:
                    self.failed.add(name)
                    log.error("VM %s: its IMDS could not be served: %s", name, exc)
                    continue
            if vm.custom_data and name not in self.custom:
                self._run_custom_data(vm, node)
        with self.lock:
            gone = [n for n in list(self.imds) + list(self.custom) if n not in vms]
        for name in set(gone):
            self.forget(name)

    def _serve_imds(self, name: str) -> None:
        ns = network.netns_name(name)
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{IMDS_ADDRESS}/32", "dev", "lo"], capture_output=True)
        sock = socket_in_netns(network.netns_path(name), IMDS_ADDRESS, 80)
        server = make_server(IMDS_ADDRESS, 80, self.imds_app_for(name), threaded=True, fd=sock.fileno())
        threading.Thread(target=server.serve_forever, daemon=True, name=f"imds-{name}").start()
        with self.lock:
            self.imds[name] = (server, sock)

    def _run_custom_data(self, vm: Any, node: Any) -> None:
        try:
            script = base64.b64decode(vm.custom_data, validate=True)
        except ValueError:
            log.warning("VM %s: its custom data is not base64: not run", vm.name)
            self.custom[vm.name] = -1
            return
        home = node.data_dir / "swarmhook"
        home.mkdir(parents=True, exist_ok=True)
        path = node.data_dir / "custom-data.sh"
        path.write_bytes(script)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "LANG": "C.UTF-8", "DOCKER_HOST": node.docker_host, "SWARMHOOK_HOME": str(home),
               "SWARMHOOK_FOREGROUND": "1", "SSL_CERT_FILE": str(self.ca_cert), "CURL_CA_BUNDLE": str(self.ca_cert)}
        logf = open(node.data_dir / "custom-data.log", "ab")
        proc = subprocess.Popen(["nsenter", f"--target={node.pid}", "--net", "--uts", "--", "/bin/bash", str(path)],
                                env=env, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd="/")
        logf.close()
        self.custom[vm.name] = proc.pid
        log.info("VM %s: custom data running (pid %d)", vm.name, proc.pid)

    def forget(self, name: str) -> None:
        with self.lock:
            served = self.imds.pop(name, None)
            pid = self.custom.pop(name, None)
        if pid and pid > 0:
            processes.stop(pid, grace=2)
        if served is not None:
            server, sock = served
            threading.Thread(target=server.shutdown, daemon=True).start()
            sock.close()

    def stop(self) -> None:
        for name in list(self.imds) + list(self.custom):
            self.forget(name)

    def pids(self) -> list[int]:
        with self.lock:
            return [p for p in self.custom.values() if p > 0]
