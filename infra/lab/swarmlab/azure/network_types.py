"""The lab's network resource types: load balancers (the whole resource written at once,
under its etag), public addresses, virtual networks, and private DNS zones with their A
record sets (`If-Match` / `If-None-Match`).

A load balancer's child collections (frontend configurations, pools, probes, rules) get
their ids (`…/loadBalancers/{lb}/{collection}/{name}`), an etag and a
`provisioningState`, as Azure returns them; a rule that names a probe, pool or frontend
the load balancer does not have is refused, as Azure refuses it."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from typing import Any

from .resources import ResourceStore, ResourceType, new_etag, plain
from .template_deploy import ResourceError

LB_CHILDREN = ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules",
               "inboundNatRules", "outboundRules")
# The references a rule holds, and the collection each must name.
RULE_REFS = {"frontendIPConfiguration": "frontendIPConfigurations", "backendAddressPool": "backendAddressPools",
             "probe": "probes"}

# Public addresses the lab hands out: a documentation range, never routed anywhere.
_PUBLIC = itertools.count(10)


def load_balancer(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    props = dict(body.get("properties") or {})
    names: dict[str, set[str]] = {}
    for child in LB_CHILDREN:
        items = props.get(child) or []
        if not isinstance(items, list):
            raise ResourceError("InvalidRequestFormat", f"properties.{child} must be an array.")
        seen: set[str] = set()
        shaped = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise ResourceError("InvalidRequestFormat", f"Each of properties.{child} needs a name.")
            if name.lower() in seen:
                raise ResourceError("InvalidRequestFormat", f"Two of properties.{child} are named '{name}'.")
            seen.add(name.lower())
            sub = dict(item.get("properties") or {})
            sub["provisioningState"] = "Succeeded"
            shaped.append({"name": name, "id": f"{rid}/{child}/{name}", "etag": new_etag(), "properties": sub})
        names[child] = seen
        props[child] = shaped
    for rule in props["loadBalancingRules"] + props["inboundNatRules"]:
        for key, collection in RULE_REFS.items():
            ref = rule["properties"].get(key)
            if ref is None:
                continue
            target = str(ref.get("id", "")) if isinstance(ref, dict) else ""
            prefix = f"{rid}/{collection}/".lower()
            if not target.lower().startswith(prefix) or target[len(prefix):].lower() not in names[collection]:
                raise ResourceError(
                    "InvalidResourceReference",
                    f"Resource {target or ref} referenced by resource {rid}/loadBalancingRules/{rule['name']} was not found. "
                    "Please make sure that the referenced resource exists, and that both resources are in the same region.",
                )
    props["provisioningState"] = "Succeeded"
    props.setdefault("resourceGuid", existing["properties"].get("resourceGuid") if existing else str(uuid.uuid4()))
    return {**body, "sku": body.get("sku") or {"name": "Standard", "tier": "Regional"}, "properties": props}


def public_address(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    props = dict(body.get("properties") or {})
    kept = existing["properties"].get("ipAddress") if existing else None
    props["ipAddress"] = kept or str(ipaddress.ip_address("203.0.113.0") + next(_PUBLIC) % 250)
    props["provisioningState"] = "Succeeded"
    return {**body, "properties": props}


def virtual_network(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    props = dict(body.get("properties") or {})
    subnets = []
    for s in props.get("subnets") or []:
        if not isinstance(s, dict) or not s.get("name"):
            raise ResourceError("InvalidRequestFormat", "Each subnet needs a name.")
        sp = dict(s.get("properties") or {})
        sp["provisioningState"] = "Succeeded"
        subnets.append({"name": s["name"], "id": f"{rid}/subnets/{s['name']}", "etag": new_etag(), "properties": sp})
    props["subnets"] = subnets
    props["provisioningState"] = "Succeeded"
    return {**body, "properties": props}


def private_zone(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    if str(body.get("location", "global")).lower() != "global":
        raise ResourceError("InvalidRequestFormat", "A private DNS zone's location must be 'global'.")
    props = dict(body.get("properties") or {})
    props["provisioningState"] = "Succeeded"
    props.setdefault("numberOfRecordSets", 1)
    return {**body, "location": "global", "properties": props}


def a_record_set(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    props = dict(body.get("properties") or {})
    records = props.get("aRecords", [])
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ResourceError("BadRequest", "properties.aRecords must be an array of {\"ipv4Address\": …}.")
    for r in records:
        try:
            ipaddress.IPv4Address(str(r.get("ipv4Address")))
        except ValueError:
            raise ResourceError("BadRequest", f"'{r.get('ipv4Address')}' is not a valid IPv4 address.") from None
    ttl = props.get("ttl", 3600)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
        raise ResourceError("BadRequest", "properties.ttl must be an integer number of seconds.")
    zone = rid.split("/privateDnsZones/", 1)[1].split("/", 1)[0]
    name = rid.rsplit("/", 1)[-1]
    props.update(ttl=ttl, aRecords=records, isAutoRegistered=False,
                 fqdn=f"{zone}." if name == "@" else f"{name}.{zone}.")
    body = {k: v for k, v in body.items() if k != "location"}
    return {**body, "properties": props}


def install(store: ResourceStore) -> None:
    store.register(ResourceType("Microsoft.Network/loadBalancers", load_balancer, conditional=True))
    store.register(ResourceType("Microsoft.Network/publicIPAddresses", public_address))
    store.register(ResourceType("Microsoft.Network/virtualNetworks", virtual_network))
    store.register(ResourceType("Microsoft.Network/networkSecurityGroups", plain))
    store.register(ResourceType("Microsoft.Network/natGateways", plain))
    store.register(ResourceType("Microsoft.Network/privateDnsZones", private_zone, conditional=True, weak_etag=False))
    store.register(ResourceType("Microsoft.Network/privateDnsZones/A", a_record_set, conditional=True, weak_etag=False))
    store.register(ResourceType("Microsoft.Network/privateDnsZones/virtualNetworkLinks", plain))
