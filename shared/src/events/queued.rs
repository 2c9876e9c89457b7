//! What a message on the lifecycle queue can be: a lifecycle action (from EventBridge), the
//! test notification Auto Scaling sends when a hook's notification target is set to the
//! queue (nothing to do), the schedule's tick (reconcile), or something else (malformed:
//! it changes nothing).

use serde_json::Value;

use super::LifecycleActionEvent;

pub const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";

#[derive(Debug)]
pub enum QueuedMessage {
    Action(Box<LifecycleActionEvent>),
    TestNotification,
    /// An EventBridge schedule's event (`source: aws.events`, `detail-type: Scheduled
    /// Event`): time to reconcile.
    Reconcile,
    Malformed(String),
}

impl QueuedMessage {
    pub fn parse(body: &str) -> QueuedMessage {
        let value: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return QueuedMessage::Malformed(format!("not JSON: {e}")),
        };
        let test = |v: &Value| v.as_str() == Some(TEST_NOTIFICATION);
        if test(&value["Event"]) || test(&value["detail"]["LifecycleTransition"]) {
            return QueuedMessage::TestNotification;
        }
        if value["source"] == "aws.events" && value["detail-type"] == "Scheduled Event" {
            return QueuedMessage::Reconcile;
        }
        match serde_json::from_value::<LifecycleActionEvent>(value) {
            Ok(event) => QueuedMessage::Action(Box::new(event)),
            Err(e) => QueuedMessage::Malformed(format!("not a lifecycle action event: {e}")),
        }
    }
}
