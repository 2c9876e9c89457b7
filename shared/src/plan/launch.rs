//! A launching instance: bootstrap the swarm, or join it, and complete the lifecycle
//! action only once the node serves in the swarm.

use serde::{Deserialize, Serialize};

use super::manager_quorum::ManagerQuorum;
use super::observation_needed::swarm_unobserved;
use super::{LifecycleResult, Step, WaitingFor};
use crate::cluster::{ClusterView, EngineState, MemberState, Role};

/// The launch lifecycle action an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchAction {
    pub instance_id: String,
    /// Seconds left before the hook's heartbeat timeout applies its default result.
    pub seconds_left: u64,
    /// When the cloud began the launch (milliseconds since the epoch), if it says.
    #[serde(default)]
    pub began_at_ms: Option<u64>,
}

/// The cluster's boot time after this join: what the join's first contact says of it.
/// A command refused before it means the boot ended between the two (about the
/// contact: move half-way there); none refused means the boot ended before the contact,
/// which is an upper bound (take it if lower, else creep down by a tenth, so an estimate
/// too high does not stay).
pub fn learned_boot_ms(previous: Option<u64>, observed: u64, refused: bool) -> u64 {
    match (previous, refused) {
        (None, _) => observed,
        (Some(previous), true) => (previous + observed) / 2,
        (Some(previous), false) => observed.min(previous - previous / 10),
    }
}

fn retry(
    view: &ClusterView,
    action: &LaunchAction,
    waiting_for: WaitingFor,
    reason: impl Into<String>,
) -> Step {
    Step::RetryLater {
        reason: reason.into(),
        heartbeat: action.seconds_left <= view.settings.heartbeat_margin_seconds,
        waiting_for,
    }
}

fn abandon(reason: impl Into<String>) -> Step {
    Step::Complete {
        result: LifecycleResult::Abandon,
        reason: reason.into(),
    }
}

/// The next step for a launching instance.
pub fn next_launch_step(view: &ClusterView, action: &LaunchAction) -> Step {
    let subject = &view.subject;
    let id = subject.instance_id.clone();
    let store = &view.store;
    let Some(role) = subject.role else {
        return abandon(format!(
            "{id} is in neither the manager nor the worker group of this cluster"
        ));
    };
    // A launch event for an instance its group is terminating is late (or forged): its
    // launch is over, and joining now would leave a node behind when it goes.
    if subject.lifecycle == Some(MemberState::Terminating) {
        return Step::Disregard {
            reason: format!(
                "{id} is terminating in its group: the launch event is stale, and nothing is done"
            ),
        };
    }
    match &subject.engine {
        EngineState::Unreachable => {
            return retry(
                view,
                action,
                WaitingFor::Engine,
                format!("{id}: engine or agent not online yet"),
            )
        }
        EngineState::Failed(why) => {
            return abandon(format!("{id}: the engine cannot join a swarm: {why}"))
        }
        _ => {}
    }
    // Only a manager's address is used (it advertises it, and the store lists it for the
    // others to join through); a worker joins without one.
    let address = subject.address.clone();
    if role == Role::Manager && address.is_none() {
        return retry(
            view,
            action,
            WaitingFor::Cloud,
            format!("{id}: no private address yet"),
        );
    }
    let Some(swarm) = &store.swarm else {
        return bootstrap(view, action, role, address.unwrap_or_default());
    };

    // A node already in a swarm: which one, and is it serving?
    if let EngineState::Active {
        node_id,
        cluster_id,
        is_manager,
    } = &subject.engine
    {
        if let Some(other) = cluster_id.as_ref().filter(|c| *c != &swarm.cluster_id) {
            return abandon(format!(
                "{id} is in swarm {other}, not this cluster's {}",
                swarm.cluster_id
            ));
        }
        if *is_manager && !swarm.tokens_published {
            return Step::PublishTokens {
                instance_id: id,
                expected_generation: store.generation,
            };
        }
        // A worker is serving on its own word when it joined in this delivery, or is the
        // node the registry holds; anything else (and every manager, whose reachability
        // the quorum depends on) is confirmed by a manager, waiting a moment for Ready.
        let registered_as = store.node_of(&id).filter(|n| &n.node_id == node_id);
        let on_its_word = role == Role::Worker && (subject.joined_now || registered_as.is_some());
        if !on_its_word {
            if let Some(observe) = swarm_unobserved(view, true) {
                return observe;
            }
        }
        let serving = on_its_word || subject.membership.as_ref().is_some_and(|m| m.is_serving());
        if !serving {
            return retry(
                view,
                action,
                WaitingFor::Swarm,
                format!("{id} joined; waiting for it to be Ready"),
            );
        }
        if let (Role::Manager, false, Some(address)) = (role, store.has_manager(&id), address) {
            return Step::RecordManager {
                instance_id: id,
                address,
                expected_generation: store.generation,
            };
        }
        let registered = store
            .node_of(&id)
            .is_some_and(|n| &n.node_id == node_id && n.role == role);
        if !registered || store.leases.iter().any(|l| l.instance_id == id) {
            let boot_ms = match (action.began_at_ms, subject.contacted_at_ms) {
                (Some(began), Some(contact)) if contact >= began => Some(learned_boot_ms(
                    store.boot_ms,
                    contact - began,
                    subject.refused,
                )),
                _ => None,
            };
            return Step::RecordJoined {
                instance_id: id,
                node_id: node_id.clone(),
                role,
                expected_generation: store.generation,
                boot_ms,
            };
        }
        return Step::Complete {
            result: LifecycleResult::Continue,
            reason: format!("{id} is serving in the swarm as a {role}"),
        };
    }
    if subject.engine == EngineState::Pending {
        return retry(
            view,
            action,
            WaitingFor::Engine,
            format!("{id}: its join is still in progress"),
        );
    }

    // Inactive, or not asked yet (the join script asks it, and joins only if it is
    // inactive): join, within the caps. A node the registry knows has likely joined
    // already (a redelivery): asking its engine is cheaper than a slot and a join.
    // So has a recorded manager (the first one, whose delivery failed after its init):
    // its engine says whether to publish the tokens.
    let known = store.node_of(&id).is_some() || store.has_manager(&id);
    if subject.engine == EngineState::Unobserved && known {
        return Step::ObserveEngine { instance_id: id };
    }
    if !swarm.tokens_published {
        return retry(
            view,
            action,
            WaitingFor::Store,
            "the join tokens are not published yet",
        );
    }
    // A fresh launch whose agent is not expected up yet: no command until then (each
    // would be refused), however long the boot (a second in the lab, a minute on a cloud).
    let expected_up = action
        .began_at_ms
        .zip(store.boot_ms)
        .map(|(b, boot)| b + boot);
    if let Some(until_ms) = expected_up.filter(|until| view.now_ms < *until) {
        let fresh = subject.engine == EngineState::Unobserved
            && subject.contacted_at_ms.is_none()
            && !subject.refused;
        if fresh {
            let wait_ms = until_ms - view.now_ms;
            return retry(
                view,
                action,
                WaitingFor::Boot { until_ms },
                format!("{id}: booting (its agent is expected to take commands in {wait_ms} ms)"),
            );
        }
    }
    if store.lease_of(&id, view.now).is_some() {
        let managers = store.manager_addresses_except(&id);
        if managers.is_empty() {
            return retry(
                view,
                action,
                WaitingFor::Store,
                "no manager address is recorded yet",
            );
        }
        return Step::Join {
            instance_id: id,
            role,
            managers,
        };
    }
    match role {
        Role::Manager => {
            if store.other_leases(&id, Role::Manager, view.now) > 0 {
                return retry(
                    view,
                    action,
                    WaitingFor::Store,
                    "another manager is joining: one at a time",
                );
            }
            if let Some(d) = store.departures.iter().find(|d| d.role == Role::Manager) {
                return retry(
                    view,
                    action,
                    WaitingFor::Store,
                    format!(
                        "manager {} is leaving: one membership change at a time",
                        d.instance_id
                    ),
                );
            }
            if let Some(observe) = swarm_unobserved(view, false) {
                return observe;
            }
            let quorum = ManagerQuorum::of(&view.managers);
            if !quorum.allows_join() {
                return retry(
                    view,
                    action,
                    WaitingFor::Swarm,
                    format!(
                        "only {} of {} managers are reachable: a join now would not keep a majority reachable",
                        quorum.reachable, quorum.members
                    ),
                );
            }
        }
        Role::Worker => {
            let joining = store.other_leases(&id, Role::Worker, view.now);
            if joining >= view.settings.worker_join_parallelism {
                return retry(
                    view,
                    action,
                    WaitingFor::Store,
                    format!("{joining} workers are joining (the cap)"),
                );
            }
        }
    }
    Step::AcquireLease {
        instance_id: id,
        role,
        expires_at: view.now + view.settings.lease_seconds,
        expected_generation: store.generation,
    }
}

/// No swarm yet: one manager claims the bootstrap (fenced by the store's generation) and
/// initialises; everyone else waits for it.
fn bootstrap(view: &ClusterView, action: &LaunchAction, role: Role, address: String) -> Step {
    let id = view.subject.instance_id.clone();
    let store = &view.store;
    if role == Role::Worker {
        return retry(
            view,
            action,
            WaitingFor::Store,
            "waiting for the first manager to create the swarm",
        );
    }
    let claim = store.init_claim.as_ref().filter(|c| {
        c.instance_id == id || view.now < c.claimed_at + view.settings.init_claim_seconds
    });
    match claim {
        None => Step::ClaimInit {
            instance_id: id,
            expected_generation: store.generation,
        },
        Some(c) if c.instance_id != id => retry(
            view,
            action,
            WaitingFor::Store,
            format!("{} is creating the swarm", c.instance_id),
        ),
        Some(c) => match &view.subject.engine {
            // The init script asks the engine first and reports it after.
            EngineState::Inactive | EngineState::Unobserved => Step::InitSwarm {
                instance_id: id,
                advertise_address: address,
            },
            EngineState::Active {
                cluster_id: Some(cluster_id),
                is_manager: true,
                ..
            } => Step::RecordSwarm {
                instance_id: id,
                address,
                cluster_id: cluster_id.clone(),
                claim_generation: c.generation,
                expected_generation: store.generation,
            },
            other => retry(
                view,
                action,
                WaitingFor::Engine,
                format!("{id}: waiting for swarm init to settle ({other:?})"),
            ),
        },
    }
}
