//! A scheduled reconcile: what no lifecycle hook reported, found from the store and the
//! groups, and driven through the same planners as the hooks. Ghosts (instances the
//! store knows that no group holds, and that no longer run) have their nodes demoted and removed and their
//! records dropped; instances in service that the registry does not know are joined, or
//! found already serving and registered; nodes dead while their instance runs are
//! replaced (`plan/repair.rs`). Bounded: at most `reconcile_batch` instances,
//! and none begun after `budget_ends_at`; the rest wait for the next run.

use std::time::Duration;

use serde::Serialize;
use tracing::Instrument;

use crate::cluster::GroupMember;
use crate::engine::{self, SwarmCensus};
use crate::error_text::with_causes;
use crate::plan::{
    next_launch_step, next_terminate_step, plan_reconcile, plan_repairs, LaunchAction,
    LifecycleResult, RepairPlan, TerminateAction,
};
use crate::ports::{Clock, ClusterStore, Fleet, InstanceFacts, NodeEngine, Saved};
use crate::settings::ClusterSettings;

use super::drive::Delivery;
use super::launch::{ExecuteError, Handled, Ports, TokenParameters};
use super::on_a_manager::on_a_manager;

/// What one run did, for its log line and its metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Ghosts whose node is out of the swarm and whose records are dropped.
    pub removed: Vec<String>,
    /// Instances in service now in the swarm and the registry.
    pub joined: Vec<String>,
    /// Instances that cannot join, with the reason (reported, left as they are).
    pub cannot_join: Vec<(String, String)>,
    /// Instances not finished this run, with the reason (the next run goes on).
    pub waiting: Vec<(String, String)>,
    /// Instances left for a later run (batch or time budget).
    pub deferred: usize,
    /// The swarm as a manager counted it at the end of the run (None: no manager answered).
    pub census: Option<SwarmCensus>,
    /// Nodes Down or Unreachable while their instance runs, not for long enough yet.
    pub suspects: usize,
    /// Instances marked unhealthy this run (their node dead for `dead_node_seconds`): the
    /// group replaces them through the terminate hook.
    pub replaced: Vec<String>,
}

/// Runs one reconcile.
#[tracing::instrument(skip_all, fields(budget_ends_at))]
pub async fn reconcile<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
    settings: &ClusterSettings,
    tokens: &TokenParameters,
    budget_ends_at: u64,
) -> Result<ReconcileReport, ExecuteError> {
    let now = || ports.clock.now();
    let record = ports.store.load().await?;
    let members = ports.fleet.members().await?;
    let work = plan_reconcile(&record, &members, settings.reconcile_batch);
    let mut report = ReconcileReport {
        deferred: work.deferred,
        ..ReconcileReport::default()
    };
    let delivery = |instance_id| Delivery {
        ports,
        settings,
        tokens,
        instance_id,
        action: None,
        signal_on_continue: false,
        // A run has many instances to see to: none waits in-process.
        wait: Duration::ZERO,
    };

    for ghost in &work.ghosts {
        if now() >= budget_ends_at {
            report.deferred += 1;
            continue;
        }
        let id = ghost.instance_id.as_str();
        // The groups' listing may lag: act only on an instance that no longer runs.
        match ports.fleet.describe(id).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                let why = "its instance still runs (in a group, or detached from it): left alone";
                report.waiting.push((id.to_owned(), why.to_owned()));
                continue;
            }
            Err(e) => {
                report.waiting.push((id.to_owned(), with_causes(&e)));
                continue;
            }
        }
        tracing::info!(instance_id = id, role = %ghost.role, "a ghost: its instance is in neither group");
        // No group holds a ghost: the cloud says it is gone, which confirms it is leaving.
        let facts = InstanceFacts {
            role: Some(ghost.role),
            lifecycle: None,
            address: None,
        };
        // No hook waits: no timeout to keep alive, and nothing left to drain.
        let terminate = TerminateAction {
            instance_id: id.to_owned(),
            seconds_left: u64::MAX,
            elapsed_seconds: u64::MAX,
            swarm_deleting: false,
        };
        let handled = delivery(id)
            .drive(&facts, |view| next_terminate_step(view, &terminate))
            .instrument(tracing::info_span!("ghost", instance_id = id, role = %ghost.role))
            .await;
        match handled {
            Ok(Handled::Completed { .. } | Handled::Gone) => report.removed.push(id.to_owned()),
            Ok(Handled::RetryLater { reason, .. } | Handled::Disregarded { reason }) => {
                report.waiting.push((id.to_owned(), reason))
            }
            Err(e) => report.waiting.push((id.to_owned(), with_causes(&e))),
        }
    }

    for member in &work.unjoined {
        if now() >= budget_ends_at {
            report.deferred += 1;
            continue;
        }
        let id = member.instance_id.as_str();
        let facts = match ports.fleet.describe(id).await {
            Ok(Some(facts)) => facts,
            Ok(None) => continue, // gone since the groups were read: the next run sees it
            Err(e) => {
                report.waiting.push((id.to_owned(), with_causes(&e)));
                continue;
            }
        };
        tracing::info!(instance_id = id, role = %member.role, "in service but not registered");
        let launch = LaunchAction {
            instance_id: id.to_owned(),
            seconds_left: u64::MAX,
            began_at_ms: None,
        };
        let handled = delivery(id)
            .drive(&facts, |view| next_launch_step(view, &launch))
            .instrument(tracing::info_span!("unjoined", instance_id = id, role = %member.role))
            .await;
        match handled {
            Ok(Handled::Completed {
                result: LifecycleResult::Continue,
                ..
            }) => report.joined.push(id.to_owned()),
            Ok(Handled::Completed { reason, .. }) => {
                tracing::warn!(instance_id = id, %reason, "cannot join this instance");
                report.cannot_join.push((id.to_owned(), reason));
            }
            Ok(Handled::RetryLater { reason, .. } | Handled::Disregarded { reason }) => {
                report.waiting.push((id.to_owned(), reason))
            }
            Ok(Handled::Gone) => {}
            Err(e) => report.waiting.push((id.to_owned(), with_causes(&e))),
        }
    }

    if let Some((counts, unhealthy)) = census(ports).await? {
        report.census = Some(counts);
        let repairs = repair(ports, settings, &members, &unhealthy).await?;
        report.suspects = repairs.suspects.len() - repairs.replace.len();
        report.replaced = repairs.replace.into_iter().map(|s| s.instance_id).collect();
    }
    Ok(report)
}

/// Notes the nodes not serving while their instance runs, and marks the instances of
/// those dead long enough unhealthy. The suspects are written first (one conditional
/// write, and only when they changed): a lost race leaves the marking to the next run.
async fn repair<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
    settings: &ClusterSettings,
    members: &[GroupMember],
    unhealthy: &[String],
) -> Result<RepairPlan, ExecuteError> {
    let record = ports.store.load().await?;
    let now = ports.clock.now();
    let plan = plan_repairs(&record, unhealthy, members, now, settings.dead_node_seconds);
    if plan.suspects != record.suspects {
        let mut next = record.clone();
        next.generation += 1;
        next.suspects = plan.suspects.clone();
        if ports.store.save(&next, record.generation).await? != Saved::Written {
            tracing::info!("the store changed while noting suspects: the next run looks again");
            return Ok(RepairPlan::default());
        }
    }
    for dead in &plan.replace {
        tracing::warn!(instance_id = %dead.instance_id, node_id = %dead.node_id, for_seconds = now.saturating_sub(dead.since), "a node is dead while its instance runs: marking the instance unhealthy, so that it is replaced");
        ports.fleet.mark_unhealthy(&dead.instance_id).await?;
    }
    Ok(plan)
}

/// Counts the swarm on the first recorded manager that answers, with the ids of the
/// nodes not serving.
async fn census<S: ClusterStore, E: NodeEngine, F: Fleet, C: Clock>(
    ports: &Ports<'_, S, E, F, C>,
) -> Result<Option<(SwarmCensus, Vec<String>)>, ExecuteError> {
    let record = ports.store.load().await?;
    match on_a_manager(ports.engine, &record, &engine::swarm_census()).await? {
        Some(out) => Ok(Some((
            engine::parse_swarm_census(&out.stdout)?,
            engine::parse_unhealthy_nodes(&out.stdout)?,
        ))),
        None => Ok(None),
    }
}
