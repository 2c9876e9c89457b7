"""Storage accounts as resources (`Microsoft.Storage/storageAccounts` and its queue
service's queues): the lab has one storage backend, Azurite's one account, so every
account a template makes answers with Azurite's endpoints (`primaryEndpoints.blob` /
`.queue`). Queue and container resources are recorded, not made in Azurite: the
product's functions create the queues they use. An account comes with its `default`
blob and queue services, as in Azure, for a template's containers and queues to hang off."""

from __future__ import annotations

import re
from typing import Any, Callable

from .resources import ResourceStore, ResourceType, plain
from .template_deploy import ResourceError

_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


def install(store: ResourceStore, endpoints: Callable[[], dict[str, str]]) -> None:
    def account(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        name = rid.rsplit("/", 1)[-1]
        if not _ACCOUNT.fullmatch(name):
            raise ResourceError("AccountNameInvalid", f"{name} is not a valid storage account name. Storage account name "
                                "must be between 3 and 24 characters in length and use numbers and lower-case letters only.")
        props = dict(body.get("properties") or {})
        ends = endpoints()
        props.update(provisioningState="Succeeded", primaryEndpoints={"blob": ends["blob"] + "/", "queue": ends["queue"] + "/"})
        for service in ("blobServices", "queueServices"):
            sid = f"{rid}/{service}/default"
            if store.get(sid) is None:
                store.put_internal(sid, f"Microsoft.Storage/storageAccounts/{service}", {"properties": {"provisioningState": "Succeeded"}})
        return {**body, "kind": body.get("kind", "StorageV2"), "properties": props}

    store.register(ResourceType("Microsoft.Storage/storageAccounts", account))
    store.register(ResourceType("Microsoft.Storage/storageAccounts/queueServices", plain))
    store.register(ResourceType("Microsoft.Storage/storageAccounts/queueServices/queues", plain))
    store.register(ResourceType("Microsoft.Storage/storageAccounts/blobServices", plain))
    store.register(ResourceType("Microsoft.Storage/storageAccounts/blobServices/containers", plain))
