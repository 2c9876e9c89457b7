"""The Azure lab's storage: Azurite's Blob and Queue services (the real emulator, pinned
in `infra/lab/azurite/package-lock.json`, installed by `make setup`), on the lab bridge's address (the VMs' agents reach it there,
as the host's processes do), over
TLS with the lab CA's certificate, taking OAuth bearer tokens (`--oauth basic`: Azurite
checks a token's issuer, audience and times, not its signature). Data lives in the run
folder and goes with the run. No `--skipApiVersionCheck`: a client must pin a storage
API version Azurite knows, as it must pin one the cloud knows."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import config, processes
from .lab_ca import LabCa

log = logging.getLogger("swarmlab.azure")

ACCOUNT = "devstoreaccount1"
START_SECONDS = 60


def install_dir() -> Path:
    return config.REPO_ROOT / "target" / "lab" / "azurite"


def blob_port() -> int:
    return int(os.environ.get("SWARMLAB_AZURITE_BLOB_PORT", "5601"))


def queue_port() -> int:
    return int(os.environ.get("SWARMLAB_AZURITE_QUEUE_PORT", "5602"))


@dataclass
class AzureStorage:
    """Azurite's two services, started for one run, and where they answer."""

    blob_endpoint: str
    queue_endpoint: str
    pids: list[int]

    @staticmethod
    def start(folder: Path, ca: LabCa) -> AzureStorage:
        host = str(config.bridge_address().ip)
        bin_dir = install_dir() / "node_modules" / ".bin"
        if not (bin_dir / "azurite-blob").exists():
            raise RuntimeError(f"Azurite is not installed in {install_dir()}: run make setup")
        data = folder / "azurite"
        data.mkdir(parents=True, exist_ok=True)
        tls = ["--cert", str(ca.server_cert), "--key", str(ca.server_key), "--oauth", "basic"]
        common = ["--location", str(data), "--disableTelemetry", "--silent", *tls]
        services = [
            ("blob", [str(bin_dir / "azurite-blob"), "--blobHost", host, "--blobPort", str(blob_port())], blob_port()),
            ("queue", [str(bin_dir / "azurite-queue"), "--queueHost", host, "--queuePort", str(queue_port())], queue_port()),
        ]
        pids: list[int] = []
        try:
            for name, cmd, port in services:
                _refuse_taken(port, name)
                logf = open(folder / f"azurite-{name}.log", "ab")
                proc = subprocess.Popen(
                    [*cmd, *common],
                    stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                logf.close()
                pids.append(proc.pid)
            (folder / "azurite.pids").write_text("\n".join(map(str, pids)))
            storage = AzureStorage(
                blob_endpoint=f"https://{host}:{blob_port()}/{ACCOUNT}",
                queue_endpoint=f"https://{host}:{queue_port()}/{ACCOUNT}",
                pids=pids,
            )
            storage._wait_ready(ca)
            return storage
        except BaseException:
            for pid in pids:
                processes.stop(pid, grace=2)
            raise

    def _wait_ready(self, ca: LabCa) -> None:
        """Both answer over TLS with the lab's certificate (an unauthenticated request
        gets Azurite's refusal: that is an answer)."""
        context = ssl.create_default_context(cafile=str(ca.ca_cert))
        deadline = time.monotonic() + START_SECONDS
        for endpoint in (self.blob_endpoint, self.queue_endpoint):
            while True:
                try:
                    urllib.request.urlopen(f"{endpoint}?comp=list", timeout=2, context=context)
                    break
                except urllib.error.HTTPError:
                    break  # 401/403: it answers
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"Azurite did not answer at {endpoint} within {START_SECONDS}s: {exc}") from None
                    time.sleep(0.2)
        log.info("Azurite up: blob %s, queue %s (pids %s)", self.blob_endpoint, self.queue_endpoint, self.pids)

    def stop(self) -> None:
        for pid in self.pids:
            processes.stop(pid, grace=5)


def _refuse_taken(port: int, name: str) -> None:
    with socket.socket() as s:
        if s.connect_ex((str(config.bridge_address().ip), port)) == 0:
            raise RuntimeError(f"port {port} (Azurite {name}) is taken: another lab, or set SWARMLAB_AZURITE_{name.upper()}_PORT")


def leftover_pids() -> list[int]:
    """Azurite processes a previous run left (by their install folder in the command line)."""
    return processes.pids_with_cmdline_containing(str(install_dir()) + "/")
