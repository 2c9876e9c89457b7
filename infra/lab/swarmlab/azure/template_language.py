"""ARM's template expression language, as the lab's deployments evaluate it.

A JSON string that starts with `[` and ends with `]` is an expression (`[[` at the start
escapes a literal `[`). Expressions are function calls, single-quoted strings (`''` is a
quote), integers, and property access on results (`.name`, `['name']`, `[0]`).

The functions are the documented ones the product's templates use (Microsoft's "ARM
template functions" reference); anything else fails the deployment with the reason, as
ARM's validation does. Functions that need the deployment (parameters, variables,
copyIndex, reference, resourceId …) come from a `Scope` the deployment supplies."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol


class TemplateError(Exception):
    """A template the lab cannot evaluate, with ARM's error code."""

    def __init__(self, message: str, code: str = "InvalidTemplate"):
        super().__init__(message)
        self.code = code


# --- parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Access:
    target: Any
    key: Any  # a node evaluating to a property name or an index


_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<punct>[(),\[\]]))")


def is_expression(text: str) -> bool:
    return text.startswith("[") and text.endswith("]") and not text.startswith("[[")


def unescape(text: str) -> str:
    """A literal string: `[[…` stands for `[…`."""
    return text[1:] if text.startswith("[[") else text


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise TemplateError(f"the template language expression '{text}' is not valid: unexpected '{text[pos:].strip()[:20]}'")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, punct: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (punct is not None and tok != ("punct", punct)):
            want = f"'{punct}'" if punct else "more"
            raise TemplateError(f"the template language expression '{self.text}' is not valid: expected {want}")
        self.i += 1
        return tok

    def expression(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            node: Any = Literal(value[1:-1].replace("''", "'"))
        elif kind == "num":
            node = Literal(int(value))
        elif kind == "name":
            head, _, rest = value.partition(".")
            if rest:  # `).name` was rewritten by `parse`; a dotted name is no call
                raise TemplateError(f"the template language expression '{self.text}' is not valid: '{value}' is not a function call")
            self.take("(")
            args: list[Any] = []
            if self.peek() != ("punct", ")"):
                args.append(self.expression())
                while self.peek() == ("punct", ","):
                    self.take(",")
                    args.append(self.expression())
            self.take(")")
            node = Call(head.lower(), tuple(args))
        else:
            raise TemplateError(f"the template language expression '{self.text}' is not valid: unexpected '{value}'")
        while True:
            tok = self.peek()
            if tok == ("punct", "["):
                self.take("[")
                node = Access(node, self.expression())
                self.take("]")
            else:
                return node


def parse(text: str) -> Any:
    """The syntax tree of one expression (the text inside the brackets)."""
    # Property access with dots: rewrite `).name` / `].name` into `)['name']` before
    # tokenising, so the tokenizer never has to tell a dotted name from an access.
    out, i = [], 0
    in_str = False
    while i < len(text):
        c = text[i]
        if c == "'":
            in_str = not in_str
            out.append(c)
            i += 1
            continue
        if not in_str and c == "." and out and "".join(out).rstrip()[-1:] in (")", "]"):
            m = re.match(r"\.\s*([A-Za-z_$][A-Za-z0-9_$]*)", text[i:])
            if m is None:
                raise TemplateError(f"the template language expression '{text}' is not valid: a '.' is not followed by a property name")
            out.append(f"['{m.group(1)}']")
            i += m.end()
            continue
        out.append(c)
        i += 1
    if in_str:
        raise TemplateError(f"the template language expression '{text}' is not valid: a string is not closed")
    p = _Parser("".join(out))
    node = p.expression()
    if p.peek() is not None:
        raise TemplateError(f"the template language expression '{text}' is not valid: unexpected '{p.peek()[1]}'")  # type: ignore[index]
    return node


# --- evaluation -------------------------------------------------------------------------------
class Scope(Protocol):
    """What the deployment gives the functions that depend on it."""

    def parameter(self, name: str) -> Any: ...
    def variable(self, name: str) -> Any: ...
    def copy_index(self, loop: str | None) -> int: ...
    def reference(self, target: str, api_version: str | None, full: bool) -> Any: ...
    def resource_group(self) -> dict[str, Any]: ...
    def subscription(self) -> dict[str, Any]: ...
    def deployment(self) -> dict[str, Any]: ...
    def environment(self) -> dict[str, Any]: ...


def evaluate_string(text: str, scope: Scope) -> Any:
    if is_expression(text):
        return evaluate(parse(text[1:-1]), scope)
    return unescape(text)


def evaluate_value(value: Any, scope: Scope) -> Any:
    """A JSON value with every expression string in it evaluated."""
    if isinstance(value, str):
        return evaluate_string(value, scope)
    if isinstance(value, list):
        return [evaluate_value(v, scope) for v in value]
    if isinstance(value, dict):  # a property name may be an expression too
        return {(str(evaluate_string(k, scope)) if is_expression(k) else unescape(k)): evaluate_value(v, scope)
                for k, v in value.items()}
    return value


def evaluate(node: Any, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Access):
        target = evaluate(node.target, scope)
        key = evaluate(node.key, scope)
        if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(target):
                raise TemplateError(f"the language expression's index {key} is outside the array (length {len(target)})")
            return target[key]
        if isinstance(target, dict) and isinstance(key, str):
            for k, v in target.items():  # ARM's property names are case-insensitive
                if k.lower() == key.lower():
                    return v
            raise TemplateError(f"the language expression property '{key}' doesn't exist, available properties are '{', '.join(target)}'")
        raise TemplateError(f"the language expression cannot take '{key}' of a {type(target).__name__}")
    if isinstance(node, Call):
        if node.name == "if":  # lazy: only the branch taken is evaluated
            _arity(node, 3, 3)
            return evaluate(node.args[1] if _bool(evaluate(node.args[0], scope), "if") else node.args[2], scope)
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            raise TemplateError(
                f"The template function '{node.name}' is not valid. Please see https://aka.ms/arm-functions for usage details."
            )
        return fn(scope, *[evaluate(a, scope) for a in node.args])
    raise TemplateError(f"not an expression node: {node!r}")


def unknown_functions(value: Any) -> list[str]:
    """The names of the functions a JSON value's expressions call that the lab does not
    know (ARM refuses those when it validates, before anything runs)."""
    found: list[str] = []

    def walk_node(node: Any) -> None:
        if isinstance(node, Call):
            if node.name != "if" and node.name not in FUNCTIONS and node.name not in found:
                found.append(node.name)
            for a in node.args:
                walk_node(a)
        elif isinstance(node, Access):
            walk_node(node.target)
            walk_node(node.key)

    def walk(v: Any) -> None:
        if isinstance(v, str) and is_expression(v):
            walk_node(parse(v[1:-1]))
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(value)
    return found


def _arity(node: Call, low: int, high: int) -> None:
    if not low <= len(node.args) <= high:
        raise TemplateError(f"the template function '{node.name}' takes {low}-{high} arguments, not {len(node.args)}")


def _bool(v: Any, fn: str) -> bool:
    if not isinstance(v, bool):
        raise TemplateError(f"the template function '{fn}' expects a boolean, not {json.dumps(v)}")
    return v


def _int(v: Any, fn: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TemplateError(f"the template function '{fn}' expects an integer, not {json.dumps(v)}")
    return v


def _str(v: Any, fn: str) -> str:
    if not isinstance(v, str):
        raise TemplateError(f"the template function '{fn}' expects a string, not {json.dumps(v)}")
    return v


def _args(fn: str, args: tuple[Any, ...], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        span = str(low) if low == high else f"{low}-{high}"
        raise TemplateError(f"the template function '{fn}' takes {span} arguments, not {len(args)}")


# --- uniqueString, guid -----------------------------------------------------------------------
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _murmur64(data: bytes, seed: int = 0) -> int:
    """The 64-bit hash under ARM's uniqueString: two lanes of MurmurHash3 x86-128, seed 0."""
    c1, c2, mask = 0x239B961B, 0xAB0E9789, 0xFFFFFFFF
    length = len(data)
    h1, h2 = seed, seed
    i = 0
    while i + 8 <= length:
        k1 = int.from_bytes(data[i:i + 4], "little")
        k2 = int.from_bytes(data[i + 4:i + 8], "little")
        k1 = (k1 * c1) & mask
        k1 = ((k1 << 15) | (k1 >> 17)) & mask
        k1 = (k1 * c2) & mask
        h1 ^= k1
        h1 = ((h1 << 19) | (h1 >> 13)) & mask
        h1 = (h1 + h2) & mask
        h1 = (h1 * 5 + 0x561CCD1B) & mask
        k2 = (k2 * c2) & mask
        k2 = ((k2 << 17) | (k2 >> 15)) & mask
        k2 = (k2 * c1) & mask
        h2 ^= k2
        h2 = ((h2 << 13) | (h2 >> 19)) & mask
        h2 = (h2 + h1) & mask
        h2 = (h2 * 5 + 0x0BCAA747) & mask
        i += 8
    rest = length - i
    if rest:
        k1 = int.from_bytes(data[i:i + min(rest, 4)], "little")
        k1 = (k1 * c1) & mask
        k1 = ((k1 << 15) | (k1 >> 17)) & mask
        k1 = (k1 * c2) & mask
        h1 ^= k1
        if rest > 4:
            k2 = int.from_bytes(data[i + 4:i + rest], "little")
            k2 = (k2 * c2) & mask
            k2 = ((k2 << 17) | (k2 >> 15)) & mask
            k2 = (k2 * c1) & mask
            h2 ^= k2
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & mask
    h2 = (h2 + h1) & mask
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & mask
    h2 = (h2 + h1) & mask
    return (h2 << 32) | h1


def unique_string(*parts: str) -> str:
    """ARM's uniqueString: the hash of the arguments joined by '-', as 13 characters of
    base32 (`a-z2-7`), five bits at a time from the top. It gives the strings real
    deployments give (the unit tests hold published ones)."""
    h = _murmur64("-".join(parts).encode("utf-8"))
    wide = h << 1  # 64 bits in 13 five-bit digits
    return "".join(_BASE32[(wide >> (60 - 5 * i)) & 31] for i in range(13))


_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def guid_of(*parts: str) -> str:
    """ARM's guid(): a name-based (v5) UUID of the arguments joined by '-'."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(parts)))


# --- .NET composite format ------------------------------------------------------------------
def _format(scope: Scope, fmt: Any, *values: Any) -> str:
    fmt = _str(fmt, "format")

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        index = int(m.group(1))
        if index >= len(values):
            raise TemplateError(f"the template function 'format': index {{{index}}} has no argument")
        return _text(values[index])

    return re.sub(r"\{\{|\}\}|\{(\d+)(?:[,:][^}]*)?\}", one, fmt)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if v is None:
        return ""
    return str(v)


# --- resource ids -----------------------------------------------------------------------------
def resource_id_of(subscription: str, group: str | None, rtype: str, names: list[str]) -> str:
    """`/subscriptions/{s}[/resourceGroups/{g}]/providers/{ns}/{t1}/{n1}/{t2}/{n2}…`"""
    ns, _, types = rtype.partition("/")
    kinds = types.split("/") if types else []
    if not kinds or len(kinds) != len(names):
        raise TemplateError(
            f"Unable to evaluate template language function 'resourceId': the type '{rtype}' requires "
            f"{len(kinds)} resource name argument(s), {len(names)} given"
        )
    path = "".join(f"/{k}/{n}" for k, n in zip(kinds, names))
    base = f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group is not None else "")
    return f"{base}/providers/{ns}{path}"


def _looks_like_guid(text: str) -> bool:
    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", text) is not None


def _resource_id(scope: Scope, *args: Any) -> str:
    texts = [_str(a, "resourceId") for a in args]
    sub = scope.subscription()["subscriptionId"]
    group = scope.resource_group()["name"]
    # resourceId([subscriptionId], [resourceGroupName], type, name1, …): the type is the
    # first argument with a '/' in it; what comes before it is the subscription and group.
    at = next((i for i, t in enumerate(texts) if "/" in t), None)
    if at is None or at > 2:
        raise TemplateError("Unable to evaluate template language function 'resourceId': no resource type given")
    before = texts[:at]
    if len(before) == 2:
        sub, group = before
    elif len(before) == 1:
        if _looks_like_guid(before[0]):
            sub = before[0]
        else:
            group = before[0]
    return resource_id_of(sub, group, texts[at], texts[at + 1:])


def _subscription_resource_id(scope: Scope, *args: Any) -> str:
    texts = [_str(a, "subscriptionResourceId") for a in args]
    sub = scope.subscription()["subscriptionId"]
    if texts and "/" not in texts[0]:
        sub, texts = texts[0], texts[1:]
    if not texts:
        raise TemplateError("Unable to evaluate template language function 'subscriptionResourceId': no resource type given")
    return resource_id_of(sub, None, texts[0], texts[1:])


def _extension_resource_id(scope: Scope, base: Any, rtype: Any, *names: Any) -> str:
    kinds = _str(rtype, "extensionResourceId").partition("/")
    return _str(base, "extensionResourceId") + resource_id_of("x", None, f"{kinds[0]}/{kinds[2]}", [str(n) for n in names]).split("/subscriptions/x", 1)[1]


# --- the function table -----------------------------------------------------------------------
def _equals(_s: Scope, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b  # ARM compares strings case-sensitively in equals()
    return a == b and type(a) is type(b)


def _concat(_s: Scope, *args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [x for a in args for x in a]
    return "".join(_text(a) for a in args)


def _length(_s: Scope, v: Any) -> int:
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise TemplateError(f"the template function 'length' expects a string, array or object, not {json.dumps(v)}")


def _contains(_s: Scope, container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _str(item, "contains") in container  # case-sensitive for strings
    if isinstance(container, dict):
        return any(k.lower() == _str(item, "contains").lower() for k in container)
    if isinstance(container, list):
        return item in container
    raise TemplateError("the template function 'contains' expects a string, array or object")


def _empty(_s: Scope, v: Any) -> bool:
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Later wins; nested objects merge, nested arrays are replaced (as ARM's union does)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merged(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _union(_s: Scope, *args: Any) -> Any:
    if all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out = _merged(out, a)
        return out
    if all(isinstance(a, list) for a in args):
        seen: list[Any] = []
        for a in args:
            for x in a:
                if x not in seen:
                    seen.append(x)
        return seen
    raise TemplateError("the template function 'union' expects all objects or all arrays")


def _string(_s: Scope, v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _int_of(_s: Scope, v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise TemplateError(f"the template function 'int' cannot convert {json.dumps(v)}") from None


def _json(_s: Scope, v: Any) -> Any:
    try:
        return json.loads(_str(v, "json"))
    except ValueError as exc:
        raise TemplateError(f"the template function 'json': {exc}") from None


def _reference(scope: Scope, target: Any, api_version: Any = None, full: Any = None) -> Any:
    if full is not None and _str(full, "reference").lower() != "full":
        raise TemplateError("the template function 'reference' takes 'Full' as its third argument")
    return scope.reference(_str(target, "reference"), api_version, full is not None)


def _copy_index(scope: Scope, *args: Any) -> int:
    loop: str | None = None
    offset = 0
    for a in args:
        if isinstance(a, str):
            loop = a
        else:
            offset = _int(a, "copyIndex")
    return scope.copy_index(loop) + offset


def _range(_s: Scope, start: Any, count: Any) -> list[int]:
    s, c = _int(start, "range"), _int(count, "range")
    if c < 0 or c > 10000:
        raise TemplateError("the template function 'range' takes a count from 0 to 10000")
    return list(range(s, s + c))


def _create_object(_s: Scope, *args: Any) -> dict[str, Any]:
    if len(args) % 2:
        raise TemplateError("the template function 'createObject' takes name, value pairs")
    return {_str(args[i], "createObject"): args[i + 1] for i in range(0, len(args), 2)}


def _first(_s: Scope, v: Any) -> Any:
    if isinstance(v, (str, list)):
        return v[0] if v else (None if isinstance(v, list) else "")
    raise TemplateError("the template function 'first' expects a string or an array")


def _last(_s: Scope, v: Any) -> Any:
    if isinstance(v, (str, list)):
        return v[-1] if v else (None if isinstance(v, list) else "")
    raise TemplateError("the template function 'last' expects a string or an array")


def _named(name: str, low: int, high: int | None, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(scope: Scope, *args: Any) -> Any:
        _args(name, args, low, high)
        return fn(scope, *args)

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "parameters": _named("parameters", 1, 1, lambda s, n: s.parameter(_str(n, "parameters"))),
    "variables": _named("variables", 1, 1, lambda s, n: s.variable(_str(n, "variables"))),
    "copyindex": _named("copyIndex", 0, 2, _copy_index),
    "reference": _named("reference", 1, 3, _reference),
    "resourceid": _named("resourceId", 2, 12, _resource_id),
    "subscriptionresourceid": _named("subscriptionResourceId", 2, 12, _subscription_resource_id),
    "extensionresourceid": _named("extensionResourceId", 3, 12, _extension_resource_id),
    "resourcegroup": _named("resourceGroup", 0, 0, lambda s: s.resource_group()),
    "subscription": _named("subscription", 0, 0, lambda s: s.subscription()),
    "deployment": _named("deployment", 0, 0, lambda s: s.deployment()),
    "environment": _named("environment", 0, 0, lambda s: s.environment()),
    "uniquestring": _named("uniqueString", 1, 20, lambda s, *a: unique_string(*[_str(x, "uniqueString") for x in a])),
    "guid": _named("guid", 1, 20, lambda s, *a: guid_of(*[_str(x, "guid") for x in a])),
    "concat": _named("concat", 1, 64, _concat),
    "format": _named("format", 1, 64, _format),
    "equals": _named("equals", 2, 2, _equals),
    "not": _named("not", 1, 1, lambda s, a: not _bool(a, "not")),
    "and": _named("and", 2, 64, lambda s, *a: all(_bool(x, "and") for x in a)),
    "or": _named("or", 2, 64, lambda s, *a: any(_bool(x, "or") for x in a)),
    "true": _named("true", 0, 0, lambda s: True),
    "false": _named("false", 0, 0, lambda s: False),
    "null": _named("null", 0, 0, lambda s: None),
    "greater": _named("greater", 2, 2, lambda s, a, b: a > b),
    "less": _named("less", 2, 2, lambda s, a, b: a < b),
    "greaterorequals": _named("greaterOrEquals", 2, 2, lambda s, a, b: a >= b),
    "lessorequals": _named("lessOrEquals", 2, 2, lambda s, a, b: a <= b),
    "tolower": _named("toLower", 1, 1, lambda s, a: _str(a, "toLower").lower()),
    "toupper": _named("toUpper", 1, 1, lambda s, a: _str(a, "toUpper").upper()),
    "trim": _named("trim", 1, 1, lambda s, a: _str(a, "trim").strip()),
    "string": _named("string", 1, 1, _string),
    "int": _named("int", 1, 1, _int_of),
    "bool": _named("bool", 1, 1, lambda s, a: a if isinstance(a, bool) else str(a).lower() == "true"),
    "add": _named("add", 2, 2, lambda s, a, b: _int(a, "add") + _int(b, "add")),
    "sub": _named("sub", 2, 2, lambda s, a, b: _int(a, "sub") - _int(b, "sub")),
    "mul": _named("mul", 2, 2, lambda s, a, b: _int(a, "mul") * _int(b, "mul")),
    "div": _named("div", 2, 2, lambda s, a, b: int(_int(a, "div") / _int(b, "div")) if b else _raise("the template function 'div' divides by zero")),
    "mod": _named("mod", 2, 2, lambda s, a, b: _int(a, "mod") % _int(b, "mod") if b else _raise("the template function 'mod' divides by zero")),
    "min": _named("min", 1, 64, lambda s, *a: min(a[0] if len(a) == 1 and isinstance(a[0], list) else a)),
    "max": _named("max", 1, 64, lambda s, *a: max(a[0] if len(a) == 1 and isinstance(a[0], list) else a)),
    "length": _named("length", 1, 1, _length),
    "empty": _named("empty", 1, 1, _empty),
    "contains": _named("contains", 2, 2, _contains),
    "union": _named("union", 1, 64, _union),
    "createarray": _named("createArray", 0, 64, lambda s, *a: list(a)),
    "createobject": _named("createObject", 0, 64, _create_object),
    "coalesce": _named("coalesce", 1, 64, lambda s, *a: next((x for x in a if x is not None), None)),
    "range": _named("range", 2, 2, _range),
    "first": _named("first", 1, 1, _first),
    "last": _named("last", 1, 1, _last),
    "take": _named("take", 2, 2, lambda s, a, n: a[: max(0, _int(n, "take"))]),
    "skip": _named("skip", 2, 2, lambda s, a, n: a[max(0, _int(n, "skip")):]),
    "split": _named("split", 2, 2, lambda s, a, d: _str(a, "split").split(_str(d, "split"))),
    "join": _named("join", 2, 2, lambda s, a, d: _str(d, "join").join(_text(x) for x in a)),
    "replace": _named("replace", 3, 3, lambda s, a, o, n: _str(a, "replace").replace(_str(o, "replace"), _str(n, "replace"))),
    "startswith": _named("startsWith", 2, 2, lambda s, a, b: _str(a, "startsWith").lower().startswith(_str(b, "startsWith").lower())),
    "endswith": _named("endsWith", 2, 2, lambda s, a, b: _str(a, "endsWith").lower().endswith(_str(b, "endsWith").lower())),
    "substring": _named("substring", 2, 3, lambda s, a, i, n=None: _str(a, "substring")[_int(i, "substring"):(None if n is None else _int(i, "substring") + _int(n, "substring"))]),
    "indexof": _named("indexOf", 2, 2, lambda s, a, b: _str(a, "indexOf").lower().find(_str(b, "indexOf").lower())),
    "padleft": _named("padLeft", 2, 3, lambda s, a, n, c=" ": _text(a).rjust(_int(n, "padLeft"), _str(c, "padLeft")[:1] or " ")),
    "base64": _named("base64", 1, 1, lambda s, a: base64.b64encode(_str(a, "base64").encode()).decode()),
    "base64tostring": _named("base64ToString", 1, 1, lambda s, a: base64.b64decode(_str(a, "base64ToString")).decode()),
    "json": _named("json", 1, 1, _json),
    "uri": _named("uri", 2, 2, lambda s, b, r: _str(b, "uri").rsplit("/", 1)[0] + "/" + _str(r, "uri").lstrip("/") if not _str(b, "uri").endswith("/") else b + _str(r, "uri").lstrip("/")),
    "uricomponent": _named("uriComponent", 1, 1, lambda s, a: __import__("urllib.parse").parse.quote(_str(a, "uriComponent"), safe="")),
}


def _raise(message: str) -> Any:
    raise TemplateError(message)
