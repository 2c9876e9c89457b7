//! One cloud-neutral event: an instance entering or leaving one of the cluster's groups
//! (with the lifecycle action that waits on it), a reconcile asked for, the cloud testing
//! its wiring, or something that is no event of ours.

use crate::ports::ActionRef;

/// Which way the instance is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Launching,
    Terminating,
}

/// An instance entering or leaving a group, as the cloud announced it (a hint: the brain
/// asks the cloud before it acts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub action: ActionRef,
    pub transition: Transition,
    /// False for a launch into a warm pool (or out of the group): the instance does not
    /// join until it enters the group itself.
    pub enters_the_group: bool,
    /// When the cloud began the transition (milliseconds since the epoch), if it says.
    pub began_at_ms: Option<i64>,
}

/// What asked for a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileTrigger {
    /// The schedule's tick.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Lifecycle(LifecycleEvent),
    Reconcile(ReconcileTrigger),
    /// The cloud checking that its notifications arrive: nothing to do.
    Test,
    /// Not an event of ours, and why: it changes nothing.
    Malformed(String),
}
