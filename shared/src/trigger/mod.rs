//! The one entry a trigger calls: it hands the brain a cloud-neutral event and gets back
//! what to do with the message that carried it (done, again after a delay, or to the
//! dead-letter queue with a reason) and what happened, for its metrics. Routing, the
//! waits in-process, the back-off, dead-lettering decisions and the follow-ups (the
//! managers' record, a reconcile soon after a change) are decided here, once for every
//! cloud; the trigger parses its envelope, builds the adapters, and answers its host.

mod brain;
mod lifecycle;
mod reconcile;
mod reply;

pub use brain::{Brain, TriggerSettings};
pub use reply::{Disposition, Reply, Report};
