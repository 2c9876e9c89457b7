//! swarmhook's shared crate: the cluster model, the cloud-neutral events the functions
//! hand it, the pure planner that turns one observation into the next step, and the
//! executor that runs the steps through the ports each cloud implements.
//!
//! Nothing here talks to a cloud but through the ports (`ports.rs`), which each cloud's
//! adapters implement: the functions parse their trigger into an event, build the
//! adapters, and hand both to this crate.

pub mod cluster;
pub mod console;
pub mod engine;
pub mod error_text;
pub mod events;
pub mod execute;
pub mod plan;
pub mod ports;
pub mod resource;
pub mod settings;
pub mod trigger;
