//! The narrow capabilities the brain needs from a cloud, one trait each. Each cloud
//! implements them in its own adapter crate; the executor is generic over them.

use std::future::Future;
use std::time::Duration;

use crate::cluster::{GroupMember, MemberState, Role, StoreRecord};
use crate::plan::{BalancerChange, BalancerView, LifecycleResult};

/// A failure talking to the cloud, with what was being done and to what.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {target} failed{}", if *.retryable { " (retryable)" } else { "" })]
pub struct PortError {
    pub operation: &'static str,
    pub target: String,
    /// Throttling, timeouts, 5xx: the same event may succeed later.
    pub retryable: bool,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Whether a conditional write won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// Someone else wrote first: observe again.
    Conflict,
}

/// What a conditional save of the cluster's record came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// Someone else wrote first. `current` is what the store holds now when its refusal
    /// says (so the writer need not read it again); None: read it.
    Lost {
        current: Option<Box<StoreRecord>>,
    },
}

/// The cluster's record, written only if nobody wrote since it was read.
pub trait ClusterStore: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<StoreRecord, PortError>> + Send;
    /// Saves `record` (whose generation is `expected_generation + 1`) if the stored
    /// generation is still `expected_generation`.
    fn save(
        &self,
        record: &StoreRecord,
        expected_generation: u64,
    ) -> impl Future<Output = Result<Saved, PortError>> + Send;
    /// Removes the record (the cluster is being deleted); removing none is not an error.
    fn remove(&self) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Where the join tokens are kept. Nodes write and read them with their own identity;
/// the functions only ever remove them, when the cluster is deleted.
pub trait TokenVault: Send + Sync {
    /// Removes the named secrets; names that do not exist are not an error.
    fn remove(&self, names: &[String]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What a script printed on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the brain's scripts on a node (SSM Run Command, VMSS Run Command).
pub trait NodeEngine: Send + Sync {
    /// None when the node cannot take commands yet (its agent is not online).
    fn run(
        &self,
        instance_id: &str,
        script: &str,
    ) -> impl Future<Output = Result<Option<ScriptOutput>, PortError>> + Send;
}

/// What the cloud says of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFacts {
    /// From its group: None when it is in neither of the cluster's groups.
    pub role: Option<Role>,
    /// Where it stands in that group (None when it is in neither).
    pub lifecycle: Option<MemberState>,
    /// Its private address. Needed for managers only (advertised, and listed for joins):
    /// an adapter may leave a worker's out to spare a call.
    pub address: Option<String>,
}

/// The lifecycle action an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRef {
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    pub token: String,
}

/// Whether the action was still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    Done,
    /// The action is no longer pending (completed already, timed out, instance gone).
    NotPending,
}

/// The groups and their lifecycle actions.
pub trait Fleet: Send + Sync {
    /// Every instance the cluster's two groups hold, in whatever state.
    fn members(&self) -> impl Future<Output = Result<Vec<GroupMember>, PortError>> + Send;
    /// Whether the cloud is taking the whole swarm down: the manager group is being
    /// deleted, or has no room left for any manager (minimum, desired and maximum 0, as
    /// a stack delete leaves it). A manager group that no longer exists counts too.
    fn swarm_deleting(&self) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// None when the instance no longer exists.
    fn describe(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<InstanceFacts>, PortError>> + Send;
    fn complete(
        &self,
        action: &ActionRef,
        result: LifecycleResult,
    ) -> impl Future<Output = Result<ActionOutcome, PortError>> + Send;
    fn heartbeat(
        &self,
        action: &ActionRef,
    ) -> impl Future<Output = Result<ActionOutcome, PortError>> + Send;
    /// Tells the group that the instance is unhealthy: it replaces it (through the
    /// terminate hook). An instance that is gone, or leaving already, is not an error.
    fn mark_unhealthy(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Tells the stack that this instance of `role`'s group is in the swarm and serving
    /// (a resource signal for the group's creation policy). A group that is not waiting
    /// for signals is not an error.
    fn signal_ready(
        &self,
        instance_id: &str,
        role: Role,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The stack's load balancer: the listeners and target groups swarmhook manages on it
/// (marked as the cluster's), which follow the swarm's published ports.
pub trait Balancer: Send + Sync {
    /// What the balancer has: swarmhook's listeners and target groups, the ports of the
    /// listeners it did not create, and the quotas.
    fn observe(&self) -> impl Future<Output = Result<BalancerView, PortError>> + Send;
    /// Makes one change. Creating what exists already, or removing what is gone, is not
    /// an error.
    fn apply(&self, change: &BalancerChange) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A DNS record's current values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub ttl: i64,
    /// Sorted.
    pub values: Vec<String>,
}

/// The managers' DNS record (every manager's private address), written only on the
/// condition that it still holds what was read: a replacement deletes the exact current
/// values in the same atomic change, so two writers cannot clobber each other.
pub trait ManagersRecord: Send + Sync {
    /// None when the record does not exist.
    fn current(&self) -> impl Future<Output = Result<Option<DnsRecord>, PortError>> + Send;
    /// Replaces `current` by `wanted` (no record when empty); Conflict when the record no
    /// longer holds `current`.
    fn replace(
        &self,
        current: Option<&DnsRecord>,
        wanted: &[String],
    ) -> impl Future<Output = Result<WriteOutcome, PortError>> + Send;
}

/// Time as the trigger's runtime keeps it: the brain has no runtime of its own, so it
/// reads the clock and pauses through this.
pub trait Clock: Send + Sync {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> u64;
    /// Seconds since the epoch.
    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
    fn pause(&self, how_long: Duration) -> impl Future<Output = ()> + Send;
}

/// Where a trigger's follow-ups go: a request for a reconcile soon, on the queue the
/// trigger consumes (on AWS the lifecycle queue, delayed by `delay_seconds`).
pub trait FollowUps: Send + Sync {
    fn request_reconcile(
        &self,
        delay_seconds: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
