"""Key Vault in the lab: the vault as a management resource (`Microsoft.KeyVault/vaults`,
and `…/vaults/secrets` a template may create), and the vault's data plane for secrets
(`PUT`/`GET {vaultUri}secrets/{name}[/{version}]?api-version=7.x`), behind bearer tokens
for `https://vault.azure.net` and Azure RBAC: a caller reads a secret only if a role
assignment at the secret, its vault or above gives it `getSecret`, and writes one only
with `setSecret` (Key Vault Secrets User / Officer).

The lab's vaults all use RBAC (a vault asking for access policies is refused: the
product's least privilege is tested on the model it ships). A vault's URI is
`https://127.0.0.1:{port}/{vault}/` (one port for every vault, the vault named in the
path, where Azure names it in the host). Secret values are never logged."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from . import role_assignments
from .identity import TENANT_ID, Identities, TokenError
from .resources import ResourceStore, ResourceType
from .template_deploy import ResourceError

AUDIENCE = "https://vault.azure.net"
API_VERSIONS = ("7.3", "7.4", "7.5", "7.6", "2025-07-01")
_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")
_VAULT = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]")
MAX_VALUE = 25 * 1024


@dataclass
class SecretVersion:
    version: str
    value: str
    content_type: str | None
    created: int


@dataclass
class Vault:
    name: str
    rid: str
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)  # lower name -> versions, newest last
    names: dict[str, str] = field(default_factory=dict)  # lower name -> name as first written


class KeyVaults:
    def __init__(self, store: ResourceStore, identities: Identities, base_url: Callable[[], str]):
        self.store = store
        self.identities = identities
        self.base_url = base_url
        self.lock = threading.Lock()
        self.vaults: dict[str, Vault] = {}

    # --- management plane ---------------------------------------------------------------
    def _vault(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        name = rid.rsplit("/", 1)[-1]
        if not _VAULT.fullmatch(name):
            raise ResourceError("VaultNameNotValid",
                                f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters.")
        props = dict(body.get("properties") or {})
        if props.get("enableRbacAuthorization") is not True:
            raise ResourceError("BadRequest", "The lab's vaults use Azure RBAC: set properties.enableRbacAuthorization to true.")
        if str(props.get("tenantId", TENANT_ID)) != TENANT_ID:
            raise ResourceError("BadRequest", f"properties.tenantId must be the lab's tenant {TENANT_ID}.")
        with self.lock:
            other = self.vaults.get(name.lower())
            if other is not None and other.rid.lower() != rid.lower():
                raise ResourceError("VaultAlreadyExists", f"The vault name '{name}' is already in use.", 409)
            self.vaults.setdefault(name.lower(), Vault(name, rid))
        props.update(tenantId=TENANT_ID, vaultUri=f"{self.base_url()}/{name}/", provisioningState="Succeeded")
        return {**body, "properties": props}

    def _drop_vault(self, store: ResourceStore, resource: dict[str, Any]) -> None:
        with self.lock:
            self.vaults.pop(resource["name"].lower(), None)

    def _arm_secret(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        vault_name, name = rid.split("/vaults/", 1)[1].split("/secrets/")
        props = dict(body.get("properties") or {})
        value = props.pop("value", None)
        if value is not None:
            if not isinstance(value, str):
                raise ResourceError("BadRequest", "properties.value must be a string.")
            version = self._set(vault_name, name, value, props.get("contentType"))
        else:
            version = (existing or {}).get("properties", {}).get("secretUriWithVersion", "").rsplit("/", 1)[-1]
        uri = f"{self.base_url()}/{vault_name}/secrets/{name}"
        props.update(secretUri=uri, secretUriWithVersion=f"{uri}/{version}", attributes={"enabled": True})
        return {**body, "properties": props}  # the value is never part of the ARM resource

    def install(self) -> None:
        self.store.register(ResourceType("Microsoft.KeyVault/vaults", self._vault, on_delete=self._drop_vault))
        self.store.register(ResourceType("Microsoft.KeyVault/vaults/secrets", self._arm_secret))

    def _set(self, vault_name: str, name: str, value: str, content_type: Any) -> str:
        if not _NAME.fullmatch(name):
            raise ResourceError("BadParameter", f"The secret name '{name}' is not valid: 1-127 letters, digits and '-'.")
        if len(value.encode()) > MAX_VALUE:
            raise ResourceError("BadParameter", "A secret's value is at most 25 KB.")
        with self.lock:
            vault = self.vaults.get(vault_name.lower())
            if vault is None:
                raise ResourceError("VaultNotFound", f"The vault '{vault_name}' does not exist.", 404)
            version = uuid.uuid4().hex
            vault.names.setdefault(name.lower(), name)
            vault.secrets.setdefault(name.lower(), []).append(
                SecretVersion(version, value, content_type if isinstance(content_type, str) else None, int(time.time())))
            return version

    # --- data plane ----------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], Any]:
        """One data-plane request: (status, headers, JSON body)."""
        challenge = {"WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
                                         f'resource="{AUDIENCE}"'}
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return 401, challenge, _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        try:
            caller = self.identities.verify(auth[7:].strip(), AUDIENCE)
        except TokenError as exc:
            return 401, challenge, _error("Unauthorized", f"AKV10022: Invalid audience or token: {exc}")
        if query.get("api-version") not in API_VERSIONS:
            return 400, {}, _error("BadParameter", f"The api-version must be one of {', '.join(API_VERSIONS)}.")
        parts = [p for p in path.split("/") if p]
        if len(parts) not in (3, 4) or parts[1] != "secrets":
            return 404, {}, _error("NotFound", f"The lab's vaults serve /{{vault}}/secrets/{{name}}[/{{version}}], not {path}.")
        vault_name, name = parts[0], parts[2]
        with self.lock:
            vault = self.vaults.get(vault_name.lower())
        if vault is None:
            return 404, {}, _error("VaultNotFound", f"The vault '{vault_name}' does not exist.")
        resource = f"{vault.rid}/secrets/{name}"
        if method == "GET":
            return self._get(caller, vault, name, parts[3] if len(parts) == 4 else None, resource)
        if method == "PUT" and len(parts) == 3:
            return self._put(caller, vault, name, body, resource)
        if method == "DELETE" and len(parts) == 3:
            return self._delete(caller, vault, name, resource)
        return 405, {}, _error("MethodNotAllowed", f"{method} is not served on {path}.")

    def _denied(self, caller: Any, action: str, resource: str) -> tuple[int, dict[str, str], Any] | None:
        if role_assignments.allowed(self.store, caller.principal_id, resource, action):
            return None
        return 403, {}, {"error": {
            "code": "Forbidden",
            "message": ("Caller is not authorized to perform action on resource.\r\n"
                        "If role assignments, deny assignments or role definitions were changed recently, "
                        "please observe propagation time.\r\n"
                        f"Caller: appid={caller.client_id};oid={caller.principal_id}\r\n"
                        f"Action: '{action}'\r\nResource: '{resource.lower()}'\r\n"
                        "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\n"
                        "Vault: " + resource.split("/vaults/", 1)[1].split("/", 1)[0] + ";location=swarmlab\r\n"),
            "innererror": {"code": "ForbiddenByRbac"},
        }}

    def _delete(self, caller: Any, vault: Vault, name: str, resource: str) -> tuple[int, dict[str, str], Any]:
        """`DELETE {vault}/secrets/{name}`: every version goes (the lab keeps no soft-deleted
        copy); a secret that does not exist is 404 SecretNotFound, as in Azure."""
        denied = self._denied(caller, "Microsoft.KeyVault/vaults/secrets/delete", resource)
        if denied is not None:
            return denied
        with self.lock:
            versions = vault.secrets.pop(name.lower(), [])
            shown = vault.names.pop(name.lower(), name)
        if not versions:
            return 404, {}, _error("SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
        bundle = self._bundle(vault, shown, versions[-1])
        bundle.pop("value", None)
        return 200, {}, {**bundle, "deletedDate": int(time.time())}

    def _get(self, caller: Any, vault: Vault, name: str, version: str | None, resource: str
             ) -> tuple[int, dict[str, str], Any]:
        denied = self._denied(caller, "Microsoft.KeyVault/vaults/secrets/getSecret/action", resource)
        if denied is not None:
            return denied
        with self.lock:
            versions = vault.secrets.get(name.lower(), [])
            found = versions[-1] if versions and not version else next((v for v in versions if v.version == version), None)
            shown = vault.names.get(name.lower(), name)
        if found is None:
            what = f"{name}/{version}" if version else name
            return 404, {}, _error("SecretNotFound", f"A secret with (name/id) {what} was not found in this key vault. "
                                   "If you recently deleted this secret you may be able to recover it using the correct "
                                   "recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")
        return 200, {}, self._bundle(vault, shown, found)

    def _put(self, caller: Any, vault: Vault, name: str, body: bytes, resource: str) -> tuple[int, dict[str, str], Any]:
        denied = self._denied(caller, "Microsoft.KeyVault/vaults/secrets/setSecret/action", resource)
        if denied is not None:
            return denied
        try:
            asked = json.loads(body or b"{}")
            value = asked["value"]
            if not isinstance(value, str):
                raise TypeError("value is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {}, _error("BadParameter", f"The request body must be {{\"value\": \"…\"}}: {exc}")
        try:
            version = self._set(vault.name, name, value, asked.get("contentType"))
        except ResourceError as exc:
            return exc.status, {}, _error(exc.code, str(exc))
        with self.lock:
            found = next(v for v in vault.secrets[name.lower()] if v.version == version)
            shown = vault.names[name.lower()]
        return 200, {}, self._bundle(vault, shown, found)

    def _bundle(self, vault: Vault, name: str, v: SecretVersion) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": v.value,
            "id": f"{self.base_url()}/{vault.name}/secrets/{name}/{v.version}",
            "attributes": {"enabled": True, "created": v.created, "updated": v.created,
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {},
        }
        if v.content_type is not None:
            out["contentType"] = v.content_type
        return out


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
