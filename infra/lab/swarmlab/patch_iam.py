"""IAM, extended so a role has the managed policies AWS would attach to it:

- AWS managed policies (`arn:aws:iam::aws:policy/...`) attach as on AWS. moto knows them
  only when told to load all of them at start (MOTO_IAM_LOAD_MANAGED_POLICIES, over a
  thousand per account); here one is loaded from moto's bundled copy when first attached.
- An AWS::IAM::Role's `ManagedPolicyArns` are attached (moto ignored them), kept in step
  by a stack update (with the inline `Policies`, which moto's update left as they were),
  and detached when the stack deletes the role.

The lab's node authority (node_authority.py) reads these policies to decide the nodes' calls.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend, Role, iam_backends
from moto.utilities.utils import get_partition

AWS_MANAGED_ARN = re.compile(r"^arn:([^:]+):iam::aws:policy(/(?:[^/]+/)*)([^/]+)$")

_attach_role = IAMBackend.attach_role_policy
_attach_user = IAMBackend.attach_user_policy
_attach_group = IAMBackend.attach_group_policy
_role_from_cfn = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_role_update_from_cfn = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_role_delete_from_cfn = Role.delete_from_cloudformation_json.__func__  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def _bundled() -> dict[str, Any]:
    return json.loads(aws_managed_policies_data)


def ensure_aws_managed_policy(backend: IAMBackend, arn: str) -> None:
    """Makes an AWS managed policy known to the backend, from moto's bundled copy."""
    if arn in backend.managed_policies:
        return
    m = AWS_MANAGED_ARN.match(arn)
    data = _bundled().get(m.group(3)) if m else None
    if not m or data is None or (data.get("Path") or "/") != m.group(2):
        return  # not an AWS managed policy moto knows: moto's own error follows
    policy = AWSManagedPolicy.from_data(m.group(3), backend.account_id, backend.region_name, data)
    backend.aws_managed_policies.append(policy)
    backend.managed_policies[policy.arn] = policy


def _attach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
    ensure_aws_managed_policy(self, policy_arn)
    _attach_role(self, policy_arn, role_name)


def _attach_user_policy(self: IAMBackend, policy_arn: str, user_name: str) -> None:
    ensure_aws_managed_policy(self, policy_arn)
    _attach_user(self, policy_arn, user_name)


def _attach_group_policy(self: IAMBackend, policy_arn: str, group_name: str) -> None:
    ensure_aws_managed_policy(self, policy_arn)
    _attach_group(self, policy_arn, group_name)


def _backend(account_id: str, region_name: str) -> IAMBackend:
    return iam_backends[account_id][get_partition(region_name)]


def _sync_managed(backend: IAMBackend, role: Role, arns: list[str]) -> None:
    for arn in [a for a in role.managed_policies if a not in arns]:
        backend.detach_role_policy(arn, role.name)
    for arn in arns:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)


def _role_from_cloudformation(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> Role:
    role = _role_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    arns = cloudformation_json["Properties"].get("ManagedPolicyArns") or []
    _sync_managed(_backend(account_id, region_name), role, list(arns))
    return role


def _role_update_from_cloudformation(cls: Any, original_resource: Role, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Role:
    role = _role_update_from_cfn(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    props = cloudformation_json["Properties"]
    wanted = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
    for name in [n for n in role.policies if n not in wanted]:
        role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document)
    _sync_managed(_backend(account_id, region_name), role, list(props.get("ManagedPolicyArns") or []))
    return role


def _role_delete_from_cloudformation(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    for role in list(backend.roles.values()):
        if role.name == resource_name:
            _sync_managed(backend, role, [])
    _role_delete_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name)


def install() -> None:
    IAMBackend.attach_role_policy = _attach_role_policy  # type: ignore[method-assign]
    IAMBackend.attach_user_policy = _attach_user_policy  # type: ignore[method-assign]
    IAMBackend.attach_group_policy = _attach_group_policy  # type: ignore[method-assign]
    Role.create_from_cloudformation_json = classmethod(_role_from_cloudformation)  # type: ignore[method-assign,assignment]
    Role.update_from_cloudformation_json = classmethod(_role_update_from_cloudformation)  # type: ignore[method-assign,assignment]
    Role.delete_from_cloudformation_json = classmethod(_role_delete_from_cloudformation)  # type: ignore[method-assign,assignment]
