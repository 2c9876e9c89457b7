//! A terminate lifecycle action, handled to its end or to "not yet".

use crate::plan::{next_terminate_step, Step, TerminateAction};
use crate::ports::{ActionRef, ClusterStore, Fleet, NodeEngine};
use crate::settings::ClusterSettings;

use super::launch::{completed, not_yet, ExecuteError, Handled, Ports, TokenParameters};
use super::observe::observe;
use super::perform::{perform, step_name};

/// Enough steps for the longest path (depart, demote, drain, leave, remove, forget,
/// complete) with room for lost races.
const MAX_STEPS: usize = 16;

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
    let Ports {
        store,
        engine: engine_port,
        fleet,
    } = *ports;
    let Some(facts) = fleet.describe(&action.instance_id).await? else {
        tracing::info!("the instance is gone");
        return Ok(Handled::Gone);
    };
    let terminate = TerminateAction {
        instance_id: action.instance_id.clone(),
        seconds_left,
        elapsed_seconds,
    };
    for _ in 0..MAX_STEPS {
        let view = observe(
            store,
            engine_port,
            settings,
            &action.instance_id,
            &facts,
            now(),
        )
        .await?;
        let step = next_terminate_step(&view, &terminate);
        tracing::info!(step = step_name(&step), "next step");
        match step {
            Step::Complete { result, reason } => {
                tracing::info!(?result, %reason, "completing the lifecycle action");
                let outcome = fleet.complete(action, result).await?;
                return Ok(completed(outcome, result, reason));
            }
            Step::RetryLater { reason, heartbeat } => {
                return not_yet(fleet, action, reason, heartbeat).await;
            }
            other => perform(store, engine_port, tokens, &view, other).await?,
        }
    }
    Ok(Handled::RetryLater {
        reason: format!("no end after {MAX_STEPS} steps; continuing on the next delivery"),
    })
}
