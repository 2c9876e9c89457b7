"""A template deployment, as ARM runs one: validate the template and its parameters,
expand `copy` loops and drop what a `condition` turns off, order the resources by
`dependsOn` (and by the `reference()`s that name another resource of the template),
create each through the lab's resource types, then evaluate the outputs.

Incremental mode only (the mode the portal uses). What the lab does not know, a function
or a resource type, fails the deployment before anything is created, with the reason,
as ARM's validation does."""

from __future__ import annotations

import copy as copying
import datetime
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .template_language import (
    TemplateError,
    evaluate_value,
    resource_id_of,
    unknown_functions,
)

log = logging.getLogger("swarmlab.azure.deploy")

FAILED_MESSAGE = (
    "At least one resource deployment operation failed. Please list deployment operations for details. "
    "Please see https://aka.ms/arm-deployment-operations for usage details."
)


class ResourceError(Exception):
    """A resource the lab's resource type refused to create, with ARM's code and status."""

    def __init__(self, code: str, message: str, status: int = 400, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ResourceTypes(Protocol):
    """The lab's resource types, as a deployment creates through them."""

    def knows(self, rtype: str) -> bool: ...
    def put(self, rid: str, rtype: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...
    def get(self, rid: str) -> dict[str, Any] | None: ...
    def settle(self, rid: str, rtype: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Target:
    subscription: str
    tenant: str
    resource_group: str
    location: str
    name: str  # the deployment's

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Planned:
    """One resource of the template, its copy loop position fixed."""

    raw: dict[str, Any]
    copy: dict[str, int]
    loop: str | None
    rtype: str = ""
    name: str = ""
    rid: str = ""
    api_version: str = ""
    depends: list[str] = field(default_factory=list)
    deployed: dict[str, Any] | None = None


@dataclass
class Operation:
    operation_id: str
    rid: str
    rtype: str
    name: str
    state: str
    status_code: str
    timestamp: str
    message: Any = None

    def as_arm(self, deployment_id: str) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningOperation": "Create",
            "provisioningState": self.state,
            "timestamp": self.timestamp,
            "duration": "PT0S",
            "statusCode": self.status_code,
            "targetResource": {"id": self.rid, "resourceType": self.rtype, "resourceName": self.name},
        }
        if self.message is not None:
            props["statusMessage"] = self.message
        return {
            "id": f"{deployment_id}/operations/{self.operation_id}",
            "operationId": self.operation_id,
            "properties": props,
        }


class _Scope:
    """What the template functions see: the parameters, the variables (evaluated once, on
    first use), the copy position, and the deployed resources for `reference()`."""

    def __init__(self, run: "Run", copy: dict[str, int] | None = None, loop: str | None = None):
        self.run = run
        self.copy = copy or {}
        self.loop = loop

    def at(self, copy: dict[str, int], loop: str | None) -> "_Scope":
        return _Scope(self.run, copy, loop)

    def parameter(self, name: str) -> Any:
        for k, v in self.run.parameters.items():
            if k.lower() == name.lower():
                return v
        raise TemplateError(f"The template parameter '{name}' is not found. Please see https://aka.ms/arm-syntax-parameters for usage details.")

    def variable(self, name: str) -> Any:
        return self.run.variable(name)

    def copy_index(self, loop: str | None) -> int:
        key = loop if loop is not None else self.loop
        if key is None or key not in self.copy:
            where = f"'{loop}'" if loop else "this place"
            raise TemplateError(f"The template function 'copyIndex' is not expected at {where}: it is only valid within a copy loop.")
        return self.copy[key]

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        return self.run.reference(target, full)

    def resource_group(self) -> dict[str, Any]:
        t = self.run.target
        return {"id": t.group_id, "name": t.resource_group, "type": "Microsoft.Resources/resourceGroups",
                "location": t.location, "properties": {"provisioningState": "Succeeded"}}

    def subscription(self) -> dict[str, Any]:
        t = self.run.target
        return {"id": f"/subscriptions/{t.subscription}", "subscriptionId": t.subscription,
                "tenantId": t.tenant, "displayName": "swarmhook lab"}

    def deployment(self) -> dict[str, Any]:
        t = self.run.target
        return {"name": t.name, "properties": {"templateHash": self.run.template_hash, "mode": "Incremental"}}

    def environment(self) -> dict[str, Any]:
        return self.run.environment


class Run:
    """One deployment's evaluation and creation."""

    def __init__(self, target: Target, template: Any, given: Any, types: ResourceTypes,
                 environment: dict[str, Any]):
        self.target = target
        self.template = template
        self.given = given
        self.types = types
        self.environment = environment
        self.template_hash = str(abs(hash(json.dumps(template, sort_keys=True, default=str))))
        self.parameters: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._evaluating: list[str] = []
        self.planned: list[Planned] = []
        self.operations: list[Operation] = []
        self._deploying: list[Planned] = []
        self.scope = _Scope(self)

    # --- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        t = self.template
        if not isinstance(t, dict):
            raise TemplateError("Deployment template validation failed: the template is not a JSON object.")
        if str(t.get("languageVersion", "1.0")) != "1.0" or isinstance(t.get("resources"), dict):
            raise TemplateError("Deployment template validation failed: the lab evaluates languageVersion 1.0 templates "
                                "(resources as an array), not symbolic-name templates.")
        for key in t:
            if key not in ("$schema", "contentVersion", "metadata", "parameters", "variables", "functions",
                           "resources", "outputs", "apiProfile", "languageVersion"):
                raise TemplateError(f"Deployment template validation failed: the template property '{key}' is not allowed.")
        if t.get("functions"):
            raise TemplateError("Deployment template validation failed: the lab does not evaluate user-defined functions.")
        if not isinstance(t.get("resources", []), list):
            raise TemplateError("Deployment template validation failed: 'resources' must be an array.")
        self._known_functions()
        self._bind_parameters()
        self._expand()
        self._order()

    def _known_functions(self) -> None:
        """Every function any expression calls is one the lab knows, or the template is
        refused before anything runs, naming the function and where it is."""
        t = self.template
        places: list[tuple[str, Any]] = [(f"parameter '{k}'", v) for k, v in (t.get("parameters") or {}).items()]
        places += [(f"variable '{k}'", v) for k, v in (t.get("variables") or {}).items()]
        for r in t.get("resources") or []:
            name = r.get("name", "?") if isinstance(r, dict) else "?"
            places.append((f"resource '{name}'", r))
        places += [(f"output '{k}'", v) for k, v in (t.get("outputs") or {}).items()]
        for where, value in places:
            unknown = unknown_functions(value)
            if unknown:
                raise TemplateError(
                    f"Deployment template validation failed: 'The template {where} is not valid: "
                    f"The template function '{unknown[0]}' is not valid. Please see https://aka.ms/arm-functions for usage details.'.")

    def _bind_parameters(self) -> None:
        declared = self.template.get("parameters") or {}
        given = self.given or {}
        if not isinstance(declared, dict) or not isinstance(given, dict):
            raise TemplateError("Deployment template validation failed: parameters must be objects.")
        unknown = [k for k in given if k.lower() not in {d.lower() for d in declared}]
        if unknown:
            raise TemplateError(f"Deployment template validation failed: 'The template parameters '{', '.join(unknown)}' "
                                "in the parameters file are not valid; they are not present in the original template "
                                "and can therefore not be provided at deployment time.'")
        for name, spec in declared.items():
            spec = spec if isinstance(spec, dict) else {}
            found = next((v for k, v in given.items() if k.lower() == name.lower()), None)
            if found is not None:
                if not isinstance(found, dict) or "value" not in found:
                    raise TemplateError(f"Deployment template validation failed: the parameter '{name}' must be given as {{\"value\": …}}.")
                value = found["value"]
            elif "defaultValue" in spec:
                value = evaluate_value(spec["defaultValue"], self.scope)
            else:
                raise TemplateError(f"Deployment template validation failed: 'The value for the template parameter "
                                    f"'{name}' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.'")
            self.parameters[name] = _checked_parameter(name, spec, value)

    def variable(self, name: str) -> Any:
        variables = self.template.get("variables") or {}
        key = next((k for k in variables if k.lower() == name.lower()), None)
        if key is None:
            raise TemplateError(f"The template variable '{name}' is not found. Please see https://aka.ms/arm-syntax-variables for usage details.")
        if key in self._variables:
            return self._variables[key]
        if key in self._evaluating:
            raise TemplateError(f"The template variable '{name}' refers to itself: {' -> '.join(self._evaluating + [key])}")
        self._evaluating.append(key)
        try:
            value = evaluate_value(variables[key], self.scope) if key != "copy" else None
            if key == "copy":
                for loop in variables["copy"]:
                    count = _count(evaluate_value(loop["count"], self.scope), loop["name"])
                    self._variables[loop["name"]] = [
                        evaluate_value(loop["input"], self.scope.at({loop["name"]: i}, loop["name"])) for i in range(count)
                    ]
                value = None
        finally:
            self._evaluating.pop()
        self._variables[key] = value
        return value

    def _expand(self) -> None:
        def walk(resources: list[Any], parent: Planned | None) -> None:
            for raw in resources:
                if not isinstance(raw, dict):
                    raise TemplateError("Deployment template validation failed: each resource must be an object.")
                loop = raw.get("copy")
                positions: list[tuple[dict[str, int], str | None]] = [((parent.copy if parent else {}), parent.loop if parent else None)]
                if loop is not None:
                    if not isinstance(loop, dict) or "name" not in loop or "count" not in loop:
                        raise TemplateError("Deployment template validation failed: a resource's copy needs a name and a count.")
                    count = _count(evaluate_value(loop["count"], self.scope.at(positions[0][0], None)), loop["name"])
                    positions = [({**positions[0][0], loop["name"]: i}, loop["name"]) for i in range(count)]
                for position, loop_name in positions:
                    scope = self.scope.at(position, loop_name)
                    if "condition" in raw and not _truthy(evaluate_value(raw["condition"], scope), "condition"):
                        continue
                    p = Planned(raw=raw, copy=position, loop=loop_name)
                    p.rtype = _required_text(raw, "type", scope)
                    p.name = _required_text(raw, "name", scope)
                    p.api_version = _required_text(raw, "apiVersion", scope)
                    if parent is not None and p.rtype.count("/") == 0:
                        p.rtype, p.name = f"{parent.rtype}/{p.rtype}", f"{parent.name}/{p.name}"
                    p.rid = self._id_of(p, scope)
                    deps = raw.get("dependsOn", [])
                    p.depends = [str(evaluate_value(d, scope)) for d in deps] + ([parent.rid] if parent else [])
                    if not self.types.knows(p.rtype):
                        ns = p.rtype.split("/", 1)[0]
                        raise TemplateError(
                            f"The resource type '{p.rtype.split('/', 1)[-1]}' could not be found in the namespace '{ns}' "
                            f"for api version '{p.api_version}'. The lab knows the resource types the product uses.",
                            code="InvalidResourceType",
                        )
                    self.planned.append(p)
                    children = raw.get("resources")
                    if children:
                        walk(children, p)

        walk(self.template.get("resources") or [], None)

    def _id_of(self, p: Planned, scope: _Scope) -> str:
        names = p.name.split("/")
        scope_text = p.raw.get("scope")
        if scope_text is not None:  # an extension resource: its id hangs off its scope
            base = str(evaluate_value(scope_text, scope))
            if not base.startswith("/"):  # `ns/type/name[/type/name…]` in this resource group
                parts = base.split("/")
                if len(parts) < 3 or len(parts) % 2 == 0:
                    raise TemplateError(f"Deployment template validation failed: the scope '{base}' is neither a resource id "
                                        "nor 'Namespace/type/name'.")
                base = resource_id_of(self.target.subscription, self.target.resource_group,
                                      "/".join([parts[0], *parts[1::2]]), parts[2::2])
            ns, _, kinds = p.rtype.partition("/")
            return base + "/providers/" + ns + "".join(f"/{k}/{n}" for k, n in zip(kinds.split("/"), names))
        if p.rtype.lower() == "microsoft.authorization/roleassignments":
            return f"{self.target.group_id}/providers/Microsoft.Authorization/roleAssignments/{p.name}"
        return resource_id_of(self.target.subscription, self.target.resource_group, p.rtype, names)

    def _matching(self, ref: str) -> list[Planned]:
        low = ref.lower()
        found = [p for p in self.planned if p.rid.lower() == low]
        if found:
            return found
        return [p for p in self.planned
                if p.name.lower() == low or p.name.split("/")[-1].lower() == low
                or (p.loop is not None and p.loop.lower() == low)
                or f"{p.rtype}/{p.name}".lower() == low]

    def _order(self) -> None:
        order: list[Planned] = []
        state: dict[int, str] = {}

        def visit(p: Planned, trail: list[str]) -> None:
            s = state.get(id(p))
            if s == "done":
                return
            if s == "visiting":
                raise TemplateError(f"Deployment template validation failed: 'Circular dependency detected on resource: '{p.rid}'. "
                                    f"Please see https://aka.ms/arm-syntax-resources for usage details.' ({' -> '.join(trail)})")
            state[id(p)] = "visiting"
            for ref in p.depends:
                deps = [d for d in self._matching(ref) if d is not p]
                if not deps and not self._skipped(ref):
                    raise TemplateError(f"Deployment template validation failed: 'The resource '{ref}' is not defined in the template.'")
                for d in deps:
                    visit(d, trail + [d.name])
            state[id(p)] = "done"
            order.append(p)

        for p in self.planned:
            visit(p, [p.name])
        self.planned = order

    def _skipped(self, ref: str) -> bool:
        """A dependency on a resource the template declares but a condition turned off is
        no dependency (as in ARM)."""
        text = json.dumps(self.template.get("resources") or [])
        tail = ref.rsplit("/", 1)[-1]
        return tail in text

    # --- creation -----------------------------------------------------------------------
    def reference(self, target: str, full: bool) -> Any:
        hits = self._matching(target)
        if hits:
            p = hits[0]
            if p.deployed is None:
                if p in self._deploying:
                    raise TemplateError(f"The template resource '{p.name}' refers to itself through reference().")
                self._deploy(p)  # an implicit dependency, as ARM adds for reference()
            resource = p.deployed or {}
        else:
            found = self.types.get(target)
            if found is None:
                raise ResourceError("ResourceNotFound", f"The Resource '{target}' was not found (reference()).", 404)
            resource = found
        return resource if full else resource.get("properties", {})

    def deploy_all(self) -> None:
        for p in self.planned:
            if p.deployed is None:
                self._deploy(p)

    def _deploy(self, p: Planned) -> None:
        self._deploying.append(p)
        try:
            for ref in p.depends:
                for d in self._matching(ref):
                    if d is not p and d.deployed is None:
                        self._deploy(d)
            scope = self.scope.at(p.copy, p.loop)
            body = {k: v for k, v in p.raw.items()
                    if k not in ("type", "name", "apiVersion", "dependsOn", "copy", "condition", "resources", "scope", "comments", "metadata")}
            body = evaluate_value(_property_copies(body, scope), scope)
            body.setdefault("location", self.target.location)
            op = Operation(uuid.uuid4().hex[:16].upper(), p.rid, p.rtype, p.name, "Running", "", _now())
            self.operations.append(op)
            try:
                status, resource = self.types.put(p.rid, p.rtype, body)
                # As ARM does, the deployment goes on once the resource is provisioned.
                resource = self.types.settle(p.rid, p.rtype) or resource
            except ResourceError as exc:
                op.state, op.status_code = "Failed", _status_text(exc.status)
                op.message = {"error": {"code": exc.code, "message": str(exc)}}
                raise
            op.state, op.status_code, op.timestamp = "Succeeded", _status_text(status), _now()
            p.deployed = resource
        finally:
            self._deploying.remove(p)

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in (self.template.get("outputs") or {}).items():
            if "condition" in spec and not _truthy(evaluate_value(spec["condition"], self.scope), "condition"):
                continue
            out[name] = {"type": type_name(spec.get("type", "String")), "value": evaluate_value(spec.get("value"), self.scope)}
        return out


def _status_text(code: int) -> str:
    """An operation's statusCode: the HTTP status's name, as ARM reports it."""
    return {200: "OK", 201: "Created", 202: "Accepted", 400: "BadRequest", 403: "Forbidden", 404: "NotFound",
            409: "Conflict", 412: "PreconditionFailed", 429: "TooManyRequests"}.get(code, str(code))


# ARM reports parameter and output types capitalised.
_TYPE_NAMES = {"string": "String", "securestring": "SecureString", "int": "Int", "bool": "Bool",
               "object": "Object", "secureobject": "SecureObject", "array": "Array"}


def type_name(declared: Any) -> str:
    return _TYPE_NAMES.get(str(declared).lower(), str(declared))


def _property_copies(body: dict[str, Any], scope: _Scope) -> dict[str, Any]:
    """`properties.copy: [{name, count, input}]` becomes the array property `name`."""
    props = body.get("properties")
    if not isinstance(props, dict) or "copy" not in props:
        return body
    out = copying.deepcopy(body)
    loops = out["properties"].pop("copy")
    for loop in loops:
        count = _count(evaluate_value(loop["count"], scope), loop["name"])
        out["properties"][loop["name"]] = [
            evaluate_value(loop["input"], scope.at({**scope.copy, loop["name"]: i}, loop["name"])) for i in range(count)
        ]
    return out


def _count(value: Any, loop: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 800:
        raise TemplateError(f"Deployment template validation failed: the copy '{loop}' count must be an integer from 0 to 800, not {json.dumps(value)}.")
    return value


def _truthy(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TemplateError(f"Deployment template validation failed: a {what} must be a boolean, not {json.dumps(value)}.")


def _required_text(raw: dict[str, Any], key: str, scope: _Scope) -> str:
    if key not in raw:
        raise TemplateError(f"Deployment template validation failed: a resource has no '{key}'.")
    value = evaluate_value(raw[key], scope)
    if not isinstance(value, str) or not value:
        raise TemplateError(f"Deployment template validation failed: a resource's '{key}' must be a non-empty string.")
    return value


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "securestring": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "secureobject": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _checked_parameter(name: str, spec: dict[str, Any], value: Any) -> Any:
    kind = str(spec.get("type", "")).lower()
    check = _TYPES.get(kind)
    if check is None:
        raise TemplateError(f"Deployment template validation failed: the parameter '{name}' has an unknown type '{spec.get('type')}'.")
    if kind == "int" and isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if kind == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not check(value):
        raise TemplateError(f"Deployment template validation failed: 'Template parameter JToken type is not valid. "
                            f"Expected '{spec.get('type')}'. Actual '{type(value).__name__}'.' (parameter '{name}')")
    allowed = spec.get("allowedValues")
    if allowed is not None and value not in allowed:
        raise TemplateError(f"Deployment template validation failed: 'The provided value '{value}' for the template parameter "
                            f"'{name}' is not valid. The value must be one of: {json.dumps(allowed)}.'")
    if kind == "int":
        if "minValue" in spec and value < spec["minValue"]:
            raise TemplateError(f"Deployment template validation failed: the value {value} of the parameter '{name}' is below its minValue {spec['minValue']}.")
        if "maxValue" in spec and value > spec["maxValue"]:
            raise TemplateError(f"Deployment template validation failed: the value {value} of the parameter '{name}' is above its maxValue {spec['maxValue']}.")
    if isinstance(value, (str, list)):
        if "minLength" in spec and len(value) < spec["minLength"]:
            raise TemplateError(f"Deployment template validation failed: the parameter '{name}' is shorter than its minLength {spec['minLength']}.")
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            raise TemplateError(f"Deployment template validation failed: the parameter '{name}' is longer than its maxLength {spec['maxLength']}.")
    return value


# --- the deployment resource ------------------------------------------------------------------
class Deployment:
    """`Microsoft.Resources/deployments/{name}`: accepted at once, run on a thread, read
    back with its status, outputs, error and operations."""

    def __init__(self, target: Target, body: dict[str, Any], types: ResourceTypes, environment: dict[str, Any]):
        self.target = target
        self.id = f"{target.group_id}/providers/Microsoft.Resources/deployments/{target.name}"
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise TemplateError("The request content has no 'properties'.", code="InvalidRequestContent")
        if str(props.get("mode", "Incremental")).lower() != "incremental":
            raise TemplateError("The lab deploys in Incremental mode only.", code="InvalidDeploymentMode")
        if "templateLink" in props:
            raise TemplateError("The lab takes the template inline ('template'), as the portal sends it, not a templateLink.",
                                code="InvalidRequestContent")
        if "template" not in props:
            raise TemplateError("The request content has no 'template'.", code="InvalidRequestContent")
        self.run = Run(target, props["template"], props.get("parameters") or {}, types, environment)
        self.state = "Accepted"
        self.correlation = str(uuid.uuid4())
        self.started = _now()
        self.finished: str | None = None
        self.outputs: dict[str, Any] = {}
        self.error: dict[str, Any] | None = None
        self.run.validate()  # before the 201: a template that cannot run is a 400, as in ARM
        self.done = threading.Event()

    def start(self, lock: threading.Lock | threading.RLock) -> None:
        threading.Thread(target=self._work, args=(lock,), daemon=True, name=f"deploy-{self.target.name}").start()

    def _work(self, lock: threading.Lock | threading.RLock) -> None:
        with lock:
            self.state = "Running"
        try:
            self.run.deploy_all()
            outputs = self.run.outputs()
            with lock:
                self.outputs, self.state = outputs, "Succeeded"
        except (TemplateError, ResourceError) as exc:
            log.info("deployment %s failed: %s", self.target.name, exc)
            with lock:
                self.state = "Failed"
                self.error = {"code": "DeploymentFailed", "message": FAILED_MESSAGE,
                              "details": [{"code": exc.code, "message": str(exc)}]}
        except Exception as exc:  # the lab's own fault: still an answer, never a hang
            log.exception("deployment %s", self.target.name)
            with lock:
                self.state = "Failed"
                self.error = {"code": "InternalServerError", "message": f"the lab failed: {exc}"}
        finally:
            with lock:
                self.finished = _now()
            self.done.set()

    def as_arm(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningState": self.state,
            "mode": "Incremental",
            "correlationId": self.correlation,
            "timestamp": self.finished or self.started,
            "templateHash": self.run.template_hash,
            "parameters": self._shown_parameters(),
            "outputResources": [{"id": p.rid} for p in self.run.planned if p.deployed is not None],
            "dependencies": [],
        }
        if self.state == "Succeeded":
            props["outputs"] = self.outputs
        if self.error is not None:
            props["error"] = self.error
        return {"id": self.id, "name": self.target.name, "type": "Microsoft.Resources/deployments",
                "location": None, "properties": props}

    def _shown_parameters(self) -> dict[str, Any]:
        """The parameters as ARM echoes them: typed, and a secure one without its value."""
        declared = self.run.template.get("parameters") or {}
        out: dict[str, Any] = {}
        for k, v in self.run.parameters.items():
            kind = type_name((declared.get(k) or {}).get("type", "String"))
            out[k] = {"type": kind} if kind.startswith("Secure") else {"type": kind, "value": v}
        return out

    def operations(self) -> list[dict[str, Any]]:
        return [op.as_arm(self.id) for op in self.run.operations]
