//! The fleet port over Auto Scaling and EC2.

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_autoscaling::types::LifecycleState;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::retry::ProvideErrorKind;
use swarmhook::cluster::{GroupMember, MemberState, Role};
use swarmhook::plan::LifecycleResult;
use swarmhook::ports::{ActionOutcome, ActionRef, Fleet, InstanceFacts, PortError};

use crate::error::{code_of, port_error};

pub struct AutoScalingFleet {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    manager_group: String,
    worker_group: String,
    signals: Option<StackSignals>,
    /// Per role (manager, worker): the stack said its group waits for no more signals.
    signals_done: [AtomicBool; 2],
}

/// Where the groups' resource signals go: the stack, and each group's logical id in it.
pub struct StackSignals {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub stack: String,
    pub manager_resource: String,
    pub worker_resource: String,
}

impl AutoScalingFleet {
    pub fn new(
        autoscaling: aws_sdk_autoscaling::Client,
        ec2: aws_sdk_ec2::Client,
        manager_group: impl Into<String>,
        worker_group: impl Into<String>,
    ) -> Self {
        AutoScalingFleet {
            autoscaling,
            ec2,
            manager_group: manager_group.into(),
            worker_group: worker_group.into(),
            signals: None,
            signals_done: [AtomicBool::new(false), AtomicBool::new(false)],
        }
    }

    /// Signals each instance's group in `signals.stack` once the instance serves (none
    /// sent when None).
    pub fn with_stack_signals(mut self, signals: Option<StackSignals>) -> Self {
        self.signals = signals;
        self
    }

    fn role_of(&self, group: &str) -> Option<Role> {
        if group == self.manager_group {
            Some(Role::Manager)
        } else if group == self.worker_group {
            Some(Role::Worker)
        } else {
            None
        }
    }
}

impl Fleet for AutoScalingFleet {
    async fn members(&self) -> Result<Vec<GroupMember>, PortError> {
        let mut members = Vec::new();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.manager_group)
            .auto_scaling_group_names(&self.worker_group)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                port_error(
                    "DescribeAutoScalingGroups",
                    &format!("{} and {}", self.manager_group, self.worker_group),
                    e,
                )
            })?;
            for group in page.auto_scaling_groups() {
                let Some(role) = group
                    .auto_scaling_group_name()
                    .and_then(|g| self.role_of(g))
                else {
                    continue;
                };
                for instance in group.instances() {
                    let (Some(id), Some(state)) =
                        (instance.instance_id(), instance.lifecycle_state())
                    else {
                        continue;
                    };
                    // Terminated: gone, the group no longer holds it.
                    let Some(state) = member_state(state) else {
                        continue;
                    };
                    members.push(GroupMember {
                        instance_id: id.to_owned(),
                        role,
                        state,
                        placement: instance.availability_zone().map(str::to_owned),
                        cloud_state: Some(
                            instance
                                .lifecycle_state()
                                .map_or("", |s| s.as_str())
                                .to_owned(),
                        ),
                    });
                }
            }
        }
        Ok(members)
    }

    async fn swarm_deleting(&self) -> Result<bool, PortError> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.manager_group)
            .send()
            .await
            .map_err(|e| port_error("DescribeAutoScalingGroups", &self.manager_group, e))?;
        let Some(group) = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(self.manager_group.as_str()))
        else {
            return Ok(true);
        };
        // `Status` is set only while DeleteAutoScalingGroup is in progress; CloudFormation
        // deletes a group by taking its minimum, desired and maximum to 0 first.
        let deleting = group.status().is_some_and(|s| !s.is_empty());
        let no_room = group.min_size() == Some(0)
            && group.desired_capacity() == Some(0)
            && group.max_size() == Some(0);
        Ok(deleting || no_room)
    }

    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, PortError> {
        let asg = self
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| port_error("DescribeAutoScalingInstances", instance_id, e))?;
        let listed = asg.auto_scaling_instances().first();
        let group = listed
            .and_then(|i| i.auto_scaling_group_name())
            .map(str::to_owned);
        let role = group.as_deref().and_then(|g| self.role_of(g));
        let lifecycle = listed
            .and_then(|i| i.lifecycle_state())
            .and_then(|s| member_state(&LifecycleState::from(s)))
            .filter(|_| role.is_some());
        // A worker its group holds exists, and joins without its address: no EC2 call.
        // A manager's address is what it advertises; an instance in neither group may
        // still run (detached), which only EC2 can tell.
        if let (Some(Role::Worker), Some(_)) = (role, lifecycle) {
            return Ok(Some(InstanceFacts {
                role,
                lifecycle,
                address: None,
            }));
        }
        let ec2 = self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await;
        let instance = match ec2 {
            Ok(out) => out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .next()
                .cloned(),
            Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => None,
            Err(e) => return Err(port_error("DescribeInstances", instance_id, e)),
        };
        let Some(instance) = instance else {
            return Ok(None);
        };
        let terminated = instance
            .state()
            .and_then(|s| s.name())
            .is_some_and(|n| n.as_str() == "terminated" || n.as_str() == "shutting-down");
        if terminated {
            return Ok(None);
        }
        Ok(Some(InstanceFacts {
            role,
            lifecycle,
            address: instance.private_ip_address().map(str::to_owned),
        }))
    }

    async fn complete(
        &self,
        action: &ActionRef,
        result: LifecycleResult,
    ) -> Result<ActionOutcome, PortError> {
        let result = match result {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        };
        let sent = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_token(&action.token)
            .lifecycle_action_result(result)
            .send()
            .await;
        action_outcome(sent, "CompleteLifecycleAction", &action.instance_id)
    }

    async fn heartbeat(&self, action: &ActionRef) -> Result<ActionOutcome, PortError> {
        let sent = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_token(&action.token)
            .send()
            .await;
        action_outcome(sent, "RecordLifecycleActionHeartbeat", &action.instance_id)
    }

    async fn mark_unhealthy(&self, instance_id: &str) -> Result<(), PortError> {
        let sent = self
            .autoscaling
            .set_instance_health()
            .instance_id(instance_id)
            .health_status("Unhealthy")
            // A node dead for minutes is past any grace period of its launch.
            .should_respect_grace_period(false)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // No group holds it any more: it is gone or going already.
            Err(e) if code_of(&e) == Some("ValidationError") => {
                tracing::info!(instance_id, "no group holds the instance any more");
                Ok(())
            }
            Err(e) => Err(port_error("SetInstanceHealth", instance_id, e)),
        }
    }

    async fn signal_ready(&self, instance_id: &str, role: Role) -> Result<(), PortError> {
        let Some(signals) = &self.signals else {
            return Ok(());
        };
        // Once the stack has said the group waits for no signal (it is created), no join
        // signals again for as long as this process lives: one call, not one per join.
        let done = &self.signals_done[usize::from(role == Role::Worker)];
        if done.load(Ordering::Relaxed) {
            return Ok(());
        }
        let resource = match role {
            Role::Manager => &signals.manager_resource,
            Role::Worker => &signals.worker_resource,
        };
        let sent = signals
            .cloudformation
            .signal_resource()
            .stack_name(&signals.stack)
            .logical_resource_id(resource)
            .unique_id(instance_id)
            .status(aws_sdk_cloudformation::types::ResourceSignalStatus::Success)
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(instance_id, resource = %resource, "signalled the stack");
                Ok(())
            }
            // The group is not waiting for signals (created already, or being updated
            // without them): nothing to tell.
            Err(e) if code_of(&e) == Some("ValidationError") => {
                done.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(port_error("SignalResource", instance_id, e)),
        }
    }
}

/// Where an instance stands in its group; None once it is terminated (gone).
fn member_state(state: &LifecycleState) -> Option<MemberState> {
    Some(match state {
        LifecycleState::Terminated => return None,
        LifecycleState::InService => MemberState::InService,
        LifecycleState::Pending | LifecycleState::PendingWait | LifecycleState::PendingProceed => {
            MemberState::Pending
        }
        LifecycleState::Terminating
        | LifecycleState::TerminatingWait
        | LifecycleState::TerminatingProceed => MemberState::Terminating,
        _ => MemberState::Other,
    })
}

/// Done, or NotPending when Auto Scaling answers ValidationError (no such action waits:
/// completed already, timed out, or the instance is gone).
fn action_outcome<T, E>(
    sent: Result<T, aws_sdk_autoscaling::error::SdkError<E, HttpResponse>>,
    operation: &'static str,
    instance_id: &str,
) -> Result<ActionOutcome, PortError>
where
    E: aws_sdk_autoscaling::error::ProvideErrorMetadata
        + ProvideErrorKind
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    match sent {
        Ok(_) => Ok(ActionOutcome::Done),
        Err(e) if code_of(&e) == Some("ValidationError") => Ok(ActionOutcome::NotPending),
        Err(e) => Err(port_error(operation, instance_id, e)),
    }
}
