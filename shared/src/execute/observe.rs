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
    let mut managers = Vec::new();
    let mut membership = None;
    if record.swarm.is_some() {
        // Ask the recorded managers in turn; the first that answers reports the swarm
        // and, in the same command, the subject's membership.
        let node_id = match &engine_state {
            EngineState::Active { node_id, .. } => Some(node_id.as_str()),
            _ => None,
        };
        let script = engine::swarm_view(node_id)?;
        for manager in &record.managers {
            let Some(out) = engine_port.run(&manager.instance_id, &script).await? else {
                continue;
            };
            if out.exit_code != 0 {
                continue;
            }
            (managers, membership) = engine::parse_swarm_view(&out.stdout, &out.stderr)?;
            break;
        }
    }
    Ok(ClusterView {
        now,
        settings: settings.clone(),
        store: record,
        subject: Subject {
            instance_id: instance_id.to_owned(),
            role: facts.role,
            address: facts.address.clone(),
            engine: engine_state,
            membership,
        },
        managers,
    })
}
