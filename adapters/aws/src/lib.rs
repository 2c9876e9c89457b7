//! swarmhook's AWS adapters: the brain's ports over DynamoDB (the store), SSM Run Command
//! (the engine), Auto Scaling + EC2 + CloudFormation signals (the fleet), SSM parameters
//! (the token vault), a Network Load Balancer (the balancer) and Route 53 (the managers'
//! record), SQS (the follow-ups). Clients are built once, at cold start.

mod balancer;
mod error;
pub mod events;
mod fleet;
mod managers_record;
mod queue;
mod run_command;
mod store;
mod token_vault;

pub use balancer::{BalancerSettingError, BalancerSettings, NetworkBalancer, CLUSTER_TAG};
pub use fleet::{AutoScalingFleet, StackSignals};
pub use managers_record::{RecordSettingMissing, RecordSettings, Route53ManagersRecord};
pub use queue::SqsFollowUps;
pub use run_command::SsmEngine;
pub use store::DynamoStore;
pub use token_vault::SsmTokenVault;
