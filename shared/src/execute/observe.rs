//! One observation: the store, the subject's engine, and the swarm's managers (as one
//! recorded manager reports them). Its cost does not grow with the cluster: it asks
//! about the subject and the managers, never the whole fleet.

use crate::cluster::{ClusterView, EngineState, Subject};
use crate::engine;
use crate::ports::{ClusterStore, InstanceFacts, NodeEngine};
use crate::settings::ClusterSettings;

use super::launch::ExecuteError;

pub(super) async fn observe<S: ClusterStore, E: NodeEngine>(
    store: &S,
    engine_port: &E,
    settings: &ClusterSettings,
    instance_id: &str,
    facts: &InstanceFacts,
    now: u64,
) -> Result<ClusterView, ExecuteError> {
    let record = store.load().await?;
    let probe = engine_port
        .run(instance_id, &engine::probe_engine())
        .await?;
    let engine_state = match probe {
        None => EngineState::Unreachable,
        Some(out) => engine::parse_engine_state(out.exit_code, &out.stdout)?,
    };
    let mut view = None;
    let mut reported_by = None;
    if record.swarm.is_some() {
        // The subject by the id its engine gives, or, once it has left (or its engine
        // stopped answering), by the id recorded when it began to leave or when it joined.
        let node_id = match &engine_state {
            EngineState::Active { node_id, .. } => Some(node_id.clone()),
            _ => record
                .departure_of(instance_id)
                .map(|d| d.node_id.clone())
                .or_else(|| record.node_of(instance_id).map(|n| n.node_id.clone())),
        };
        let script = engine::swarm_view(node_id.as_deref())?;
        // Ask the recorded managers in turn, the subject last (it may be on its way
        // out); the first that answers reports the swarm and the subject in one command.
        let mut managers: Vec<&str> = record
            .managers
            .iter()
            .map(|m| m.instance_id.as_str())
            .filter(|m| *m != instance_id)
            .collect();
        if record.has_manager(instance_id) {
            managers.push(instance_id);
        }
        for manager in managers {
            let Some(out) = engine_port.run(manager, &script).await? else {
                continue;
            };
            if out.exit_code != 0 {
                continue;
            }
            view = Some(engine::parse_swarm_view(&out.stdout, &out.stderr)?);
            reported_by = Some(manager.to_owned());
            break;
        }
    }
    let (managers, membership, running_tasks) = match view {
        Some(v) => (v.managers, v.node, v.running_tasks),
        None => (Vec::new(), None, None),
    };
    Ok(ClusterView {
        now,
        settings: settings.clone(),
        store: record,
        subject: Subject {
            instance_id: instance_id.to_owned(),
            role: facts.role,
            lifecycle: facts.lifecycle,
            address: facts.address.clone(),
            engine: engine_state,
            membership,
            running_tasks,
        },
        managers,
        reported_by,
    })
}
