//! The cluster's settings, from the template's parameters.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSettings {
    /// How many workers may join at once (1 = strictly one by one).
    pub worker_join_parallelism: usize,
    /// How long a join lease holds before another instance may take the slot.
    pub lease_seconds: u64,
    /// How long an init claim holds before another manager may take over a bootstrap
    /// whose claimer vanished.
    pub init_claim_seconds: u64,
    /// Heartbeat when a lifecycle action has less than this left.
    pub heartbeat_margin_seconds: u64,
    /// How long a leaving node's tasks get to move elsewhere before it leaves anyway.
    pub drain_seconds: u64,
    /// How many instances one reconcile run may act on (ghosts removed, instances
    /// joined), so that a large cluster's run ends well within the function's timeout.
    pub reconcile_batch: usize,
    /// After a join or a removal, a reconcile runs this many seconds later; the changes
    /// within that window share it (the write that records the change claims it).
    pub reconcile_delay_seconds: u64,
    /// How long a node may be Down or Unreachable while its instance runs before the
    /// instance is marked unhealthy with the cloud (which replaces it through the
    /// terminate hook).
    pub dead_node_seconds: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            worker_join_parallelism: 10,
            lease_seconds: 300,
            init_claim_seconds: 600,
            heartbeat_margin_seconds: 120,
            drain_seconds: 60,
            reconcile_batch: 10,
            reconcile_delay_seconds: 20,
            dead_node_seconds: 180,
        }
    }
}
