//! One widget request: parsed, read through the console, rendered. Whatever happens the
//! dashboard gets HTML that says it: a refused request or a failed read is a message in
//! the widget, not an error the console shows as a stack trace.

use serde_json::Value;
use swarmhook::console::{self, PicturePorts};
use swarmhook::ports::{Balancer, ClusterStore, Fleet, NodeEngine};

use crate::config::{Config, Mode};
use crate::docs::{DESCRIBE, DESCRIBE_OPERATE};
use crate::render::{html, nodes, operations, services, tasks};
use crate::widget::{self, WidgetRequest};

pub struct Console<S, E, F, B> {
    pub store: S,
    pub engine: E,
    pub fleet: F,
    pub balancer: Option<B>,
    pub config: Config,
}

impl<S, E, F, B> Console<S, E, F, B>
where
    S: ClusterStore,
    E: NodeEngine,
    F: Fleet,
    B: Balancer,
{
    /// The widget's answer (HTML, or Markdown for `describe`). `endpoint` is this
    /// function's ARN: the widgets' buttons call it.
    #[tracing::instrument(skip_all, fields(cluster = %self.config.cluster, widget))]
    pub async fn answer(&self, event: &Value, endpoint: &str, now: u64) -> Value {
        let request = match widget::parse(event) {
            Ok(request) => request,
            Err(refused) => {
                tracing::warn!(reason = %refused, "request refused");
                return Value::String(html::problem(&format!("Refused: {refused}."), false));
            }
        };
        tracing::Span::current().record("widget", tracing::field::debug(&request));
        let answer = match &request {
            WidgetRequest::Describe => {
                return Value::String(
                    match self.config.mode {
                        Mode::View => DESCRIBE,
                        Mode::Operate => DESCRIBE_OPERATE,
                    }
                    .to_owned(),
                )
            }
            WidgetRequest::Nodes { page } => self
                .picture(*page, now)
                .await
                .map(|p| nodes::render(&p, endpoint)),
            WidgetRequest::Services => self
                .picture(0, now)
                .await
                .map(|p| services::render(&p, endpoint)),
            WidgetRequest::Tasks { service } => {
                console::service_tasks(&self.store, &self.engine, service)
                    .await
                    .map(|t| tasks::render(service, &t))
            }
            WidgetRequest::Operations | WidgetRequest::Operate(_)
                if self.config.mode == Mode::View =>
            {
                tracing::warn!("an operation asked of the view function");
                return Value::String(html::problem(
                    "Refused: this function only shows the swarm; operations go to the stack's operations function.",
                    false,
                ));
            }
            WidgetRequest::Operations => self
                .picture(0, now)
                .await
                .map(|p| operations::render(&p, endpoint, None)),
            WidgetRequest::Operate(operation) => {
                return Value::String(self.operate(operation, endpoint, now).await)
            }
        };
        Value::String(answer.unwrap_or_else(|e| {
            tracing::warn!(error = %swarmhook::error_text::with_causes(&e), retryable = e.retryable(), "read failed");
            html::problem(
                &format!("Could not read the swarm: {}.", swarmhook::error_text::with_causes(&e)),
                e.retryable(),
            )
        }))
    }

    /// Carries out `operation`, then shows the operations widget again with what came of it.
    async fn operate(&self, operation: &console::Operation, endpoint: &str, now: u64) -> String {
        let what = operation.describe();
        let result = match console::operate(&self.store, &self.engine, operation).await {
            Ok(outcome) => {
                tracing::info!(operation = %what, manager = %outcome.manager, "operated");
                operations::Outcome::Done {
                    what: what.clone(),
                    said: outcome.said,
                }
            }
            Err(e) => {
                let why = swarmhook::error_text::with_causes(&e);
                tracing::warn!(operation = %what, error = %why, retryable = e.retryable(), "operation failed");
                operations::Outcome::Failed { what, why }
            }
        };
        match self.picture(0, now).await {
            Ok(p) => operations::render(&p, endpoint, Some(&result)),
            Err(e) => {
                operations::banner(&result)
                    + &html::problem(
                        &format!(
                            "Could not read the swarm: {}.",
                            swarmhook::error_text::with_causes(&e)
                        ),
                        e.retryable(),
                    )
            }
        }
    }

    async fn picture(
        &self,
        page: u32,
        now: u64,
    ) -> Result<console::SwarmPicture, console::ConsoleError> {
        let ports = PicturePorts {
            store: &self.store,
            engine: &self.engine,
            fleet: &self.fleet,
            balancer: self.balancer.as_ref(),
        };
        console::swarm_picture(&ports, page, now, self.config.dead_node_seconds).await
    }
}
