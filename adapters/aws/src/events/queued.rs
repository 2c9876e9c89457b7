//! What a message on the lifecycle queue can be: a lifecycle action (from EventBridge), the
//! test notification Auto Scaling sends when a hook's notification target is set to the
//! queue (nothing to do), the schedule's tick or a reconcile asked for after a change
//! (reconcile), or something else (malformed: it changes nothing).

use serde_json::Value;
use swarmhook::events::{Event, LifecycleEvent, ReconcileTrigger, Transition};
use swarmhook::ports::ActionRef;

use super::{LifecycleActionEvent, LifecycleTransition};

pub const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";

/// The body the lifecycle function sends itself, delayed, to reconcile soon after a join
/// or a removal (when that change's write claimed the reconcile window).
pub const RECONCILE_REQUEST: &str =
    r#"{"source":"swarmhook","detail-type":"Reconcile Requested","detail":{}}"#;

/// A message on the lifecycle queue, as the brain's event.
pub fn parse_queued(body: &str) -> Event {
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Event::Malformed(format!("not JSON: {e}")),
    };
    let test = |v: &Value| v.as_str() == Some(TEST_NOTIFICATION);
    if test(&value["Event"]) || test(&value["detail"]["LifecycleTransition"]) {
        return Event::Test;
    }
    if value["source"] == "aws.events" && value["detail-type"] == "Scheduled Event" {
        return Event::Reconcile(ReconcileTrigger::Schedule);
    }
    if value["source"] == "swarmhook" && value["detail-type"] == "Reconcile Requested" {
        return Event::Reconcile(ReconcileTrigger::AfterChange);
    }
    match serde_json::from_value::<LifecycleActionEvent>(value) {
        Ok(event) => Event::Lifecycle(lifecycle_event(&event)),
        Err(e) => Event::Malformed(format!("not a lifecycle action event: {e}")),
    }
}

/// The brain's view of a lifecycle action notification.
pub fn lifecycle_event(event: &LifecycleActionEvent) -> LifecycleEvent {
    let d = &event.detail;
    LifecycleEvent {
        action: ActionRef {
            group: d.auto_scaling_group_name.clone(),
            hook: d.lifecycle_hook_name.clone(),
            instance_id: d.ec2_instance_id.clone(),
            token: d.lifecycle_action_token.clone(),
        },
        transition: match d.lifecycle_transition {
            LifecycleTransition::Launching => Transition::Launching,
            LifecycleTransition::Terminating => Transition::Terminating,
        },
        enters_the_group: d.lifecycle_transition == LifecycleTransition::Terminating
            || d.enters_the_group(),
        began_at_ms: event.time.map(|t| t.timestamp_millis()),
    }
}
