//! What one delivery knows of the cluster: the store as last read or written, the
//! subject's engine and the swarm as last reported. Each step's outcome updates it (a
//! write's record, a script's report); what a step changed and did not report is marked
//! unobserved, and the planner asks for it only when it needs it.

use serde::{Deserialize, Serialize};

use super::{MemberState, Role, StoreRecord, SwarmMember};
use crate::settings::ClusterSettings;

/// What a node's engine says of itself (`docker info --format '{{json .Swarm}}'`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineState {
    /// Not asked yet in this delivery: the planner asks (`Step::ObserveEngine`) only when
    /// what it decides depends on it, and a step's own script reports it otherwise.
    Unobserved,
    /// Not answering yet: the agent is not online or the engine is not up.
    Unreachable,
    /// Up, in no swarm.
    Inactive,
    /// A join is in progress (or was left running in the background).
    Pending,
    /// In a swarm. `cluster_id` is known only to managers.
    Active {
        node_id: String,
        cluster_id: Option<String>,
        is_manager: bool,
    },
    /// The engine reports an error or is locked: joining cannot succeed.
    Failed(String),
}

/// The instance an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub instance_id: String,
    /// From the group the instance is in: None if it is in neither of the cluster's groups.
    pub role: Option<Role>,
    /// Where its group says it stands (None when it is in neither group): a terminating
    /// instance is one the cloud confirms is leaving.
    pub lifecycle: Option<MemberState>,
    pub address: Option<String>,
    pub engine: EngineState,
    /// Its engine joined in this delivery: the join script, run with the role's token
    /// against the recorded managers, reported that it joined and is active. That is the
    /// swarm's own acceptance of the node (a worker needs no manager's word beside it).
    #[serde(default)]
    pub joined_now: bool,
    /// When a command first ran on it in this delivery (milliseconds since the epoch).
    #[serde(default)]
    pub contacted_at_ms: Option<u64>,
    /// A command was refused in this delivery (its agent not online yet).
    #[serde(default)]
    pub refused: bool,
    /// The subject as a manager of the swarm reports it, if it is a member.
    pub membership: Option<SwarmMember>,
    /// Tasks the swarm still wants running on the subject (known once it is a member).
    pub running_tasks: Option<u32>,
}

/// Everything one step is planned from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Seconds since the epoch, read once per observation.
    pub now: u64,
    /// The same instant in milliseconds.
    #[serde(default)]
    pub now_ms: u64,
    pub settings: ClusterSettings,
    pub store: StoreRecord,
    pub subject: Subject,
    /// Whether `managers`, `reported_by` and the subject's `membership` were read from a
    /// manager since the last change to the swarm (`Step::ObserveSwarm` reads them).
    pub swarm_observed: bool,
    /// The swarm's managers as one of them reports them (empty before the swarm exists).
    pub managers: Vec<SwarmMember>,
    /// The instance of the manager that reported them (where swarm-wide commands run).
    pub reported_by: Option<String>,
}
