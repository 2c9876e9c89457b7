//! The follow-ups port over SQS: a reconcile request on the lifecycle queue, delayed.

use swarmhook::ports::{FollowUps, PortError};

use crate::error::port_error;
use crate::events::RECONCILE_REQUEST;

pub struct SqsFollowUps {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsFollowUps {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsFollowUps {
            client,
            queue_url: queue_url.into(),
        }
    }
}

/// The longest delay SQS gives a message.
const SQS_MAX_DELAY_SECONDS: u64 = 900;

impl FollowUps for SqsFollowUps {
    async fn request_reconcile(&self, delay_seconds: u64) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(RECONCILE_REQUEST)
            .delay_seconds(delay_seconds.min(SQS_MAX_DELAY_SECONDS) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("SendMessage", &self.queue_url, e))
    }
}
