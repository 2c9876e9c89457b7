"""Azure RBAC as the lab enforces it for data access (Key Vault secrets, storage): role
assignments (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`), the
built-in roles the product grants with their ids and data actions (from Azure's
built-in roles reference), and the check a data-plane call makes: does the caller's
principal hold, at the resource's scope or any scope above it, a role whose data
actions cover the action?

Management-plane calls are not role-checked in the lab (a known gap, listed in
docs/lab.md): every lab identity may manage resources."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable

from .resources import SUBSCRIPTION_ID, ResourceStore, ResourceType
from .template_deploy import ResourceError

ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"


@dataclass(frozen=True)
class Role:
    name: str
    id: str
    data_actions: tuple[str, ...]


BUILT_IN = {r.id: r for r in (
    Role("Key Vault Administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483", ("Microsoft.KeyVault/vaults/*",)),
    Role("Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", ("Microsoft.KeyVault/vaults/secrets/*",)),
    Role("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6", (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    Role("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*",)),
    Role("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",)),
    Role("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88", (
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/*",)),
    Role("Storage Queue Data Message Sender", "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", (
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action",)),
    Role("Storage Queue Data Message Processor", "8a0f0c08-91a1-4084-bc3d-661d67233fed", (
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action")),
    # Control-plane roles the template grants (their actions are not checked in the lab).
    Role("Virtual Machine Contributor", "9980e02c-c2be-4d73-94e8-173b1dc7cf3c", ()),
    Role("Network Contributor", "4d97b98b-1d4f-4787-a291-c67834d212e7", ()),
    Role("Private DNS Zone Contributor", "b12aa53e-6015-4669-85d0-8515ebb3ae7f", ()),
    Role("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c", ()),
    Role("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", ()),
)}

_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DEFINITION = re.compile(r"(?:/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/([^/]+)", re.I)


def scope_of(rid: str) -> str:
    """The scope an assignment id hangs off."""
    return rid.lower().split("/providers/microsoft.authorization/roleassignments/", 1)[0]


def _shaper(known_principal: Callable[[str], bool]) -> Callable[..., dict[str, Any]]:
    def shape(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        name = rid.rsplit("/", 1)[-1]
        if not _GUID.fullmatch(name):
            raise ResourceError("InvalidRoleAssignmentId",
                                f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
        props = dict(body.get("properties") or {})
        definition = str(props.get("roleDefinitionId", ""))
        m = _DEFINITION.fullmatch(definition)
        if m is None or m.group(1).lower() not in BUILT_IN:
            raise ResourceError("RoleDefinitionDoesNotExist",
                                f"The specified role definition with ID '{definition.rsplit('/', 1)[-1]}' does not exist.")
        principal = str(props.get("principalId", ""))
        if not known_principal(principal):
            raise ResourceError("PrincipalNotFound",
                                f"Principal {principal.replace('-', '')} does not exist in the directory.")
        if existing is not None and (existing["properties"]["principalId"] != principal
                                     or existing["properties"]["roleDefinitionId"].lower() != definition.lower()):
            raise ResourceError("RoleAssignmentUpdateNotPermitted",
                                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.", 409)
        scope = scope_of(rid)
        for other in store.list(ASSIGNMENTS, "/"):
            op = other["properties"]
            if (other["id"].lower() != rid.lower() and scope_of(other["id"]) == scope
                    and op["principalId"] == principal and op["roleDefinitionId"].lower() == definition.lower()):
                raise ResourceError("RoleAssignmentExists", "The role assignment already exists.", 409)
        props.update(
            roleDefinitionId=f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{m.group(1).lower()}",
            principalId=principal, principalType=props.get("principalType", "ServicePrincipal"),
            scope=rid.split("/providers/Microsoft.Authorization/roleAssignments/", 1)[0] or "/",
        )
        return {"properties": props}

    return shape


def install(store: ResourceStore, known_principal: Callable[[str], bool]) -> None:
    store.register(ResourceType(ASSIGNMENTS, _shaper(known_principal)))


def allowed(store: ResourceStore, principal: str, resource: str, action: str) -> bool:
    """Whether `principal` may do the data `action` on `resource` (a full resource id)."""
    target = resource.lower().rstrip("/")
    for a in store.list(ASSIGNMENTS, "/"):
        props = a["properties"]
        if props["principalId"] != principal:
            continue
        scope = scope_of(a["id"]).rstrip("/")
        if scope and target != scope and not target.startswith(scope + "/"):
            continue
        role = BUILT_IN.get(props["roleDefinitionId"].rsplit("/", 1)[-1].lower())
        if role and any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in role.data_actions):
            return True
    return False
