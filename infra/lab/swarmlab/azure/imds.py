"""The Instance Metadata Service each scale-set VM sees (Microsoft's IMDS contract), at a
lab address the node side is configured with: `http://{bridge}:{port}` (Azure's is
`http://169.254.169.254`). The VM asking is known by its source address, as IMDS knows it
by the host it runs on; every request needs the `Metadata: true` header and an
`api-version`.

- `GET /metadata/scheduledevents` → `{DocumentIncarnation, Events: [...]}` (this VM's);
  `POST` the same path with `{"StartRequests": [{"EventId"}]}` approves them.
- `GET /metadata/identity/oauth2/token?resource=…[&client_id=…]` → a token for one of the
  VM's user-assigned identities (`access_token`, `expires_in`, `expires_on`, `not_before`,
  `resource`, `token_type`, `client_id`).
- `GET /metadata/instance` → `compute` (name, vmId, resourceId, vmScaleSetName,
  subscriptionId, resourceGroupName, location, osProfile.computerName) and `network`."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from .identity import Identities
from .resources import LOCATION, SUBSCRIPTION_ID, ResourceStore
from .scale_sets import ScaleSets

log = logging.getLogger("swarmlab.azure.imds")

EVENTS_VERSIONS = ("2017-11-01", "2019-01-01", "2019-08-01", "2020-07-01")


class Imds:
    def __init__(self, scale_sets: ScaleSets, store: ResourceStore, identities: Identities):
        self.scale_sets = scale_sets
        self.store = store
        self.identities = identities

    def for_vm(self, name: str) -> Callable:
        """The app one VM's own IMDS listener serves (vm_side.py): it answers for that VM."""
        return lambda environ, start_response: self(environ, start_response, name)

    def __call__(self, environ: dict[str, Any], start_response: Callable, vm_name: str | None = None) -> Iterable[bytes]:
        status, payload = self._answer(environ, vm_name)
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "OK")
        start_response(f"{status} {reason}", [("Content-Type", "application/json; charset=utf-8"),
                                              ("Content-Length", str(len(data)))])
        return [data]

    def _answer(self, environ: dict[str, Any], vm_name: str | None = None) -> tuple[int, Any]:
        if environ.get("HTTP_METADATA", "").lower() != "true":
            return 400, {"error": "Bad request. Required metadata header not specified"}
        if environ.get("HTTP_X_FORWARDED_FOR"):
            return 400, {"error": "Bad request. IMDS does not accept requests with X-Forwarded-For"}
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if "api-version" not in query:
            return 400, {"error": "Bad request. api-version was not specified in the request"}
        vm = (self.scale_sets.by_name(vm_name) if vm_name is not None
              else self.scale_sets.by_address(environ.get("REMOTE_ADDR", "")))
        if vm is None:
            return 404, {"error": f"no lab VM at {environ.get('REMOTE_ADDR')}"}
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metadata/scheduledevents":
            if query["api-version"] not in EVENTS_VERSIONS:
                return 400, {"error": f"Bad request. api-version must be one of {', '.join(EVENTS_VERSIONS)}"}
            if method == "POST":
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    asked = json.loads(environ["wsgi.input"].read(min(length, 65536)) or b"{}")
                    ids = [str(r["EventId"]) for r in asked["StartRequests"]]
                except (ValueError, KeyError, TypeError) as exc:
                    return 400, {"error": f'Bad request. Expected {{"StartRequests": [{{"EventId": "…"}}]}}: {exc}'}
                approved = self.scale_sets.approve(vm.name, ids)
                log.info("VM %s approved %s", vm.name, approved or "nothing it has")
                return 200, {}
            incarnation, events = self.scale_sets.events_for(vm.name)
            return 200, {"DocumentIncarnation": incarnation, "Events": events}
        if path == "/metadata/identity/oauth2/token" and method == "GET":
            return self._token(vm, query)
        if path == "/metadata/instance" and method == "GET":
            return 200, self._instance(vm)
        return 404, {"error": f"Not found: {method} {path}"}

    def _token(self, vm: Any, query: dict[str, str]) -> tuple[int, Any]:
        resource = query.get("resource", "")
        if not resource:
            return 400, {"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"}
        held = []
        for rid in vm.identities:
            found = self.store.get(rid)
            ident = self.identities.by_principal(str((found or {}).get("properties", {}).get("principalId", "")))
            if ident is not None:
                held.append(ident)
        asked = query.get("client_id") or query.get("object_id") or query.get("principal_id")
        if asked:
            held = [i for i in held if asked in (i.client_id, i.principal_id)]
        if len(held) != 1:
            why = "Identity not found" if not held else "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"
            return 400, {"error": "invalid_request", "error_description": why}
        token, claims = self.identities.issue(held[0], resource)
        return 200, {"access_token": token, "client_id": held[0].client_id, "expires_in": str(claims["exp"] - claims["iat"]),
                     "expires_on": str(claims["exp"]), "ext_expires_in": str(claims["exp"] - claims["iat"]),
                     "not_before": str(claims["nbf"]), "resource": resource, "token_type": "Bearer"}

    def _instance(self, vm: Any) -> dict[str, Any]:
        group = vm.rid.split("/resourceGroups/", 1)[1].split("/", 1)[0]
        return {
            "compute": {"name": vm.name, "vmId": vm.vm_id, "resourceId": vm.rid, "location": LOCATION,
                        "vmScaleSetName": vm.set_id.rsplit("/", 1)[-1], "subscriptionId": SUBSCRIPTION_ID,
                        "resourceGroupName": group, "osType": "Linux", "osProfile": {"computerName": vm.computer_name}},
            "network": {"interface": [{"ipv4": {"ipAddress": [{"privateIpAddress": vm.address, "publicIpAddress": ""}],
                                                "subnet": []}}]},
        }
