//! One delivery of a lifecycle action, driven to its end or to "not yet": read the
//! store, ask the planner for the next step, perform it (an observation it asked for, or
//! a change whose outcome updates the view), ask again. A "not yet" pauses and looks
//! again at what it waits for, within the delivery's budget for waiting, before the
//! event goes back to its queue. Launches and terminations differ only in their planner;
//! reconcile drives the same planners for an instance no lifecycle action waits on (a
//! ghost, or an instance in service but not joined).

use std::time::Duration;

use crate::cluster::{ClusterView, EngineState};
use crate::plan::{LifecycleResult, Step, WaitingFor};
use crate::ports::{
    ActionOutcome, ActionRef, Clock, ClusterStore, Fleet, InstanceFacts, NodeEngine,
};
use crate::settings::ClusterSettings;

use super::launch::{ExecuteError, Handled, Ports, TokenParameters};
use super::observe::{first_view, observe_engine, observe_swarm};
use super::perform::{perform, step_name, StoreAfter};

/// Enough steps for the longest path (claim, init, record, publish, lease, join, observe,
/// record, complete; or observe twice, depart, demote, observe, drain, observe, leave,
/// observe, remove, observe, forget, complete) with room for lost races and the looks
/// again after pauses.
const MAX_STEPS: usize = 48;

/// The first pause after a "not yet"; each one after is this much longer (an agent a
/// moment from online costs a few looks, a slow boot few more).
const PAUSE_STEP: Duration = Duration::from_millis(500);

pub(super) struct Delivery<'a, S, E, F, C> {
    pub ports: &'a Ports<'a, S, E, F, C>,
    pub settings: &'a ClusterSettings,
    pub tokens: &'a TokenParameters,
    pub instance_id: &'a str,
    /// The lifecycle action to complete or keep alive; None when none waits (reconcile).
    pub action: Option<&'a ActionRef>,
    /// Signal the stack for the instance's group after a CONTINUE (launches).
    pub signal_on_continue: bool,
    /// How long this delivery may pause in all before a "not yet" goes back to the queue.
    pub wait: Duration,
}

impl<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock> Delivery<'_, S, E, F, C> {
    pub async fn drive(
        &self,
        facts: &InstanceFacts,
        plan: impl Fn(&ClusterView) -> Step,
    ) -> Result<Handled, ExecuteError> {
        let Ports {
            store,
            engine: engine_port,
            fleet,
            clock,
        } = *self.ports;
        let mut view = first_view(
            store,
            self.settings,
            self.instance_id,
            facts,
            clock.now_ms(),
        )
        .await?;
        let mut reconcile_claimed = false;
        let mut waited = Duration::ZERO;
        let mut pause = PAUSE_STEP;
        for _ in 0..MAX_STEPS {
            view.now_ms = clock.now_ms();
            view.now = view.now_ms / 1000;
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
                Step::RetryLater {
                    reason,
                    heartbeat,
                    waiting_for,
                } => {
                    // A boot's end is known: wait for it, not a growing pause.
                    let (this_pause, after_seconds) = match waiting_for {
                        WaitingFor::Boot { until_ms } => {
                            let ms = until_ms.saturating_sub(view.now_ms).max(1);
                            (Duration::from_millis(ms), Some(ms.div_ceil(1000)))
                        }
                        _ => (pause, None),
                    };
                    let may_pause = !heartbeat
                        && waiting_for != WaitingFor::Cloud
                        && waited + this_pause <= self.wait;
                    if may_pause {
                        tracing::info!(%reason, ?waiting_for, pause_ms = this_pause.as_millis() as u64, "not yet: looking again after a pause");
                        clock.pause(this_pause).await;
                        waited += this_pause;
                        if !matches!(waiting_for, WaitingFor::Boot { .. }) {
                            pause += PAUSE_STEP;
                        }
                        match waiting_for {
                            WaitingFor::Engine | WaitingFor::Boot { .. } => {
                                view.subject.engine = EngineState::Unobserved
                            }
                            WaitingFor::Swarm => forget_swarm(&mut view),
                            WaitingFor::Store => view.store = store.load().await?,
                            WaitingFor::Cloud => {}
                        }
                        continue;
                    }
                    if let (true, Some(action)) = (heartbeat, self.action) {
                        if fleet.heartbeat(action).await? == ActionOutcome::NotPending {
                            return Ok(Handled::Gone);
                        }
                    }
                    tracing::info!(%reason, heartbeat, "not yet");
                    return Ok(Handled::RetryLater {
                        reason,
                        after_seconds,
                    });
                }
                Step::ObserveEngine { instance_id } => {
                    let sent_ms = clock.now_ms();
                    view.subject.engine = observe_engine(engine_port, &instance_id).await?;
                    note_contact(&mut view, sent_ms);
                }
                Step::ObserveSwarm {
                    node_id,
                    until_ready,
                } => observe_swarm(engine_port, &mut view, node_id.as_deref(), until_ready).await?,
                other => {
                    let sent_ms = clock.now_ms();
                    let on_subject = step_runs_on_subject(&other, self.instance_id);
                    let claim = self.action.is_some();
                    let outcome =
                        perform(store, engine_port, self.tokens, &view, other, claim).await?;
                    reconcile_claimed |= outcome.reconcile_claimed;
                    match outcome.store {
                        StoreAfter::Unchanged => {}
                        StoreAfter::Holds(record) | StoreAfter::Lost(record) => {
                            view.store = *record
                        }
                        StoreAfter::Stale => view.store = store.load().await?,
                    }
                    if let Some(engine) = outcome.engine {
                        view.subject.engine = engine;
                        if on_subject {
                            note_contact(&mut view, sent_ms);
                        }
                    }
                    view.subject.joined_now |= outcome.joined;
                    if outcome.swarm_changed {
                        forget_swarm(&mut view);
                    }
                }
            }
        }
        Ok(Handled::RetryLater {
            reason: format!("no end after {MAX_STEPS} steps; continuing on the next delivery"),
            after_seconds: None,
        })
    }
}

/// A command sent at `sent_ms` to the subject ran (its first such, in this delivery, is
/// when its agent was known up) or was refused (its agent not up yet).
fn note_contact(view: &mut ClusterView, sent_ms: u64) {
    if view.subject.engine == EngineState::Unreachable {
        // Refused, or the engine not answering yet: either way not taking a join.
        view.subject.refused |= view.subject.contacted_at_ms.is_none();
    } else if view.subject.contacted_at_ms.is_none() {
        view.subject.contacted_at_ms = Some(sent_ms);
    }
}

/// Whether `step` runs a script on the subject itself (its report is the subject's
/// engine answering).
fn step_runs_on_subject(step: &Step, subject: &str) -> bool {
    match step {
        Step::InitSwarm { instance_id, .. }
        | Step::Join { instance_id, .. }
        | Step::Leave { instance_id } => instance_id == subject,
        _ => false,
    }
}

/// What was read of the swarm no longer holds (it changed, or time passed).
fn forget_swarm(view: &mut ClusterView) {
    view.swarm_observed = false;
    view.subject.membership = None;
    view.subject.running_tasks = None;
}

/// One delivery of a lifecycle action: the instance as the cloud describes it (nothing
/// to do once it no longer exists), driven with `plan`.
pub(super) async fn deliver_action<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    action: &ActionRef,
    signal_on_continue: bool,
    wait: Duration,
    plan: impl Fn(&ClusterView) -> Step,
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
        wait,
    };
    delivery.drive(&facts, plan).await
}
