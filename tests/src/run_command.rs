//! SSM Run Command against a lab instance: send `AWS-RunShellScript`, poll the invocation.

use std::time::Duration;

use aws_sdk_ssm::types::CommandInvocationStatus;

use crate::{wait, Lab, LabError};

#[derive(Debug, Clone)]
pub struct CommandResult {
    pub status: CommandInvocationStatus,
    pub response_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Every status GetCommandInvocation reported on the way, in order, without repeats.
    pub seen: Vec<CommandInvocationStatus>,
}

impl Lab {
    /// Runs `script` on `instance_id` through SSM and waits for it to finish.
    pub async fn run(&self, instance_id: &str, script: &str) -> Result<CommandResult, LabError> {
        let ssm = self.ssm();
        let command_id = ssm
            .send_command()
            .instance_ids(instance_id)
            .document_name("AWS-RunShellScript")
            .parameters("commands", vec![script.to_owned()])
            .send()
            .await
            .map_err(|e| LabError::aws("SendCommand", e))?
            .command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected("SendCommand returned no command id".into()))?;
        let seen = std::sync::Mutex::new(Vec::<CommandInvocationStatus>::new());
        let seen_ref = &seen;
        let out = wait::until(
            &format!("command on {instance_id}"),
            Duration::from_secs(120),
            || {
                let ssm = ssm.clone();
                let command_id = command_id.clone();
                async move {
                    let inv = ssm
                        .get_command_invocation()
                        .command_id(&command_id)
                        .instance_id(instance_id)
                        .send()
                        .await
                        .map_err(|e| LabError::aws("GetCommandInvocation", e))?;
                    let status = inv
                        .status()
                        .cloned()
                        .unwrap_or(CommandInvocationStatus::Pending);
                    if let Ok(mut seen) = seen_ref.lock() {
                        if seen.last() != Some(&status) {
                            seen.push(status.clone());
                        }
                    }
                    let running = matches!(
                        status,
                        CommandInvocationStatus::Pending
                            | CommandInvocationStatus::InProgress
                            | CommandInvocationStatus::Delayed
                    );
                    Ok(((!running).then_some(inv), format!("{status:?}")))
                }
            },
        )
        .await?;
        Ok(CommandResult {
            status: out
                .status()
                .cloned()
                .unwrap_or(CommandInvocationStatus::Failed),
            response_code: out.response_code(),
            stdout: out.standard_output_content().unwrap_or_default().to_owned(),
            stderr: out.standard_error_content().unwrap_or_default().to_owned(),
            seen: seen.into_inner().unwrap_or_default(),
        })
    }

    /// Like `run`, but the script must succeed; returns its stdout.
    pub async fn run_ok(&self, instance_id: &str, script: &str) -> Result<String, LabError> {
        let r = self.run(instance_id, script).await?;
        if r.status != CommandInvocationStatus::Success {
            return Err(LabError::Unexpected(format!(
                "`{script}` on {instance_id}: {:?} ({}), stderr: {}",
                r.status, r.response_code, r.stderr
            )));
        }
        Ok(r.stdout)
    }
}
