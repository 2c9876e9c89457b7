//! The lifecycle function: Auto Scaling lifecycle events, delivered by EventBridge to SQS,
//! and the reconcile schedule's ticks, on the same queue: each parsed into the brain's
//! event, handed to the brain, and its reply carried out on the queue. Configuration is
//! checked and clients are built once, at cold start.

mod clock;
mod config;
mod handler;
mod metrics;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use swarmhook::trigger::Brain;
use swarmhook_aws::{
    AutoScalingFleet, DynamoStore, NetworkBalancer, Route53ManagersRecord, SqsFollowUps, SsmEngine,
    StackSignals,
};

use aws_lambda_events::event::sqs::SqsEvent;
use clock::TokioClock;
use config::Config;
use handler::Lifecycle;

/// The groups' logical ids in the template (infra/aws/swarmhook.yaml).
const MANAGER_GROUP_RESOURCE: &str = "ManagerGroup";
const WORKER_GROUP_RESOURCE: &str = "WorkerGroup";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let brain = Brain {
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            &config.table,
            &config.cluster,
        ),
        engine: SsmEngine::new(aws_sdk_ssm::Client::new(&aws)),
        fleet: AutoScalingFleet::new(
            aws_sdk_autoscaling::Client::new(&aws),
            aws_sdk_ec2::Client::new(&aws),
            &config.brain.manager_group,
            &config.brain.worker_group,
        )
        .with_stack_signals(config.stack.as_ref().map(|stack| StackSignals {
            cloudformation: aws_sdk_cloudformation::Client::new(&aws),
            stack: stack.clone(),
            manager_resource: MANAGER_GROUP_RESOURCE.into(),
            worker_resource: WORKER_GROUP_RESOURCE.into(),
        })),
        balancer: (config.load_balancer.as_ref())
            .map(|settings| NetworkBalancer::from_sdk(&aws, settings, &config.cluster)),
        managers_record: (config.managers_record.as_ref())
            .map(|settings| Route53ManagersRecord::from_sdk(&aws, settings)),
        follow_ups: SqsFollowUps::new(sqs.clone(), &config.queue_url),
        clock: TokioClock,
        settings: config.brain,
    };
    let lifecycle = Lifecycle {
        brain,
        cluster: config.cluster,
        queue_url: config.queue_url,
        dead_letter_url: config.dead_letter_url,
        sqs,
    };
    let lifecycle = &lifecycle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(lifecycle.batch(event.payload).await)
    }))
    .await
}
