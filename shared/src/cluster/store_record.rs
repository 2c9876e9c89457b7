//! What the store holds for a cluster: one record, written only with a condition on its
//! generation, so that two functions acting at once cannot both win.

use serde::{Deserialize, Serialize};

use super::Role;
use crate::resource::SwarmSpec;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecord {
    /// Bumped by every write; every write is conditional on the value it read.
    pub generation: u64,
    /// Set once a manager has claimed the right to run `swarm init`.
    pub init_claim: Option<InitClaim>,
    /// Set once the swarm exists.
    pub swarm: Option<SwarmRecord>,
    /// Every manager's private address: joiners try each of them.
    pub managers: Vec<ManagerRecord>,
    /// Joins in progress, each with an expiry: the cap on concurrent membership changes.
    pub leases: Vec<JoinLease>,
    /// What the template asked for, as the `Custom::Swarm` resource last recorded it.
    #[serde(default)]
    pub spec: Option<SwarmSpec>,
    /// Nodes on their way out, with the swarm node id to remove once they have left (the
    /// engine no longer says it after `swarm leave`). For managers, the one membership
    /// change under way.
    #[serde(default)]
    pub departures: Vec<Departure>,
    /// Every node that joined through swarmhook, by instance: how its node is found once
    /// its engine no longer answers (stopped, or the instance is gone).
    #[serde(default)]
    pub nodes: Vec<NodeRecord>,
    /// Until when (unix seconds) a reconcile asked for after a join or a removal is
    /// already on its way: changes before then ask for no other (the write that records a
    /// join or a removal claims the window).
    #[serde(default)]
    pub reconcile_requested_until: Option<u64>,
    /// Nodes a reconcile found Down or Unreachable while their instance runs, since when:
    /// each is replaced once that has lasted `dead_node_seconds`.
    #[serde(default)]
    pub suspects: Vec<Suspect>,
    /// How long this cluster's instances take from their launch to taking commands (ms),
    /// learned from the joins so far: a launch's first try waits until then instead of
    /// polling an agent that cannot answer yet.
    #[serde(default)]
    pub boot_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspect {
    pub instance_id: String,
    pub node_id: String,
    /// When a reconcile first found it so (unix seconds).
    pub since: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitClaim {
    pub instance_id: String,
    /// The generation the claim was written at (its fence).
    pub generation: u64,
    pub claimed_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmRecord {
    pub cluster_id: String,
    /// Whether the join tokens have been written to their parameters.
    pub tokens_published: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRecord {
    pub instance_id: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    pub instance_id: String,
    pub node_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub instance_id: String,
    pub node_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinLease {
    pub instance_id: String,
    pub role: Role,
    pub expires_at: u64,
}

impl StoreRecord {
    pub fn lease_of(&self, instance_id: &str, now: u64) -> Option<&JoinLease> {
        self.leases
            .iter()
            .find(|l| l.instance_id == instance_id && l.expires_at > now)
    }

    /// Unexpired leases held by other instances for `role`.
    pub fn other_leases(&self, instance_id: &str, role: Role, now: u64) -> usize {
        self.leases
            .iter()
            .filter(|l| l.instance_id != instance_id && l.role == role && l.expires_at > now)
            .count()
    }

    pub fn manager_addresses_except(&self, instance_id: &str) -> Vec<String> {
        self.managers
            .iter()
            .filter(|m| m.instance_id != instance_id)
            .map(|m| m.address.clone())
            .collect()
    }

    pub fn departure_of(&self, instance_id: &str) -> Option<&Departure> {
        self.departures
            .iter()
            .find(|d| d.instance_id == instance_id)
    }

    pub fn node_of(&self, instance_id: &str) -> Option<&NodeRecord> {
        self.nodes.iter().find(|n| n.instance_id == instance_id)
    }

    pub fn has_manager(&self, instance_id: &str) -> bool {
        self.managers.iter().any(|m| m.instance_id == instance_id)
    }
}
