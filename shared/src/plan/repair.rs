//! What no event reports: a node Down or Unreachable while its instance runs (its engine
//! died, the machine hangs). Each reconcile notes such nodes as suspects, with when it
//! first saw them so; one still so after `dead_node_seconds` has its instance marked
//! unhealthy with the cloud, which replaces it through the terminate hook (where the
//! quorum rules decide when a manager may go). Only an instance its group holds in
//! service is marked: one launching or leaving is its hook's, and a node that is no one's
//! in the registry is not this cluster's to judge.

use crate::cluster::{GroupMember, MemberState, StoreRecord, Suspect};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairPlan {
    /// The suspects the store holds after this run (recovered ones dropped).
    pub suspects: Vec<Suspect>,
    /// Those dead long enough: their instances are marked unhealthy now.
    pub replace: Vec<Suspect>,
}

/// `unhealthy`: the node ids a manager reports not serving, now.
pub fn plan_repairs(
    store: &StoreRecord,
    unhealthy: &[String],
    members: &[GroupMember],
    now: u64,
    dead_node_seconds: u64,
) -> RepairPlan {
    let in_service = |instance_id: &str| {
        members
            .iter()
            .any(|m| m.instance_id == instance_id && m.state == MemberState::InService)
    };
    let mut plan = RepairPlan::default();
    for node_id in unhealthy {
        let Some(node) = store.nodes.iter().find(|n| &n.node_id == node_id) else {
            continue;
        };
        let id = node.instance_id.as_str();
        if !in_service(id) || store.departure_of(id).is_some() {
            continue;
        }
        let suspect = (store.suspects.iter())
            .find(|s| s.instance_id == id && &s.node_id == node_id)
            .cloned()
            .unwrap_or_else(|| Suspect {
                instance_id: id.to_owned(),
                node_id: node_id.clone(),
                since: now,
            });
        if now.saturating_sub(suspect.since) >= dead_node_seconds {
            plan.replace.push(suspect.clone());
        }
        plan.suspects.push(suspect);
    }
    plan
}
