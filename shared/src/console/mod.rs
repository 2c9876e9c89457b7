//! The console: what an operator sees of the swarm, read on one manager and joined with
//! what the cloud and the store say of each machine. Cloud-neutral: a cloud's console
//! (CloudWatch custom widgets on AWS) renders a `SwarmPicture`; the reading is bounded
//! however large the swarm grows (a summary, the unhealthy first, then pages).

mod compose;
mod operate;
mod parse;
mod picture;
mod scripts;

use serde::Serialize;

use crate::cluster::Role;
use crate::engine::{ParseError, ScriptError};
use crate::ports::PortError;

pub use compose::{check_compose, ComposeError, ComposeFile, MAX_COMPOSE_BYTES};
pub use operate::{node_id, operate, stack_name, Operation, Outcome, MAX_REPLICAS};
pub use parse::{parse_service_tasks, parse_swarm_picture, NodesAndServices};
pub use picture::{service_tasks, swarm_picture, PicturePorts};
pub use scripts::{
    service_tasks_script, swarm_picture_script, NODES_PER_PAGE, SERVICES_LISTED, TASKS_LISTED,
    UNHEALTHY_LISTED,
};

/// The swarm as one manager saw it, with each node's machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwarmPicture {
    /// The machine of the manager that answered.
    pub reported_by: String,
    /// How many nodes stand in each role, status and availability.
    pub counts: Vec<NodeCount>,
    pub nodes_total: u32,
    /// Nodes not serving (not Ready, not Active, or a manager out of the quorum), at
    /// most `UNHEALTHY_LISTED`, whatever the page.
    pub unhealthy: Vec<NodeRow>,
    /// The page asked for (0-based), `NODES_PER_PAGE` nodes by hostname.
    pub page: u32,
    pub nodes: Vec<NodeRow>,
    /// Machines in the cluster's groups with no node in the swarm (launching, or gone
    /// from the swarm while their machine stays).
    pub machines_without_node: Vec<MachineRow>,
    /// Every machine of the cluster's groups, counted by zone and role.
    pub machines_by_zone: Vec<ZoneCount>,
    pub services_total: u32,
    /// At most `SERVICES_LISTED`, those short of their replicas first.
    pub services: Vec<ServiceRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCount {
    pub role: Role,
    pub status: String,
    pub availability: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneCount {
    /// None when the cloud does not say.
    pub zone: Option<String>,
    pub role: Role,
    pub count: u32,
}

/// One node, in the engine's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub node_id: String,
    pub hostname: String,
    pub role: Role,
    pub status: String,
    pub availability: String,
    /// Leader, Reachable or Unreachable; None for a worker.
    pub manager_status: Option<String>,
    pub engine_version: String,
    /// Its machine, when swarmhook joined it.
    pub machine: Option<MachineRow>,
}

impl NodeRow {
    /// Ready, Active and, for a manager, in the quorum.
    pub fn serving(&self) -> bool {
        self.status == "Ready"
            && self.availability == "Active"
            && matches!(
                self.manager_status.as_deref(),
                None | Some("Leader" | "Reachable")
            )
    }
}

/// A machine as the cloud and the store see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineRow {
    pub instance_id: String,
    pub role: Option<Role>,
    /// The zone it runs in.
    pub placement: Option<String>,
    /// The cloud's own word for where it stands (`InService`, `Terminating:Wait`, …).
    pub cloud_state: Option<String>,
    /// What swarmhook is doing with it, if anything.
    pub doing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    /// The stack it belongs to (`com.docker.stack.namespace`).
    pub stack: Option<String>,
    /// `replicated`, `global`, …
    pub mode: String,
    pub running: u32,
    pub desired: u32,
    pub image: String,
    pub ports: Vec<ServicePort>,
    /// A rolling update's state (`updating`, `completed`, `paused`, `rollback_*`).
    pub update_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePort {
    pub published: u16,
    pub target: u16,
    pub protocol: String,
    /// `ingress` (on every node, the load balancer's) or `host`.
    pub mode: String,
    pub listener: Listener,
}

/// Where a published port stands on the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Listener {
    /// A listener of swarmhook's answers on the port, with this protocol.
    Listening { protocol: String },
    /// None yet: the next reconcile makes it.
    Pending,
    /// A host-mode port: bound only where a task runs, not balanced.
    NotBalanced,
    /// The stack has no load balancer.
    NoBalancer,
}

/// One of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    pub id: String,
    pub name: String,
    pub node: String,
    pub desired_state: String,
    pub current_state: String,
    pub error: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("reading the cluster's record")]
    Store(#[source] PortError),
    #[error("running the console's script on a manager")]
    Engine(#[source] PortError),
    #[error("listing the cluster's machines")]
    Fleet(#[source] PortError),
    #[error("reading the load balancer")]
    Balancer(#[source] PortError),
    #[error("no manager answered (the swarm may still be forming, or has lost its managers)")]
    NoManagerAnswers,
    #[error("no service named {0:?}")]
    NoSuchService(String),
    /// An operation the swarm or the console refused, with why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl ConsoleError {
    /// Whether the same request may succeed if made again.
    pub fn retryable(&self) -> bool {
        match self {
            ConsoleError::Store(e)
            | ConsoleError::Engine(e)
            | ConsoleError::Fleet(e)
            | ConsoleError::Balancer(e) => e.retryable,
            ConsoleError::NoManagerAnswers => true,
            ConsoleError::NoSuchService(_)
            | ConsoleError::Refused(_)
            | ConsoleError::Compose(_)
            | ConsoleError::Script(_)
            | ConsoleError::Parse(_) => false,
        }
    }
}
