//! What a message on the lifecycle queue can be: a lifecycle action (from EventBridge), the
//! test notification Auto Scaling sends when a hook's notification target is set to the
//! queue (nothing to do), the schedule's tick or a reconcile asked for after a change
//! (reconcile), or something else (malformed: it changes nothing).

use serde_json::Value;

use super::LifecycleActionEvent;

pub const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";

/// The body the lifecycle function sends itself, delayed, to reconcile soon after a join
/// or a removal (when that change's write claimed the reconcile window).
pub const RECONCILE_REQUEST: &str =
    r#"{"source":"swarmhook","detail-type":"Reconcile Requested","detail":{}}"#;

/// What asked for a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileTrigger {
    /// The EventBridge schedule's tick.
    Schedule,
    /// A join or a removal a moment ago.
    AfterChange,
}

impl ReconcileTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileTrigger::Schedule => "schedule",
            ReconcileTrigger::AfterChange => "after-change",
        }
    }
}

#[derive(Debug)]
pub enum QueuedMessage {
    Action(Box<LifecycleActionEvent>),
    TestNotification,
    /// An EventBridge schedule's event (`source: aws.events`, `detail-type: Scheduled
    /// Event`), or the function's own `RECONCILE_REQUEST`: time to reconcile.
    Reconcile(ReconcileTrigger),
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
            return QueuedMessage::Reconcile(ReconcileTrigger::Schedule);
        }
        if value["source"] == "swarmhook" && value["detail-type"] == "Reconcile Requested" {
            return QueuedMessage::Reconcile(ReconcileTrigger::AfterChange);
        }
        match serde_json::from_value::<LifecycleActionEvent>(value) {
            Ok(event) => QueuedMessage::Action(Box::new(event)),
            Err(e) => QueuedMessage::Malformed(format!("not a lifecycle action event: {e}")),
        }
    }
}
