//! The console function: the stack's CloudWatch dashboards call it, with the viewer's own
//! IAM session, for their custom widgets, and show the HTML it answers. Deployed twice
//! from one package (`SWARMHOOK_CONSOLE_MODE`): the view (the swarm's nodes, its services
//! and stacks, a service's tasks; it refuses every operation) and, with its own role and
//! its own invoke permission, the operations (deploy or remove a stack, scale a service,
//! drain or activate a node). Configuration is checked and clients are built once, at
//! cold start.

// The handler's future nests the SDK's through the console's generic reads: deeper than
// rustc's default layout query limit.
#![recursion_limit = "256"]

mod config;
mod docs;
mod handler;
mod render;
mod widget;

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use swarmhook_aws::{AutoScalingFleet, DynamoStore, NetworkBalancer, SsmEngine};

use config::Config;
use handler::Console;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let console = Console {
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            &config.table,
            &config.cluster,
        ),
        engine: SsmEngine::new(aws_sdk_ssm::Client::new(&aws)),
        fleet: AutoScalingFleet::new(
            aws_sdk_autoscaling::Client::new(&aws),
            aws_sdk_ec2::Client::new(&aws),
            &config.manager_group,
            &config.worker_group,
        ),
        balancer: (config.load_balancer.as_ref())
            .map(|settings| NetworkBalancer::from_sdk(&aws, settings, &config.cluster)),
        config,
    };
    let console = &console;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let endpoint = event.context.invoked_function_arn.clone();
        Ok::<_, Error>(console.answer(&event.payload, &endpoint, now).await)
    }))
    .await
}
