"""An evaluator of identity-based IAM policies: the lab decides a call as AWS would
decide it from the caller's own policies (its role's inline and managed policies).

It follows AWS's documented policy evaluation logic for the identity-based policies of
one principal in one account: every statement of every policy is checked against the
request; an explicit Deny in any statement that applies wins; otherwise an Allow that
applies allows; otherwise the request is implicitly denied. A statement applies when its
Action (or NotAction), its Resource (or NotResource) and every condition in its
Condition match the request.

What it covers:

- `Effect` Allow or Deny; `Sid`; `Version` 2012-10-17 or 2008-10-17 (or none).
- `Action` / `NotAction`: case-insensitive, with `*` and `?` wildcards (`*`, `ssm:*`,
  `ssm:GetParameter*`).
- `Resource` / `NotResource`: case-sensitive ARNs with `*` and `?`. A `*` stays within
  its colon-separated ARN segment unless it is the last character of the segment, where
  (as documented) it may expand beyond the colon; `*` alone matches every resource.
- `Condition`: operators are ANDed, the keys of one operator are ANDed, the values of
  one key are ORed (a negated operator holds when none of them match). Operators:
  String(Not)Equals(IgnoreCase), String(Not)Like, Numeric(Not)Equals,
  NumericLessThan(Equals), NumericGreaterThan(Equals), Date(Not)Equals,
  DateLessThan(Equals), DateGreaterThan(Equals), Bool, BinaryEquals,
  (Not)IpAddress, Arn(Not)Equals, Arn(Not)Like (each ARN component matched on its
  own), Null; each but Null with the `...IfExists` suffix and the `ForAnyValue:` /
  `ForAllValues:` set prefixes. Condition key names are case-insensitive.
- A key missing from the request context, as documented: a condition is false, except a
  negated one (`StringNotEquals`, `ArnNotLike`, ...) which is true; `...IfExists` is
  true; `ForAllValues:` is true and `ForAnyValue:` false on a missing or empty key;
  `Null` tests presence itself.
- A single value or a list wherever a policy may give either; a policy document as a
  dict, JSON text or URL-encoded JSON text (as IAM APIs return it).

What it refuses, raising `PolicyError` (never guessing an allow or a deny): a condition
operator it does not know (`UnknownConditionOperator` names it), policy variables
(`${...}`) in a 2012-10-17 policy, `Principal`/`NotPrincipal` or any other element an
identity-based policy cannot have, a statement without Action/NotAction or
Resource/NotResource, and values an operator cannot read.

What it does not evaluate: resource-based policies (S3 bucket, KMS key policies, ...),
service and resource control policies, permission boundaries, session policies, VPC
endpoint policies, and cross-account access. A caller gets only what its own
identity-based policies decide.
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import unquote

EXPLICIT_DENY = "explicit-deny"
ALLOW = "allow"
IMPLICIT_DENY = "implicit-deny"

VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
QUALIFIERS = ("ForAnyValue", "ForAllValues")


class PolicyError(ValueError):
    """A policy the evaluator cannot decide faithfully: malformed, or beyond what it covers."""


class UnknownConditionOperator(PolicyError):
    def __init__(self, operator: str, where: str) -> None:
        super().__init__(f"unknown condition operator {operator!r} in {where}")
        self.operator = operator


@dataclass(frozen=True)
class Decision:
    allowed: bool
    outcome: str  # EXPLICIT_DENY, ALLOW or IMPLICIT_DENY
    policy: str | None = None  # the deciding statement's policy (None for an implicit deny)
    sid: str | None = None
    index: int | None = None  # the statement's position in its policy, from 0

    @property
    def statement(self) -> str | None:
        """The deciding statement: its Sid, else its index (`#1`)."""
        if self.index is None:
            return None
        return self.sid if self.sid else f"#{self.index}"

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "decision": self.outcome, "policy": self.policy, "statement": self.statement}


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # "StringLike"
    qualifier: str | None  # "ForAnyValue", "ForAllValues" or None
    if_exists: bool
    key: str  # lower-cased: condition key names are case-insensitive
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    policy: str
    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]

    @property
    def where(self) -> str:
        return f"policy {self.policy!r} statement {self.sid or '#' + str(self.index)}"


# --- matching ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """`*` any run of characters, `?` any one character, everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@functools.lru_cache(maxsize=4096)
def _arn_glob(pattern: str) -> re.Pattern[str]:
    """A Resource pattern: a `*` keeps within its ARN segment unless it ends the segment."""
    parts = []
    for i, c in enumerate(pattern):
        if c == "*":
            ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
            parts.append(".*" if ends_segment else "[^:]*")
        elif c == "?":
            parts.append(".")
        else:
            parts.append(re.escape(c))
    return re.compile("".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    return pattern == "*" or _arn_glob(pattern).fullmatch(resource) is not None


def _arn_like(value: Any, pattern: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-separated components matched on its own."""
    text = _text(value)
    have, want = text.split(":", 5), pattern.split(":", 5)
    if len(have) != 6:
        return False  # not an ARN
    if len(want) != 6:
        return resource_matches(pattern, text)
    return all(_glob(w, False).fullmatch(h) is not None for h, w in zip(have, want))


# --- condition operators ------------------------------------------------------------------

def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
    except ValueError:
        pass
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[Any, str], bool]:
    def match(value: Any, wanted: str) -> bool:
        try:
            have = parse(_text(value))
        except ValueError:
            return False  # a context value the operator cannot read matches nothing
        return test(have, parse(wanted))

    return match


def _in_network(value: Any, wanted: str) -> bool:
    try:
        address = ipaddress.ip_address(_text(value))
    except ValueError:
        return False
    network = _network(wanted)
    return address.version == network.version and address in network


def _bool(value: Any, wanted: str) -> bool:
    return _text(value).lower() == wanted.lower()


_eq: Callable[[Any, Any], bool] = lambda a, b: a == b
_lt: Callable[[Any, Any], bool] = lambda a, b: a < b
_le: Callable[[Any, Any], bool] = lambda a, b: a <= b
_gt: Callable[[Any, Any], bool] = lambda a, b: a > b
_ge: Callable[[Any, Any], bool] = lambda a, b: a >= b

_string_equals = lambda value, wanted: _text(value) == wanted
_string_equals_ignore_case = lambda value, wanted: _text(value).lower() == wanted.lower()
_string_like = lambda value, wanted: _glob(wanted, False).fullmatch(_text(value)) is not None
_binary_equals = lambda value, wanted: _text(value) == wanted

# base operator -> (the positive match of one context value against one policy value, negated)
OPERATORS: dict[str, tuple[Callable[[Any, str], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_compare(_number, _eq), False),
    "NumericNotEquals": (_compare(_number, _eq), True),
    "NumericLessThan": (_compare(_number, _lt), False),
    "NumericLessThanEquals": (_compare(_number, _le), False),
    "NumericGreaterThan": (_compare(_number, _gt), False),
    "NumericGreaterThanEquals": (_compare(_number, _ge), False),
    "DateEquals": (_compare(_date, _eq), False),
    "DateNotEquals": (_compare(_date, _eq), True),
    "DateLessThan": (_compare(_date, _lt), False),
    "DateLessThanEquals": (_compare(_date, _le), False),
    "DateGreaterThan": (_compare(_date, _gt), False),
    "DateGreaterThanEquals": (_compare(_date, _ge), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}
# How each operator's policy values are checked when the policy is read.
_POLICY_VALUE_READERS: dict[str, Callable[[str], Any]] = {
    **{op: _number for op in OPERATORS if op.startswith("Numeric")},
    **{op: _date for op in OPERATORS if op.startswith("Date")},
    "IpAddress": _network,
    "NotIpAddress": _network,
}


def parse_operator(operator: str, where: str = "a condition") -> tuple[str | None, str, bool]:
    """(set qualifier or None, base operator, IfExists) of a condition operator."""
    qualifier, name = None, operator
    head, sep, tail = operator.partition(":")
    if sep:
        if head not in QUALIFIERS:
            raise UnknownConditionOperator(operator, where)
        qualifier, name = head, tail
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    if base == "Null":
        if if_exists or qualifier:
            raise PolicyError(f"{operator!r} in {where}: Null takes no IfExists suffix or set prefix")
        return None, base, False
    if base not in OPERATORS:
        raise UnknownConditionOperator(operator, where)
    return qualifier, base, if_exists


# --- reading a policy ---------------------------------------------------------------------

def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any, element: str, where: str) -> tuple[str, ...]:
    items = _list(value)
    if not items or not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{element} in {where} must be a string or a list of strings, not {value!r}")
    return tuple(items)


def load_document(document: Any) -> dict[str, Any]:
    """A policy document as a dict: given as one, as JSON text, or URL-encoded JSON text."""
    if isinstance(document, dict):
        return document
    if isinstance(document, (str, bytes)):
        text = document.decode() if isinstance(document, bytes) else document
        for candidate in (text, unquote(text)):
            try:
                parsed = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    raise PolicyError(f"not a policy document: {str(document)[:80]!r}")


def _no_variables(values: Iterable[str], element: str, where: str) -> None:
    for v in values:
        if "${" in v:
            raise PolicyError(f"policy variable in {element} of {where} ({v!r}): policy variables are not evaluated")


def _condition(operator: str, block: Any, version: str, where: str) -> list[Condition]:
    qualifier, base, if_exists = parse_operator(operator, where)
    if not isinstance(block, dict) or not block:
        raise PolicyError(f"condition {operator} in {where} must map condition keys to values")
    conditions = []
    for key, raw in block.items():
        items = _list(raw)
        if not items or any(isinstance(v, (dict, list)) or v is None for v in items):
            raise PolicyError(f"condition {operator} {key} in {where}: values must be strings, numbers or booleans")
        values = tuple(_text(v) for v in items)
        if version == "2012-10-17":
            _no_variables(values, f"condition {operator} {key}", where)
        if base == "Null" and any(v.lower() not in ("true", "false") for v in values):
            raise PolicyError(f"condition Null {key} in {where}: values must be true or false")
        reader = _POLICY_VALUE_READERS.get(base)
        for v in values:
            try:
                if reader:
                    reader(v)
            except ValueError as exc:
                raise PolicyError(f"condition {operator} {key} in {where}: cannot read {v!r}: {exc}") from None
        conditions.append(Condition(operator, base, qualifier, if_exists, key.lower(), values))
    return conditions


def parse_policy(name: str, document: Any) -> list[Statement]:
    """The statements of one policy, checked: raises PolicyError for anything not covered."""
    doc = load_document(document)
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"policy {name!r}: unknown Version {version!r}")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"policy {name!r}: unknown elements {sorted(unknown)}")
    raw_statements = doc.get("Statement")
    if raw_statements is None:
        raise PolicyError(f"policy {name!r} has no Statement")
    statements = []
    for index, raw in enumerate(_list(raw_statements)):
        sid = raw.get("Sid") if isinstance(raw, dict) else None
        where = f"policy {name!r} statement {sid or '#' + str(index)}"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where} is not an object")
        unknown = set(raw) - STATEMENT_ELEMENTS
        if unknown:
            raise PolicyError(f"{where}: {sorted(unknown)} not allowed in an identity-based policy")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError(f"{where} must have exactly one of Action and NotAction")
        if ("Resource" in raw) == ("NotResource" in raw):
            raise PolicyError(f"{where} must have exactly one of Resource and NotResource")
        action_element = "Action" if "Action" in raw else "NotAction"
        resource_element = "Resource" if "Resource" in raw else "NotResource"
        resources = _strings(raw[resource_element], resource_element, where)
        if version == "2012-10-17":
            _no_variables(resources, resource_element, where)
        conditions: list[Condition] = []
        block = raw.get("Condition", {})
        if not isinstance(block, dict):
            raise PolicyError(f"{where}: Condition must be an object")
        for operator, keys in block.items():
            conditions.extend(_condition(operator, keys, version, where))
        statements.append(Statement(
            policy=name, index=index, sid=sid, effect=effect,
            actions=_strings(raw[action_element], action_element, where), not_action=action_element == "NotAction",
            resources=resources, not_resource=resource_element == "NotResource",
            conditions=tuple(conditions),
        ))
    return statements


# --- evaluating ---------------------------------------------------------------------------

def _context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k.lower(): v for k, v in (context or {}).items()}


def _present(context: dict[str, Any], key: str) -> list[Any] | None:
    """The key's values, or None when the request context does not have it (or it is empty)."""
    if key not in context or context[key] is None:
        return None
    values = _list(context[key])
    return values or None


def condition_holds(condition: Condition, context: dict[str, Any]) -> bool:
    """One key of one operator, against a context whose keys are lower-cased."""
    values = _present(context, condition.key)
    if condition.base == "Null":
        absent = values is None
        return any((v.lower() == "true") == absent for v in condition.values)
    match, negated = OPERATORS[condition.base]

    def one(value: Any) -> bool:
        hit = any(match(value, wanted) for wanted in condition.values)
        return not hit if negated else hit

    if values is None:
        if condition.if_exists:
            return True
        if condition.qualifier is None:
            return negated
        return condition.qualifier == "ForAllValues"
    if condition.qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if condition.qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    # A single-valued key (or a list given without a set prefix: any of its values).
    hit = any(match(v, wanted) for v in values for wanted in condition.values)
    return not hit if negated else hit


def statement_applies(statement: Statement, action: str, resource: str, context: dict[str, Any]) -> bool:
    action_hit = any(action_matches(p, action) for p in statement.actions)
    if action_hit == statement.not_action:
        return False
    resource_hit = any(resource_matches(p, resource) for p in statement.resources)
    if resource_hit == statement.not_resource:
        return False
    return all(condition_holds(c, context) for c in statement.conditions)


def evaluate(
    policies: Iterable[tuple[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> Decision:
    """Decides `action` (`ssm:GetParameter`) on `resource` (an ARN) for a principal whose
    identity-based policies are `policies`, (name, document) pairs; `context` holds the
    request's condition keys (`aws:PrincipalArn`, `ssm:Overwrite`, ...). Every policy is
    read (and checked) before any is applied."""
    statements = [s for name, document in policies for s in parse_policy(name, document)]
    ctx = _context(context)
    allowing: Statement | None = None
    for s in statements:
        if not statement_applies(s, action, resource, ctx):
            continue
        if s.effect == "Deny":
            return Decision(False, EXPLICIT_DENY, s.policy, s.sid, s.index)
        allowing = allowing or s
    if allowing is not None:
        return Decision(True, ALLOW, allowing.policy, allowing.sid, allowing.index)
    return Decision(False, IMPLICIT_DENY)
