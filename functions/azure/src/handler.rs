//! Each function: the host's payload parsed into the brain's event, the brain built over
//! the Azure adapters for this invocation, and its reply carried out. A "not yet" puts
//! the message back on its queue, hidden for the brain's delay (a failed invocation
//! would come back only after host.json's fixed visibility timeout); a message that
//! cannot be handled goes to `{queue}-poison` with its reason at once.

use std::sync::Arc;

use serde_json::{json, Value};
use swarmhook::cluster::Role;
use swarmhook::error_text::with_causes;
use swarmhook::events::Event;
use swarmhook::ports::ClusterStore;
use swarmhook::trigger::{Brain, Disposition};
use swarmhook_azure::client::AzureClient;
use swarmhook_azure::{
    AzureLoadBalancer, BlobStore, PrivateDnsRecord, QueueFollowUps, Queues, RunCommandEngine,
    ScaleSetFleet, TokioClock, LEAVING_HOOK, READY_HOOK,
};

use crate::config::Config;
use crate::host_protocol::{Invocation, InvocationReply};
use crate::messages::{node_event, reconcile_event, NodeMessage};

/// Deliveries of one node message before it goes to the poison queue (with the brain's
/// back-off, about an hour).
const MAX_ATTEMPTS: u32 = 80;

/// The queue binding's name in each function.json, and the HTTP ones.
pub const QUEUE_BINDING: &str = "message";
pub const HTTP_BINDING: &str = "req";
pub const HTTP_OUTPUT: &str = "res";

pub struct Functions {
    pub config: Config,
    pub client: AzureClient,
}

/// What an invocation failed on: the host retries the message (or reports the timer).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvocationFailed(pub String);

impl Functions {
    fn store(&self) -> BlobStore {
        let c = &self.config;
        BlobStore::new(
            self.client.clone(),
            &c.blob_endpoint,
            &c.container,
            &c.cluster,
        )
    }

    fn queues(&self) -> Queues {
        Queues::new(self.client.clone(), &self.config.queue_endpoint)
    }

    fn brain(
        &self,
        leaving_vm: Option<&str>,
    ) -> Brain<
        BlobStore,
        RunCommandEngine,
        ScaleSetFleet,
        AzureLoadBalancer,
        PrivateDnsRecord,
        QueueFollowUps,
        TokioClock,
    > {
        let c = &self.config;
        let engine = RunCommandEngine::new(self.client.clone(), c.scope.clone(), &c.location);
        let mut fleet = ScaleSetFleet::new(
            self.client.clone(),
            c.scope.clone(),
            &c.brain.manager_group,
            &c.brain.worker_group,
            engine.clone(),
            &c.blob_endpoint,
            &c.container,
        );
        if let Some(vm) = leaving_vm {
            fleet = fleet.confirming_leaving_of(vm);
        }
        Brain {
            store: self.store(),
            engine,
            fleet,
            balancer: (c.load_balancer.as_ref())
                .map(|name| AzureLoadBalancer::new(self.client.clone(), &c.scope, name)),
            managers_record: (c.managers_record.as_ref()).map(|(zone, name)| {
                PrivateDnsRecord::new(self.client.clone(), &c.scope, zone, name)
            }),
            follow_ups: QueueFollowUps::new(self.queues(), &c.reconcile_queue),
            clock: TokioClock,
            settings: c.brain.clone(),
        }
    }

    /// One invocation of the function `name`.
    pub async fn invoke(
        self: &Arc<Self>,
        name: &str,
        body: &[u8],
    ) -> Result<InvocationReply, InvocationFailed> {
        let invocation = Invocation::parse(body).map_err(|e| InvocationFailed(e.to_string()))?;
        match name {
            READY_HOOK => {
                self.node_message(&invocation, READY_HOOK, &self.config.ready_queue)
                    .await
            }
            LEAVING_HOOK => {
                self.node_message(&invocation, LEAVING_HOOK, &self.config.leaving_queue)
                    .await
            }
            "reconcile-soon" => {
                let text = invocation
                    .queue_text(QUEUE_BINDING)
                    .map_err(|e| InvocationFailed(e.to_string()))?;
                self.run(
                    reconcile_event(&text),
                    1,
                    &self.config.reconcile_queue,
                    &text,
                    None,
                )
                .await
            }
            "reconcile" => {
                let reply = self
                    .brain(None)
                    .handle(
                        Event::Reconcile(swarmhook::events::ReconcileTrigger::Schedule),
                        1,
                    )
                    .await;
                Ok(InvocationReply::logged(format!(
                    "reconcile: {:?}",
                    reply.disposition
                )))
            }
            "formed" => Ok(self.formed(&invocation).await),
            other => Err(InvocationFailed(format!(
                "no function named {other:?} in this app"
            ))),
        }
    }

    async fn node_message(
        &self,
        invocation: &Invocation,
        hook: &'static str,
        queue: &str,
    ) -> Result<InvocationReply, InvocationFailed> {
        let text = invocation
            .queue_text(QUEUE_BINDING)
            .map_err(|e| InvocationFailed(e.to_string()))?;
        let (event, message) = node_event(&text, hook);
        let receives =
            message.as_ref().map(|m| m.attempt).unwrap_or(0) + invocation.dequeue_count().max(1);
        let leaving_vm = match (&message, hook) {
            (Some(m), LEAVING_HOOK) => Some(m.vm.clone()),
            _ => None,
        };
        self.run(
            event,
            receives,
            queue,
            &text,
            message.map(|m| (m, leaving_vm)),
        )
        .await
    }

    async fn run(
        &self,
        event: Event,
        receives: u32,
        queue: &str,
        text: &str,
        message: Option<(NodeMessage, Option<String>)>,
    ) -> Result<InvocationReply, InvocationFailed> {
        let leaving_vm = message.as_ref().and_then(|(_, vm)| vm.clone());
        let reply = self
            .brain(leaving_vm.as_deref())
            .handle(event, receives)
            .await;
        match reply.disposition {
            Disposition::Done => Ok(InvocationReply::logged("done")),
            Disposition::RetryAfter { seconds } => {
                let Some((mut message, _)) = message else {
                    return Err(InvocationFailed("not done yet".into()));
                };
                message.attempt = message.attempt.saturating_add(1);
                if message.attempt >= MAX_ATTEMPTS {
                    let reason = format!("still not done after {} deliveries", message.attempt);
                    self.poison(queue, text, &reason).await?;
                    return Ok(InvocationReply::logged(reason));
                }
                let again =
                    serde_json::to_string(&message).map_err(|e| InvocationFailed(e.to_string()))?;
                self.queues()
                    .send(queue, &again, seconds)
                    .await
                    .map_err(|e| InvocationFailed(with_causes(&e)))?;
                Ok(InvocationReply::logged(format!(
                    "not yet: back in {seconds} s"
                )))
            }
            Disposition::DeadLetter { reason } => {
                self.poison(queue, text, &reason).await?;
                Ok(InvocationReply::logged(format!(
                    "moved to {queue}-poison: {reason}"
                )))
            }
        }
    }

    async fn poison(&self, queue: &str, text: &str, reason: &str) -> Result<(), InvocationFailed> {
        let entry = json!({"reason": reason, "message": text}).to_string();
        self.queues()
            .send(&format!("{queue}-poison"), &entry, 0)
            .await
            .map_err(|e| InvocationFailed(with_causes(&e)))
    }

    /// Whether the swarm is formed: what the deployment script waits on. Counts only, no
    /// secret: 200 once formed, 202 until then, 503 when the store cannot be read.
    async fn formed(&self, invocation: &Invocation) -> InvocationReply {
        if let Ok(req) = invocation.http_request(HTTP_BINDING) {
            if !req.method.eq_ignore_ascii_case("GET") {
                return InvocationReply::http(HTTP_OUTPUT, 405, &json!({"error": "GET only"}));
            }
        }
        let record = match self.store().load().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %with_causes(&e), "formed: the store cannot be read");
                return InvocationReply::http(
                    HTTP_OUTPUT,
                    503,
                    &json!({"formed": false, "error": "the cluster's record cannot be read now"}),
                );
            }
        };
        let managers = record.managers.len();
        let workers = record
            .nodes
            .iter()
            .filter(|n| n.role == Role::Worker)
            .count();
        let published = record.swarm.as_ref().is_some_and(|s| s.tokens_published);
        let formed =
            published && managers >= self.config.managers && workers >= self.config.workers;
        let body: Value = json!({
            "formed": formed,
            "managers": managers,
            "workers": workers,
            "expected": {"managers": self.config.managers, "workers": self.config.workers},
            "tokens_published": published,
        });
        InvocationReply::http(HTTP_OUTPUT, if formed { 200 } else { 202 }, &body)
    }
}
