"""CloudFormation, extended: custom resources that go to the real function and hold the
stack until they answer (custom_resources.py), stack operations that wait for them,
Network Load Balancers (moto ignores the LoadBalancer's Type; `LoadBalancerFullName`),
a stack's resources listed without the ones a false condition left out (moto listed them
as None and DescribeStackResource failed on them),
`Fn::FindInMap` keyed by a Number parameter (moto looks the number up, and a mapping's
keys are text), and Auto Scaling groups deleted as CloudFormation deletes them: a stack
delete first takes each group's minimum, maximum and desired capacity to 0 and waits
until its instances are gone (their terminate hooks run), and only then deletes the
resources that depend on nothing left (the custom resources, then the rest)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.custom_model import CustomModel
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.cloudformation.models import Stack, cloudformation_backends
from moto.elbv2.models import FakeLoadBalancer, elbv2_backends

from .custom_resources import CustomRequest, CustomResources, backend_of
from .lifecycle import REGISTRY

log = logging.getLogger("swarmlab.cfn")


@dataclass
class StackOperation:
    """One stack operation (CREATE, UPDATE, DELETE, ROLLBACK) waiting on custom resources."""

    stack: Stack
    kind: str
    outstanding: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    started: bool = False
    # (resource, its properties before this operation) for every Update sent: what an
    # update rollback sends back.
    updated: list[tuple[CustomModel, dict[str, Any]]] = field(default_factory=list)
    # A delete's Auto Scaling groups still holding instances (taken to 0, not yet empty).
    draining: list[FakeAutoScalingGroup] = field(default_factory=list)


class StackOperations:
    def __init__(self, customs: CustomResources):
        self.customs = customs
        self.ops: dict[str, StackOperation] = {}

    def current(self, stack: Stack) -> StackOperation:
        op = self.ops.get(stack.stack_id)
        if op is None:
            kind = "UPDATE" if stack.status.startswith("UPDATE") else "CREATE"
            op = self.ops[stack.stack_id] = StackOperation(stack, kind)
        return op

    def begin(self, stack: Stack, kind: str) -> StackOperation:
        op = self.ops[stack.stack_id] = StackOperation(stack, kind)
        return op

    def send(self, model: CustomModel, stack: Stack, request_type: str, old_properties: dict[str, Any] | None = None) -> None:
        op = self.current(stack)
        req = self.customs.send(
            stack, request_type, model.logical_id, model.lab_resource_type, model.lab_properties,
            on_answer=lambda r: self._answered(op, model, r, old_properties),
            physical_id=None if request_type == "Create" else model.physical_resource_id,
            old_properties=old_properties,
        )
        op.outstanding.add(req.request_id)

    def settle_if_idle(self, stack: Stack) -> None:
        op = self.ops.get(stack.stack_id)
        if op is not None:
            op.started = True
            if not op.outstanding:
                self._finish(op)

    def _answered(self, op: StackOperation, model: CustomModel, req: CustomRequest, old_properties: dict[str, Any] | None) -> None:
        op.outstanding.discard(req.request_id)
        if req.request_type == "Update" and old_properties is not None:
            op.updated.append((model, old_properties))
        if req.status == "SUCCESS":
            if req.request_type == "Delete":
                model.lab_deleted = True
            else:
                model.lab_physical_id = req.answer_physical_id
                model.set_data(req.data)
        else:
            op.failures.append(f"{model.logical_id}: {req.reason or 'FAILED'}")
            if req.request_type == "Create":
                model.lab_physical_id = req.answer_physical_id or model.lab_physical_id
                model.lab_attempted = True
        if op.kind == "CREATE" and op.failures and not op.outstanding:
            self._rollback(op.stack)
            return
        if op.started and not op.outstanding:
            self._finish(op)

    def _finish(self, op: StackOperation) -> None:
        stack = op.stack
        self.ops.pop(stack.stack_id, None)
        if op.kind == "CREATE":
            self.verify_created(stack)
        elif op.kind == "UPDATE":
            if op.failures:
                # As AWS: every custom resource this update touched gets an Update back to
                # its previous properties. (Resources moto updated itself stay updated.)
                stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason="; ".join(op.failures))
                stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
                self.begin(stack, "UPDATE_ROLLBACK")
                for model, previous in op.updated:
                    current = model.lab_properties
                    model.lab_properties = previous
                    model._finished = False
                    self.send(model, stack, "Update", old_properties=current)
                self.settle_if_idle(stack)
            else:
                stack._add_stack_event("UPDATE_COMPLETE")
                stack.status = "UPDATE_COMPLETE"
        elif op.kind == "UPDATE_ROLLBACK":
            status = "UPDATE_ROLLBACK_FAILED" if op.failures else "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event(status, resource_status_reason="; ".join(op.failures) or None)
            stack.status = status
        elif op.kind in ("DELETE", "ROLLBACK"):
            ok_status = "DELETE_COMPLETE" if op.kind == "DELETE" else "ROLLBACK_COMPLETE"
            bad_status = "DELETE_FAILED" if op.kind == "DELETE" else "ROLLBACK_FAILED"
            if op.failures:
                stack._add_stack_event(bad_status, resource_status_reason="; ".join(op.failures))
                stack.status = bad_status
                if op.kind == "DELETE":
                    backend = backend_of(stack)
                    backend.deleted_stacks.pop(stack.stack_id, None)
                    backend.stacks[stack.stack_id] = stack
                return
            try:
                stack.lab_deleting = True
                stack.resource_map.delete()
                stack._add_stack_event(ok_status)
                stack.status = ok_status
            except Exception as exc:
                stack._add_stack_event(bad_status, resource_status_reason=str(exc))
                stack.status = bad_status

    @staticmethod
    def verify_created(stack: Stack) -> None:
        """CREATE_COMPLETE once every resource is; outputs then see the physical ids the
        custom resources answered with (moto evaluates them before any answer)."""
        stack.output_map = stack._create_output_map()
        stack.verify_readiness()

    def _rollback(self, stack: Stack) -> None:
        self.rollback(stack, "The following resource(s) failed to create: "
                      + ", ".join(m.logical_id for m in stack.custom_resources.values() if getattr(m, "lab_attempted", False)))

    def rollback(self, stack: Stack, reason: str) -> None:
        """A failed create: custom resources get Delete, then the stack's resources go."""
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        stack.status = "ROLLBACK_IN_PROGRESS"
        self._delete_customs(stack, "ROLLBACK")

    def delete_stack(self, stack: Stack) -> None:
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.status = "DELETE_IN_PROGRESS"
        groups = [r for r in stack.resource_map._parsed_resources.values() if isinstance(r, FakeAutoScalingGroup)]
        if not groups:
            self._delete_customs(stack, "DELETE")
            return
        # As CloudFormation: each group goes to 0 (its instances leave through their
        # terminate hooks); what the groups depend on is deleted once they are empty.
        op = self.begin(stack, "DELETE")
        for group in groups:
            log.info("stack %s deleting: group %s to 0 (%d instances)", stack.name, group.name, len(group.instance_states))
            group.min_size = 0
            group.max_size = 0
            REGISTRY.converge(group, 0)
        op.draining = groups

    def tick(self) -> None:
        """A delete moves on once its groups are empty."""
        for op in list(self.ops.values()):
            if op.kind != "DELETE" or not op.draining:
                continue
            op.draining = [g for g in op.draining if g.instance_states]
            if not op.draining:
                log.info("stack %s deleting: its groups are empty", op.stack.name)
                self._delete_customs(op.stack, "DELETE")

    def _delete_customs(self, stack: Stack, kind: str) -> None:
        op = self.begin(stack, kind)
        for model in list(stack.custom_resources.values()):
            created = model.is_created() or getattr(model, "lab_attempted", False)
            if created and not getattr(model, "lab_deleted", False):
                self.send(model, stack, "Delete")
        self.settle_if_idle(stack)


def install(customs: CustomResources) -> StackOperations:
    ops = StackOperations(customs)

    def create_custom(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> CustomModel:
        stack = cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"])
        model = CustomModel(region_name, "", kwargs["LogicalId"], resource_name)
        model.lab_properties = dict(cloudformation_json["Properties"])
        model.lab_resource_type = kwargs["ResourceType"]
        model.lab_stack_id = stack.stack_id
        stack.add_custom_resource(model)
        ops.send(model, stack, "Create")
        return model

    def update_custom(cls: Any, original_resource: CustomModel, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> CustomModel:
        stack = cloudformation_backends[account_id][region_name].get_stack(original_resource.lab_stack_id)
        old = original_resource.lab_properties
        original_resource.lab_properties = dict(cloudformation_json["Properties"])
        original_resource._finished = False
        ops.send(original_resource, stack, "Update", old_properties=old)
        return original_resource

    def delete_custom(self: CustomModel, account_id: str, region_name: str) -> None:
        stack = cloudformation_backends[account_id][region_name].get_stack(self.lab_stack_id)
        if getattr(stack, "lab_deleting", False) or getattr(self, "lab_deleted", False):
            return  # already answered Delete, before moto deletes the stack's other resources
        ops.send(self, stack, "Delete")  # removed from the template by a stack update

    def stack_update(self: Stack, template: str, role_arn: str | None = None, parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
        self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        self.status = "UPDATE_IN_PROGRESS"
        ops.begin(self, "UPDATE")
        self.template = template
        self._parse_template()
        self.resource_map.update(self.template_dict, parameters)
        self.output_map = self._create_output_map()
        self.role_arn = role_arn
        if parameters:
            self.parameters = parameters
        if tags is not None:
            self.tags = tags
        ops.settle_if_idle(self)

    original_create_resources = Stack.create_resources

    def stack_create_resources(self: Stack) -> None:
        original_create_resources(self)
        ops.settle_if_idle(self)

    def stack_delete(self: Stack) -> None:
        ops.delete_stack(self)

    def load_balancer_from_cfn(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any) -> FakeLoadBalancer:
        props = cloudformation_json["Properties"]
        return elbv2_backends[account_id][region_name].create_load_balancer(
            resource_name,
            props.get("SecurityGroups"),
            props.get("Subnets"),
            scheme=props.get("Scheme", "internet-facing"),
            loadbalancer_type=props.get("Type", "application"),
        )

    moto_load_balancer_attribute = FakeLoadBalancer.get_cfn_attribute

    def load_balancer_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]  # net/<name>/<id>
        return moto_load_balancer_attribute(self, attribute_name)

    moto_clean_json = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        """As moto's, but a FindInMap key is looked up as text, as CloudFormation does
        (a Number parameter's value is the text it was given)."""
        if isinstance(resource_json, dict) and "Fn::FindInMap" in resource_json:
            name, *path = resource_json["Fn::FindInMap"]
            result = resources_map[moto_clean_json(name, resources_map)]
            for key in path:
                key = moto_clean_json(key, resources_map)
                if isinstance(key, float) and key.is_integer():
                    key = int(key)
                result = result[str(key)]
            return result
        return moto_clean_json(resource_json, resources_map)

    # moto's clean_json recurses through the module's name, so nested uses see this too.
    parsing.clean_json = clean_json  # type: ignore[assignment]
    CustomModel.create_from_cloudformation_json = classmethod(create_custom)  # type: ignore[method-assign,assignment]
    CustomModel.update_from_cloudformation_json = classmethod(update_custom)  # type: ignore[method-assign,assignment]
    CustomModel.delete = delete_custom  # type: ignore[attr-defined]
    CustomModel.physical_resource_id = property(lambda self: getattr(self, "lab_physical_id", None) or self.resource_name)  # type: ignore[assignment]
    Stack.create_resources = stack_create_resources  # type: ignore[method-assign]
    Stack.update = stack_update  # type: ignore[method-assign]
    Stack.delete = stack_delete  # type: ignore[method-assign]
    Stack.stack_resources = property(lambda self: [r for r in self.resource_map.values() if r is not None])  # type: ignore[method-assign,assignment]
    FakeLoadBalancer.create_from_cloudformation_json = classmethod(load_balancer_from_cfn)  # type: ignore[method-assign,assignment]
    FakeLoadBalancer.get_cfn_attribute = load_balancer_attribute  # type: ignore[method-assign]
    return ops
