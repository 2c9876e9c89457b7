"""Wires lifecycle.py into moto's Auto Scaling API and CloudFormation resources."""

from __future__ import annotations

from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, autoscaling_backends, make_int
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.common_models import CloudFormationModel
from moto.core.responses import EmptyResult

from .lifecycle import REGISTRY, RESULTS, TRANSITIONS


def _put_hook(backend: AutoScalingBackend, group_name: str, spec: dict[str, Any]) -> Any:
    transition = spec.get("LifecycleTransition")
    if transition not in TRANSITIONS:
        raise ValidationError(f"Invalid LifecycleTransition {transition!r}: must be one of {', '.join(TRANSITIONS)}")
    default_result = spec.get("DefaultResult") or "ABANDON"
    if default_result not in RESULTS:
        raise ValidationError(f"Invalid DefaultResult {default_result!r}: must be CONTINUE or ABANDON")
    timeout = make_int(spec.get("HeartbeatTimeout")) or 3600
    if not 30 <= timeout <= 7200:
        raise ValidationError("HeartbeatTimeout must be between 30 and 7200 seconds")
    hook = backend.create_lifecycle_hook(
        name=spec["LifecycleHookName"], as_name=group_name, transition=transition, timeout=timeout, result=default_result
    )
    hook.notification_metadata = spec.get("NotificationMetadata")
    if spec.get("NotificationTargetARN"):
        hook.notification_target_arn = spec["NotificationTargetARN"]
    if spec.get("RoleARN"):
        hook.role_arn = spec["RoleARN"]
    return hook


# --- the group's capacity goes through lifecycle hooks ---------------------------------------

def _set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    REGISTRY.converge(self, new_capacity)


def _active_instances(self: FakeAutoScalingGroup) -> list[Any]:
    return [s for s in self.instance_states if s.lifecycle_state == "InService"]


def _update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
    # Only InService instances are registered (moto registers every instance at once).
    REGISTRY.refresh_targets(self.autoscaling_groups[group_name])


def _notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
    for group in list(self.autoscaling_groups.values()):
        for state in [s for s in group.instance_states if s.instance.id in instance_ids]:
            REGISTRY.instance_vanished(group, state.instance.id)


def _terminate_instance(self: AutoScalingBackend, instance_id: str, should_decrement: bool) -> Any:
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    group = state.auto_scaling_group
    original_size = group.desired_capacity
    if state.lifecycle_state.startswith("Terminating"):
        return asg_models.TerminateInstanceActivity(state.instance, original_size)
    if should_decrement:
        if group.desired_capacity - 1 < (group.min_size or 0):
            raise ValidationError(
                f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without "
                "replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity "
                "flag to false or lower group's min size."
            )
        group.desired_capacity -= 1
    REGISTRY.begin_termination(group, state)
    REGISTRY.top_up(group)
    return asg_models.TerminateInstanceActivity(state.instance, original_size)


def _set_instance_health(self: AutoScalingBackend, instance_id: str, health_status: str) -> None:
    """SetInstanceHealth as AWS does it for a group with no instance maintenance policy: an
    InService instance marked Unhealthy is terminated (through its terminate hooks: the
    Terminating:Wait state and the lifecycle event) and a replacement launched at once,
    unless the group's HealthCheck or ReplaceUnhealthy process is suspended. (moto only
    stores the flag.)"""
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    state.health_status = health_status
    group = state.auto_scaling_group
    suspended = set(group._suspended_processes or [])
    if health_status == "Unhealthy" and state.lifecycle_state == "InService" \
            and not suspended & {"HealthCheck", "ReplaceUnhealthy"}:
        REGISTRY.begin_termination(group, state)
        REGISTRY.top_up(group)


_original_delete_group = AutoScalingBackend.delete_auto_scaling_group


def _delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        group.swarmlab_force_delete = True
        for state in group.instance_states:
            for action in REGISTRY.for_instance(state.instance.id):
                REGISTRY.pending.pop(action.token, None)
    _original_delete_group(self, group_name)
    for key in [k for k, h in self.lifecycle_hooks.items() if h.auto_scaling_group_name == group_name]:
        self.lifecycle_hooks.pop(key, None)


# --- the API -------------------------------------------------------------------------------

_original_create_group_response = AutoScalingResponse.create_auto_scaling_group


def _create_auto_scaling_group_response(self: AutoScalingResponse) -> Any:
    # Hooks from LifecycleHookSpecificationList exist before the first instance launches.
    name = self._get_param("AutoScalingGroupName")
    specs = self._get_param("LifecycleHookSpecificationList", []) or []
    if name in self.autoscaling_backend.autoscaling_groups:
        return _original_create_group_response(self)
    created = []
    try:
        for spec in specs:
            created.append(_put_hook(self.autoscaling_backend, name, spec).name)
        return _original_create_group_response(self)
    except Exception:
        for hook_name in created:
            self.autoscaling_backend.delete_lifecycle_hook(name, hook_name)
        raise


def _put_lifecycle_hook(self: AutoScalingResponse) -> Any:
    group_name = self._get_param("AutoScalingGroupName")
    if group_name not in self.autoscaling_backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{group_name}' not found")
    spec = {
        k: self._get_param(k)
        for k in (
            "LifecycleHookName", "LifecycleTransition", "HeartbeatTimeout", "DefaultResult",
            "NotificationMetadata", "NotificationTargetARN", "RoleARN",
        )
    }
    _put_hook(self.autoscaling_backend, group_name, spec)
    return EmptyResult()


def _complete_lifecycle_action(self: AutoScalingResponse) -> Any:
    REGISTRY.complete(
        group_name=self._get_param("AutoScalingGroupName"),
        hook_name=self._get_param("LifecycleHookName"),
        result=self._get_param("LifecycleActionResult"),
        token=self._get_param("LifecycleActionToken"),
        instance_id=self._get_param("InstanceId"),
    )
    return EmptyResult()


def _record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> Any:
    REGISTRY.heartbeat(
        group_name=self._get_param("AutoScalingGroupName"),
        hook_name=self._get_param("LifecycleHookName"),
        token=self._get_param("LifecycleActionToken"),
        instance_id=self._get_param("InstanceId"),
    )
    return EmptyResult()


# --- CloudFormation ------------------------------------------------------------------------

_original_group_from_cfn = FakeAutoScalingGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _group_from_cfn(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> Any:
    backend = autoscaling_backends[account_id][region_name]
    for spec in cloudformation_json["Properties"].get("LifecycleHookSpecificationList", []) or []:
        _put_hook(backend, resource_name, spec)
    return _original_group_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


def _group_update_from_cfn(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
    """A stack update changes the group in place (moto would replace it and every instance)."""
    props = cloudformation_json["Properties"]
    backend = autoscaling_backends[account_id][region_name]
    name = original_resource.name
    for spec in props.get("LifecycleHookSpecificationList", []) or []:
        _put_hook(backend, name, spec)
    return backend.update_auto_scaling_group(
        name=name,
        availability_zones=props.get("AvailabilityZones", []),
        desired_capacity=make_int(props.get("DesiredCapacity")),
        max_size=make_int(props.get("MaxSize")),
        min_size=make_int(props.get("MinSize")),
        launch_config_name=props.get("LaunchConfigurationName"),
        launch_template=props.get("LaunchTemplate", {}),
        vpc_zone_identifier=",".join(props.get("VPCZoneIdentifier", [])) or None,
        health_check_period=make_int(props.get("HealthCheckGracePeriod")),
        health_check_type=props.get("HealthCheckType"),
        new_instances_protected_from_scale_in=props.get("NewInstancesProtectedFromScaleIn"),
        mixed_instances_policy=props.get("MixedInstancesPolicy") or None,
    )


class LabLifecycleHookResource(CloudFormationModel):
    """AWS::AutoScaling::LifecycleHook, which moto does not create."""

    def __init__(self, group_name: str, hook: Any):
        self.group_name = group_name
        self.hook = hook

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::AutoScaling::LifecycleHook"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "LifecycleHookName"

    @property
    def physical_resource_id(self) -> str:
        return self.hook.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> "LabLifecycleHookResource":  # type: ignore[override]
        props = dict(cloudformation_json["Properties"])
        props.setdefault("LifecycleHookName", resource_name)
        group_name = props["AutoScalingGroupName"]
        hook = _put_hook(autoscaling_backends[account_id][region_name], group_name, props)
        return cls(group_name, hook)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> "LabLifecycleHookResource":  # type: ignore[override]
        props = dict(cloudformation_json["Properties"])
        props.setdefault("LifecycleHookName", original_resource.hook.name)
        hook = _put_hook(autoscaling_backends[account_id][region_name], props["AutoScalingGroupName"], props)
        return cls(props["AutoScalingGroupName"], hook)

    def delete(self, account_id: str, region_name: str) -> None:
        autoscaling_backends[account_id][region_name].delete_lifecycle_hook(self.group_name, self.hook.name)


def install() -> None:
    FakeAutoScalingGroup.set_desired_capacity = _set_desired_capacity  # type: ignore[method-assign]
    FakeAutoScalingGroup.active_instances = _active_instances  # type: ignore[method-assign]
    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(_group_from_cfn)  # type: ignore[method-assign,assignment]
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(_group_update_from_cfn)  # type: ignore[method-assign,assignment]
    AutoScalingBackend.update_attached_target_groups = _update_attached_target_groups  # type: ignore[method-assign]
    AutoScalingBackend.notify_terminate_instances = _notify_terminate_instances  # type: ignore[method-assign]
    AutoScalingBackend.terminate_instance = _terminate_instance  # type: ignore[method-assign]
    AutoScalingBackend.set_instance_health = _set_instance_health  # type: ignore[method-assign]
    AutoScalingBackend.delete_auto_scaling_group = _delete_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingResponse.create_auto_scaling_group = _create_auto_scaling_group_response  # type: ignore[method-assign]
    AutoScalingResponse.put_lifecycle_hook = _put_lifecycle_hook  # type: ignore[method-assign]
    AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = _record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
