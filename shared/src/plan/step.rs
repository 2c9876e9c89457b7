//! The steps the planner can ask for: an observation it needs, or one change. Each
//! change writes conditionally (store) or is idempotent (node scripts), so running one
//! twice does no harm, and each reports what it achieved (the record written, the
//! engine's state after a script), which is what the planner sees next.

use serde::{Deserialize, Serialize};

use crate::cluster::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleResult {
    Continue,
    Abandon,
}

/// What a "not yet" waits on: what a delivery that pauses must read again (and nothing
/// else) before the planner decides once more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitingFor {
    /// The subject's engine or agent: to come up, or a join or an init to settle.
    Engine,
    /// A launched instance's boot: its agent is not expected to take commands before
    /// `until_ms` (the launch's time plus the cluster's learned boot time).
    Boot { until_ms: u64 },
    /// The swarm as a manager reports it: a node Ready or down, tasks moved, a manager
    /// answering.
    Swarm,
    /// Another instance's change in the store: a slot, a departure, a claim, the tokens.
    Store,
    /// The cloud's facts on the instance (its address): only a later delivery reads them.
    Cloud,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Ask the subject's engine where it stands (`EngineState`).
    ObserveEngine { instance_id: String },
    /// Ask a recorded manager for the swarm's managers and, when named, the subject's node
    /// (by id) and its running tasks. With `until_ready`, the manager waits a few seconds
    /// for the node to be Ready before it answers (a node that has just joined).
    ObserveSwarm {
        node_id: Option<String>,
        until_ready: bool,
    },
    /// Write an init claim for the instance, if the store is still at `expected_generation`.
    ClaimInit {
        instance_id: String,
        expected_generation: u64,
    },
    /// `docker swarm init` on the instance, advertising its private address.
    InitSwarm {
        instance_id: String,
        advertise_address: String,
    },
    /// Record the swarm (the cluster id the node reports) and its first manager, if the
    /// store is still at the generation the claim was made at.
    RecordSwarm {
        instance_id: String,
        address: String,
        cluster_id: String,
        claim_generation: u64,
        expected_generation: u64,
    },
    /// A manager node writes both join tokens to their parameters (they never leave it
    /// any other way), then the store notes them published.
    PublishTokens {
        instance_id: String,
        expected_generation: u64,
    },
    /// Take a join slot (the cap on concurrent membership changes).
    AcquireLease {
        instance_id: String,
        role: Role,
        expires_at: u64,
        expected_generation: u64,
    },
    /// The node reads its role's token from its parameter and joins, trying each manager.
    Join {
        instance_id: String,
        role: Role,
        managers: Vec<String>,
    },
    /// Add a manager that is serving to the store's list of manager addresses.
    RecordManager {
        instance_id: String,
        address: String,
        expected_generation: u64,
    },
    /// The node serves: record its node id in the registry and give the join slot back;
    /// with `boot_ms`, the cluster's boot time learned from this join.
    RecordJoined {
        instance_id: String,
        node_id: String,
        role: Role,
        expected_generation: u64,
        boot_ms: Option<u64>,
    },
    /// Note that the instance is leaving, with its node id (a manager's departure is the
    /// one manager membership change under way).
    RecordDeparture {
        instance_id: String,
        node_id: String,
        role: Role,
        expected_generation: u64,
    },
    /// On manager `via`: `docker node demote <node>`.
    Demote { via: String, node_id: String },
    /// On manager `via`: `docker node update --availability drain <node>`.
    Drain { via: String, node_id: String },
    /// On the leaving node: `docker swarm leave`.
    Leave { instance_id: String },
    /// On manager `via`: `docker node rm <node>`, once the swarm reports it down (never
    /// `--force`: a node that is not down is not removed).
    RemoveNode { via: String, node_id: String },
    /// The node is out of the swarm: drop its departure, its manager address, its
    /// registry entry and any lease it held.
    Forget {
        instance_id: String,
        expected_generation: u64,
    },
    /// Terminal: complete the lifecycle action.
    Complete {
        result: LifecycleResult,
        reason: String,
    },
    /// Not yet. The delivery may pause and look again at what it waits for (within its
    /// budget for waiting in-process); else the event comes back later, with a heartbeat
    /// first when the action's timeout would run out before then.
    RetryLater {
        reason: String,
        heartbeat: bool,
        waiting_for: WaitingFor,
    },
    /// Terminal: the event says what the cloud does not confirm (stale, replayed or
    /// forged): nothing is done, not even a completion, and the event is dropped.
    Disregard { reason: String },
}
