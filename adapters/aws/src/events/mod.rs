//! The envelopes AWS delivers the lifecycle function's events in (EventBridge lifecycle
//! action notifications, Auto Scaling's test notification, the schedule's tick, the
//! function's own reconcile request, all on one SQS queue), parsed into the brain's
//! cloud-neutral `swarmhook::events::Event`.

mod lifecycle_action;
mod queued;

pub use lifecycle_action::{
    LifecycleActionDetail, LifecycleActionEvent, LifecycleTransition, LAUNCH_DETAIL_TYPE,
    TERMINATE_DETAIL_TYPE,
};
pub use queued::{lifecycle_event, parse_queued, RECONCILE_REQUEST, TEST_NOTIFICATION};
