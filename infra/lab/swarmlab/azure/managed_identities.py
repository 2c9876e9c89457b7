"""User-assigned managed identities as resources (`Microsoft.ManagedIdentity/
userAssignedIdentities`): creating one makes a lab identity (identity.py), so its
`principalId` can be granted roles and its holder (a Function app, a scale set's VMs)
can ask the lab for its tokens."""

from __future__ import annotations

from typing import Any

from .identity import TENANT_ID, Identities
from .resources import ResourceStore, ResourceType


def install(store: ResourceStore, identities: Identities) -> None:
    def shape(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        group = rid.split("/resourceGroups/", 1)[1].split("/", 1)[0]
        ident = identities.create(f"{group}.{rid.rsplit('/', 1)[-1]}")
        props = {"principalId": ident.principal_id, "clientId": ident.client_id, "tenantId": TENANT_ID}
        return {**body, "properties": props}

    store.register(ResourceType("Microsoft.ManagedIdentity/userAssignedIdentities", shape))
