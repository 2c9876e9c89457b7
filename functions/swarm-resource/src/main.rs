//! The `Custom::Swarm` resource's function: CloudFormation custom resource requests for
//! the swarm, each answered whatever happens. Configuration is checked and clients are
//! built once, at cold start.

mod answer;
mod config;
mod handler;
mod request;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use swarmhook_aws::{
    DynamoStore, NetworkBalancer, Route53ManagersRecord, SsmEngine, SsmTokenVault,
};

use config::Config;
use handler::SwarmResource;

/// How long remains before `deadline_ms` (milliseconds since the epoch).
fn time_left(deadline_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms).saturating_sub(now)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    let resource = SwarmResource {
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            &config.table,
            &config.cluster,
        ),
        engine: SsmEngine::new(ssm.clone()),
        vault: SsmTokenVault::new(ssm),
        balancer: (config.load_balancer.as_ref())
            .map(|settings| NetworkBalancer::from_sdk(&aws, settings, &config.cluster)),
        managers_record: (config.managers_record.as_ref())
            .map(|settings| Route53ManagersRecord::from_sdk(&aws, settings)),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(8))
            .build()?,
        config,
    };
    let resource = &resource;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let left = time_left(event.context.deadline);
        resource.handle(event.payload, left).await?;
        Ok::<_, Error>(Value::Null)
    }))
    .await
}
