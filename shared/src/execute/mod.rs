//! The executor: observe the cluster through the ports, ask the planner for the next
//! step, run it, and observe again, until the step is terminal.

mod balance;
mod drive;
mod launch;
mod managers_record;
mod observe;
mod on_a_manager;
mod perform;
mod reconcile;
mod resource;
mod terminate;

pub use balance::{balance, clear_balancer, BalanceReport};
pub use launch::{handle_launch, ExecuteError, Handled, Ports, TokenParameters};
pub use managers_record::{sync_managers_record, RecordSync};
pub use reconcile::{reconcile, ReconcileReport};
pub use resource::{record_spec, remove_cluster, rotate_tokens, Rotation};
pub use terminate::handle_terminate;

pub(crate) use on_a_manager::answering_manager;
