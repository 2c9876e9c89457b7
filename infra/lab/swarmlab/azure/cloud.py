"""The Azure lab's management side put together: the resource store with the resource
types the lab knows, the management endpoint (ARM) and Key Vault's data plane, each on
its own loopback port over TLS with the run's CA; the VMs' IMDS on the bridge (plain
HTTP, as IMDS is); the clock that lets deletes go ahead once their notice is over; and
the controls the lab's own HTTP endpoint offers for them."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from .. import config
from ..nodes import NodeManager
from . import managed_identities, monitoring_types, network_types, role_assignments, storage_types
from .async_operations import AsyncOperations
from . import functions_host
from .functions_host import FunctionsHost
from .imds import Imds
from .vm_side import VmSide
from .deployment_scripts import DeploymentScripts
from .web_apps import WebApps
from .identity import TENANT_ID, Identities
from .key_vault import KeyVaults
from .lab_ca import LabCa
from .management import Management, key_vault_app
from .resources import LOCATION, SUBSCRIPTION_ID, ResourceStore
from .run_commands import RunCommands
from .scale_sets import ScaleSets
from .throttling import Throttle

log = logging.getLogger("swarmlab.azure")


def management_port() -> int:
    return int(os.environ.get("SWARMLAB_ARM_PORT", "5603"))


def key_vault_port() -> int:
    return int(os.environ.get("SWARMLAB_KEYVAULT_PORT", "5604"))


def imds_port() -> int:
    return int(os.environ.get("SWARMLAB_IMDS_PORT", "5605"))


class AzureCloud:
    def __init__(self, identities: Identities, storage: dict[str, str], nodes: NodeManager, ca: LabCa,
                 identity_endpoint: str):
        self.identities = identities
        self.storage = storage
        self.store = ResourceStore()
        self.throttle = Throttle()
        self.vaults = KeyVaults(self.store, identities, self.key_vault_endpoint)
        network_types.install(self.store)
        managed_identities.install(self.store, identities)
        storage_types.install(self.store, lambda: self.storage)
        role_assignments.install(self.store, lambda p: identities.by_principal(p) is not None)
        self.vaults.install()
        self.operations = AsyncOperations(self.management_endpoint)
        self.scale_sets = ScaleSets(self.store, nodes)
        self.scale_sets.install()
        self.run_commands = RunCommands(self.store, self.scale_sets, nodes, self.operations)
        self.run_commands.install()
        self.run_commands.ca_cert = str(ca.ca_cert)
        self.management = Management(self.store, identities, self.throttle, self.management_endpoint, self.environment,
                                     self.operations)
        self.management.vm_actions["restart"] = self.scale_sets.restart
        self.functions = FunctionsHost(identities, storage["queue"], ca.ca_cert, identity_endpoint)
        self.imds = Imds(self.scale_sets, self.store, self.identities)
        self.vm_side = VmSide(self.scale_sets, nodes, self.imds.for_vm, ca.ca_cert)
        self.scale_sets.restarted = self.vm_side.forget
        monitoring_types.install(self.store)
        WebApps(self.store, self.functions, ca.ca_cert).install()
        self.scripts = DeploymentScripts(self.store, ca.ca_cert)
        self.scripts.install()
        self._servers: list[BaseWSGIServer] = []
        self._stopping = threading.Event()

    @staticmethod
    def management_endpoint() -> str:
        return f"https://127.0.0.1:{management_port()}"

    @staticmethod
    def key_vault_endpoint() -> str:
        # On the bridge: the VMs read their join tokens there (the host reaches it too).
        return f"https://{config.bridge_address().ip}:{key_vault_port()}"

    @staticmethod
    def imds_endpoint() -> str:
        return f"http://{config.bridge_address().ip}:{imds_port()}"

    def environment(self) -> dict[str, Any]:
        """What a template's `environment()` returns in the lab."""
        return {
            "name": "SwarmLab",
            "resourceManager": self.management_endpoint() + "/",
            "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "tenant": "common",
                               "audiences": ["https://management.azure.com/"]},
            "suffixes": {"keyvaultDns": ".vault.azure.net", "storage": "core.windows.net"},
        }

    def serve(self, ca: LabCa) -> None:
        context = (str(ca.server_cert), str(ca.server_key))
        for port, app, name in ((management_port(), self.management, "arm"),
                                (key_vault_port(), key_vault_app(self.vaults, self.throttle), "keyvault")):
            host = "127.0.0.1" if name == "arm" else str(config.bridge_address().ip)
            server = make_server(host, port, app, threaded=True, ssl_context=context)
            threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
            self._servers.append(server)
        imds = make_server(str(config.bridge_address().ip), imds_port(), self.imds, threaded=True)
        threading.Thread(target=imds.serve_forever, daemon=True, name="imds").start()
        self._servers.append(imds)
        self.functions.serve_http(ca.server_cert, ca.server_key)
        threading.Thread(target=self._clock, daemon=True, name="azure-clock").start()
        log.info("Azure management %s, Key Vault %s, IMDS %s", self.management_endpoint(), self.key_vault_endpoint(),
                 self.imds_endpoint())

    def _clock(self) -> None:
        while not self._stopping.is_set():
            try:
                self.scale_sets.tick()
                self.vm_side.tick()
                self.functions.tick()
            except Exception:
                log.exception("Azure clock")
            self._stopping.wait(0.25)

    def info(self) -> dict[str, Any]:
        return {"management_endpoint": self.management_endpoint(), "key_vault_endpoint": self.key_vault_endpoint(),
                "imds_endpoint": self.imds_endpoint(),
                "functions_http_endpoint": f"https://127.0.0.1:{functions_host.http_port()}",
                "subscription_id": SUBSCRIPTION_ID, "tenant_id": TENANT_ID, "location": LOCATION}

    def stop(self) -> None:
        self._stopping.set()
        self.scripts.stop()
        self.functions.stop()
        self.vm_side.stop()
        for s in self._servers:
            s.shutdown()
