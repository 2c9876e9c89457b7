//! The executor: observe the cluster through the ports, ask the planner for the next
//! step, run it, and observe again, until the step is terminal.

mod launch;
mod observe;
mod resource;

pub use launch::{handle_launch, ExecuteError, LaunchOutcome, Ports, TokenParameters};
pub use resource::{record_spec, remove_cluster, rotate_tokens, Rotation};
