//! The cloud's groups as the cluster sees them: which instances each holds, and where
//! each stands in its group's lifecycle.

use serde::{Deserialize, Serialize};

use super::Role;

/// Where an instance of one of the cluster's groups stands in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// Launching (a launch hook may be waiting on it).
    Pending,
    InService,
    /// Leaving (a terminate hook may be waiting on it).
    Terminating,
    /// Standby, detaching, or anything else the group reports.
    Other,
}

/// An instance in one of the cluster's groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub instance_id: String,
    pub role: Role,
    pub state: MemberState,
    /// The zone it runs in, when the listing says.
    #[serde(default)]
    pub placement: Option<String>,
    /// The cloud's own word for its state (`Pending:Wait`, `InService`, `Succeeded`, …).
    #[serde(default)]
    pub cloud_state: Option<String>,
}
