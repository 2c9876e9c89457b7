//! swarmhook's Azure adapters: the brain's ports over Blob Storage (the store), Key Vault
//! (the token vault), managed Run Command (the engine), Flexible scale sets and their
//! VMs (the fleet), the public load balancer (a rule and a probe per published port), the
//! private DNS zone (the managers' record), and Storage queues (the follow-ups). Every
//! call goes through `client`: azure_core's pipeline with the managed identity's tokens.

pub mod arm;
pub mod client;
mod clock;
mod error;
mod fleet;
mod load_balancer;
mod managers_record;
mod notices;
mod queues;
mod run_command;
mod storage;
mod store;
mod token_vault;

pub use clock::TokioClock;
pub use fleet::{ScaleSetFleet, LEAVING_HOOK, READY_HOOK};
pub use load_balancer::AzureLoadBalancer;
pub use managers_record::PrivateDnsRecord;
pub use notices::release_blob;
pub use queues::{queue_message_body, QueueFollowUps, Queues, RECONCILE_REQUEST};
pub use run_command::RunCommandEngine;
pub use store::BlobStore;
pub use token_vault::KeyVaultTokens;
