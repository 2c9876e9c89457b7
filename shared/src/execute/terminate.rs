//! A terminate lifecycle action, handled to its end or to "not yet".

use crate::plan::{next_terminate_step, TerminateAction};
use crate::ports::{ActionRef, ClusterStore, Fleet, NodeEngine};
use crate::settings::ClusterSettings;

use super::drive::deliver_action;
use super::launch::{ExecuteError, Handled, Ports, TokenParameters};

/// Handles one delivery of a terminate lifecycle action.
#[tracing::instrument(skip_all, fields(instance_id = %action.instance_id, group = %action.group))]
pub async fn handle_terminate<S: ClusterStore, E: NodeEngine, F: Fleet>(
    ports: &Ports<'_, S, E, F>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    seconds_left: u64,
    elapsed_seconds: u64,
    now: impl Fn() -> u64,
) -> Result<Handled, ExecuteError> {
    // One question to the cloud per delivery: is the whole swarm going (a stack delete)?
    let swarm_deleting = ports.fleet.swarm_deleting().await?;
    if swarm_deleting {
        tracing::info!("the swarm's groups are being deleted");
    }
    let terminate = TerminateAction {
        instance_id: action.instance_id.clone(),
        seconds_left,
        elapsed_seconds,
        swarm_deleting,
    };
    deliver_action(
        ports,
        settings,
        tokens,
        action,
        false,
        |view| next_terminate_step(view, &terminate),
        now,
    )
    .await
}
