//! Docker swarm's own vocabulary, as `docker node ls` / `docker node inspect` report it.

use serde::{Deserialize, Serialize};

/// What a node is in the swarm, and which group an instance belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Manager,
    Worker,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        })
    }
}

/// A node's status (`docker node ls` STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeStatus {
    Ready,
    Down,
    Disconnected,
    Unknown,
}

/// A manager's standing in the Raft group (`docker node ls` MANAGER STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManagerStatus {
    Leader,
    Reachable,
    Unreachable,
}

/// Whether the swarm schedules tasks on a node (`docker node ls` AVAILABILITY).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Availability {
    #[default]
    Active,
    Pause,
    Drain,
}

/// One node as the swarm's managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmMember {
    pub node_id: String,
    pub hostname: String,
    pub role: Role,
    pub status: NodeStatus,
    pub manager_status: Option<ManagerStatus>,
    #[serde(default)]
    pub availability: Availability,
}

impl SwarmMember {
    /// Ready, and for a manager also a reachable member of the Raft group.
    pub fn is_serving(&self) -> bool {
        self.status == NodeStatus::Ready
            && match self.role {
                Role::Worker => true,
                Role::Manager => matches!(
                    self.manager_status,
                    Some(ManagerStatus::Leader | ManagerStatus::Reachable)
                ),
            }
    }
}
