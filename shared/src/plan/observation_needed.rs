//! What the planners ask to observe before they decide: the swarm as a manager reports
//! it, and which node is the subject's in it.

use super::Step;
use crate::cluster::{ClusterView, EngineState};

/// The subject's node id: the one its engine gives, or, once it has left (or its engine
/// stopped answering), the one recorded when it began to leave or when it joined.
pub fn subject_node_id(view: &ClusterView) -> Option<String> {
    match &view.subject.engine {
        EngineState::Active { node_id, .. } => Some(node_id.clone()),
        _ => {
            let id = &view.subject.instance_id;
            view.store
                .departure_of(id)
                .map(|d| d.node_id.clone())
                .or_else(|| view.store.node_of(id).map(|n| n.node_id.clone()))
        }
    }
}

/// `ObserveSwarm` when the swarm has not been read since it last changed; None when the
/// view holds it.
pub(super) fn swarm_unobserved(view: &ClusterView, until_ready: bool) -> Option<Step> {
    (!view.swarm_observed && view.store.swarm.is_some()).then(|| Step::ObserveSwarm {
        node_id: subject_node_id(view),
        until_ready,
    })
}

/// `ObserveEngine` when the subject's engine has not been asked in this delivery.
pub(super) fn engine_unobserved(view: &ClusterView) -> Option<Step> {
    (view.subject.engine == EngineState::Unobserved).then(|| Step::ObserveEngine {
        instance_id: view.subject.instance_id.clone(),
    })
}
