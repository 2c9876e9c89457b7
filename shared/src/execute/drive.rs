//! One delivery of a lifecycle action, driven to its end or to "not yet": read the
//! store, ask the planner for the next step, perform it (an observation it asked for, or
//! a change whose outcome updates the view), ask again. Launches and terminations differ
//! only in their planner; reconcile drives the same planners for an instance no
//! lifecycle action waits on (a ghost, or an instance in service but not joined).

use crate::cluster::ClusterView;
use crate::plan::{LifecycleResult, Step};
use crate::ports::{ActionOutcome, ActionRef, ClusterStore, Fleet, InstanceFacts, NodeEngine};
use crate::settings::ClusterSettings;

use super::launch::{ExecuteError, Handled, Ports, TokenParameters};
use super::observe::{first_view, observe_engine, observe_swarm};
use super::perform::{perform, step_name, StoreAfter};

/// Enough steps for the longest path (claim, init, record, publish, lease, join, observe,
/// record, complete; or observe twice, depart, demote, observe, drain, observe, leave,
/// observe, remove, observe, forget, complete) with room for lost races.
const MAX_STEPS: usize = 32;

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
        let mut view = first_view(store, self.settings, self.instance_id, facts, now()).await?;
        let mut reconcile_claimed = false;
        for _ in 0..MAX_STEPS {
            view.now = now();
            let step = plan(&view);
            tracing::info!(step = step_name(&step), "next step");
            match step {
                Step::Complete { result, reason } => {
                    let Some(action) = self.action else {
                        tracing::info!(?result, %reason, "done (no lifecycle action waits)");
                        return Ok(Handled::Completed {
                            result,
                            reason,
                            reconcile_claimed,
                        });
                    };
                    tracing::info!(?result, %reason, "completing the lifecycle action");
                    let outcome = fleet.complete(action, result).await?;
                    if let (true, LifecycleResult::Continue, Some(role)) =
                        (self.signal_on_continue, result, facts.role)
                    {
                        fleet.signal_ready(self.instance_id, role).await?;
                    }
                    return Ok(match outcome {
                        ActionOutcome::Done => Handled::Completed {
                            result,
                            reason,
                            reconcile_claimed,
                        },
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
                Step::ObserveEngine { instance_id } => {
                    view.subject.engine = observe_engine(engine_port, &instance_id).await?;
                }
                Step::ObserveSwarm {
                    node_id,
                    until_ready,
                } => observe_swarm(engine_port, &mut view, node_id.as_deref(), until_ready).await?,
                other => {
                    let claim = self.action.is_some();
                    let outcome =
                        perform(store, engine_port, self.tokens, &view, other, claim).await?;
                    reconcile_claimed |= outcome.reconcile_claimed;
                    match outcome.store {
                        StoreAfter::Unchanged => {}
                        StoreAfter::Written(record) => view.store = *record,
                        StoreAfter::Stale => view.store = store.load().await?,
                    }
                    if let Some(engine) = outcome.engine {
                        view.subject.engine = engine;
                    }
                    if outcome.swarm_changed {
                        view.swarm_observed = false;
                        view.subject.membership = None;
                        view.subject.running_tasks = None;
                    }
                }
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
