//! A terminate lifecycle action, handled to its end or to "not yet".

use std::time::Duration;

use crate::cluster::ClusterView;
use crate::plan::{next_terminate_step, TerminateAction};
use crate::ports::{ActionRef, Clock, ClusterStore, Fleet, NodeEngine};
use crate::settings::ClusterSettings;

use super::drive::deliver_action;
use super::launch::{ExecuteError, Handled, Ports, TokenParameters};

/// Handles one delivery of a terminate lifecycle action, pausing and looking again
/// within `wait` while the answer is "not yet".
#[tracing::instrument(skip_all, fields(instance_id = %action.instance_id, group = %action.group))]
pub async fn handle_terminate<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    seconds_left: u64,
    elapsed_seconds: u64,
    wait: Duration,
) -> Result<Handled, ExecuteError> {
    // One question to the cloud per delivery: is the whole swarm going (a stack delete)?
    let swarm_deleting = ports.fleet.swarm_deleting().await?;
    if swarm_deleting {
        tracing::info!("the swarm's groups are being deleted");
    }
    let began = ports.clock.now();
    let plan = |view: &ClusterView| {
        let waited = view.now.saturating_sub(began);
        let terminate = TerminateAction {
            instance_id: action.instance_id.clone(),
            seconds_left: seconds_left.saturating_sub(waited),
            elapsed_seconds: elapsed_seconds.saturating_add(waited),
            swarm_deleting,
        };
        next_terminate_step(view, &terminate)
    };
    deliver_action(ports, settings, tokens, action, false, wait, plan).await
}
