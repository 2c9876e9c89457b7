//! What a scheduled reconcile acts on, from the store and the groups alone: what no hook
//! reported. Pure, like the other planners; each instance it picks is then driven
//! through the same terminate or launch planner a lifecycle event would use, so the
//! swarm's rules (one manager change at a time, quorum, demote before removal) hold
//! whichever trigger acts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cluster::{GroupMember, MemberState, Role, StoreRecord};

/// An instance the store knows that neither group holds any more (terminated outside any
/// hook, or its hook gave up): its node, if still in the swarm, is removed and its
/// records are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ghost {
    pub instance_id: String,
    pub role: Role,
}

/// One run's work, at most `batch` instances in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileWork {
    pub ghosts: Vec<Ghost>,
    /// InService instances the registry does not know: joined (or found already in the
    /// swarm and registered) through the launch planner, or reported when they cannot be.
    pub unjoined: Vec<GroupMember>,
    /// Instances left for a later run because of the batch limit.
    pub deferred: usize,
}

/// Picks the ghosts first (managers before workers: a dead manager weighs on the quorum),
/// then the instances to join, up to `batch`.
pub fn plan_reconcile(store: &StoreRecord, members: &[GroupMember], batch: usize) -> ReconcileWork {
    let held: BTreeSet<&str> = members.iter().map(|m| m.instance_id.as_str()).collect();
    let mut known: Vec<Ghost> = Vec::new();
    let mut note = |instance_id: &str, role: Role| {
        if !held.contains(instance_id) && !known.iter().any(|g| g.instance_id == instance_id) {
            known.push(Ghost {
                instance_id: instance_id.to_owned(),
                role,
            });
        }
    };
    for m in &store.managers {
        note(&m.instance_id, Role::Manager);
    }
    for d in &store.departures {
        note(&d.instance_id, d.role);
    }
    for n in &store.nodes {
        note(&n.instance_id, n.role);
    }
    // A lease is held only while its join runs; an expired one of a gone instance is
    // dropped with the rest of its records.
    for l in &store.leases {
        note(&l.instance_id, l.role);
    }
    known.sort_by_key(|g| (g.role != Role::Manager, g.instance_id.clone()));

    let unjoined: Vec<GroupMember> = if store.swarm.is_some() {
        members
            .iter()
            .filter(|m| m.state == MemberState::InService)
            .filter(|m| store.node_of(&m.instance_id).is_none())
            .filter(|m| !store.leases.iter().any(|l| l.instance_id == m.instance_id))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let total = known.len() + unjoined.len();
    let ghosts: Vec<Ghost> = known.into_iter().take(batch).collect();
    let unjoined: Vec<GroupMember> = unjoined.into_iter().take(batch - ghosts.len()).collect();
    let deferred = total - ghosts.len() - unjoined.len();
    ReconcileWork {
        ghosts,
        unjoined,
        deferred,
    }
}
