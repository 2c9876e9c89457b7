//! swarmhook's shared crate: the cluster model, the events that reach the functions, and
//! the pure planner that turns one observation into the next step.
//!
//! Nothing here performs I/O: the functions parse their trigger, build adapters, observe,
//! and ask this crate what to do next.

pub mod cluster;
pub mod engine;
pub mod error_text;
pub mod events;
pub mod execute;
pub mod plan;
pub mod ports;
pub mod resource;
pub mod settings;
