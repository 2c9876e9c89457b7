//! The engine port over managed Run Command: `PUT …/virtualMachines/{vm}/runCommands/{name}`
//! with the script inline, then `GET …?$expand=instanceView` until the execution ends
//! (output and error keep their last 4 KB: the node scripts print compact output), then
//! the command resource is deleted, so a VM does not accumulate them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use azure_core::http::Method;
use serde::Deserialize;
use serde_json::json;
use swarmhook::ports::{NodeEngine, PortError, ScriptOutput};

use crate::arm::{valid_vm_name, ArmScope, COMPUTE_API};
use crate::client::{Audience, AzureClient};
use crate::error::{port_error, shape_error};

/// How long one script may run on the node.
const SCRIPT_TIMEOUT_SECONDS: u64 = 300;
/// The first pause between looks at a running command, doubling up to the second.
const FIRST_POLL: Duration = Duration::from_millis(150);
const LONGEST_POLL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct RunCommandEngine {
    client: AzureClient,
    scope: ArmScope,
    location: String,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A name no other command on the VM has (this process's time and a sequence number).
fn command_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "swarmhook-{:x}-{}-{}",
        nanos,
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(Deserialize)]
struct Command {
    properties: CommandProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandProperties {
    instance_view: Option<InstanceView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceView {
    execution_state: String,
    exit_code: Option<i32>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl RunCommandEngine {
    pub fn new(client: AzureClient, scope: ArmScope, location: impl Into<String>) -> Self {
        RunCommandEngine {
            client,
            scope,
            location: location.into(),
        }
    }

    async fn forget(&self, url: &str) {
        match self
            .client
            .send(Audience::Management, Method::Delete, url, &[], None)
            .await
        {
            Ok(a) if a.ok() || a.status == 404 => {}
            Ok(a) => tracing::warn!(status = a.status, "could not delete a finished run command"),
            Err(e) => tracing::warn!(error = %e, "could not delete a finished run command"),
        }
    }
}

impl NodeEngine for RunCommandEngine {
    #[tracing::instrument(skip_all, fields(vm = %instance_id))]
    async fn run(
        &self,
        instance_id: &str,
        script: &str,
    ) -> Result<Option<ScriptOutput>, PortError> {
        if !valid_vm_name(instance_id) {
            return Err(shape_error(
                "running a script",
                instance_id,
                "not a VM name".into(),
            ));
        }
        let id = format!(
            "{}/runCommands/{}",
            self.scope.vm_id(instance_id),
            command_name()
        );
        let url = self.scope.url(&id, COMPUTE_API);
        let body = json!({
            "location": self.location,
            "properties": {
                "source": {"script": script},
                "asyncExecution": false,
                "timeoutInSeconds": SCRIPT_TIMEOUT_SECONDS,
                "treatFailureAsDeploymentFailure": false,
            }
        });
        let put = self
            .client
            .json(Audience::Management, Method::Put, &url, &[], &body)
            .await
            .map_err(|e| port_error("running a script", instance_id, e))?;
        match put.status {
            200 | 201 => {}
            // The VM is gone, or cannot take commands now (stopped, its agent not ready).
            404 | 409 => {
                tracing::info!(status = put.status, code = ?put.error_code(), "the VM takes no commands");
                return Ok(None);
            }
            _ => {
                return Err(port_error(
                    "running a script",
                    instance_id,
                    put.unexpected(),
                ))
            }
        }
        let view_url = format!("{url}&$expand=instanceView");
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(SCRIPT_TIMEOUT_SECONDS + 60);
        let mut pause = FIRST_POLL;
        let view = loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_POLL);
            let answer = self
                .client
                .send(Audience::Management, Method::Get, &view_url, &[], None)
                .await
                .map_err(|e| port_error("reading a script's result", instance_id, e))?;
            if answer.status == 404 {
                return Ok(None);
            }
            if !answer.ok() {
                return Err(port_error(
                    "reading a script's result",
                    instance_id,
                    answer.unexpected(),
                ));
            }
            let command: Command = answer.json().map_err(|e| {
                shape_error("reading a script's result", instance_id, e.to_string())
            })?;
            if let Some(view) = command.properties.instance_view {
                if !matches!(
                    view.execution_state.as_str(),
                    "Pending" | "Running" | "Unknown"
                ) {
                    break view;
                }
            }
            if tokio::time::Instant::now() > deadline {
                self.forget(&url).await;
                return Err(PortError {
                    operation: "waiting for a script",
                    target: instance_id.to_owned(),
                    retryable: true,
                    source: "the command did not finish within its timeout".into(),
                });
            }
        };
        self.forget(&url).await;
        let (stdout, stderr) = (
            view.output.unwrap_or_default(),
            view.error.unwrap_or_default(),
        );
        match (view.execution_state.as_str(), view.exit_code) {
            // The script never started: the VM is not running.
            ("Failed", None | Some(-1)) if stdout.is_empty() => {
                tracing::info!(error = %stderr.trim(), "the script did not run on the VM");
                Ok(None)
            }
            ("TimedOut", _) => Err(PortError {
                operation: "running a script",
                target: instance_id.to_owned(),
                retryable: true,
                source: "the script timed out on the VM".into(),
            }),
            (_, code) => Ok(Some(ScriptOutput {
                exit_code: code.unwrap_or(-1),
                stdout,
                stderr,
            })),
        }
    }
}
