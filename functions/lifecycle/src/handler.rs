//! One SQS batch of lifecycle events: each record is handled on its own, and the ones
//! that must come back are reported as batch item failures.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use swarmhook::error_text::with_causes;
use swarmhook::events::{Event, Transition};
use swarmhook::execute::{handle_launch, handle_terminate, Handled, Ports};
use swarmhook::plan::LifecycleResult;
use swarmhook::ports::{Balancer, ClusterStore, Fleet, ManagersRecord, NodeEngine};
use swarmhook_aws::events::parse_queued;

use crate::config::Config;
use crate::metrics::{self, Unit};

/// The lifecycle queue's consumer: lifecycle actions, and the reconcile schedule's ticks
/// (`reconcile.rs`).
pub struct Lifecycle<S, E, F, B, D> {
    pub config: Config,
    pub store: S,
    pub engine: E,
    pub fleet: F,
    /// The stack's load balancer, when it has one: reconcile keeps its listeners in line
    /// with the swarm's published ports.
    pub balancer: Option<B>,
    /// The managers' DNS record, when the stack has one: written after each manager's
    /// join or removal, and checked by every reconcile.
    pub managers_record: Option<D>,
    pub sqs: aws_sdk_sqs::Client,
}

/// The message attribute that says why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "swarmhook-reason";

/// The longest wait between deliveries of a message that is not done yet.
const MAX_RETRY_SECONDS: u64 = 60;

fn retry_delay(base: u64, receives: u32) -> u64 {
    let doublings = receives.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(MAX_RETRY_SECONDS)
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl<S: ClusterStore, E: NodeEngine, F: Fleet, B: Balancer, D: ManagersRecord>
    Lifecycle<S, E, F, B, D>
{
    pub async fn batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in batch.records {
            let id = message.message_id.clone().unwrap_or_default();
            let receipt = message.receipt_handle.clone();
            let receives = message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(1);
            if !self.message(message).await {
                self.retry_soon(receipt.as_deref(), receives).await;
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// A message that must come back comes back soon, not after the queue's visibility
    /// timeout (which must exceed the function's timeout): after `retry_seconds`, doubling
    /// with each receive up to `MAX_RETRY_SECONDS`, so a quick "not yet" (an engine a
    /// moment from up) is retried quickly and a slow boot costs few deliveries.
    async fn retry_soon(&self, receipt: Option<&str>, receives: u32) {
        let Some(receipt) = receipt else { return };
        let delay = retry_delay(self.config.retry_seconds, receives);
        let result = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.config.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(delay as i32)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not shorten the retry delay; the queue's visibility timeout applies");
        }
    }

    /// Sends a message that can never be handled to the dead-letter queue, as it came
    /// (so it can be redriven), with why in its `swarmhook-reason` attribute; true when
    /// it is there (or there is none configured and the queue's redrive must do it: false).
    async fn dead_letter(&self, body: &str, reason: &str) -> bool {
        let Some(url) = self.config.dead_letter_url.as_deref() else {
            return false;
        };
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason.chars().take(1000).collect::<String>())
            .build();
        let mut send = self.sqs.send_message().queue_url(url).message_body(body);
        if let Ok(attribute) = attribute {
            send = send.message_attributes(DEAD_LETTER_REASON, attribute);
        }
        let sent = send.send().await;
        match sent {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not move the message; the queue's redrive will");
                false
            }
        }
    }

    /// True when the message is done with (handled, or nothing to do).
    #[tracing::instrument(skip_all, fields(message_id = message.message_id.as_deref().unwrap_or("")))]
    async fn message(&self, message: SqsMessage) -> bool {
        let body = message.body.unwrap_or_default();
        let event = match parse_queued(&body) {
            Event::Lifecycle(e) => e,
            Event::Test => {
                tracing::info!("an Auto Scaling test notification: nothing to do");
                return true;
            }
            Event::Reconcile(trigger) => {
                // A failed run is not retried: the next tick observes afresh. (Boxed: its
                // future nests the planners' drives, too deep for the compiler's layout.)
                Box::pin(self.reconcile(trigger)).await;
                return true;
            }
            Event::Malformed(why) => {
                // Not a lifecycle action: change nothing. Retrying cannot help, so it goes
                // straight to the dead-letter queue for a person to look at.
                tracing::error!(%why, "malformed lifecycle event: moving it to the dead-letter queue");
                return self.dead_letter(&body, &format!("malformed: {why}")).await;
            }
        };
        let action = event.action;
        let group = action.group.as_str();
        if group != self.config.manager_group && group != self.config.worker_group {
            // Another cluster's action (a misrouted rule): completing or abandoning it
            // would decide for a group this function does not own. Change nothing.
            tracing::error!(
                group,
                instance_id = %action.instance_id,
                "a lifecycle event for a group of another cluster: moving it to the dead-letter queue"
            );
            let reason = format!("group {group} is not one of this cluster's");
            return self.dead_letter(&body, &reason).await;
        }
        let launching = event.transition == Transition::Launching;
        if launching && !event.enters_the_group {
            // A warm-pool launch: the instance does not join until it enters the group.
            return match self
                .fleet
                .complete(&action, LifecycleResult::Continue)
                .await
            {
                Ok(_) => true,
                Err(e) => {
                    tracing::error!(error = %e, "completing a warm-pool launch");
                    false
                }
            };
        }
        let elapsed = event
            .began_at_ms
            .map(|t| ((now() as i64).saturating_sub(t / 1000)).max(0) as u64)
            .unwrap_or(0);
        let began_ms = event.began_at_ms;
        let seconds_left = self.config.hook_timeout_seconds.saturating_sub(elapsed);
        let ports = Ports {
            store: &self.store,
            engine: &self.engine,
            fleet: &self.fleet,
        };
        // "Not yet" is often a moment away (an engine starting, a join settling): look
        // again in-process a few times, which costs fewer calls and far less time than a
        // redelivery; then hand it back to the queue.
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(500);
        let outcome = loop {
            let left = seconds_left.saturating_sub(waited.as_secs());
            let (settings, tokens) = (&self.config.settings, &self.config.tokens);
            let outcome = if launching {
                handle_launch(&ports, settings, tokens, &action, left, now).await
            } else {
                let elapsed = elapsed + waited.as_secs();
                handle_terminate(&ports, settings, tokens, &action, left, elapsed, now).await
            };
            let budget = Duration::from_secs(self.config.wait_seconds);
            match outcome {
                Ok(Handled::RetryLater { .. }) if waited + pause <= budget => {
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause += Duration::from_millis(500);
                }
                other => break other,
            }
        };
        match outcome {
            Ok(Handled::Completed {
                result,
                reason,
                reconcile_claimed,
            }) => {
                tracing::info!(instance_id = %action.instance_id, ?result, %reason, "lifecycle action completed");
                self.count_completion(launching, result, began_ms);
                if group == self.config.manager_group {
                    self.sync_managers_record().await;
                }
                if reconcile_claimed {
                    self.ask_for_reconcile().await;
                }
                true
            }
            Ok(Handled::Gone) => {
                tracing::info!(instance_id = %action.instance_id, "the action is no longer pending: nothing to do");
                true
            }
            Ok(Handled::RetryLater { reason }) => {
                tracing::info!(instance_id = %action.instance_id, %reason, "retrying later");
                false
            }
            Ok(Handled::Disregarded { reason }) => {
                tracing::warn!(instance_id = %action.instance_id, %reason, "the event is disregarded");
                true
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(instance_id = %action.instance_id, error = %with_causes(&e), launching, "handling the lifecycle action failed; it comes back");
                false
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
                tracing::error!(instance_id = %action.instance_id, error = %with_causes(&e), ?result, launching, "handling the lifecycle action cannot succeed: completing it and moving the message to the dead-letter queue");
                if let Err(complete) = self.fleet.complete(&action, result).await {
                    tracing::warn!(error = %with_causes(&complete), "could not complete the action; its heartbeat timeout will");
                }
                self.dead_letter(&body, &with_causes(&e)).await
            }
        }
    }
}

impl<S, E, F, B, D> Lifecycle<S, E, F, B, D> {
    /// A join or a removal, and how long it took from the event to its completion.
    fn count_completion(&self, launching: bool, result: LifecycleResult, began_ms: Option<i64>) {
        let what = match (launching, result) {
            (true, LifecycleResult::Continue) => "Joins",
            (true, LifecycleResult::Abandon) => "JoinsAbandoned",
            (false, _) => "Removals",
        };
        let mut values = vec![(what, Unit::Count, 1.0)];
        if let Some(began) = began_ms {
            let latency = (metrics::now_ms() as i64 - began).max(0) as f64;
            values.push(("LifecycleLatency", Unit::Milliseconds, latency));
        }
        metrics::emit(&self.config.cluster, &values);
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_back_off_to_a_minute() {
        let delays: Vec<u64> = (1..=8).map(|n| retry_delay(2, n)).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(2, 0), 2);
        assert_eq!(retry_delay(2, u32::MAX), 60);
    }
}
