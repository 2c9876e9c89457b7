//! Helpers for the integration tests that run against the lab (`infra/lab`): a client
//! for the running lab (and its Azure part: storage, identities, the management plane), bounded waits, SSM Run Command, and stacks from the templates in
//! `tests/fixtures/templates`.

pub mod answer_catcher;
pub mod azure;
pub mod azure_functions;
pub mod azure_management;
pub mod azure_swarm;
pub mod console;
pub mod error;
pub mod fleet;
pub mod lab;
pub mod product;
pub mod publish;
pub mod queue;
pub mod run_command;
pub mod stack;
pub mod tiny_image;
pub mod wait;

pub use error::LabError;
pub use lab::{unique_name, Lab};
