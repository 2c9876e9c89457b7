//! A terminating instance: leave the swarm cleanly before the cloud takes the machine,
//! and never at the cost of the managers' quorum.
//!
//! A worker is drained (its tasks get `drain_seconds` to move), leaves, and is removed
//! once the swarm reports it down. A manager is first demoted, by another manager, one
//! membership change at a time and only while the managers left keep a majority; a
//! manager whose removal would break quorum is held (with heartbeats) until that is
//! safe, e.g. until its replacement has joined. The store is brought up to date before
//! the action is completed. When the cloud says the swarm's groups themselves are going
//! (a stack delete), every instance leaves at once: there is no swarm left to protect.
//! Nothing is drained, demoted, left or removed unless the cloud confirms the instance
//! is leaving (its group reports it terminating, or no group holds it any more).

use serde::{Deserialize, Serialize};

use super::manager_quorum::ManagerQuorum;
use super::observation_needed::{engine_unobserved, swarm_unobserved};
use super::{LifecycleResult, Step, WaitingFor};
use crate::cluster::{Availability, ClusterView, EngineState, MemberState, NodeStatus, Role};

/// The terminate lifecycle action an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateAction {
    pub instance_id: String,
    /// Seconds left before the hook's heartbeat timeout applies its default result.
    pub seconds_left: u64,
    /// Seconds since the termination began (the event's time).
    pub elapsed_seconds: u64,
    /// The cloud says the whole swarm is going (the manager group is being deleted, or
    /// left no room for any manager): no manager will come to keep a quorum for, and
    /// none may be left to drain or remove through, so nobody waits.
    pub swarm_deleting: bool,
}

fn retry(
    view: &ClusterView,
    action: &TerminateAction,
    waiting_for: WaitingFor,
    reason: impl Into<String>,
) -> Step {
    Step::RetryLater {
        reason: reason.into(),
        heartbeat: action.seconds_left <= view.settings.heartbeat_margin_seconds,
        waiting_for,
    }
}

fn proceed(reason: impl Into<String>) -> Step {
    Step::Complete {
        result: LifecycleResult::Continue,
        reason: reason.into(),
    }
}

/// The next step for a terminating instance.
pub fn next_terminate_step(view: &ClusterView, action: &TerminateAction) -> Step {
    let subject = &view.subject;
    let id = subject.instance_id.clone();
    let store = &view.store;
    if action.swarm_deleting {
        return proceed(format!(
            "the swarm's groups are being deleted: {id} leaves without waiting for the swarm"
        ));
    }
    // Only what the cloud confirms is leaving is touched: an instance its group still
    // holds in service (or launching, or on standby) is not terminating, whatever an
    // event says. A replayed, stale or forged event stops here and changes nothing.
    if let Some(state) = subject.lifecycle.filter(|s| *s != MemberState::Terminating) {
        return Step::Disregard {
            reason: format!(
                "{id} is {state:?} in its group, not terminating: the terminate event is stale or forged, and nothing is done"
            ),
        };
    }
    let Some(role) = subject.role else {
        return proceed(format!(
            "{id} is in neither group of this cluster: nothing to remove"
        ));
    };
    if store.swarm.is_none() {
        return proceed(format!("there is no swarm yet: {id} has nothing to leave"));
    }
    // Leaving is decided on the engine's word and the swarm's, both read in this delivery.
    if let Some(observe) = engine_unobserved(view).or_else(|| swarm_unobserved(view, false)) {
        return observe;
    }
    let departure = store.departure_of(&id);
    let engine_in_swarm = matches!(subject.engine, EngineState::Active { .. });
    let Some(member) = &subject.membership else {
        let registered = store.node_of(&id).is_some();
        if view.reported_by.is_none() && (engine_in_swarm || departure.is_some() || registered) {
            return retry(
                view,
                action,
                WaitingFor::Swarm,
                format!("no manager answers: {id} cannot be removed yet"),
            );
        }
        let leases = store.leases.iter().any(|l| l.instance_id == id);
        if departure.is_some() || registered || store.has_manager(&id) || leases {
            return Step::Forget {
                instance_id: id,
                expected_generation: store.generation,
            };
        }
        return proceed(format!("{id} is not in the swarm"));
    };
    let leaving_manager = role == Role::Manager || member.role == Role::Manager;
    let via_other = view.reported_by.clone().filter(|m| *m != id);

    if departure.is_none() {
        if leaving_manager {
            if let Some(other) = store
                .departures
                .iter()
                .find(|d| d.role == Role::Manager && d.instance_id != id)
            {
                return retry(
                    view,
                    action,
                    WaitingFor::Store,
                    format!(
                        "manager {} is leaving: one membership change at a time",
                        other.instance_id
                    ),
                );
            }
            if store.other_leases(&id, Role::Manager, view.now) > 0 {
                return retry(
                    view,
                    action,
                    WaitingFor::Store,
                    "a manager is joining: one membership change at a time",
                );
            }
            let quorum = ManagerQuorum::of(&view.managers);
            if member.role == Role::Manager && !quorum.allows_removal(member.is_serving()) {
                return retry(view, action, WaitingFor::Swarm,
                    format!(
                        "removing manager {id} now would lose the managers' quorum: holding it until another manager serves"
                    ),
                );
            }
        }
        return Step::RecordDeparture {
            instance_id: id,
            node_id: member.node_id.clone(),
            role,
            expected_generation: store.generation,
        };
    }

    if member.role == Role::Manager {
        return match via_other {
            Some(via) => Step::Demote {
                via,
                node_id: member.node_id.clone(),
            },
            None => retry(
                view,
                action,
                WaitingFor::Swarm,
                format!("no other manager answers to demote {id}"),
            ),
        };
    }
    let Some(via) = via_other else {
        return retry(
            view,
            action,
            WaitingFor::Swarm,
            format!("no manager answers to remove {id}"),
        );
    };
    if member.status == NodeStatus::Ready && member.availability != Availability::Drain {
        return Step::Drain {
            via,
            node_id: member.node_id.clone(),
        };
    }
    let tasks = subject.running_tasks.unwrap_or(0);
    if member.status == NodeStatus::Ready
        && tasks > 0
        && action.elapsed_seconds < view.settings.drain_seconds
    {
        return retry(
            view,
            action,
            WaitingFor::Swarm,
            format!("{id}: waiting for {tasks} tasks to move"),
        );
    }
    if engine_in_swarm {
        return Step::Leave { instance_id: id };
    }
    if member.status != NodeStatus::Down {
        return retry(
            view,
            action,
            WaitingFor::Swarm,
            format!("waiting for the swarm to see {id} down"),
        );
    }
    Step::RemoveNode {
        via,
        node_id: member.node_id.clone(),
    }
}
