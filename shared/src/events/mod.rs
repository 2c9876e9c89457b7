//! The events swarmhook's functions are triggered by, as the clouds deliver them.

mod lifecycle_action;
mod queued;

pub use lifecycle_action::{
    LifecycleActionDetail, LifecycleActionEvent, LifecycleTransition, LAUNCH_DETAIL_TYPE,
    TERMINATE_DETAIL_TYPE,
};
pub use queued::{QueuedMessage, ReconcileTrigger, RECONCILE_REQUEST, TEST_NOTIFICATION};
