//! The brain as a trigger sees it: the cluster's ports and settings, and one call per
//! message.

use crate::events::Event;
use crate::execute::TokenParameters;
use crate::ports::{Balancer, Clock, ClusterStore, Fleet, FollowUps, ManagersRecord, NodeEngine};
use crate::settings::ClusterSettings;

use super::reply::Reply;

/// How a trigger runs the brain, from the template's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerSettings {
    pub cluster: ClusterSettings,
    pub tokens: TokenParameters,
    /// The cluster's two groups: an event for any other group is not ours.
    pub manager_group: String,
    pub worker_group: String,
    /// The lifecycle hooks' heartbeat timeout: how long an action lasts without one.
    pub hook_timeout_seconds: u64,
    /// The first delay before a "not yet" comes back; it doubles with each receive.
    pub retry_seconds: u64,
    /// How long one delivery may pause and look again in-process before a "not yet"
    /// goes back to the queue (0: at once).
    pub wait_seconds: u64,
    /// How long one reconcile run may begin new work.
    pub reconcile_seconds: u64,
}

/// The longest wait between deliveries of a message that is not done yet.
pub(super) const MAX_RETRY_SECONDS: u64 = 60;

/// The delay before the `receives`-th delivery's "not yet" comes back: `base`, doubling
/// with each receive up to `MAX_RETRY_SECONDS`, so a quick "not yet" (an engine a moment
/// from up) is retried quickly and a slow boot costs few deliveries.
pub(super) fn retry_delay(base: u64, receives: u32) -> u64 {
    let doublings = receives.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(MAX_RETRY_SECONDS)
}

/// The cluster's ports, as the trigger built them, and its settings.
pub struct Brain<S, E, F, B, D, Q, C> {
    pub settings: TriggerSettings,
    pub store: S,
    pub engine: E,
    pub fleet: F,
    /// The stack's load balancer, when it has one: reconcile keeps its listeners in line
    /// with the swarm's published ports.
    pub balancer: Option<B>,
    /// The managers' DNS record, when the stack has one: written after each manager's
    /// join or removal, and checked by every reconcile.
    pub managers_record: Option<D>,
    pub follow_ups: Q,
    pub clock: C,
}

impl<S, E, F, B, D, Q, C> Brain<S, E, F, B, D, Q, C>
where
    S: ClusterStore,
    E: NodeEngine,
    F: Fleet,
    B: Balancer,
    D: ManagersRecord,
    Q: FollowUps,
    C: Clock,
{
    /// One message's event, delivered for the `receives`-th time (1 the first).
    pub async fn handle(&self, event: Event, receives: u32) -> Reply {
        // Both are boxed: their futures nest the planners' drives, too deep for the
        // compiler's layout otherwise.
        match event {
            Event::Lifecycle(event) => Box::pin(self.lifecycle(event, receives)).await,
            Event::Reconcile(trigger) => Box::pin(self.reconcile(trigger)).await,
            Event::Test => {
                tracing::info!("the cloud's test notification: nothing to do");
                Reply::done()
            }
            Event::Malformed(why) => {
                // Not an event of ours: change nothing. Retrying cannot help, so it goes
                // straight to the dead-letter queue for a person to look at.
                tracing::error!(%why, "malformed event: moving it to the dead-letter queue");
                Reply::dead_letter(format!("malformed: {why}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_back_off_to_a_minute() {
        let delays: Vec<u64> = (1..=8).map(|n| retry_delay(2, n)).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(2, 0), 2);
        assert_eq!(retry_delay(2, u32::MAX), 60);
    }
}
