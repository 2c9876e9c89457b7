//! One delivery of a lifecycle action, driven to its end or to "not yet": observe, ask
//! the planner for the next step, perform it, observe again. Launches and terminations
//! differ only in their planner; reconcile drives the same planners for an instance
//! no lifecycle action waits on (a ghost, or an instance in service but not joined).

use crate::cluster::ClusterView;
use crate::plan::{LifecycleResult, Step};
use crate::ports::{ActionOutcome, ActionRef, ClusterStore, Fleet, InstanceFacts, NodeEngine};
use crate::settings::ClusterSettings;

use super::launch::{ExecuteError, Handled, Ports, TokenParameters};
use super::observe::observe;
use super::perform::{perform, step_name};

/// Enough steps for the longest path (claim, init, record, publish, lease, join, record,
/// release, complete; or depart, demote, drain, leave, remove, forget, complete) with
/// room for lost races.
const MAX_STEPS: usize = 16;

pub(super) struct Delivery<'a, S, E, F> {
    pub ports: &'a Ports<'a, S, E, F>,
    pub settings: &'a ClusterSettings,
    pub tokens: &'a TokenParameters,
    pub instance_id: &'a str,
    /// The lifecycle action to complete or keep alive; None when none waits (reconcile).
    pub action: Option<&'a ActionRef>,
    /// Signal the stack for the instance's group after a CONTINUE (launches).
    pub signal_on_continue: bool,
}

impl<S: ClusterStore, E: NodeEngine, F: Fleet> Delivery<'_, S, E, F> {
    pub async fn drive(
        &self,
        facts: &InstanceFacts,
        plan: impl Fn(&ClusterView) -> Step,
        now: impl Fn() -> u64,
    ) -> Result<Handled, ExecuteError> {
        let Ports {
            store,
            engine: engine_port,
            fleet,
        } = *self.ports;
        for _ in 0..MAX_STEPS {
            let view = observe(
                store,
                engine_port,
                self.settings,
                self.instance_id,
                facts,
                now(),
            )
            .await?;
            let step = plan(&view);
            tracing::info!(step = step_name(&step), "next step");
            match step {
                Step::Complete { result, reason } => {
                    let Some(action) = self.action else {
                        tracing::info!(?result, %reason, "done (no lifecycle action waits)");
                        return Ok(Handled::Completed { result, reason });
                    };
                    tracing::info!(?result, %reason, "completing the lifecycle action");
                    let outcome = fleet.complete(action, result).await?;
                    if let (true, LifecycleResult::Continue, Some(role)) =
                        (self.signal_on_continue, result, facts.role)
                    {
                        fleet.signal_ready(self.instance_id, role).await?;
                    }
                    return Ok(match outcome {
                        ActionOutcome::Done => Handled::Completed { result, reason },
                        ActionOutcome::NotPending => Handled::Gone,
                    });
                }
                Step::Disregard { reason } => return Ok(Handled::Disregarded { reason }),
                Step::RetryLater { reason, heartbeat } => {
                    if let (true, Some(action)) = (heartbeat, self.action) {
                        if fleet.heartbeat(action).await? == ActionOutcome::NotPending {
                            return Ok(Handled::Gone);
                        }
                    }
                    tracing::info!(%reason, heartbeat, "not yet");
                    return Ok(Handled::RetryLater { reason });
                }
                other => perform(store, engine_port, self.tokens, &view, other).await?,
            }
        }
        Ok(Handled::RetryLater {
            reason: format!("no end after {MAX_STEPS} steps; continuing on the next delivery"),
        })
    }
}

/// One delivery of a lifecycle action: the instance as the cloud describes it (nothing
/// to do once it no longer exists), driven with `plan`.
pub(super) async fn deliver_action<S: ClusterStore, E: NodeEngine, F: Fleet>(
    ports: &Ports<'_, S, E, F>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    signal_on_continue: bool,
    plan: impl Fn(&ClusterView) -> Step,
    now: impl Fn() -> u64,
) -> Result<Handled, ExecuteError> {
    let Some(facts) = ports.fleet.describe(&action.instance_id).await? else {
        tracing::info!("the instance is gone");
        return Ok(Handled::Gone);
    };
    let delivery = Delivery {
        ports,
        settings,
        tokens,
        instance_id: &action.instance_id,
        action: Some(action),
        signal_on_continue,
    };
    delivery.drive(&facts, plan, now).await
}
