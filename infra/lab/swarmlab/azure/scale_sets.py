"""Virtual Machine Scale Sets in Flexible orchestration, whose VMs are real Docker nodes.

- A scale set's PUT (or a PATCH of `sku.capacity`) brings its VMs to the capacity asked.
  Each VM is an ordinary `Microsoft.Compute/virtualMachines/{set}_{8 hex}` resource with
  `properties.virtualMachineScaleSet.id`, a NIC (`Microsoft.Network/networkInterfaces`)
  holding a private address from the scale set's subnet, and a real `dockerd` in its own
  network namespace at that address (the AWS lab's node code, nodes.py).
- A VM leaves by a delete (of the VM, or by a scale-in). With the profile's
  `scheduledEventsProfile.terminateNotificationProfile.enable`, the delete first raises a
  `Terminate` scheduled event (`NotBefore` = now + `notBeforeTimeout`), which the VM sees
  over IMDS (imds.py); the VM goes when the event is approved (`StartRequests`) or
  `NotBefore` passes. One delete waiting on its notice holds back the next, as documented
  ("a pending delete blocks further deletes").
- `lose()` plays a VM lost without notice: its node dies now and the VM goes.

Only Flexible orchestration is served: a Uniform set is refused by name. Custom data is
kept (and shown to the VM through IMDS's instance metadata); the lab does not run it."""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import logging
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..nodes import NodeManager
from .resources import ResourceStore, ResourceType
from .template_deploy import ResourceError

log = logging.getLogger("swarmlab.azure.vmss")

SETS = "Microsoft.Compute/virtualMachineScaleSets"
VMS = "Microsoft.Compute/virtualMachines"
NICS = "Microsoft.Network/networkInterfaces"
MAX_CAPACITY = 1000
_DURATION = re.compile(r"PT(?:(\d+)M)?(?:(\d+)S)?$")


@dataclass
class ScheduledEvent:
    event_id: str
    event_type: str
    vm: str  # the VM's name, as Resources lists it
    not_before: float
    status: str = "Scheduled"  # Scheduled | Started
    approved: bool = False
    started_at: float | None = None

    def as_imds(self) -> dict[str, Any]:
        return {
            "EventId": self.event_id,
            "EventStatus": self.status,
            "EventType": self.event_type,
            "ResourceType": "VirtualMachine",
            "Resources": [self.vm],
            "NotBefore": "" if self.status == "Started" else email.utils.formatdate(self.not_before, usegmt=True),
            "Description": "Virtual machine is being deleted." if self.event_type == "Terminate" else "",
            "EventSource": "User",
            "DurationInSeconds": -1,
        }


@dataclass
class Vm:
    name: str
    rid: str
    set_id: str
    address: str
    vm_id: str
    computer_name: str
    custom_data: str | None
    identities: list[str]
    created: float = field(default_factory=time.time)
    leaving: ScheduledEvent | None = None


# Once its event has started, a VM takes this long to be deleted (Azure takes longer): the
# VM is still there, its event `Started`, while the delete runs.
DELETE_SECONDS = 2.0

# Azure takes PT5M to PT15M. The lab also takes a shorter notice (down to five seconds),
# so a test can see NotBefore pass without waiting five minutes; it logs that it did.
SHORT_NOTICE_FLOOR = 5


def _notice_seconds(profile: dict[str, Any]) -> int | None:
    """The terminate notice of a scale set's VM profile, or None when it is off."""
    notice = ((profile.get("scheduledEventsProfile") or {}).get("terminateNotificationProfile") or {})
    if not notice.get("enable"):
        return None
    text = str(notice.get("notBeforeTimeout", "PT5M"))
    m = _DURATION.match(text)
    seconds = (int(m.group(1) or 0) * 60 + int(m.group(2) or 0)) if m and (m.group(1) or m.group(2)) else -1
    if not SHORT_NOTICE_FLOOR <= seconds <= 15 * 60:
        raise ResourceError("InvalidParameter", f"notBeforeTimeout '{text}' must be between PT5M and PT15M.")
    return seconds


class ScaleSets:
    def __init__(self, store: ResourceStore, nodes: NodeManager):
        self.store = store
        self.nodes = nodes
        self.lock = threading.RLock()
        self.vms: dict[str, Vm] = {}  # lower VM id -> Vm
        self.events_incarnation = 1
        self.taken: set[str] = set()

    # --- resource types -----------------------------------------------------------------
    restarted: Any = None  # called with a VM's name when its node has halted for a restart

    def install(self) -> None:
        self.store.register(ResourceType(SETS, self._shape_set))
        self.store.register(ResourceType(VMS, self._refuse_vm_put, deleter=self._delete_request))
        self.store.register(ResourceType(NICS, self._refuse_nic_put))

    def _delete_request(self, rid: str) -> bool:
        return self.delete_vm(rid)

    def _refuse_vm_put(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        raise ResourceError("OperationNotAllowed", "The lab makes VMs through a Flexible scale set's capacity, not one by one.")

    def _refuse_nic_put(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        raise ResourceError("OperationNotAllowed", "The lab makes NICs with a scale set's VMs.")

    def _shape_set(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        props = dict(body.get("properties") or {})
        mode = props.get("orchestrationMode", "Flexible")
        if mode != "Flexible":
            raise ResourceError("InvalidParameter", f"The lab serves Flexible orchestration only, not '{mode}'.")
        sku = dict(body.get("sku") or {})
        capacity = sku.get("capacity", 0)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
            raise ResourceError("InvalidParameter", f"sku.capacity must be an integer from 0 to {MAX_CAPACITY}.")
        profile = props.get("virtualMachineProfile") or {}
        if capacity and not profile:
            raise ResourceError("InvalidParameter", "A scale set with capacity needs a virtualMachineProfile.")
        notice = _notice_seconds(profile)
        if notice is not None and notice < 5 * 60:
            log.warning("scale set %s: a terminate notice of %ds, shorter than Azure allows (PT5M): a lab test's", rid.rsplit("/", 1)[-1], notice)
        self._subnet_of(profile)  # refused now if it names no subnet the lab has
        props.update(orchestrationMode="Flexible", provisioningState="Succeeded",
                     uniqueId=(existing or {}).get("properties", {}).get("uniqueId") or str(uuid.uuid4()))
        props.setdefault("overprovision", False)
        if props.get("overprovision"):
            raise ResourceError("InvalidParameter", "Flexible scale sets do not overprovision.")
        sku.setdefault("name", "Standard_D2s_v5")
        sku["capacity"] = capacity
        shaped = {**body, "sku": sku, "properties": props}
        # The VMs follow once the set is stored (the store's lock is re-entrant).
        threading.Thread(target=self.converge, args=(rid,), daemon=True, name="vmss-converge").start()
        return shaped

    # --- capacity -----------------------------------------------------------------------
    def converge(self, set_id: str) -> None:
        """Makes or removes VMs until the set's VMs match its capacity (VMs leaving on a
        notice do not count)."""
        with self.store.lock, self.lock:
            found = self.store.get(set_id)
            if found is None:
                return
            want = found["sku"]["capacity"]
            members = [v for v in self.vms.values() if v.set_id.lower() == set_id.lower() and v.leaving is None]
            for _ in range(want - len(members)):
                self._add_vm(found)
            surplus = sorted(members, key=lambda v: v.created, reverse=True)[: max(0, len(members) - want)]
        for vm in surplus:
            self.delete_vm(vm.rid, scale_in=True)

    def _subnet_of(self, profile: dict[str, Any]) -> tuple[str, ipaddress.IPv4Network] | None:
        configs = ((profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or [])
        for nic in configs:
            for ip in (nic.get("properties") or {}).get("ipConfigurations") or []:
                subnet_id = (((ip.get("properties") or {}).get("subnet") or {}).get("id"))
                if not subnet_id:
                    continue
                vnet = self.store.get(subnet_id.rsplit("/subnets/", 1)[0])
                subnet = next((s for s in (vnet or {}).get("properties", {}).get("subnets", [])
                               if s["id"].lower() == subnet_id.lower()), None)
                if subnet is None:
                    raise ResourceError("InvalidResourceReference", f"Subnet {subnet_id} referenced by the scale set was not found.")
                prefix = subnet["properties"].get("addressPrefix")
                try:
                    return subnet_id, ipaddress.IPv4Network(str(prefix))
                except ValueError:
                    raise ResourceError("InvalidParameter", f"The subnet {subnet_id} has no usable addressPrefix ({prefix}).") from None
        if profile:
            raise ResourceError("InvalidParameter", "The VM profile's networkProfile names no subnet.")
        return None

    def _free_address(self, subnet: ipaddress.IPv4Network) -> str:
        # Azure keeps the first four addresses of a subnet and its last.
        for host in list(subnet.hosts())[3:-1]:
            text = str(host)
            if text not in self.taken:
                self.taken.add(text)
                return text
        raise ResourceError("SubnetIsFull", f"The subnet {subnet} has no free address left.", 409)

    def _add_vm(self, scale_set: dict[str, Any]) -> None:
        profile = scale_set["properties"].get("virtualMachineProfile") or {}
        found = self._subnet_of(profile)
        if found is None:
            return
        subnet_id, subnet = found
        set_id, set_name = scale_set["id"], scale_set["name"]
        group_id = set_id.split("/providers/", 1)[0]
        name = f"{set_name}_{secrets.token_hex(4)}"
        prefix = str(((profile.get("osProfile") or {}).get("computerNamePrefix")) or set_name[:9])
        computer = f"{prefix}{secrets.token_hex(3)}"
        address = self._free_address(subnet)
        rid = f"{group_id}/providers/{VMS}/{name}"
        nic_id = f"{group_id}/providers/{NICS}/{name}-nic"
        identities = list(((scale_set.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
        vm = Vm(name, rid, set_id, address, str(uuid.uuid4()), computer,
                (profile.get("osProfile") or {}).get("customData"), identities)
        self.vms[rid.lower()] = vm
        self.store.put_internal(nic_id, NICS, {
            "location": scale_set.get("location"),
            "properties": {"provisioningState": "Succeeded", "virtualMachine": {"id": rid},
                           "ipConfigurations": [{"name": "ipconfig1", "id": f"{nic_id}/ipConfigurations/ipconfig1",
                                                 "properties": {"privateIPAddress": address, "primary": True,
                                                                "privateIPAllocationMethod": "Dynamic",
                                                                "subnet": {"id": subnet_id}}}]},
        })
        self.store.put_internal(rid, VMS, {
            "location": scale_set.get("location"),
            "identity": scale_set.get("identity"),
            "properties": {
                "provisioningState": "Succeeded", "vmId": vm.vm_id,
                "virtualMachineScaleSet": {"id": set_id},
                "hardwareProfile": {"vmSize": scale_set["sku"]["name"]},
                "osProfile": {"computerName": computer},
                "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
                "timeCreated": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            },
        })
        self.nodes.launch(name, address)
        log.info("scale set %s: VM %s at %s", set_name, name, address)

    # --- leaving ------------------------------------------------------------------------
    def delete_vm(self, rid: str, scale_in: bool = False) -> bool:
        """A delete as Azure takes it: with the set's terminate notice, the VM is told
        and waits; without one, it goes now. False if there is no such VM."""
        with self.store.lock, self.lock:
            vm = self.vms.get(rid.lower())
            if vm is None:
                return False
            if vm.leaving is not None:
                return True  # already leaving: a repeated delete changes nothing
            scale_set = self.store.get(vm.set_id)
            profile = (scale_set or {}).get("properties", {}).get("virtualMachineProfile") or {}
            notice = _notice_seconds(profile)
            if scale_set is not None and not scale_in:
                # Deleting a Flexible set's VM lowers the set's capacity with it.
                scale_set["sku"]["capacity"] = max(0, scale_set["sku"]["capacity"] - 1)
                self.store.put_internal(vm.set_id, SETS, scale_set)
            if notice is None:
                self._remove(vm, "deleted (no terminate notice configured)")
                return True
            vm.leaving = ScheduledEvent(str(uuid.uuid4()).upper(), "Terminate", vm.name, time.time() + notice)
            self.events_incarnation += 1
            log.info("VM %s: Terminate event %s, not before %ds", vm.name, vm.leaving.event_id, notice)
            return True

    def lose(self, rid: str) -> bool:
        """The VM is gone without notice (a host failure): no event, no wait."""
        with self.store.lock, self.lock:
            vm = self.vms.get(rid.lower())
            if vm is None:
                return False
            scale_set = self.store.get(vm.set_id)
            if scale_set is not None:
                scale_set["sku"]["capacity"] = max(0, scale_set["sku"]["capacity"] - 1)
                self.store.put_internal(vm.set_id, SETS, scale_set)
            self._remove(vm, "lost without notice")
            return True

    def approve(self, vm_name: str, event_ids: list[str]) -> list[str]:
        """IMDS `StartRequests` from the VM: the events of its own it approves."""
        started = []
        with self.lock:
            for vm in self.vms.values():
                ev = vm.leaving
                if vm.name == vm_name and ev is not None and ev.event_id in event_ids and not ev.approved:
                    ev.approved = True
                    started.append(ev.event_id)
            if started:
                self.events_incarnation += 1
        return started

    def events_for(self, vm_name: str) -> tuple[int, list[dict[str, Any]]]:
        with self.lock:
            events = [vm.leaving.as_imds() for vm in self.vms.values()
                      if vm.name == vm_name and vm.leaving is not None]
            return self.events_incarnation, events

    def tick(self) -> None:
        """Deletes go ahead once approved or past NotBefore, one set's at a time in the
        order asked: an unapproved one holds the next back. A started delete takes
        DELETE_SECONDS, then the VM is gone."""
        now = time.time()
        with self.store.lock, self.lock:
            waiting = sorted((v for v in self.vms.values() if v.leaving is not None),
                             key=lambda v: v.leaving.not_before if v.leaving else 0)
            held: set[str] = set()
            for vm in waiting:
                ev = vm.leaving
                assert ev is not None
                key = vm.set_id.lower()
                if ev.status == "Started":
                    held.add(key)
                    if ev.started_at is not None and now - ev.started_at >= DELETE_SECONDS:
                        self._remove(vm, "approved" if ev.approved else "NotBefore passed")
                    continue
                if key in held:
                    continue
                held.add(key)
                if ev.approved or now >= ev.not_before:
                    ev.status, ev.started_at = "Started", now
                    self.events_incarnation += 1

    def _remove(self, vm: Vm, why: str) -> None:
        self.vms.pop(vm.rid.lower(), None)
        self.events_incarnation += 1
        self.nodes.terminate(vm.name)
        self.store.delete(vm.rid)
        self.store.delete(vm.rid.split("/providers/", 1)[0] + f"/providers/{NICS}/{vm.name}-nic")
        self.taken.discard(vm.address)
        log.info("VM %s gone: %s", vm.name, why)

    def report(self) -> list[dict[str, Any]]:
        """Every VM, its scale set, address and what it is doing (for `make lab-status`)."""
        with self.lock:
            return [{"vm": v.name, "scale_set": v.set_id.rsplit("/", 1)[-1], "address": v.address,
                     "state": "running" if v.leaving is None else f"deleting ({v.leaving.status.lower()})",
                     "event": v.leaving.event_id if v.leaving else None,
                     "not_before_s": round(v.leaving.not_before - time.time(), 1) if v.leaving else None,
                     "id": v.rid} for v in sorted(self.vms.values(), key=lambda v: v.created)]

    def by_name(self, name: str) -> Vm | None:
        with self.lock:
            return next((v for v in self.vms.values() if v.name == name), None)

    def restart(self, rid: str) -> bool:
        """A VM restart: its node halts (keeping its data) and boots again. False if there
        is no such VM."""
        vm = self.vm(rid)
        if vm is None:
            return False
        name = vm.name

        def again() -> None:
            self.nodes.stop(name)
            for _ in range(600):
                node = self.nodes.get(name)
                if node is None or node.state == "stopped":
                    break
                time.sleep(0.1)
            if self.restarted is not None:
                self.restarted(name)
            self.nodes.start(name)
            log.info("VM %s restarted", name)

        threading.Thread(target=again, daemon=True, name=f"restart-{name}").start()
        return True

    def by_address(self, address: str) -> Vm | None:
        with self.lock:
            return next((v for v in self.vms.values() if v.address == address), None)

    def vm(self, rid: str) -> Vm | None:
        with self.lock:
            return self.vms.get(rid.lower())
