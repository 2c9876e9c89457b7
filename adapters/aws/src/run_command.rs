//! The engine port over SSM Run Command: send `AWS-RunShellScript`, poll the invocation.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;
use swarmhook::ports::{NodeEngine, PortError, ScriptOutput};

use crate::error::{code_of, port_error};

pub struct SsmEngine {
    client: aws_sdk_ssm::Client,
    give_up_after: Duration,
}

/// Waits between polls of an invocation: quick for the short scripts most commands are,
/// then backing off to once a second, so a slow node (a busy machine, a long join) costs
/// few more calls than a fast one.
const POLL_DELAYS_MS: [u64; 6] = [100, 150, 250, 400, 650, 1000];

fn poll_delay(attempt: usize) -> Duration {
    Duration::from_millis(POLL_DELAYS_MS[attempt.min(POLL_DELAYS_MS.len() - 1)])
}

impl SsmEngine {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmEngine {
            client,
            give_up_after: Duration::from_secs(90),
        }
    }
}

impl NodeEngine for SsmEngine {
    async fn run(
        &self,
        instance_id: &str,
        script: &str,
    ) -> Result<Option<ScriptOutput>, PortError> {
        let sent = self
            .client
            .send_command()
            .instance_ids(instance_id)
            .document_name("AWS-RunShellScript")
            .parameters("commands", vec![script.to_owned()])
            .comment("swarmhook")
            .send()
            .await;
        let command_id = match sent {
            Ok(out) => out
                .command()
                .and_then(|c| c.command_id())
                .unwrap_or_default()
                .to_owned(),
            // The agent is not registered (online) yet.
            Err(e) if code_of(&e) == Some("InvalidInstanceId") => return Ok(None),
            Err(e) => return Err(port_error("SendCommand", instance_id, e)),
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            tokio::time::sleep(poll_delay(attempt)).await;
            attempt += 1;
            let polled = self
                .client
                .get_command_invocation()
                .command_id(&command_id)
                .instance_id(instance_id)
                .send()
                .await;
            let inv = match polled {
                Ok(inv) => inv,
                // Right after SendCommand the invocation may not be visible yet.
                Err(e) if code_of(&e) == Some("InvocationDoesNotExist") => continue,
                Err(e) => return Err(port_error("GetCommandInvocation", instance_id, e)),
            };
            let status = inv
                .status()
                .cloned()
                .unwrap_or(CommandInvocationStatus::Pending);
            let done = !matches!(
                status,
                CommandInvocationStatus::Pending
                    | CommandInvocationStatus::InProgress
                    | CommandInvocationStatus::Delayed
            );
            if done {
                return Ok(Some(ScriptOutput {
                    exit_code: inv.response_code(),
                    stdout: inv.standard_output_content().unwrap_or_default().to_owned(),
                    stderr: inv.standard_error_content().unwrap_or_default().to_owned(),
                }));
            }
            if started.elapsed() > self.give_up_after {
                return Err(PortError {
                    operation: "waiting for a command",
                    target: format!("{instance_id} ({command_id})"),
                    retryable: true,
                    source: format!("still {status:?} after {:?}", self.give_up_after).into(),
                });
            }
        }
    }
}
