//! The queue messages the node agents and the brain's follow-ups write, parsed into the
//! brain's events. A message is a hint: the brain asks the cloud before it acts, and one
//! that is not of ours (or names no valid VM) is an `Event::Malformed`.

use serde::{Deserialize, Serialize};
use swarmhook::events::{Event, LifecycleEvent, ReconcileTrigger, Transition};
use swarmhook::ports::ActionRef;
use swarmhook_azure::arm::valid_vm_name;
use swarmhook_azure::{LEAVING_HOOK, READY_HOOK};

/// What a node agent says of its VM (`node-ready` and `node-leaving` alike), and how many
/// times the handler has put it back for later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMessage {
    pub vm: String,
    pub scale_set: String,
    /// The Scheduled Event a leaving notice is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Deliveries so far, counted by the handler when it puts a message back.
    #[serde(default)]
    pub attempt: u32,
}

/// The longest message the handler reads (a node's message is ~200 bytes).
const MAX_MESSAGE_BYTES: usize = 4096;

pub fn parse_node_message(text: &str) -> Result<NodeMessage, String> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "a message of {} bytes is longer than any node writes",
            text.len()
        ));
    }
    let message: NodeMessage =
        serde_json::from_str(text).map_err(|e| format!("not a node message: {e}"))?;
    if !valid_vm_name(&message.vm) {
        return Err("the message names no valid VM".into());
    }
    if !valid_vm_name(&message.scale_set) {
        return Err("the message names no valid scale set".into());
    }
    Ok(message)
}

/// The brain's event for a node message on `hook`'s queue.
pub fn node_event(text: &str, hook: &'static str) -> (Event, Option<NodeMessage>) {
    match parse_node_message(text) {
        Err(why) => (Event::Malformed(why), None),
        Ok(message) => {
            let transition = if hook == LEAVING_HOOK {
                Transition::Terminating
            } else {
                debug_assert_eq!(hook, READY_HOOK);
                Transition::Launching
            };
            let event = Event::Lifecycle(LifecycleEvent {
                action: ActionRef {
                    group: message.scale_set.clone(),
                    hook: hook.to_owned(),
                    instance_id: message.vm.clone(),
                    token: message.event_id.clone().unwrap_or_default(),
                },
                transition,
                enters_the_group: true,
                // Nothing on Azure times a join or a leave out: the brain's deadline is
                // its own setting, counted from each delivery.
                began_at_ms: None,
            });
            (event, Some(message))
        }
    }
}

/// A reconcile request's event (the follow-ups' message), or Malformed.
pub fn reconcile_event(text: &str) -> Event {
    if text.trim() == swarmhook_azure::RECONCILE_REQUEST {
        Event::Reconcile(ReconcileTrigger::AfterChange)
    } else {
        Event::Malformed("not a reconcile request".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_messages_become_lifecycle_events() {
        let (event, message) =
            node_event(r#"{"vm":"workers_1a2b","scale_set":"workers"}"#, READY_HOOK);
        let Event::Lifecycle(e) = event else {
            panic!("a lifecycle event")
        };
        assert_eq!(
            (e.action.instance_id.as_str(), e.action.group.as_str()),
            ("workers_1a2b", "workers")
        );
        assert_eq!(e.transition, Transition::Launching);
        assert_eq!(message.map(|m| m.attempt), Some(0));
        let (event, _) = node_event(
            r#"{"vm":"w_1","scale_set":"workers","event_id":"e-1","event_type":"Terminate","attempt":3}"#,
            LEAVING_HOOK,
        );
        let Event::Lifecycle(e) = event else {
            panic!("a lifecycle event")
        };
        assert_eq!(
            (e.transition, e.action.token.as_str()),
            (Transition::Terminating, "e-1")
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"vm":"../x","scale_set":"workers"}"#,
            r#"{"vm":"w 1","scale_set":"workers"}"#,
            r#"{"vm":"w_1","scale_set":"a/b"}"#,
            r#"{"vm":"w_1"}"#,
            &format!(
                r#"{{"vm":"w_1","scale_set":"workers","pad":"{}"}}"#,
                "x".repeat(5000)
            ),
        ] {
            assert!(
                matches!(node_event(bad, READY_HOOK).0, Event::Malformed(_)),
                "{bad}"
            );
        }
        assert_eq!(
            reconcile_event(swarmhook_azure::RECONCILE_REQUEST),
            Event::Reconcile(ReconcileTrigger::AfterChange)
        );
        assert!(matches!(reconcile_event("{}"), Event::Malformed(_)));
    }
}
