//! The cluster as swarmhook sees it: what the store records, what the swarm reports,
//! and what the instance an event is about says of itself.

mod group;
mod observation;
mod published;
mod store_record;
mod swarm;

pub use group::{GroupMember, MemberState};
pub use observation::{ClusterView, EngineState, Subject};
pub use published::{tls_label, PublishedPort, Transport};
pub use store_record::{
    Departure, InitClaim, JoinLease, ManagerRecord, NodeRecord, StoreRecord, Suspect, SwarmRecord,
};
pub use swarm::{Availability, ManagerStatus, NodeStatus, Role, SwarmMember};
