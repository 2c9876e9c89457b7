//! One observation of the cluster, made fresh for every step.

use serde::{Deserialize, Serialize};

use super::{MemberState, Role, StoreRecord, SwarmMember};
use crate::settings::ClusterSettings;

/// What a node's engine says of itself (`docker info --format '{{json .Swarm}}'`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineState {
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
    pub settings: ClusterSettings,
    pub store: StoreRecord,
    pub subject: Subject,
    /// The swarm's managers as one of them reports them (empty before the swarm exists).
    pub managers: Vec<SwarmMember>,
    /// The instance of the manager that reported them (where swarm-wide commands run).
    pub reported_by: Option<String>,
}
