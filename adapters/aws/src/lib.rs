//! swarmhook's AWS adapters: the brain's ports over DynamoDB (the store), SSM Run Command
//! (the engine) and Auto Scaling + EC2 (the fleet). Clients are built once, at cold start.

mod error;
mod fleet;
mod run_command;
mod store;

pub use fleet::AutoScalingFleet;
pub use run_command::SsmEngine;
pub use store::DynamoStore;
