//! The lifecycle function: Auto Scaling lifecycle events, delivered by EventBridge to SQS,
//! handed to the brain. Configuration is checked and clients are built once, at cold start.

mod config;
mod handler;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use swarmhook_aws::{AutoScalingFleet, DynamoStore, SsmEngine};

use aws_lambda_events::event::sqs::SqsEvent;
use config::Config;
use handler::Lifecycle;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let lifecycle = Lifecycle {
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
        sqs: aws_sdk_sqs::Client::new(&aws),
        config,
    };
    let lifecycle = &lifecycle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(lifecycle.batch(event.payload).await)
    }))
    .await
}
