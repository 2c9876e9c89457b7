//! The Azure Functions custom handler: one binary the Functions host starts, serving the
//! app's functions — `node-ready` and `node-leaving` (queues: a VM announced itself, a
//! VM's terminate or preempt notice), `reconcile-soon` (queue: the brain's follow-up),
//! `reconcile` (timer) and `formed` (HTTP: what the deployment script waits on). Each
//! parses the host's payload into the brain's event and answers in the host's protocol.

mod config;
mod handler;
mod host_protocol;
mod messages;
mod server;

use std::sync::Arc;

use anyhow::Context as _;
use swarmhook_azure::client::{http_client, AzureClient, ManagedIdentity};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let config = config::Config::from_env()?;
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .context("FUNCTIONS_CUSTOMHANDLER_PORT is not set: the Functions host starts this handler")?
        .parse()
        .context("FUNCTIONS_CUSTOMHANDLER_PORT is not a port")?;
    let http = http_client()?;
    let identity = Arc::new(ManagedIdentity::from_environment(http.clone()));
    let functions = Arc::new(handler::Functions {
        client: AzureClient::new(&http, identity),
        config,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    tracing::info!(port, cluster = %functions.config.cluster, "the handler listens for the Functions host");
    server::serve(listener, functions).await?;
    Ok(())
}
