//! The engine port over SSM Run Command: send `AWS-RunShellScript`, poll the invocation.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;
use swarmhook::ports::{NodeEngine, PortError, ScriptOutput};

use crate::error::{code_of, port_error};

pub struct SsmEngine {
    client: aws_sdk_ssm::Client,
    poll_every: Duration,
    give_up_after: Duration,
}

impl SsmEngine {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmEngine {
            client,
            poll_every: Duration::from_millis(250),
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
        loop {
            tokio::time::sleep(self.poll_every).await;
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
