//! A test fleet: the `lab-fleet.yaml` stack (a group with a launch hook, its lifecycle
//! events on an SQS queue) and what a test does with it.

use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use swarmhook_aws::events::LifecycleActionEvent;

use crate::{unique_name, wait, Lab, LabError};

pub struct Fleet {
    pub lab: Lab,
    pub stack_id: String,
    pub group: String,
    pub queue_url: String,
}

pub struct FleetSpec<'a> {
    /// A /24 of the lab's range that no other test uses: tests share one bridge.
    pub subnet: &'a str,
    pub size: u32,
    pub hook_timeout: u32,
    pub default_result: &'a str,
    /// Also create a terminate hook named `leave` as an `AWS::AutoScaling::LifecycleHook`.
    pub terminate_hook_resource: bool,
}

impl<'a> FleetSpec<'a> {
    /// `size` instances in `subnet`, held by a launch hook that waits 10 minutes and then
    /// abandons them; no terminate hook.
    pub fn new(subnet: &'a str, size: u32) -> Self {
        FleetSpec {
            subnet,
            size,
            hook_timeout: 600,
            default_result: "ABANDON",
            terminate_hook_resource: false,
        }
    }
}

impl Fleet {
    pub async fn launch(lab: &Lab, spec: FleetSpec<'_>) -> Result<Fleet, LabError> {
        let name = unique_name("fleet");
        let size = spec.size.to_string();
        let timeout = spec.hook_timeout.to_string();
        let stack_id = lab
            .create_stack(
                &name,
                "fleet.yaml",
                &[
                    ("SubnetCidr", spec.subnet),
                    ("GroupSize", &size),
                    ("HookTimeout", &timeout),
                    ("HookDefaultResult", spec.default_result),
                    (
                        "TerminateHookResource",
                        if spec.terminate_hook_resource {
                            "yes"
                        } else {
                            "no"
                        },
                    ),
                ],
            )
            .await?;
        let status = lab.settled_status(&stack_id).await?;
        if status != "CREATE_COMPLETE" {
            return Err(LabError::Unexpected(format!(
                "fleet stack {name}: {status}"
            )));
        }
        let outputs = lab.stack_outputs(&stack_id).await?;
        let output = |k: &str| {
            outputs
                .get(k)
                .cloned()
                .ok_or_else(|| LabError::Unexpected(format!("fleet stack has no output {k}")))
        };
        Ok(Fleet {
            lab: lab.clone(),
            stack_id,
            group: output("GroupName")?,
            queue_url: output("EventQueueUrl")?,
        })
    }

    /// (instance id, lifecycle state) of every instance the group has.
    pub async fn instances(&self) -> Result<Vec<(String, LifecycleState)>, LabError> {
        self.lab.group_instances(&self.group).await
    }

    pub async fn state_of(&self, instance_id: &str) -> Result<Option<LifecycleState>, LabError> {
        Ok(self
            .instances()
            .await?
            .into_iter()
            .find(|(id, _)| id == instance_id)
            .map(|(_, s)| s))
    }

    /// Waits until the instance is in `want` (None: no longer in the group).
    pub async fn wait_state(
        &self,
        instance_id: &str,
        want: Option<LifecycleState>,
    ) -> Result<(), LabError> {
        let what = format!("{instance_id} to be {want:?}");
        wait::until(&what, Duration::from_secs(120), || async {
            let state = self.state_of(instance_id).await?;
            Ok(((state == want).then_some(()), format!("{state:?}")))
        })
        .await
    }

    /// Receives (and deletes) lifecycle events from the fleet's queue until `n` have come.
    pub async fn events(&self, n: usize) -> Result<Vec<LifecycleActionEvent>, LabError> {
        self.lab.take_messages(&self.queue_url, n).await
    }

    /// The group's hooks as (name, transition).
    pub async fn hooks(&self) -> Result<Vec<(String, String)>, LabError> {
        let out = self
            .lab
            .autoscaling()
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(&self.group)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeLifecycleHooks", e))?;
        let mut hooks: Vec<(String, String)> = out
            .lifecycle_hooks()
            .iter()
            .filter_map(|h| {
                Some((
                    h.lifecycle_hook_name()?.to_owned(),
                    h.lifecycle_transition()?.to_owned(),
                ))
            })
            .collect();
        hooks.sort();
        Ok(hooks)
    }

    pub async fn set_desired(&self, n: i32) -> Result<(), LabError> {
        self.lab
            .autoscaling()
            .set_desired_capacity()
            .auto_scaling_group_name(&self.group)
            .desired_capacity(n)
            .send()
            .await
            .map_err(|e| LabError::aws("SetDesiredCapacity", e))?;
        Ok(())
    }

    /// Completes the instance's pending action on `hook` (by instance id).
    pub async fn complete(
        &self,
        hook: &str,
        instance_id: &str,
        result: &str,
    ) -> Result<(), LabError> {
        self.lab
            .autoscaling()
            .complete_lifecycle_action()
            .auto_scaling_group_name(&self.group)
            .lifecycle_hook_name(hook)
            .instance_id(instance_id)
            .lifecycle_action_result(result)
            .send()
            .await
            .map_err(|e| LabError::aws("CompleteLifecycleAction", e))?;
        Ok(())
    }

    /// Launches `size` instances and lets each one in (CONTINUE), waiting for its node.
    pub async fn admit_all(&self, size: usize) -> Result<Vec<String>, LabError> {
        let events = self.events(size).await?;
        let mut ids = Vec::new();
        for e in events {
            let id = e.detail.ec2_instance_id.clone();
            self.complete(&e.detail.lifecycle_hook_name, &id, "CONTINUE")
                .await?;
            self.wait_state(&id, Some(LifecycleState::InService))
                .await?;
            self.lab.wait_online(&id).await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// The instance's private IP.
    pub async fn private_ip(&self, instance_id: &str) -> Result<String, LabError> {
        self.lab.private_ip(instance_id).await
    }

    /// Deletes the fleet's stack (its group's instances and nodes go with it).
    pub async fn delete(self) -> Result<(), LabError> {
        self.lab.delete_stack(&self.stack_id).await
    }
}
