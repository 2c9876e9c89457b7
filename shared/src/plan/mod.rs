//! The planner: given one observation of the cluster and the event's hint, the next step.
//!
//! Pure: no I/O, no clock (the observation carries `now`). The executor runs the step,
//! updates the view with what the step reports, and asks again, until the step is
//! terminal. What a delivery has not observed yet the planner asks for (a step of its
//! own) only when its decision depends on it, so a join costs a few commands however
//! large the swarm. Every step is planned from what was observed in this delivery, and
//! a duplicate, late or out-of-order event finds its work already done and ends the
//! same way.

mod launch;
mod load_balancer;
mod manager_quorum;
mod observation_needed;
mod reconcile;
mod repair;
mod step;
mod terminate;

pub use launch::{learned_boot_ms, next_launch_step, LaunchAction};
pub use load_balancer::{
    plan_balancer, wanted_listeners, BalancerChange, BalancerPlan, BalancerView, ListenerProtocol,
    ManagedListener, ManagedTargetGroup, Refusal, TargetProtocol, WantedListener,
    HEALTH_CHECK_PORT,
};
pub use manager_quorum::ManagerQuorum;
pub use observation_needed::subject_node_id;
pub use reconcile::{plan_reconcile, Ghost, ReconcileWork};
pub use repair::{plan_repairs, RepairPlan};
pub use step::{LifecycleResult, Step, WaitingFor};
pub use terminate::{next_terminate_step, TerminateAction};
