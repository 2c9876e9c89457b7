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
    let terminate = TerminateAction {
        instance_id: action.instance_id.clone(),
        seconds_left,
        elapsed_seconds,
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
