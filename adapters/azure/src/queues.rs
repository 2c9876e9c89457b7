//! Storage queues: a message put on a queue (its text base64, as the Functions host reads
//! it), hidden for a while when asked (`visibilitytimeout`); and the follow-ups port over
//! them, a reconcile request on the queue the reconcile-soon function consumes.

use azure_core::http::Method;
use swarmhook::ports::{FollowUps, PortError};

use crate::client::{Audience, AzureClient};
use crate::error::port_error;
use crate::storage::{storage_headers, storage_url};

/// What a reconcile request says (the message's text, before base64).
pub const RECONCILE_REQUEST: &str = r#"{"swarmhook":"reconcile"}"#;
/// The longest a queue message may stay invisible (7 days); far more than is ever asked.
const MAX_VISIBILITY_SECONDS: u64 = 7 * 24 * 3600;

/// A queue message's XML body, its text base64 (what the Functions host decodes).
pub fn queue_message_body(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>").into_bytes()
}

/// The queues of one storage account.
#[derive(Clone)]
pub struct Queues {
    client: AzureClient,
    endpoint: String,
}

impl Queues {
    pub fn new(client: AzureClient, queue_endpoint: &str) -> Self {
        Queues {
            client,
            endpoint: queue_endpoint.to_owned(),
        }
    }

    /// Puts `text` on `queue`, visible after `delay_seconds`; creates the queue when it
    /// is not there yet.
    pub async fn send(&self, queue: &str, text: &str, delay_seconds: u64) -> Result<(), PortError> {
        let url = format!(
            "{}?visibilitytimeout={}",
            storage_url(&self.endpoint, &format!("{queue}/messages")),
            delay_seconds.min(MAX_VISIBILITY_SECONDS)
        );
        let mut headers = storage_headers();
        headers.push(("content-type", "application/xml".to_owned()));
        for attempt in 0..2 {
            let answer = self
                .client
                .send(
                    Audience::Storage,
                    Method::Post,
                    &url,
                    &headers,
                    Some(queue_message_body(text)),
                )
                .await
                .map_err(|e| port_error("putting a message on a queue", queue, e))?;
            match answer.status {
                201 => return Ok(()),
                404 if attempt == 0 => self.create(queue).await?,
                _ => {
                    return Err(port_error(
                        "putting a message on a queue",
                        queue,
                        answer.unexpected(),
                    ))
                }
            }
        }
        Err(port_error(
            "putting a message on a queue",
            queue,
            crate::client::CallError::Status {
                status: 404,
                code: None,
                message: "the queue was created but still takes no message".into(),
            },
        ))
    }

    async fn create(&self, queue: &str) -> Result<(), PortError> {
        let url = storage_url(&self.endpoint, queue);
        let answer = self
            .client
            .send(
                Audience::Storage,
                Method::Put,
                &url,
                &storage_headers(),
                Some(Vec::new()),
            )
            .await
            .map_err(|e| port_error("creating a queue", queue, e))?;
        match answer.status {
            201 | 204 | 409 => Ok(()),
            _ => Err(port_error("creating a queue", queue, answer.unexpected())),
        }
    }
}

pub struct QueueFollowUps {
    queues: Queues,
    queue: String,
}

impl QueueFollowUps {
    pub fn new(queues: Queues, queue: impl Into<String>) -> Self {
        QueueFollowUps {
            queues,
            queue: queue.into(),
        }
    }
}

impl FollowUps for QueueFollowUps {
    async fn request_reconcile(&self, delay_seconds: u64) -> Result<(), PortError> {
        self.queues
            .send(&self.queue, RECONCILE_REQUEST, delay_seconds)
            .await
    }
}
