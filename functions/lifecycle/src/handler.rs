//! One SQS batch: each message parsed into the brain's event and handed to it; its
//! reply carried out in SQS's terms (a "not yet" back on the queue after its delay, a
//! dead letter moved with its reason, the rest deleted) and its report counted.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use swarmhook::error_text::with_causes;
use swarmhook::ports::NodeEngine;
use swarmhook::ports::{Balancer, Clock, ClusterStore, Fleet, FollowUps, ManagersRecord};
use swarmhook::trigger::{Brain, Disposition};
use swarmhook_aws::events::parse_queued;

use crate::metrics;

/// The message attribute that says why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "swarmhook-reason";

/// The lifecycle queue's consumer: lifecycle actions, and the reconcile schedule's ticks.
pub struct Lifecycle<S, E, F, B, D, Q, C> {
    pub brain: Brain<S, E, F, B, D, Q, C>,
    pub cluster: String,
    pub queue_url: String,
    pub dead_letter_url: Option<String>,
    pub sqs: aws_sdk_sqs::Client,
}

impl<S, E, F, B, D, Q, C> Lifecycle<S, E, F, B, D, Q, C>
where
    S: ClusterStore,
    E: NodeEngine,
    F: Fleet,
    B: Balancer,
    D: ManagersRecord,
    Q: FollowUps,
    C: Clock,
{
    pub async fn batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in batch.records {
            let id = message.message_id.clone().unwrap_or_default();
            if !self.message(message).await {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// True when the message is done with (handled, nothing to do, or dead-lettered).
    #[tracing::instrument(skip_all, fields(message_id = message.message_id.as_deref().unwrap_or("")))]
    async fn message(&self, message: SqsMessage) -> bool {
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1);
        let body = message.body.unwrap_or_default();
        let reply = self.brain.handle(parse_queued(&body), receives).await;
        if let Some(report) = &reply.report {
            metrics::emit(&self.cluster, &metrics::values_of(report));
        }
        match reply.disposition {
            Disposition::Done => true,
            Disposition::RetryAfter { seconds } => {
                self.retry_after(message.receipt_handle.as_deref(), seconds)
                    .await;
                false
            }
            Disposition::DeadLetter { reason } => self.dead_letter(&body, &reason).await,
        }
    }

    /// A message that must come back comes back after `seconds`, not after the queue's
    /// visibility timeout (which must exceed the function's timeout).
    async fn retry_after(&self, receipt: Option<&str>, seconds: u64) {
        let Some(receipt) = receipt else { return };
        let result = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds.min(i32::MAX as u64) as i32)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %with_causes(&e), "could not shorten the retry delay; the queue's visibility timeout applies");
        }
    }

    /// Sends a message that can never be handled to the dead-letter queue, as it came
    /// (so it can be redriven), with why in its `swarmhook-reason` attribute; true when
    /// it is there (false when there is none configured, or the send failed: the
    /// queue's redrive must do it).
    async fn dead_letter(&self, body: &str, reason: &str) -> bool {
        let Some(url) = self.dead_letter_url.as_deref() else {
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
        match send.send().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %with_causes(&e), "could not move the message; the queue's redrive will");
                false
            }
        }
    }
}
