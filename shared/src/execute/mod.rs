//! The executor: observe the cluster through the ports, ask the planner for the next
//! step, run it, and observe again, until the step is terminal.

mod launch;
mod observe;

pub use launch::{handle_launch, ExecuteError, LaunchOutcome, Ports, TokenParameters};
