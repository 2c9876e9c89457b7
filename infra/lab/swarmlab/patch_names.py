"""Names checked as AWS checks them, where moto accepts what AWS refuses, so a template
that builds a name too long for a real account fails in the lab too:

- a stack's name: a letter, then letters, digits and hyphens, 128 characters at most
  (CreateStack's `StackName`);
- a queue's name given in a template (`QueueName`): at most 80 characters of letters,
  digits, `-` and `_` (`.fifo` included). moto cut any CloudFormation queue name to 80,
  so two queues of a stack with a long name got the same one; CloudFormation makes up
  `<stack>-<logical id>-<random>` with the first two parts cut to fit, as here;
- a hosted zone's name: each label at most 63 bytes, the whole name at most 255 with
  the dots (Route 53's domain name format): `InvalidDomainName`.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend
from moto.route53.exceptions import Route53ClientError
from moto.route53.models import Route53Backend
from moto.sqs.models import Queue

STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
QUEUE_NAME = re.compile(r"^(?:[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo)$")


class InvalidDomainName(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidDomainName", message)


def domain_name_problem(name: str) -> str | None:
    """Why Route 53 refuses `name`, or None."""
    bare = name.rstrip(".")
    if len(bare.encode()) + 1 > 255:
        return f"{name} is longer than 255 characters"
    for label in bare.split("."):
        if not label:
            return f"{name} has an empty label"
        if len(label.encode()) > 63:
            return f"the label {label} of {name} is longer than 63 characters"
    return None


def made_up_queue_name(moto_name: str, logical_id: str) -> str:
    """CloudFormation's name for a queue the template does not name, from moto's
    `<stack>-<logical id>-<random>`: the stack's and the logical id's parts cut so the
    whole fits 80 characters and the random part stays."""
    stack_and_logical, _, suffix = moto_name.rpartition("-")
    stack = stack_and_logical[: -(len(logical_id) + 1)] if stack_and_logical.endswith("-" + logical_id) else stack_and_logical
    room = 80 - len(suffix) - 1
    logical = logical_id[: room // 2]
    head = f"{stack[: room - len(logical) - 1]}-{logical}"
    return f"{head}-{suffix}"


def install() -> None:
    moto_create_stack = CloudFormationBackend.create_stack

    def create_stack(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        if not STACK_NAME.match(name or ""):
            raise ValidationError(
                name,
                message=f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]* and have length less than "
                "or equal to 128",
            )
        return moto_create_stack(self, name, *args, **kwargs)

    moto_queue_from_cfn = Queue.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def queue_from_cfn(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Queue:
        given = (cloudformation_json.get("Properties") or {}).get("QueueName")
        if given is not None and not QUEUE_NAME.match(str(given)):
            raise ValueError(
                f"Invalid QueueName {given!r}: can only include alphanumeric characters, hyphens, or underscores, "
                "1 to 80 in length"
            )
        if given is None:
            resource_name = made_up_queue_name(str(resource_name), str(kwargs.get("LogicalId") or ""))
        return moto_queue_from_cfn(cls, resource_name, cloudformation_json, *args, **kwargs)

    moto_create_zone = Route53Backend.create_hosted_zone

    def create_hosted_zone(self: Route53Backend, name: str, *args: Any, **kwargs: Any) -> Any:
        problem = domain_name_problem(name)
        if problem:
            raise InvalidDomainName(problem)
        return moto_create_zone(self, name, *args, **kwargs)

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]
    Queue.create_from_cloudformation_json = classmethod(queue_from_cfn)  # type: ignore[method-assign,assignment]
    Route53Backend.create_hosted_zone = create_hosted_zone  # type: ignore[method-assign]
