//! A reconcile, on the schedule's tick or asked for after a change: one bounded run of
//! the brain's reconcile, then the load balancer brought in line with the published
//! ports and the managers' DNS record with the managers. A run that fails is not
//! retried: the next tick observes afresh.

use crate::error_text::with_causes;
use crate::events::ReconcileTrigger;
use crate::execute::{balance, reconcile, sync_managers_record, BalanceReport, Ports, RecordSync};
use crate::ports::{Balancer, Clock, ClusterStore, Fleet, FollowUps, ManagersRecord, NodeEngine};

use super::brain::Brain;
use super::reply::{Disposition, Reply, Report};

impl<S, E, F, B, D, Q, C> Brain<S, E, F, B, D, Q, C>
where
    S: ClusterStore,
    E: NodeEngine,
    F: Fleet,
    B: Balancer,
    D: ManagersRecord,
    Q: FollowUps,
    C: Clock,
{
    #[tracing::instrument(skip_all, fields(trigger = trigger.as_str()))]
    pub(super) async fn reconcile(&self, trigger: ReconcileTrigger) -> Reply {
        let ports = Ports {
            store: &self.store,
            engine: &self.engine,
            fleet: &self.fleet,
            clock: &self.clock,
        };
        let budget_ends_at = self.clock.now() + self.settings.reconcile_seconds;
        let (cluster, tokens) = (&self.settings.cluster, &self.settings.tokens);
        let run = match reconcile(&ports, cluster, tokens, budget_ends_at).await {
            Ok(run) => run,
            Err(e) => {
                tracing::error!(error = %with_causes(&e), retryable = e.is_retryable(), "reconcile failed; the next tick tries again");
                return Reply::done();
            }
        };
        for (instance_id, reason) in &run.cannot_join {
            tracing::warn!(%instance_id, %reason, "an instance in service cannot join the swarm");
        }
        for (instance_id, reason) in &run.waiting {
            tracing::info!(%instance_id, %reason, "not finished this run");
        }
        tracing::info!(
            removed = ?run.removed,
            joined = ?run.joined,
            cannot_join = run.cannot_join.len(),
            waiting = run.waiting.len(),
            deferred = run.deferred,
            census = ?run.census,
            suspects = run.suspects,
            replaced = ?run.replaced,
            "reconciled"
        );
        let balance = self.balance().await;
        self.sync_managers_record().await;
        Reply {
            disposition: Disposition::Done,
            report: Some(Report::Reconciled {
                run: Box::new(run),
                balance,
            }),
        }
    }

    /// The managers' record holds exactly the recorded managers (when the stack has one).
    pub(super) async fn sync_managers_record(&self) {
        let Some(dns) = &self.managers_record else {
            return;
        };
        match sync_managers_record(&self.store, dns, false).await {
            Ok(RecordSync::Written(managers)) => {
                tracing::info!(
                    ?managers,
                    "the managers' DNS record now lists every manager"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %with_causes(&e), retryable = e.is_retryable(), "could not update the managers' DNS record; the next tick tries again")
            }
        }
    }

    /// The load balancer follows the published ports (when the stack has one).
    async fn balance(&self) -> Option<BalanceReport> {
        let balancer = self.balancer.as_ref()?;
        let report = match balance(&self.store, &self.engine, balancer).await {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %with_causes(&e), retryable = e.is_retryable(), "balancing failed; the next tick tries again");
                return None;
            }
        };
        for refusal in &report.refused {
            tracing::warn!(port = refusal.port, reason = %refusal.reason, "a published port is not forwarded");
        }
        tracing::info!(
            changes = report.applied.len(),
            failed = report.failed.len(),
            listeners = report.listeners,
            "load balancer in line with the published ports"
        );
        Some(report)
    }
}
