//! The load balancer follows the swarm: the published ports are read from a manager, the
//! balancer is observed, and the planner's changes are applied, observing again after
//! each round (a listener needs the ARN of a target group created in the round before).
//! Nothing is changed when no manager answers: the ports are then unknown, and a
//! listener is never removed on a guess.

use serde::Serialize;

use crate::engine;
use crate::error_text::with_causes;
use crate::plan::{plan_balancer, wanted_listeners, BalancerChange, Refusal};
use crate::ports::{Balancer, ClusterStore, NodeEngine};

use super::launch::ExecuteError;
use super::on_a_manager::on_a_manager;

/// Create the group; attach it and create the listener; remove what went stale; and one
/// more to see it settled.
const MAX_ROUNDS: usize = 4;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BalanceReport {
    pub applied: Vec<BalancerChange>,
    /// Published ports the balancer does not forward, and why.
    pub refused: Vec<Refusal>,
    /// Changes that failed, with the cause (the next run tries again).
    pub failed: Vec<String>,
    /// swarmhook's listeners once the run ended.
    pub listeners: usize,
}

/// Brings the balancer in line with the swarm's published ports.
#[tracing::instrument(skip_all)]
pub async fn balance<S: ClusterStore, E: NodeEngine, B: Balancer>(
    store: &S,
    engine_port: &E,
    balancer: &B,
) -> Result<BalanceReport, ExecuteError> {
    let record = store.load().await?;
    let Some(out) = on_a_manager(engine_port, &record, &engine::published_ports()).await? else {
        return Err(ExecuteError::NoManager {
            what: "list the published ports",
            tried: record.managers.len(),
        });
    };
    let published = engine::parse_published_ports(&out.stdout)?;
    let (wanted, refused_ports) = wanted_listeners(&published);
    converge(balancer, &wanted, refused_ports).await
}

/// Removes every listener and target group swarmhook made (the stack is being deleted).
pub async fn clear_balancer<B: Balancer>(balancer: &B) -> Result<BalanceReport, ExecuteError> {
    converge(balancer, &[], Vec::new()).await
}

async fn converge<B: Balancer>(
    balancer: &B,
    wanted: &[crate::plan::WantedListener],
    refused_ports: Vec<Refusal>,
) -> Result<BalanceReport, ExecuteError> {
    let mut report = BalanceReport::default();
    for _ in 0..MAX_ROUNDS {
        let view = balancer.observe().await?;
        let plan = plan_balancer(wanted, &view);
        report.listeners = view.listeners.len();
        report.refused = refused_ports.iter().chain(&plan.refused).cloned().collect();
        if plan.changes.is_empty() {
            return Ok(report);
        }
        for change in plan.changes {
            tracing::info!(?change, "changing the load balancer");
            match balancer.apply(&change).await {
                Ok(()) => report.applied.push(change),
                Err(e) => {
                    tracing::warn!(error = %with_causes(&e), retryable = e.retryable, ?change, "a load balancer change failed");
                    report.failed.push(with_causes(&e));
                }
            }
        }
        if !report.failed.is_empty() {
            break;
        }
    }
    report.listeners = balancer.observe().await?.listeners.len();
    Ok(report)
}
