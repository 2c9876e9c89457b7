"""The lab's Azure resources: one store of resources by id, and the resource types the
lab knows, each shaping what a PUT makes of its body (ids filled in, read-only
properties set, `provisioningState` Succeeded).

ARM ids are case-insensitive: the store keys them lower-cased and keeps the casing of the
first write. Every resource has an etag (`W/"<guid>"`) that changes on every write; the
types that document conditional writes (load balancers, DNS record sets) check
`If-Match` / `If-None-Match` against it. A type the lab does not know is refused, by
name, in a deployment's validation and on a direct PUT."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .template_deploy import ResourceError

SUBSCRIPTION_ID = "5a1ab000-0000-4000-8000-00000000a001"
LOCATION = "swarmlab"


def new_etag(weak: bool = True) -> str:
    """The network provider's etags are weak (`W/"<guid>"`); DNS's are a bare GUID."""
    return f'W/"{uuid.uuid4()}"' if weak else str(uuid.uuid4())


def parent_id(rid: str) -> str:
    """The id of the resource a child hangs off (`…/loadBalancers/lb/probes/p` → `…/loadBalancers/lb`)."""
    return rid.rsplit("/", 2)[0]


@dataclass(frozen=True)
class Conditions:
    """A write's HTTP preconditions."""

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, existing: dict[str, Any] | None, what: str) -> None:
        if self.if_none_match == "*" and existing is not None:
            raise ResourceError("PreconditionFailed", f"The {what} already exists (If-None-Match: *).", 412)
        if self.if_match is not None:
            if existing is None:
                raise ResourceError("PreconditionFailed", f"The {what} does not exist (If-Match: {self.if_match}).", 412)
            if self.if_match != "*" and self.if_match != existing.get("etag"):
                raise ResourceError("PreconditionFailed", "Precondition failed.", 412, details=[{
                    "code": "PreconditionFailedEtagMismatch",
                    "message": f"Etag provided in if-match header {self.if_match} does not match etag "
                               f"{existing.get('etag')} of resource {existing.get('id')} in NRP data store.",
                }])


# A type's shaper: (store, id, body, what exists) -> the resource as stored and answered.
Shaper = Callable[["ResourceStore", str, dict[str, Any], "dict[str, Any] | None"], dict[str, Any]]


@dataclass(frozen=True)
class ResourceType:
    name: str
    shape: Shaper
    conditional: bool = False  # takes If-Match / If-None-Match
    weak_etag: bool = True
    on_delete: Callable[["ResourceStore", dict[str, Any]], None] | None = None
    # A DELETE the type answers itself (a VM leaves on its own time): True if it exists.
    deleter: Callable[[str], bool] | None = None
    # Work a PUT starts and finishes after its answer: given the id and api-version, it
    # returns the answer's Azure-AsyncOperation header.
    starter: Callable[[str, str], dict[str, str]] | None = None
    # Work a PUT starts that a deployment waits for before it goes on (a function app
    # starting, a deployment script running): given the id, it blocks until the resource
    # is ready and returns it, or raises ResourceError with why it failed.
    settle: Callable[[str], dict[str, Any]] | None = None


def plain(store: "ResourceStore", rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """A resource the lab only records: what was asked, with its ids and state."""
    props = dict(body.get("properties") or {})
    props["provisioningState"] = "Succeeded"
    return {**body, "properties": props}


class ResourceStore:
    """Every resource of the lab's one subscription, and the types it can make."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_id: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.types: dict[str, ResourceType] = {}

    def register(self, rtype: ResourceType) -> None:
        self.types[rtype.name.lower()] = rtype

    # --- resource groups -----------------------------------------------------------------
    def put_group(self, name: str, location: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            created = name.lower() not in self.groups
            group = self.groups.setdefault(name.lower(), {
                "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}", "name": name,
                "type": "Microsoft.Resources/resourceGroups", "location": location,
                "properties": {"provisioningState": "Succeeded"},
            })
            return (201 if created else 200), group

    def group(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.groups.get(name.lower())

    # --- resources (the deployment's ResourceTypes) -------------------------------------
    def knows(self, rtype: str) -> bool:
        return rtype.lower() in self.types

    def get(self, rid: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._by_id.get(rid.lower())
            return copy.deepcopy(found) if found is not None else None

    def list(self, rtype: str, under: str) -> list[dict[str, Any]]:
        with self.lock:
            low = under.lower().rstrip("/") + "/"
            return [copy.deepcopy(r) for k, r in self._by_id.items()
                    if r["type"].lower() == rtype.lower() and k.startswith(low)]

    def put(self, rid: str, rtype: str, body: dict[str, Any], conditions: Conditions = Conditions()) -> tuple[int, dict[str, Any]]:
        kind = self.types.get(rtype.lower())
        if kind is None:
            raise ResourceError("InvalidResourceType", f"The resource type '{rtype}' is not one the lab knows.", 404)
        if not isinstance(body, dict):
            raise ResourceError("InvalidRequestContent", "The request content is not a JSON object.", 400)
        with self.lock:
            existing = self._by_id.get(rid.lower())
            if kind.conditional:
                conditions.check(existing, rtype.rsplit("/", 1)[-1])
            parent = parent_id(rid)
            if rtype.count("/") > 1 and "/providers/" in parent and parent.lower() not in self._by_id \
                    and not rtype.lower().startswith("microsoft.authorization/"):
                raise ResourceError("ParentResourceNotFound",
                                    f"Can not perform requested operation on nested resource. Parent resource '{parent}' not found.", 404)
            asked = copy.deepcopy(body)
            for readonly in ("id", "name", "type", "etag"):
                asked.pop(readonly, None)
            shaped = kind.shape(self, rid, asked, copy.deepcopy(existing) if existing else None)
            stored = {
                "id": existing["id"] if existing else rid,
                "name": rid.rsplit("/", 1)[-1],
                "type": kind.name,
                **{k: v for k, v in shaped.items() if k not in ("id", "name", "type", "etag")},
                "etag": new_etag(kind.weak_etag),
            }
            self._by_id[rid.lower()] = stored
            return (200 if existing else 201), copy.deepcopy(stored)

    def put_internal(self, rid: str, rtype: str, resource: dict[str, Any]) -> dict[str, Any]:
        """The lab's own write (a scale set's VMs, its capacity after a delete): stored as
        given, with its ids and a new etag, no shaping and no preconditions."""
        with self.lock:
            existing = self._by_id.get(rid.lower())
            kind = self.types.get(rtype.lower())
            stored = {**{k: v for k, v in copy.deepcopy(resource).items() if k not in ("id", "name", "type", "etag")},
                      "id": existing["id"] if existing else rid, "name": rid.rsplit("/", 1)[-1],
                      "type": kind.name if kind else rtype, "etag": new_etag(kind.weak_etag if kind else True)}
            self._by_id[rid.lower()] = stored
            return copy.deepcopy(stored)

    def settle(self, rid: str, rtype: str) -> dict[str, Any] | None:
        """Waits for a PUT's work to finish (see ResourceType.settle); None when the type has none."""
        kind = self.types.get(rtype.lower())
        return kind.settle(rid) if kind is not None and kind.settle is not None else None

    def type_of(self, rtype: str) -> ResourceType | None:
        return self.types.get(rtype.lower())

    def delete(self, rid: str) -> bool:
        with self.lock:
            found = self._by_id.pop(rid.lower(), None)
            if found is None:
                return False
            for k in [k for k in self._by_id if k.startswith(rid.lower() + "/")]:
                del self._by_id[k]
            kind = self.types.get(found["type"].lower())
        if kind is not None and kind.on_delete is not None:
            kind.on_delete(self, found)
        return True
