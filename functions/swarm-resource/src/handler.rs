//! One custom resource request, acted on and always answered: on success, on bad input,
//! on a panic, and before the function's deadline.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use serde_json::Value;
use swarmhook::error_text::with_causes;
use swarmhook::execute::{
    clear_balancer, record_spec, remove_cluster, rotate_tokens, sync_managers_record, ExecuteError,
    Rotation,
};
use swarmhook::ports::{Balancer, ClusterStore, ManagersRecord, NodeEngine, TokenVault};
use swarmhook::resource::{SpecError, SwarmSpec};

use crate::answer::{self, Answer, AnswerError};
use crate::config::Config;
use crate::request::{Kind, Request, RequestError};

/// Time kept back from the deadline to deliver the answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(10);

pub struct SwarmResource<S, E, V, B, D> {
    pub config: Config,
    pub store: S,
    pub engine: E,
    pub vault: V,
    /// The stack's load balancer, when it has one: Delete removes the listeners and
    /// target groups the lifecycle function made, so the balancer can be deleted.
    pub balancer: Option<B>,
    /// The managers' DNS record, when the stack has one: Delete removes it, so its zone
    /// can be deleted.
    pub managers_record: Option<D>,
    pub http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
enum ActError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error("removing the load balancer's listeners and target groups: {0}")]
    Balancer(String),
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Request(RequestError),
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

impl<S: ClusterStore, E: NodeEngine, V: TokenVault, B: Balancer, D: ManagersRecord>
    SwarmResource<S, E, V, B, D>
{
    /// Handles one request; `time_left` is what remains before the function's deadline.
    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, raw: Value, time_left: Duration) -> Result<(), HandleError> {
        let request = match Request::parse(raw) {
            Ok(r) => r,
            Err(RequestError::Malformed { reply_to, why }) => {
                tracing::error!(%why, request_id = %reply_to.request_id, "malformed request: answering FAILED, changing nothing");
                let answer = Answer {
                    success: false,
                    reason: format!("malformed custom resource request: {why}"),
                    physical_resource_id: reply_to
                        .physical_resource_id
                        .clone()
                        .unwrap_or_else(|| self.config.physical_id()),
                };
                answer::send(&self.http, &reply_to, &answer).await?;
                return Ok(());
            }
            Err(e) => {
                tracing::error!(error = %e, "not a custom resource request: nothing to answer, nothing changed");
                return Err(HandleError::Request(e));
            }
        };
        // Update and Delete keep the id CloudFormation holds; Create makes the cluster's.
        let physical_resource_id = request
            .reply_to
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| self.config.physical_id());
        let span = tracing::info_span!("request", kind = ?request.kind, request_id = %request.reply_to.request_id, %physical_resource_id);
        let budget = time_left.saturating_sub(ANSWER_MARGIN);
        let acted = tokio::time::timeout(
            budget,
            AssertUnwindSafe(Box::pin(self.act(&request))).catch_unwind(),
        );
        let answer = match tracing::Instrument::instrument(acted, span.clone()).await {
            Ok(Ok(Ok(reason))) => Answer {
                success: true,
                reason,
                physical_resource_id,
            },
            Ok(Ok(Err(e))) => {
                let reason = with_causes(&e);
                tracing::error!(parent: &span, %reason, "the request failed");
                self.failed(&request, reason, physical_resource_id)
            }
            Ok(Err(panic)) => {
                let reason = format!("internal error: {}", panic_message(panic.as_ref()));
                tracing::error!(parent: &span, %reason, "the request panicked");
                self.failed(&request, reason, physical_resource_id)
            }
            Err(_) => {
                let reason = format!(
                    "did not finish within {}s, before the function's deadline",
                    budget.as_secs()
                );
                tracing::error!(parent: &span, %reason, "the request timed out");
                self.failed(&request, reason, physical_resource_id)
            }
        };
        answer::send(&self.http, &request.reply_to, &answer).await?;
        Ok(())
    }

    /// A failed Create or Update fails the stack operation, which rolls back. A Delete
    /// never does: a stack that cannot be deleted is worse than a leftover, which the
    /// reason names (and the log repeats).
    fn failed(&self, request: &Request, reason: String, physical_resource_id: String) -> Answer {
        match request.kind {
            Kind::Delete => Answer {
                success: true,
                reason: format!("deleted, but some of the cluster's data may remain: {reason}"),
                physical_resource_id,
            },
            Kind::Create | Kind::Update => Answer {
                success: false,
                reason,
                physical_resource_id,
            },
        }
    }

    /// Does what the request asks; the Ok text is the answer's reason.
    async fn act(&self, request: &Request) -> Result<String, ActError> {
        match request.kind {
            Kind::Create => {
                let spec = SwarmSpec::from_properties(&request.properties)?;
                record_spec(&self.store, &spec).await?;
                Ok(format!(
                    "recorded the swarm: {} managers, {} workers",
                    spec.manager_count, spec.worker_count
                ))
            }
            Kind::Update => {
                let spec = SwarmSpec::from_properties(&request.properties)?;
                let rotate = match request
                    .old_properties
                    .as_ref()
                    .map(SwarmSpec::from_properties)
                {
                    Some(Ok(old)) => spec.rotates_tokens_since(&old),
                    // The old properties were never valid: only an explicit value rotates.
                    _ => !spec.rotate_tokens.is_empty(),
                };
                record_spec(&self.store, &spec).await?;
                let mut reason = format!(
                    "recorded the swarm: {} managers, {} workers",
                    spec.manager_count, spec.worker_count
                );
                if rotate {
                    match rotate_tokens(&self.store, &self.engine, &self.config.tokens).await? {
                        Rotation::Rotated { on } => {
                            reason.push_str(&format!("; rotated the join tokens on {on}"))
                        }
                        Rotation::NothingToRotate => {
                            reason.push_str("; no join tokens exist yet, nothing to rotate")
                        }
                    }
                }
                Ok(reason)
            }
            Kind::Delete => {
                let mut removed = String::new();
                if let Some(balancer) = &self.balancer {
                    let report = clear_balancer(balancer).await?;
                    if let Some(failure) = report.failed.first() {
                        return Err(ActError::Balancer(failure.clone()));
                    }
                    removed = format!(
                        "removed {} load balancer listeners and target groups, ",
                        report.applied.len()
                    );
                }
                if let Some(dns) = &self.managers_record {
                    sync_managers_record(&self.store, dns, true).await?;
                    removed.push_str("removed the managers' DNS record, ");
                }
                remove_cluster(&self.store, &self.vault, &self.config.tokens).await?;
                Ok(format!(
                    "{removed}removed the join tokens and the cluster's record"
                ))
            }
        }
    }
}
