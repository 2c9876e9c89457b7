"""Every EC2 instance moto launches becomes a real Docker node; terminating it halts the node."""

from __future__ import annotations

from typing import Any

from moto.ec2.models.instances import InstanceBackend

from .nodes import NodeManager

_run = InstanceBackend.run_instances
_terminate = InstanceBackend.terminate_instances
_stop = InstanceBackend.stop_instances
_start = InstanceBackend.start_instances


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

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]
    InstanceBackend.terminate_instances = terminate_instances  # type: ignore[method-assign]
    InstanceBackend.stop_instances = stop_instances  # type: ignore[method-assign]
    InstanceBackend.start_instances = start_instances  # type: ignore[method-assign]
