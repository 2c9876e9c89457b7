//! swarmhook's shared crate: the cluster model, the events that reach the functions, and
//! (as the project grows) the pure planner that turns what is observed into steps.
//!
//! Nothing here performs I/O: the functions parse their trigger, build adapters, and hand
//! the event to this crate.

pub mod events;
