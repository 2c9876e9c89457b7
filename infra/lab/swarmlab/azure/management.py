"""The lab's Azure management plane: one HTTPS endpoint (the lab CA's certificate) that
answers as Azure Resource Manager does for the calls the product makes: resource groups,
template deployments (with their operations and async status), and resources by id of
the types the lab knows (resources.py and the `*_types.py` files), with ARM's error body
`{"error": {"code", "message"}}`, its status codes and headers.

Every call needs a bearer token the lab issued for `https://management.azure.com/`
(identity.py), and an `api-version`; a call can be made to fail with 429 and
`Retry-After` on demand (throttling.py). Key Vault's data plane is served by the same
kind of server on its own port (key_vault.py)."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from . import key_vault
from .async_operations import AsyncOperations
from .identity import TENANT_ID, Identities, TokenError
from .resources import LOCATION, SUBSCRIPTION_ID, Conditions, ResourceStore
from .template_deploy import Deployment, ResourceError, Target
from .template_language import TemplateError
from .throttling import Throttle

log = logging.getLogger("swarmlab.azure.arm")

AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
MAX_BODY = 4 * 1024 * 1024

_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
            413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error"}

_GROUP = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)$", re.I)
_DEPLOYMENT = re.compile(
    r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.resources/deployments/([^/]+)"
    r"(?:/(operations|operationstatuses)(?:/([^/]+))?)?$", re.I)
_VM_ACTION = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/"
                        r"(microsoft\.compute/virtualmachines/[^/]+)/(restart)$", re.I)
_RESOURCE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/(.+)$", re.I)
_ASSIGNMENT = re.compile(r"^(.*)/providers/microsoft\.authorization/roleassignments(?:/([^/]+))?$", re.I)
_OPERATION = re.compile(r"^/subscriptions/([^/]+)/providers/([^/]+)/locations/([^/]+)/operations/([^/]+)$", re.I)


class _Answer(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def _type_of(provider_path: str) -> tuple[str, bool]:
    """`Microsoft.Network/loadBalancers/lb/probes/p` → (`Microsoft.Network/loadBalancers/probes`,
    True: names a resource); an odd segment count names a collection (a list)."""
    parts = provider_path.split("/")
    ns, rest = parts[0], parts[1:]
    kinds = rest[0::2]
    return "/".join([ns, *kinds]), len(rest) % 2 == 0


class Management:
    """The ARM endpoint's WSGI application."""

    def __init__(self, store: ResourceStore, identities: Identities, throttle: Throttle, base_url: Callable[[], str],
                 environment: Callable[[], dict[str, Any]], operations: AsyncOperations):
        self.store = store
        self.identities = identities
        self.throttle = throttle
        self.base_url = base_url
        self.environment = environment
        self.deployments: dict[str, Deployment] = {}
        self.operations = operations
        # POST actions on VMs (`restart`): each takes the VM's id, False when there is none.
        self.vm_actions: dict[str, Callable[[str], bool]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        request_id = str(uuid.uuid4())
        headers = {"x-ms-request-id": request_id, "x-ms-correlation-request-id": request_id}
        try:
            self._authenticate(environ)
            operation = f"{method} {self._operation_type(path)}"
            wait = self.throttle.take(operation)
            if wait is not None:
                kind = "read" if method == "GET" else "write"
                raise _Answer(429, "SubscriptionRequestsThrottled",
                              f"Number of '{kind}' requests for subscription '{SUBSCRIPTION_ID}' actor "
                              f"'{operation}' exceeded. Please try again after '{wait}' seconds after additional "
                              "tokens are available. Refer to https://aka.ms/arm-throttling",
                              {"Retry-After": str(wait)})
            if "api-version" not in query:
                raise _Answer(400, "MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
            body = self._body(environ) if method in ("PUT", "PATCH", "POST") else None
            conditions = Conditions(environ.get("HTTP_IF_MATCH"), environ.get("HTTP_IF_NONE_MATCH"))
            status, payload, extra = self._route(method, path, query, body, conditions)
            headers.update(extra)
        except _Answer as a:
            status, payload = a.status, {"error": {"code": a.code, "message": str(a)}}
            headers.update(a.headers)
        except ResourceError as e:
            status, payload = e.status, e.body()
        except TemplateError as e:
            status, payload = 400, {"error": {"code": e.code, "message": str(e)}}
        except Exception as e:  # the lab's fault: answered, logged
            log.exception("ARM %s %s", method, path)
            status, payload = 500, {"error": {"code": "InternalServerError", "message": f"the lab failed: {e}"}}
        if status >= 400:
            log.info("ARM %s %s -> %d %s", method, path, status, payload.get("error", {}).get("code"))
        data = b"" if payload is None else json.dumps(payload).encode()
        out = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
        out += list(headers.items())
        start_response(f"{status} {_REASONS.get(status, 'OK')}", out)
        return [data]

    # --- request pieces -----------------------------------------------------------------
    def _authenticate(self, environ: dict[str, Any]) -> None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        challenge = {"WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{TENANT_ID}", '
                                         'error="invalid_token", error_description="The authentication failed."'}
        if not auth.lower().startswith("bearer "):
            raise _Answer(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", challenge)
        token = auth[7:].strip()
        for audience in AUDIENCES:
            try:
                self.identities.verify(token, audience)
                return
            except TokenError as exc:
                why = str(exc)
        raise _Answer(401, "InvalidAuthenticationToken", f"The access token is invalid: {why}", challenge)

    @staticmethod
    def _operation_type(path: str) -> str:
        if _DEPLOYMENT.match(path):
            return "Microsoft.Resources/deployments"
        if _GROUP.match(path):
            return "Microsoft.Resources/resourceGroups"
        if _ASSIGNMENT.match(path):
            return "Microsoft.Authorization/roleAssignments"
        m = _RESOURCE.match(path)
        return _type_of(m.group(3))[0] if m else path

    @staticmethod
    def _body(environ: dict[str, Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            raise _Answer(413, "RequestContentTooLarge", f"The request content is larger than {MAX_BODY} bytes.")
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError as exc:
            raise _Answer(400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}") from None

    def _subscription(self, sub: str) -> None:
        if sub.lower() != SUBSCRIPTION_ID:
            raise _Answer(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def _group(self, name: str) -> dict[str, Any]:
        group = self.store.group(name)
        if group is None:
            raise _Answer(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return group

    # --- routes -------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str], body: Any, conditions: Conditions
               ) -> tuple[int, Any, dict[str, str]]:
        version = query["api-version"]
        m = _OPERATION.match(path)
        if m:
            self._subscription(m.group(1))
            op = self.operations.get(m.group(4))
            if op is None:
                raise _Answer(404, "OperationNotFound", f"The operation '{m.group(4)}' was not found.")
            return 200, op, {}
        m = _GROUP.match(path)
        if m:
            self._subscription(m.group(1))
            if method == "PUT":
                location = body.get("location") if isinstance(body, dict) else None
                if not isinstance(location, str) or not location:
                    raise _Answer(400, "LocationRequired", "The location property is required for this definition.")
                status, group = self.store.put_group(m.group(2), location)
                return status, group, {}
            if method == "GET":
                return 200, self._group(m.group(2)), {}
            raise _Answer(405, "MethodNotAllowed", f"The lab does not {method} resource groups.")
        m = _DEPLOYMENT.match(path)
        if m:
            return self._deployment(method, m, body, version)
        m = _ASSIGNMENT.match(path)
        if m:
            return self._resource(method, path, "Microsoft.Authorization/roleAssignments", m.group(2) is not None,
                                  body, conditions, query, scope=m.group(1))
        m = _VM_ACTION.match(path)
        if m and method == "POST":
            self._subscription(m.group(1))
            self._group(m.group(2))
            action = self.vm_actions.get(m.group(4).lower())
            rid = f"/subscriptions/{m.group(1)}/resourceGroups/{m.group(2)}/providers/{m.group(3)}"
            if action is None or not action(rid):
                raise _Answer(404, "ResourceNotFound", f"The Resource '{m.group(3)}' was not found.")
            _, headers = self.operations.start("Microsoft.Compute", version, done=True)
            return 202, None, headers
        m = _RESOURCE.match(path)
        if m:
            self._subscription(m.group(1))
            self._group(m.group(2))
            rtype, named = _type_of(m.group(3))
            return self._resource(method, path, rtype, named, body, conditions, query)
        raise _Answer(404, "InvalidResourceType", f"The lab serves no {method} {path}.")

    def _deployment(self, method: str, m: re.Match[str], body: Any, version: str) -> tuple[int, Any, dict[str, str]]:
        sub, group_name, name, child, child_id = m.groups()
        self._subscription(sub)
        group = self._group(group_name)
        key = f"{group_name.lower()}/{name.lower()}"
        found = self.deployments.get(key)
        if child is None and method == "PUT":
            if found is not None and not found.done.is_set():
                raise _Answer(409, "DeploymentActive", f"The deployment '{name}' is still active; wait for it to finish.")
            target = Target(SUBSCRIPTION_ID, TENANT_ID, group["name"], group["location"], name)
            deployment = Deployment(target, body, self.store, self.environment())
            self.deployments[key] = deployment
            accepted = deployment.as_arm()  # the answer is the deployment as accepted, before it runs
            deployment.start(self.store.lock)
            status_url = (f"{self.base_url()}{deployment.id}/operationStatuses/{deployment.correlation}"
                          f"?api-version={version}")
            log.info("deployment %s accepted (%d resources)", name, len(deployment.run.planned))
            return (200 if found else 201), accepted, {"Azure-AsyncOperation": status_url}
        if found is None:
            raise _Answer(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
        if method != "GET":
            raise _Answer(405, "MethodNotAllowed", f"The lab does not {method} deployments.")
        with self.store.lock:
            if child is None:
                return 200, found.as_arm(), {}
            if child.lower() == "operations":
                return 200, {"value": found.operations()}, {}
            if child_id != found.correlation:
                raise _Answer(404, "OperationNotFound", f"The operation '{child_id}' was not found.")
            status: dict[str, Any] = {"status": found.state if found.state in ("Succeeded", "Failed") else "Running"}
            if found.error is not None:
                status["error"] = found.error
            return 200, status, {}

    def _resource(self, method: str, path: str, rtype: str, named: bool, body: Any, conditions: Conditions,
                  query: dict[str, str], scope: str | None = None) -> tuple[int, Any, dict[str, str]]:
        version = query["api-version"]
        kind = self.store.type_of(rtype)
        if kind is None:
            ns = rtype.split("/", 1)[0]
            raise _Answer(400, "InvalidResourceType",
                          f"The resource type '{rtype.split('/', 1)[-1]}' could not be found in the namespace '{ns}' "
                          f"for api version '{version}'.")
        if not named:
            if method != "GET":
                raise _Answer(405, "MethodNotAllowed", f"{method} on a collection")
            under = scope if scope is not None else path.rsplit("/providers/", 1)[0]
            items = self.store.list(rtype, under or "/")
            if rtype == "Microsoft.Authorization/roleAssignments" and scope is not None:
                items = [i for i in items if i["id"].lower().startswith((scope.lower() or "") + "/providers/")]
            if "$filter" in query:
                items = _filtered(items, query["$filter"])
            return 200, {"value": [_expanded(i, query) for i in items]}, {}
        if scope is not None and scope:
            self._scope_exists(scope)
        if method == "GET":
            found = self.store.get(path)
            if found is None:
                raise _Answer(404, "ResourceNotFound", f"The Resource '{rtype}/{path.rsplit('/', 1)[-1]}' was not found. "
                              "For more details please go to https://aka.ms/ARMResourceNotFoundFix")
            return 200, _expanded(found, query), {"ETag": found.get("etag", "")}
        if method in ("PUT", "PATCH"):
            if method == "PATCH":
                existing = self.store.get(path)
                if existing is None:
                    raise _Answer(404, "ResourceNotFound", f"The Resource '{rtype}/{path.rsplit('/', 1)[-1]}' was not found.")
                body = _patched(existing, body if isinstance(body, dict) else {})
            status, resource = self.store.put(path, rtype, body, conditions)
            extra = {"ETag": resource["etag"]}
            if kind.starter is not None:  # the type runs on after the answer (a run command)
                extra.update(kind.starter(path, version))
            elif kind.settle is not None:  # provisioned after the answer (an app, a script)
                extra.update(self._settling(path, rtype, version))
            elif rtype.startswith(("Microsoft.Network/", "Microsoft.Compute/")) and "/privateDnsZones/" not in path:
                extra.update(self.operations.start(rtype.split("/", 1)[0], version, done=True)[1])
            return status, _expanded(resource, query), extra
        if method == "DELETE":
            if kind.deleter is not None:
                if not kind.deleter(path):
                    return 204, None, {}
                return 202, None, self.operations.start(rtype.split("/", 1)[0], version, done=True)[1]
            return (200 if self.store.delete(path) else 204), None, {}
        raise _Answer(405, "MethodNotAllowed", f"The lab does not {method} {rtype}.")

    def _settling(self, path: str, rtype: str, version: str) -> dict[str, str]:
        op, header = self.operations.start(rtype.split("/", 1)[0], version)

        def work() -> None:
            try:
                self.store.settle(path, rtype)
                self.operations.finish(op, "Succeeded")
            except ResourceError as exc:
                self.operations.finish(op, "Failed", {"code": exc.code, "message": str(exc)})

        threading.Thread(target=work, daemon=True, name="settle").start()
        return header

    def _scope_exists(self, scope: str) -> None:
        low = scope.lower()
        if low == f"/subscriptions/{SUBSCRIPTION_ID}":
            return
        m = _GROUP.match(scope)
        if m:
            self._group(m.group(2))
            return
        if self.store.get(scope) is None and not (_RESOURCE.match(scope) and "/secrets/" in low and self.store.get(scope.rsplit("/secrets/", 1)[0])):
            raise _Answer(404, "ResourceNotFound", f"The scope '{scope}' of the role assignment does not exist.")


_SET_FILTER = re.compile(r"^\s*'?virtualMachineScaleSet/id'?\s+eq\s+'([^']+)'\s*$", re.I)


def _filtered(items: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The one `$filter` the product sends: a Flexible set's VMs."""
    m = _SET_FILTER.match(text)
    if m is None:
        raise _Answer(400, "InvalidFilterInQueryString",
                      f"The lab filters VMs by `'virtualMachineScaleSet/id' eq '{{id}}'` only, not: {text}")
    want = m.group(1).lower()
    return [i for i in items
            if str(((i.get("properties") or {}).get("virtualMachineScaleSet") or {}).get("id", "")).lower() == want]


def _expanded(resource: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """`instanceView` only with `$expand=instanceView`, as Compute answers."""
    props = resource.get("properties")
    if isinstance(props, dict) and "instanceView" in props and query.get("$expand", "").lower() != "instanceview":
        props = {k: v for k, v in props.items() if k != "instanceView"}
        return {**resource, "properties": props}
    return resource


def _patched(existing: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in existing.items() if k not in ("id", "name", "type", "etag")}
    for k, v in patch.items():
        out[k] = {**out[k], **v} if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def key_vault_app(vaults: key_vault.KeyVaults, throttle: Throttle) -> Callable:
    """Key Vault's data plane as a WSGI application."""

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        headers = {"authorization": environ.get("HTTP_AUTHORIZATION", "")}
        wait = throttle.take(f"{method} Microsoft.KeyVault/vaults/secrets")
        if wait is not None:
            status, extra, payload = 429, {"Retry-After": str(wait)}, {"error": {
                "code": "Throttled", "message": f"Request was not processed because too many requests were received. Retry after {wait} seconds."}}
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length else b""
            try:
                status, extra, payload = vaults.handle(method, path, query, headers, body)
            except Exception as e:
                log.exception("Key Vault %s %s", method, path)
                status, extra, payload = 500, {}, {"error": {"code": "InternalServerError", "message": f"the lab failed: {e}"}}
        if status >= 400:
            log.info("Key Vault %s %s -> %d %s", method, path, status, payload.get("error", {}).get("code"))
        data = json.dumps(payload).encode()
        out = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))), *extra.items()]
        start_response(f"{status} {_REASONS.get(status, 'OK')}", out)
        return [data]

    return app
