//! swarmhook's AWS adapters: the brain's ports over DynamoDB (the store), SSM Run Command
//! (the engine), Auto Scaling + EC2 + CloudFormation signals (the fleet) and SSM
//! parameters (the token vault). Clients are built once, at cold start.

mod error;
mod fleet;
mod run_command;
mod store;
mod token_vault;

pub use fleet::{AutoScalingFleet, StackSignals};
pub use run_command::SsmEngine;
pub use store::DynamoStore;
pub use token_vault::SsmTokenVault;
