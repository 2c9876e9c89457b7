//! The `Custom::Swarm` resource: what the template asks of the swarm (its spec), checked
//! before anything is launched, and what an update of it means.

mod spec;

pub use spec::{SpecError, SwarmSpec, VALID_MANAGER_COUNTS};
