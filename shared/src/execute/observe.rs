//! What a delivery observes: the store and the cloud's facts when it begins, then the
//! subject's engine and the swarm when the planner asks for them. Its cost does not grow
//! with the cluster: it asks about the subject and the managers, never the whole fleet.

use crate::cluster::{ClusterView, EngineState, Subject};
use crate::engine;
use crate::ports::{ClusterStore, InstanceFacts, NodeEngine};
use crate::settings::ClusterSettings;

use super::launch::ExecuteError;

/// The view a delivery begins with: the store as read now, the instance as the cloud
/// describes it, the engine and the swarm not asked yet.
pub(super) async fn first_view<S: ClusterStore>(
    store: &S,
    settings: &ClusterSettings,
    instance_id: &str,
    facts: &InstanceFacts,
    now_ms: u64,
) -> Result<ClusterView, ExecuteError> {
    Ok(ClusterView {
        now: now_ms / 1000,
        now_ms,
        settings: settings.clone(),
        store: store.load().await?,
        subject: Subject {
            instance_id: instance_id.to_owned(),
            role: facts.role,
            lifecycle: facts.lifecycle,
            address: facts.address.clone(),
            engine: EngineState::Unobserved,
            joined_now: false,
            contacted_at_ms: None,
            refused: false,
            membership: None,
            running_tasks: None,
        },
        swarm_observed: false,
        managers: Vec::new(),
        reported_by: None,
    })
}

/// The subject's engine, as it says of itself (Unreachable when it cannot take commands).
pub(super) async fn observe_engine<E: NodeEngine>(
    engine_port: &E,
    instance_id: &str,
) -> Result<EngineState, ExecuteError> {
    Ok(
        match engine_port
            .run(instance_id, &engine::probe_engine())
            .await?
        {
            None => EngineState::Unreachable,
            Some(out) => engine::parse_engine_state(out.exit_code, &out.stdout)?,
        },
    )
}

/// The swarm's managers and the subject's node, from the first recorded manager that
/// answers (the subject last: it may be on its way out). No manager answering is an
/// observation too: no managers, no membership, reported by nobody.
pub(super) async fn observe_swarm<E: NodeEngine>(
    engine_port: &E,
    view: &mut ClusterView,
    node_id: Option<&str>,
    until_ready: bool,
) -> Result<(), ExecuteError> {
    let script = engine::swarm_view(node_id, until_ready)?;
    let instance_id = view.subject.instance_id.as_str();
    let mut managers: Vec<&str> = (view.store.managers.iter())
        .map(|m| m.instance_id.as_str())
        .filter(|m| *m != instance_id)
        .collect();
    if view.store.has_manager(instance_id) {
        managers.push(instance_id);
    }
    let mut seen = None;
    for manager in managers {
        let Some(out) = engine_port.run(manager, &script).await? else {
            continue;
        };
        if out.exit_code != 0 {
            continue;
        }
        seen = Some((
            engine::parse_swarm_view(&out.stdout, &out.stderr)?,
            manager.to_owned(),
        ));
        break;
    }
    view.swarm_observed = true;
    match seen {
        Some((swarm, manager)) => {
            view.managers = swarm.managers;
            view.subject.membership = swarm.node;
            view.subject.running_tasks = swarm.running_tasks;
            view.reported_by = Some(manager);
        }
        None => {
            view.managers.clear();
            view.subject.membership = None;
            view.subject.running_tasks = None;
            view.reported_by = None;
        }
    }
    Ok(())
}
