//! The events the brain acts on, whatever cloud delivered them. Each trigger parses its
//! cloud's envelope into an `Event` (on AWS: `swarmhook_aws::events`); nothing here knows
//! an envelope's shape.

mod event;

pub use event::{Event, LifecycleEvent, ReconcileTrigger, Transition};
