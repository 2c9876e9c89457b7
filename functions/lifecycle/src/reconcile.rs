//! A reconcile, on the schedule's tick or asked for after a change: one bounded run of the brain's reconcile, then the load
//! balancer brought in line with the published ports and the managers' DNS record with
//! the managers; outcomes logged and counted.

use swarmhook::error_text::with_causes;
use swarmhook::events::ReconcileTrigger;
use swarmhook::execute::{balance, reconcile, sync_managers_record, Ports, RecordSync};
use swarmhook::ports::{Balancer, ClusterStore, Fleet, ManagersRecord, NodeEngine};
use swarmhook_aws::events::RECONCILE_REQUEST;

use crate::handler::{now, Lifecycle};
use crate::metrics::{self, Unit};

impl<S: ClusterStore, E: NodeEngine, F: Fleet, B: Balancer, D: ManagersRecord>
    Lifecycle<S, E, F, B, D>
{
    #[tracing::instrument(skip_all, fields(cluster = %self.config.cluster, trigger = trigger.as_str()))]
    pub(crate) async fn reconcile(&self, trigger: ReconcileTrigger) {
        let ports = Ports {
            store: &self.store,
            engine: &self.engine,
            fleet: &self.fleet,
        };
        let budget_ends_at = now() + self.config.reconcile_seconds;
        let (settings, tokens) = (&self.config.settings, &self.config.tokens);
        let report = match reconcile(&ports, settings, tokens, budget_ends_at, now).await {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %with_causes(&e), retryable = e.is_retryable(), "reconcile failed; the next tick tries again");
                return;
            }
        };
        for (instance_id, reason) in &report.cannot_join {
            tracing::warn!(%instance_id, %reason, "an instance in service cannot join the swarm");
        }
        for (instance_id, reason) in &report.waiting {
            tracing::info!(%instance_id, %reason, "not finished this run");
        }
        tracing::info!(
            removed = ?report.removed,
            joined = ?report.joined,
            cannot_join = report.cannot_join.len(),
            waiting = report.waiting.len(),
            deferred = report.deferred,
            census = ?report.census,
            "reconciled"
        );
        let mut values = vec![
            ("Removals", Unit::Count, report.removed.len() as f64),
            ("Joins", Unit::Count, report.joined.len() as f64),
            ("CannotJoin", Unit::Count, report.cannot_join.len() as f64),
        ];
        if let Some(c) = report.census {
            values.extend([
                ("Managers", Unit::Count, f64::from(c.managers)),
                ("Workers", Unit::Count, f64::from(c.workers)),
                (
                    "ReachableManagers",
                    Unit::Count,
                    f64::from(c.reachable_managers),
                ),
                ("NodesDown", Unit::Count, f64::from(c.nodes_down)),
            ]);
        }
        metrics::emit(&self.config.cluster, &values);
        self.balance().await;
        self.sync_managers_record().await;
    }

    /// After a join or a removal whose write claimed the reconcile window (a claim made
    /// earlier in the window covers the others): a reconcile soon, so the load balancer's
    /// targets and the managers' record follow at once. A failure here costs only the
    /// wait for the next scheduled tick.
    pub(crate) async fn ask_for_reconcile(&self) {
        let window = self.config.settings.reconcile_delay_seconds;
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.config.queue_url)
            .message_body(RECONCILE_REQUEST)
            .delay_seconds(window as i32)
            .send()
            .await;
        match sent {
            Ok(_) => tracing::info!(delay_seconds = window, "a reconcile asked for"),
            Err(e) => {
                tracing::warn!(error = %with_causes(&e), "could not ask for a reconcile; the next scheduled tick does it")
            }
        }
    }

    /// The managers' record holds exactly the recorded managers (when the stack has one).
    pub(crate) async fn sync_managers_record(&self) {
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
    async fn balance(&self) {
        let Some(balancer) = &self.balancer else {
            return;
        };
        let report = match balance(&self.store, &self.engine, balancer).await {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %with_causes(&e), retryable = e.is_retryable(), "balancing failed; the next tick tries again");
                return;
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
        metrics::emit(
            &self.config.cluster,
            &[
                ("Listeners", Unit::Count, report.listeners as f64),
                ("PortsRefused", Unit::Count, report.refused.len() as f64),
                (
                    "BalancerChangesFailed",
                    Unit::Count,
                    report.failed.len() as f64,
                ),
            ],
        );
    }
}
