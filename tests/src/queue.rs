//! Reading a queue the way a test needs: the next `n` messages, parsed, deleted.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::{wait, Lab, LabError};

impl Lab {
    /// Receives (and deletes) messages from `queue_url` until `n` have come, parsing each
    /// body as JSON `T`. Returns them in the order received.
    pub async fn take_messages<T: DeserializeOwned>(
        &self,
        queue_url: &str,
        n: usize,
    ) -> Result<Vec<T>, LabError> {
        let sqs = self.sqs();
        let got = std::sync::Mutex::new(Vec::new());
        let got_ref = &got;
        wait::until(
            &format!("{n} messages on {queue_url}"),
            Duration::from_secs(90),
            || {
                let sqs = sqs.clone();
                async move {
                    let out = sqs
                        .receive_message()
                        .queue_url(queue_url)
                        .max_number_of_messages(10)
                        .send()
                        .await
                        .map_err(|e| LabError::aws("ReceiveMessage", e))?;
                    for m in out.messages() {
                        let body = m.body().unwrap_or_default();
                        let parsed: T = serde_json::from_str(body)
                            .map_err(|e| LabError::Unexpected(format!("message {body}: {e}")))?;
                        if let Some(handle) = m.receipt_handle() {
                            sqs.delete_message()
                                .queue_url(queue_url)
                                .receipt_handle(handle)
                                .send()
                                .await
                                .map_err(|e| LabError::aws("DeleteMessage", e))?;
                        }
                        if let Ok(mut got) = got_ref.lock() {
                            got.push(parsed);
                        }
                    }
                    let count = got_ref.lock().map(|g| g.len()).unwrap_or(0);
                    Ok(((count >= n).then_some(()), format!("{count} received")))
                }
            },
        )
        .await?;
        Ok(got.into_inner().unwrap_or_default())
    }
}
