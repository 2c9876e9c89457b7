//! An in-memory cluster for testing the pure planner: a store with conditional writes,
//! engines that come up after a while, and a swarm whose new members become Ready one
//! observation after they join. Deliveries of lifecycle events advance one step at a
//! time, in whatever order the test chooses. It records what the invariants need.

use std::collections::BTreeMap;

use swarmhook::cluster::{
    ClusterView, EngineState, InitClaim, JoinLease, ManagerRecord, ManagerStatus, NodeStatus, Role,
    StoreRecord, Subject, SwarmMember, SwarmRecord,
};
use swarmhook::plan::{next_launch_step, LaunchAction, LifecycleResult, Step};
use swarmhook::settings::ClusterSettings;

#[derive(Debug, Clone)]
pub struct SimNode {
    pub role: Option<Role>,
    pub address: String,
    /// Observations before the engine answers.
    pub boot_delay: u32,
    pub observed: u32,
    pub engine: EngineState,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub instance_id: String,
    pub role: Role,
    pub cluster_id: String,
    /// The swarm reports the member Ready from this tick on.
    pub ready_at: u64,
}

impl Member {
    pub fn ready(&self, now: u64) -> bool {
        now >= self.ready_at
    }
}

#[derive(Debug, Default)]
pub struct World {
    pub now: u64,
    pub settings: ClusterSettings,
    pub store: StoreRecord,
    pub nodes: BTreeMap<String, SimNode>,
    pub members: Vec<Member>,
    pub inits: Vec<String>,
    pub pending: BTreeMap<String, ()>,
    pub completions: BTreeMap<String, Vec<LifecycleResult>>,
    pub violations: Vec<String>,
    pub max_workers_joining: usize,
    next_cluster: u32,
}

/// What one advance of a delivery did.
#[derive(Debug, PartialEq, Eq)]
pub enum Advance {
    /// A non-terminal step ran (or lost a race); the delivery goes on.
    Continue,
    /// The delivery ended: completed, or the action was no longer pending.
    Done,
    /// RetryLater: the event comes back later.
    Retry,
}

impl World {
    pub fn new(settings: ClusterSettings) -> Self {
        World {
            settings,
            now: 1_000,
            ..World::default()
        }
    }

    pub fn launch(&mut self, instance_id: &str, role: Option<Role>, boot_delay: u32) {
        let n = self.nodes.len() + 4;
        self.nodes.insert(
            instance_id.to_owned(),
            SimNode {
                role,
                address: format!("10.0.1.{n}"),
                boot_delay,
                observed: 0,
                engine: EngineState::Unreachable,
            },
        );
        self.pending.insert(instance_id.to_owned(), ());
    }

    fn member_view(&self, m: &Member) -> SwarmMember {
        let ready = m.ready(self.now);
        SwarmMember {
            node_id: format!("node-{}", m.instance_id),
            hostname: format!("host-{}", m.instance_id),
            role: m.role,
            status: if ready {
                NodeStatus::Ready
            } else {
                NodeStatus::Unknown
            },
            manager_status: match (m.role, ready) {
                (Role::Worker, _) => None,
                (Role::Manager, true) => Some(ManagerStatus::Reachable),
                (Role::Manager, false) => Some(ManagerStatus::Unreachable),
            },
        }
    }

    pub fn observe(&mut self, instance_id: &str) -> ClusterView {
        self.now += 1;
        let node = self.nodes.get_mut(instance_id).expect("launched");
        node.observed += 1;
        if node.engine == EngineState::Unreachable && node.observed > node.boot_delay {
            node.engine = EngineState::Inactive;
        }
        let node = node.clone();
        let cluster = self.store.swarm.as_ref().map(|s| s.cluster_id.clone());
        let membership = self
            .members
            .iter()
            .find(|m| m.instance_id == instance_id && Some(&m.cluster_id) == cluster.as_ref())
            .map(|m| self.member_view(m));
        let managers = self
            .members
            .iter()
            .filter(|m| m.role == Role::Manager && Some(&m.cluster_id) == cluster.as_ref())
            .map(|m| self.member_view(m))
            .collect();
        ClusterView {
            now: self.now,
            settings: self.settings.clone(),
            store: self.store.clone(),
            subject: Subject {
                instance_id: instance_id.to_owned(),
                role: node.role,
                address: Some(node.address.clone()),
                engine: node.engine.clone(),
                membership,
            },
            managers,
        }
    }

    /// One observe → plan → execute round for a delivery of `instance_id`'s launch event.
    pub fn advance(&mut self, instance_id: &str) -> Advance {
        if !self.pending.contains_key(instance_id) {
            // CompleteLifecycleAction would answer ValidationError: stop quietly.
            return Advance::Done;
        }
        let view = self.observe(instance_id);
        let action = LaunchAction {
            instance_id: instance_id.to_owned(),
            seconds_left: 3_600,
        };
        let step = next_launch_step(&view, &action);
        self.execute(instance_id, step)
    }

    fn write(&mut self, expected: u64) -> bool {
        if self.store.generation != expected {
            return false;
        }
        self.store.generation += 1;
        true
    }

    fn execute(&mut self, subject: &str, step: Step) -> Advance {
        match step {
            Step::ClaimInit {
                instance_id,
                expected_generation,
            } => {
                if self.write(expected_generation) {
                    self.store.init_claim = Some(InitClaim {
                        instance_id,
                        generation: self.store.generation,
                        claimed_at: self.now,
                    });
                }
            }
            Step::InitSwarm { instance_id, .. } => {
                let node = self.nodes.get_mut(&instance_id).expect("node");
                if node.engine == EngineState::Inactive {
                    self.next_cluster += 1;
                    let cluster_id = format!("cluster-{}", self.next_cluster);
                    node.engine = EngineState::Active {
                        node_id: format!("node-{instance_id}"),
                        cluster_id: Some(cluster_id.clone()),
                        is_manager: true,
                    };
                    self.inits.push(instance_id.clone());
                    self.members.push(Member {
                        instance_id,
                        role: Role::Manager,
                        cluster_id,
                        ready_at: self.now,
                    });
                }
            }
            Step::RecordSwarm {
                instance_id,
                address,
                cluster_id,
                claim_generation,
                expected_generation,
            } => {
                let claim_holds = self
                    .store
                    .init_claim
                    .as_ref()
                    .is_some_and(|c| c.generation == claim_generation);
                if claim_holds && self.store.swarm.is_none() && self.write(expected_generation) {
                    self.store.swarm = Some(SwarmRecord {
                        cluster_id,
                        tokens_published: false,
                    });
                    self.store.managers.push(ManagerRecord {
                        instance_id,
                        address,
                    });
                }
            }
            Step::PublishTokens {
                expected_generation,
                ..
            } => {
                if self.write(expected_generation) {
                    if let Some(s) = self.store.swarm.as_mut() {
                        s.tokens_published = true;
                    }
                }
            }
            Step::AcquireLease {
                instance_id,
                role,
                expires_at,
                expected_generation,
            } => {
                if self.write(expected_generation) {
                    self.store.leases.retain(|l| l.instance_id != instance_id);
                    self.store.leases.push(JoinLease {
                        instance_id,
                        role,
                        expires_at,
                    });
                    let workers = self
                        .store
                        .leases
                        .iter()
                        .filter(|l| l.role == Role::Worker && l.expires_at > self.now)
                        .count();
                    self.max_workers_joining = self.max_workers_joining.max(workers);
                    let managers = self
                        .store
                        .leases
                        .iter()
                        .filter(|l| l.role == Role::Manager && l.expires_at > self.now)
                        .count();
                    if managers > 1 {
                        self.violations
                            .push(format!("{managers} manager join leases at once"));
                    }
                }
            }
            Step::Join {
                instance_id,
                role,
                managers,
            } => {
                let Some(swarm) = self.store.swarm.clone() else {
                    self.violations
                        .push(format!("{instance_id} joined before the swarm existed"));
                    return Advance::Continue;
                };
                if managers.is_empty() {
                    self.violations
                        .push(format!("{instance_id} joined with no manager address"));
                }
                let now = self.now;
                if role == Role::Manager
                    && self
                        .members
                        .iter()
                        .any(|m| m.role == Role::Manager && !m.ready(now))
                {
                    self.violations.push(format!(
                        "manager {instance_id} joined while another manager was not Ready"
                    ));
                }
                let node = self.nodes.get_mut(&instance_id).expect("node");
                if node.engine == EngineState::Inactive {
                    node.engine = EngineState::Active {
                        node_id: format!("node-{instance_id}"),
                        cluster_id: (role == Role::Manager).then(|| swarm.cluster_id.clone()),
                        is_manager: role == Role::Manager,
                    };
                    // A joiner is reported Ready a few ticks later.
                    self.members.push(Member {
                        instance_id,
                        role,
                        cluster_id: swarm.cluster_id,
                        ready_at: self.now + 3,
                    });
                }
            }
            Step::RecordManager {
                instance_id,
                address,
                expected_generation,
            } => {
                if self.write(expected_generation) && !self.store.has_manager(&instance_id) {
                    self.store.managers.push(ManagerRecord {
                        instance_id,
                        address,
                    });
                }
            }
            Step::ReleaseLease {
                instance_id,
                expected_generation,
            } => {
                if self.write(expected_generation) {
                    self.store.leases.retain(|l| l.instance_id != instance_id);
                }
            }
            Step::Complete { result, .. } => {
                let now = self.now;
                let serving = self
                    .members
                    .iter()
                    .any(|m| m.instance_id == subject && m.ready(now));
                if result == LifecycleResult::Continue && !serving {
                    self.violations
                        .push(format!("{subject} completed CONTINUE before it was Ready"));
                }
                if self.pending.remove(subject).is_some() {
                    self.completions
                        .entry(subject.to_owned())
                        .or_default()
                        .push(result);
                }
                return Advance::Done;
            }
            Step::RetryLater { .. } => return Advance::Retry,
        }
        Advance::Continue
    }
}
