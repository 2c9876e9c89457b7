//! A lifecycle action's message: for this cluster's groups only; a warm-pool launch
//! continues at once; otherwise the action is handled (pausing in-process while "not
//! yet" is a moment away), and a failure that cannot pass completes the action and
//! dead-letters the message instead of looping to the queue's receive limit.

use std::time::Duration;

use crate::error_text::with_causes;
use crate::events::{LifecycleEvent, Transition};
use crate::execute::{handle_launch, handle_terminate, Handled, Ports};
use crate::plan::LifecycleResult;
use crate::ports::{Balancer, Clock, ClusterStore, Fleet, FollowUps, ManagersRecord, NodeEngine};

use super::brain::{retry_delay, Brain};

/// The longest a delivery's own estimate of its wait (a boot) may hold a message back.
const MAX_WAIT_HINT_SECONDS: u64 = 300;
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
    #[tracing::instrument(skip_all, fields(instance_id = %event.action.instance_id, group = %event.action.group, launching = event.transition == Transition::Launching))]
    pub(super) async fn lifecycle(&self, event: LifecycleEvent, receives: u32) -> Reply {
        let settings = &self.settings;
        let action = &event.action;
        let group = action.group.as_str();
        let is_manager = group == settings.manager_group;
        if !is_manager && group != settings.worker_group {
            // Another cluster's action (a misrouted rule): completing or abandoning it
            // would decide for a group this cluster does not own. Change nothing.
            tracing::error!("a lifecycle event for a group of another cluster: moving it to the dead-letter queue");
            return Reply::dead_letter(format!("group {group} is not one of this cluster's"));
        }
        let launching = event.transition == Transition::Launching;
        if launching && !event.enters_the_group {
            // A warm-pool launch: the instance does not join until it enters the group.
            return match self.fleet.complete(action, LifecycleResult::Continue).await {
                Ok(_) => Reply::done(),
                Err(e) => {
                    tracing::error!(error = %with_causes(&e), "completing a warm-pool launch");
                    self.retry(receives)
                }
            };
        }
        let now = self.clock.now();
        let elapsed = event
            .began_at_ms
            .map(|t| ((now as i64).saturating_sub(t / 1000)).max(0) as u64)
            .unwrap_or(0);
        let seconds_left = settings.hook_timeout_seconds.saturating_sub(elapsed);
        let ports = Ports {
            store: &self.store,
            engine: &self.engine,
            fleet: &self.fleet,
            clock: &self.clock,
        };
        let wait = Duration::from_secs(settings.wait_seconds);
        let (cluster, tokens) = (&settings.cluster, &settings.tokens);
        let began_at_ms = event.began_at_ms.and_then(|t| u64::try_from(t).ok());
        let handled = if launching {
            handle_launch(
                &ports,
                cluster,
                tokens,
                action,
                seconds_left,
                began_at_ms,
                wait,
            )
            .await
        } else {
            handle_terminate(&ports, cluster, tokens, action, seconds_left, elapsed, wait).await
        };
        match handled {
            Ok(Handled::Completed {
                result,
                reason,
                reconcile_claimed,
            }) => {
                tracing::info!(?result, %reason, "lifecycle action completed");
                if is_manager {
                    self.sync_managers_record().await;
                }
                if reconcile_claimed {
                    self.ask_for_reconcile().await;
                }
                Reply {
                    disposition: Disposition::Done,
                    report: Some(Report::Completed {
                        launching,
                        result,
                        began_at_ms: event.began_at_ms,
                    }),
                }
            }
            Ok(Handled::Gone) => {
                tracing::info!("the action is no longer pending: nothing to do");
                Reply::done()
            }
            Ok(Handled::RetryLater {
                reason,
                after_seconds,
            }) => {
                tracing::info!(%reason, ?after_seconds, "retrying later");
                let mut reply = self.retry(receives);
                if let (Disposition::RetryAfter { seconds }, Some(after)) =
                    (&mut reply.disposition, after_seconds)
                {
                    *seconds = (*seconds).max(after.min(MAX_WAIT_HINT_SECONDS));
                }
                reply
            }
            Ok(Handled::Disregarded { reason }) => {
                tracing::warn!(%reason, "the event is disregarded");
                Reply::done()
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %with_causes(&e), "handling the lifecycle action failed; it comes back");
                self.retry(receives)
            }
            Err(e) => {
                // Delivering it again cannot succeed: a launch is abandoned (the group
                // replaces the instance), a removal continues (the instance goes either
                // way), and the message is dead-lettered with its reason at once.
                let result = if launching {
                    LifecycleResult::Abandon
                } else {
                    LifecycleResult::Continue
                };
                tracing::error!(error = %with_causes(&e), ?result, "handling the lifecycle action cannot succeed: completing it and moving the message to the dead-letter queue");
                if let Err(complete) = self.fleet.complete(action, result).await {
                    tracing::warn!(error = %with_causes(&complete), "could not complete the action; its heartbeat timeout will");
                }
                Reply::dead_letter(with_causes(&e))
            }
        }
    }

    fn retry(&self, receives: u32) -> Reply {
        Reply {
            disposition: Disposition::RetryAfter {
                seconds: retry_delay(self.settings.retry_seconds, receives),
            },
            report: None,
        }
    }

    /// After a join or a removal whose write claimed the reconcile window (a claim made
    /// earlier in the window covers the others): a reconcile soon, so the load balancer's
    /// targets and the managers' record follow at once. A failure here costs only the
    /// wait for the next scheduled tick.
    async fn ask_for_reconcile(&self) {
        let delay_seconds = self.settings.cluster.reconcile_delay_seconds;
        match self.follow_ups.request_reconcile(delay_seconds).await {
            Ok(()) => tracing::info!(delay_seconds, "a reconcile asked for"),
            Err(e) => {
                tracing::warn!(error = %with_causes(&e), "could not ask for a reconcile; the next scheduled tick does it")
            }
        }
    }
}
