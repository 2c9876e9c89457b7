"""The nodes' calls to Parameter Store, decided by their instance role's policies as AWS
decides them, so a lab test can prove what a node may read and write (a worker's role
is refused the swarm's manager join token).

A node runs the AWS CLI with the access key `node-<instance id>` (patch_ssm.py), as an
instance's own credentials would sign for its instance profile's role. For such a
request to one of the SSM parameter actions (GetParameter, GetParameters,
GetParametersByPath, GetParameterHistory, PutParameter, DeleteParameter(s),
Label/UnlabelParameterVersion) the authority finds the instance in moto's EC2 backend,
its instance profile (its association, else the profile of the launch template version
it was launched from, else its Auto Scaling group's launch configuration), the
profile's role and every policy of that role: inline, and attached managed ones
(customer and AWS managed, their default version). iam_policy.py decides each requested
parameter's ARN; a call naming several parameters is refused if any one is. A refusal
is answered as AWS answers it (HTTP 400, AccessDeniedException, JSON 1.1), before moto
sees the request. An instance without a profile is refused (implicit deny).

Not evaluated: every other call a node makes passes through as before (a later change
extends evaluation to every call), and calls by anyone but a node (the functions,
tests, the lab's own CLI). KMS key policies (a SecureString's decryption), resource
policies and the other policy types iam_policy.py leaves out are not evaluated either.

Every decision is kept in memory, newest last, for `GET /_lab/authorizations`.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.ec2.models import ec2_backends
from moto.iam.models import InstanceProfile, Role, iam_backends
from moto.utilities.utils import get_partition

from . import config, iam_policy
from .lablock import LAB_LOCK

log = logging.getLogger("swarmlab.authority")

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
NODE_KEY_PREFIX = "node-"
SSM_TARGET_PREFIX = "AmazonSSM."
# action -> (request field, whether it is a list of names, whether it is a path)
PARAMETER_ACTIONS: dict[str, tuple[str, bool, bool]] = {
    "GetParameter": ("Name", False, False),
    "GetParameters": ("Names", True, False),
    "GetParametersByPath": ("Path", False, True),
    "GetParameterHistory": ("Name", False, False),
    "PutParameter": ("Name", False, False),
    "DeleteParameter": ("Name", False, False),
    "DeleteParameters": ("Names", True, False),
    "LabelParameterVersion": ("Name", False, False),
    "UnlabelParameterVersion": ("Name", False, False),
}
JSON_11 = "application/x-amz-json-1.1"


# --- the request ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeCall:
    instance_id: str
    region: str
    action: str  # "ssm:GetParameter"
    resources: tuple[str, ...]
    context: dict[str, Any]  # request-specific condition keys (ssm:Overwrite, ...)


def partition_of(region: str) -> str:
    return get_partition(region)


def parameter_arn(name: str, region: str, account: str) -> str:
    """A parameter's ARN as IAM sees it: `/a/b` -> `parameter/a/b`, `a` -> `parameter/a`; a
    version or label selector (`name:3`, `name:label`) is not part of it; a name given
    as an ARN is its own."""
    if name.startswith("arn:"):
        parts = name.split(":", 5)
        if len(parts) == 6:
            parts[5] = parts[5].split(":", 1)[0]
        return ":".join(parts)
    name = name.split(":", 1)[0]
    return f"arn:{partition_of(region)}:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"


def path_arn(path: str, region: str, account: str) -> str:
    """GetParametersByPath's resource: `/x/y` -> `parameter/x/y`."""
    return f"arn:{partition_of(region)}:ssm:{region}:{account}:parameter{path if path.startswith('/') else '/' + path}"


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body; put back for moto to read."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def node_call(environ: dict[str, Any], account: str = config.ACCOUNT_ID) -> NodeCall | None:
    """The parameter call a node makes, or None for anything this authority does not decide
    (not a node, not SSM, another action, a body moto will refuse anyway)."""
    m = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not m or not m.group(1).startswith(NODE_KEY_PREFIX):
        return None
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if not target.startswith(SSM_TARGET_PREFIX):
        return None
    operation = target[len(SSM_TARGET_PREFIX):]
    if operation not in PARAMETER_ACTIONS:
        return None
    region = m.group(2) or config.REGION
    try:
        request = json.loads(_read_body(environ) or b"{}")
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    field_name, many, is_path = PARAMETER_ACTIONS[operation]
    raw = request.get(field_name)
    names = raw if many else [raw]
    if not names or not all(isinstance(n, str) and n for n in names):
        return None
    if is_path:
        resources = tuple(path_arn(n, region, account) for n in names)
    else:
        resources = tuple(parameter_arn(n, region, account) for n in names)
    context: dict[str, Any] = {}
    if operation == "PutParameter" and "Overwrite" in request:
        context["ssm:Overwrite"] = bool(request["Overwrite"])
    if operation == "GetParametersByPath" and "Recursive" in request:
        context["ssm:Recursive"] = bool(request["Recursive"])
    return NodeCall(m.group(1)[len(NODE_KEY_PREFIX):], region, f"ssm:{operation}", resources, context)


# --- the caller's identity ------------------------------------------------------------------

@dataclass
class Identity:
    instance_id: str
    role: Role | None
    policies: list[tuple[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    why_none: str = ""

    def principal(self, account: str, region: str) -> str:
        if self.role is None:
            return f"{NODE_KEY_PREFIX}{self.instance_id}"
        return f"arn:{partition_of(region)}:sts::{account}:assumed-role/{self.role.name}/{self.instance_id}"


def _profile_by(iam: Any, spec: Any) -> InstanceProfile | None:
    """An instance profile given as {"Arn": ...} or {"Name": ...} (or a bare name)."""
    if isinstance(spec, str):
        spec = {"Arn": spec} if spec.startswith("arn:") else {"Name": spec}
    if not isinstance(spec, dict):
        return None
    try:
        if spec.get("Arn"):
            return iam.get_instance_profile_by_arn(spec["Arn"])
        if spec.get("Name"):
            return iam.get_instance_profile(spec["Name"])
    except Exception:  # moto's NotFoundException: a profile deleted since
        return None
    return None


def _tag(instance: Any, key: str) -> str | None:
    for t in instance.get_tags():
        if t.get("key") == key:
            return t.get("value")
    return None


def profile_of(instance: Any, ec2: Any, iam: Any) -> tuple[InstanceProfile | None, str]:
    """The instance's profile and where it came from. moto sets `iam_instance_profile` (and
    an association) only for RunInstances' own IamInstanceProfile parameter; an instance
    an Auto Scaling group launches from a launch template has none, so the template
    version it was launched from (its aws:ec2launchtemplate:* tags) tells."""
    association = ec2.iam_instance_profile_associations.get(instance.id)
    if association is not None:
        return _profile_by(iam, {"Arn": association.iam_instance_profile.arn}), "association"
    if instance.iam_instance_profile:
        return _profile_by(iam, instance.iam_instance_profile), "instance"
    template_id = _tag(instance, "aws:ec2launchtemplate:id")
    if template_id:
        try:
            version = ec2.get_launch_template(template_id).get_version(_tag(instance, "aws:ec2launchtemplate:version") or "$Default")
        except Exception:
            version = None
        if version is not None and version.data.get("IamInstanceProfile"):
            return _profile_by(iam, version.data["IamInstanceProfile"]), f"launch template {template_id} v{version.number}"
    group = getattr(instance, "autoscaling_group", None)
    if isinstance(group, FakeAutoScalingGroup) and group.launch_config is not None and group.launch_config.iam_instance_profile:
        return _profile_by(iam, group.launch_config.iam_instance_profile), f"launch configuration {group.launch_config.name}"
    return None, "none"


def _default_document(policy: Any) -> Any:
    for version in policy.versions:
        if version.is_default:
            return version.document
    raise iam_policy.PolicyError(f"managed policy {policy.arn} has no default version")


def role_policies(role: Role) -> list[tuple[str, Any]]:
    """Every identity-based policy of the role: inline ones by name, managed ones by ARN."""
    policies: list[tuple[str, Any]] = [(f"{role.name}/{name}", doc) for name, doc in role.policies.items()]
    policies += [(arn, _default_document(p)) for arn, p in role.managed_policies.items()]
    return policies


def _role_tags(role: Role) -> dict[str, str]:
    tags = role.tags
    items = tags.values() if isinstance(tags, dict) else tags or []
    return {t["Key"]: t["Value"] for t in items if isinstance(t, dict) and "Key" in t}


def identity_of(instance_id: str, region: str, account: str = config.ACCOUNT_ID) -> Identity:
    """Reads moto's backends: hold LAB_LOCK."""
    ec2 = ec2_backends[account][region]
    iam = iam_backends[account][partition_of(region)]
    instance = next((i for i in ec2.all_instances() if i.id == instance_id), None)
    if instance is None:
        return Identity(instance_id, None, why_none=f"no instance {instance_id} in {region}")
    profile, source = profile_of(instance, ec2, iam)
    if profile is None:
        return Identity(instance_id, None, why_none="the instance has no instance profile")
    if not profile.roles:
        return Identity(instance_id, None, why_none=f"instance profile {profile.name} has no role")
    policies = [p for role in profile.roles for p in role_policies(role)]
    role = profile.roles[0]  # an instance profile holds one role
    partition = partition_of(region)
    context: dict[str, Any] = {
        "aws:PrincipalArn": role.arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": f"{role.id}:{instance_id}",
        "aws:RequestedRegion": region,
        "aws:SecureTransport": True,  # the CLI talks HTTPS to AWS; the lab's HTTP is the lab's
        "ec2:SourceInstanceARN": f"arn:{partition}:ec2:{region}:{account}:instance/{instance_id}",
        "aws:Ec2InstanceSourceVpc": instance.vpc_id,
        "aws:Ec2InstanceSourcePrivateIPv4": instance.private_ip_address,
        **{f"aws:PrincipalTag/{k}": v for k, v in _role_tags(role).items()},
    }
    log.debug("instance %s: profile %s (from %s), role %s", instance_id, profile.name, source, role.name)
    return Identity(instance_id, role, policies, context)


# --- the answer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def respond(self, start_response: Callable) -> list[bytes]:
        start_response(self.status, self.headers)
        return [self.body]


def _refusal(code: int, error: str, message: str) -> Refusal:
    body = json.dumps({"__type": error, "message": message}).encode()
    reason = {400: "Bad Request", 500: "Internal Server Error"}[code]
    return Refusal(
        f"{code} {reason}",
        [("Content-Type", JSON_11), ("Content-Length", str(len(body))), ("x-amzn-RequestId", str(uuid.uuid4()))],
        body,
    )


def denial_message(principal: str, action: str, resource: str, decision: iam_policy.Decision) -> str:
    """AWS's wording for a refusal by identity-based policies."""
    if decision.outcome == iam_policy.EXPLICIT_DENY:
        because = "with an explicit deny in an identity-based policy"
    else:
        because = f"because no identity-based policy allows the {action} action"
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {because}"


# --- the authority --------------------------------------------------------------------------

class NodeAuthority:
    def __init__(self, account: str = config.ACCOUNT_ID) -> None:
        self.account = account
        self.lock = threading.Lock()
        self.decisions: list[dict[str, Any]] = []

    def check(self, environ: dict[str, Any]) -> Refusal | None:
        """None lets the request through to moto (its body put back); a Refusal is the answer."""
        call = node_call(environ, self.account)
        if call is None:
            return None
        with LAB_LOCK:
            identity = identity_of(call.instance_id, call.region, self.account)
        principal = identity.principal(self.account, call.region)
        refused: tuple[str, iam_policy.Decision] | None = None
        for resource in call.resources:
            try:
                decision = self._decide(identity, call, resource)
            except iam_policy.PolicyError as exc:
                log.error("cannot decide %s on %s for %s: %s", call.action, resource, call.instance_id, exc)
                self._record(identity, call.action, resource, None, str(exc))
                return _refusal(500, "InternalFailure", f"swarmlab could not evaluate {call.action} on {resource}: {exc}")
            self._record(identity, call.action, resource, decision, identity.why_none)
            if not decision.allowed and refused is None:
                refused = (resource, decision)
        if refused is None:
            return None
        resource, decision = refused
        log.info("refused %s on %s for %s (%s)", call.action, resource, principal, decision.outcome)
        return _refusal(400, "AccessDeniedException", denial_message(principal, call.action, resource, decision))

    @staticmethod
    def _decide(identity: Identity, call: NodeCall, resource: str) -> iam_policy.Decision:
        if identity.role is None:
            return iam_policy.Decision(False, iam_policy.IMPLICIT_DENY)
        return iam_policy.evaluate(identity.policies, call.action, resource, {**identity.context, **call.context})

    def _record(self, identity: Identity, action: str, resource: str, decision: iam_policy.Decision | None, note: str) -> None:
        entry: dict[str, Any] = {
            "time": time.time(),
            "instance": identity.instance_id,
            "role": identity.role.name if identity.role else None,
            "action": action,
            "resource": resource,
            **(decision.as_dict() if decision else {"allowed": False, "decision": "error", "policy": None, "statement": None}),
        }
        if note:
            entry["note"] = note
        with self.lock:
            self.decisions.append(entry)

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {"decisions": list(self.decisions)}

    def reset(self) -> None:
        with self.lock:
            self.decisions.clear()
