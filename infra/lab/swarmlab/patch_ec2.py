"""Every EC2 instance moto launches becomes a real Docker node; terminating it halts the node.
And what moto's EC2 lacks for a stack to delete cleanly: route tables that go with it; and
an ingress rule for a protocol without ports (ESP, IP protocol 50), which moto could not
make from a template that gives none (AWS ignores ports for such protocols)."""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.models.security_groups import SecurityGroupIngress

from .nodes import NodeManager

_run = InstanceBackend.run_instances
_terminate = InstanceBackend.terminate_instances
_stop = InstanceBackend.stop_instances
_start = InstanceBackend.start_instances
_ingress_from_cfn = SecurityGroupIngress.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
PORTED_PROTOCOLS = {"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58", "-1"}


def install(nodes: NodeManager) -> None:
    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = _run(self, *args, **kwargs)
        for instance in reservation.instances:
            nodes.launch(instance.id, instance.private_ip_address)
        return reservation

    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        result = _terminate(self, instance_ids)
        for instance, _previous in result:
            nodes.terminate(instance.id)
            # As AWS: a terminated instance's primary interface goes with it (moto keeps it
            # "in-use" unless DeleteOnTermination was given, and the VPC cannot be deleted).
            for index, nic in list(instance.nics.items()):
                if index == 0 and nic.id in self.enis:
                    self.delete_network_interface(nic.id)
        return result

    def stop_instances(self: Any, instance_ids: list[str]) -> Any:
        result = _stop(self, instance_ids)
        for instance, _previous in result:
            nodes.stop(instance.id)
        return result

    def start_instances(self: Any, instance_ids: list[str]) -> Any:
        result = _start(self, instance_ids)
        for instance, _previous in result:
            nodes.start(instance.id)
        return result

    def delete_route_table(self: RouteTable, account_id: str, region_name: str) -> None:
        # moto deletes no AWS::EC2::RouteTable, and a VPC with one left cannot be deleted.
        backend = ec2_backends[account_id][region_name]
        for association_id in list(self.associations):
            backend.disassociate_route_table(association_id)
        backend.delete_route_table(self.id)

    def ingress_from_cfn(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        if str(properties.get("IpProtocol", "")).lower() not in PORTED_PROTOCOLS:
            properties.setdefault("FromPort", -1)
            properties.setdefault("ToPort", -1)
        return _ingress_from_cfn(cls, resource_name, cloudformation_json, *args, **kwargs)

    RouteTable.delete = delete_route_table  # type: ignore[attr-defined]
    SecurityGroupIngress.create_from_cloudformation_json = classmethod(ingress_from_cfn)  # type: ignore[method-assign,assignment]
    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]
    InstanceBackend.terminate_instances = terminate_instances  # type: ignore[method-assign]
    InstanceBackend.stop_instances = stop_instances  # type: ignore[method-assign]
    InstanceBackend.start_instances = start_instances  # type: ignore[method-assign]
