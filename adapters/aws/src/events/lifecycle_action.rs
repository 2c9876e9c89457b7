//! The Auto Scaling lifecycle action notification, as EventBridge delivers it
//! ("EC2 Instance-launch Lifecycle Action" / "EC2 Instance-terminate Lifecycle Action").
//! `aws_lambda_events` leaves the `detail` untyped; this is its shape.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};

/// `detail-type` of a launch lifecycle action.
pub const LAUNCH_DETAIL_TYPE: &str = "EC2 Instance-launch Lifecycle Action";
/// `detail-type` of a terminate lifecycle action.
pub const TERMINATE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";

/// A lifecycle action event with its typed detail.
pub type LifecycleActionEvent = EventBridgeEvent<LifecycleActionDetail>;

/// Which way the instance is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleTransition {
    #[serde(rename = "autoscaling:EC2_INSTANCE_LAUNCHING")]
    Launching,
    #[serde(rename = "autoscaling:EC2_INSTANCE_TERMINATING")]
    Terminating,
}

/// The `detail` of a lifecycle action event.
///
/// The token is what completes the action; it identifies the action, it is not a secret
/// of the swarm, but it is still only logged by the instance it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleActionDetail {
    pub lifecycle_action_token: String,
    pub auto_scaling_group_name: String,
    pub lifecycle_hook_name: String,
    #[serde(rename = "EC2InstanceId")]
    pub ec2_instance_id: String,
    pub lifecycle_transition: LifecycleTransition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_metadata: Option<String>,
    /// Where the instance comes from: `EC2`, `AutoScalingGroup` or `WarmPool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Where the instance goes: `AutoScalingGroup`, `EC2` or `WarmPool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl LifecycleActionDetail {
    /// True when a launching instance is headed for the group itself (not a warm pool):
    /// only then does it join the swarm.
    pub fn enters_the_group(&self) -> bool {
        self.lifecycle_transition == LifecycleTransition::Launching
            && self.destination.as_deref().unwrap_or("AutoScalingGroup") == "AutoScalingGroup"
    }
}
