//! An in-memory cluster for testing the pure planner: a store with conditional writes,
//! engines that come up after a while, and a swarm whose new members become Ready one
//! observation after they join. Deliveries of lifecycle events advance one step at a
//! time, in whatever order the test chooses. Terminations go through the terminate
//! planner against the same swarm, whose managers only change membership while a
//! majority of them serve. It records what the invariants need.

use std::collections::BTreeMap;

use swarmhook::cluster::{
    Availability, ClusterView, Departure, EngineState, GroupMember, InitClaim, JoinLease,
    ManagerRecord, ManagerStatus, MemberState, NodeRecord, NodeStatus, Role, StoreRecord, Subject,
    SwarmMember, SwarmRecord,
};
use swarmhook::plan::{
    next_launch_step, next_terminate_step, plan_reconcile, LaunchAction, LifecycleResult, Step,
    TerminateAction,
};
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
    pub availability: Availability,
    /// It left the swarm (`swarm leave`): the swarm reports it Down until it is removed.
    pub left: bool,
    /// Its instance was killed outside any hook: Down (a manager still counts in the
    /// Raft group, unreachable) until it is demoted and removed.
    pub dead: bool,
}

impl Member {
    pub fn ready(&self, now: u64) -> bool {
        now >= self.ready_at && !self.dead
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
    /// Terminate actions waiting, with the tick each began.
    pub leaving: BTreeMap<String, u64>,
    pub terminations: BTreeMap<String, Vec<LifecycleResult>>,
    pub violations: Vec<String>,
    pub max_workers_joining: usize,
    /// Instances killed outside any hook: no group holds them any more.
    pub killed: Vec<String>,
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
        let ready = m.ready(self.now) && !m.left;
        SwarmMember {
            node_id: format!("node-{}", m.instance_id),
            hostname: format!("host-{}", m.instance_id),
            role: m.role,
            status: if m.left || m.dead {
                NodeStatus::Down
            } else if ready {
                NodeStatus::Ready
            } else {
                NodeStatus::Unknown
            },
            manager_status: match (m.role, ready) {
                (Role::Worker, _) => None,
                (Role::Manager, true) => Some(ManagerStatus::Reachable),
                (Role::Manager, false) => Some(ManagerStatus::Unreachable),
            },
            availability: m.availability,
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
        // As the real observation: the recorded managers are asked in turn (the subject
        // last), and the first that is a manager of the swarm answers.
        let mut asked: Vec<String> = self
            .store
            .managers
            .iter()
            .map(|m| m.instance_id.clone())
            .filter(|m| m != instance_id)
            .collect();
        if self.store.has_manager(instance_id) {
            asked.push(instance_id.to_owned());
        }
        let reported_by = asked.into_iter().find(|m| {
            self.members
                .iter()
                .any(|x| &x.instance_id == m && x.role == Role::Manager && !x.left && !x.dead)
        });
        let (membership, managers) = if reported_by.is_some() {
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
            (membership, managers)
        } else {
            (None, Vec::new())
        };
        let lifecycle = self
            .group_members()
            .into_iter()
            .find(|m| m.instance_id == instance_id)
            .map(|m| m.state);
        ClusterView {
            now: self.now,
            settings: self.settings.clone(),
            store: self.store.clone(),
            subject: Subject {
                instance_id: instance_id.to_owned(),
                role: node.role,
                lifecycle,
                address: Some(node.address.clone()),
                engine: node.engine.clone(),
                joined_now: false,
                running_tasks: membership.as_ref().map(|_| 0),
                membership,
            },
            swarm_observed: true,
            managers,
            reported_by,
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

    /// The group begins terminating `instance_id` (its terminate hook waits).
    pub fn terminate(&mut self, instance_id: &str) {
        self.leaving.insert(instance_id.to_owned(), self.now);
    }

    /// One observe → plan → execute round for a delivery of `instance_id`'s terminate
    /// event.
    pub fn advance_terminate(&mut self, instance_id: &str) -> Advance {
        let Some(began) = self.leaving.get(instance_id).copied() else {
            return Advance::Done;
        };
        let view = self.observe(instance_id);
        let action = TerminateAction {
            instance_id: instance_id.to_owned(),
            seconds_left: 3_600,
            elapsed_seconds: self.now - began,
            swarm_deleting: false,
        };
        let step = next_terminate_step(&view, &action);
        self.execute(instance_id, step)
    }

    /// Kills an instance outside any hook (EC2 console, a crash): its engine never answers
    /// again, the swarm reports its node Down, and no group holds it.
    pub fn kill(&mut self, instance_id: &str) {
        if let Some(n) = self.nodes.get_mut(instance_id) {
            n.engine = EngineState::Unreachable;
            n.boot_delay = u32::MAX;
        }
        if let Some(m) = self
            .members
            .iter_mut()
            .find(|m| m.instance_id == instance_id)
        {
            m.dead = true;
        }
        self.pending.remove(instance_id);
        self.killed.push(instance_id.to_owned());
    }

    /// What the two groups hold: every instance not killed and not terminated.
    fn group_members(&self) -> Vec<GroupMember> {
        self.nodes
            .iter()
            .filter(|(id, _)| !self.killed.contains(id) && !self.terminations.contains_key(*id))
            .filter_map(|(id, n)| {
                Some(GroupMember {
                    instance_id: id.clone(),
                    role: n.role?,
                    state: if self.leaving.contains_key(id) {
                        MemberState::Terminating
                    } else if self.pending.contains_key(id) {
                        MemberState::Pending
                    } else {
                        MemberState::InService
                    },
                })
            })
            .collect()
    }

    /// One step of a scheduled reconcile: the first ghost with a step to take takes it
    /// (each ghost through the terminate planner, with no lifecycle action). Done once
    /// there is no ghost left; Retry while every ghost must wait.
    pub fn advance_reconcile(&mut self) -> Advance {
        let work = plan_reconcile(
            &self.store,
            &self.group_members(),
            self.settings.reconcile_batch,
        );
        if work.ghosts.is_empty() {
            return Advance::Done;
        }
        for ghost in work.ghosts {
            let id = ghost.instance_id;
            let view = self.observe(&id);
            let action = TerminateAction {
                instance_id: id.clone(),
                seconds_left: u64::MAX,
                elapsed_seconds: u64::MAX,
                swarm_deleting: false,
            };
            match next_terminate_step(&view, &action) {
                Step::RetryLater { .. } => continue,
                Step::Complete { .. } => {
                    if self.members.iter().any(|m| m.instance_id == id) {
                        self.violations
                            .push(format!("ghost {id} ended while still in the swarm"));
                    }
                    continue;
                }
                step => {
                    self.execute(&id, step);
                    return Advance::Continue;
                }
            }
        }
        Advance::Retry
    }

    /// Managers of the swarm that have not left, and how many of them serve.
    fn raft(&self) -> (usize, usize) {
        let now = self.now;
        let managers: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.role == Role::Manager && !m.left)
            .collect();
        let serving = managers.iter().filter(|m| m.ready(now)).count();
        (managers.len(), serving)
    }

    fn member_by_node(&mut self, node_id: &str) -> Option<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| format!("node-{}", m.instance_id) == node_id)
    }

    /// Whether `via` can run swarm-wide commands (it is a manager of the swarm).
    fn is_manager(&self, via: &str) -> bool {
        self.members
            .iter()
            .any(|m| m.instance_id == via && m.role == Role::Manager && !m.left && !m.dead)
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
            // The simulator's views are observed in full: asking again would loop.
            Step::ObserveEngine { .. } | Step::ObserveSwarm { .. } => {
                panic!("the planner asked to observe what its view already holds: {step:?}")
            }
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
                        availability: Availability::Active,
                        left: false,
                        dead: false,
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
                let managers_now: Vec<_> = self
                    .members
                    .iter()
                    .filter(|m| m.role == Role::Manager)
                    .collect();
                let reachable = managers_now.iter().filter(|m| m.ready(now)).count();
                // The swarm's own rule, not the planner's: a join commits only while a
                // majority of the managers answers.
                if role == Role::Manager && reachable * 2 <= managers_now.len() {
                    self.violations.push(format!(
                        "manager {instance_id} joined while only {reachable} of {} managers were reachable",
                        managers_now.len()
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
                        availability: Availability::Active,
                        left: false,
                        dead: false,
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
            Step::RecordJoined {
                instance_id,
                node_id,
                role,
                expected_generation,
            } => {
                if self.write(expected_generation) {
                    self.store.leases.retain(|l| l.instance_id != instance_id);
                    self.store.nodes.retain(|n| n.instance_id != instance_id);
                    self.store.nodes.push(NodeRecord {
                        instance_id,
                        node_id,
                        role,
                    });
                }
            }
            Step::RecordDeparture {
                instance_id,
                node_id,
                role,
                expected_generation,
            } => {
                if self.write(expected_generation)
                    && self.store.departure_of(&instance_id).is_none()
                {
                    self.store.departures.push(Departure {
                        instance_id,
                        node_id,
                        role,
                    });
                }
            }
            Step::Demote { via, node_id } => {
                if !self.is_manager(&via) {
                    return Advance::Continue; // the command fails on a non-manager
                }
                let (managers, serving) = self.raft();
                let leaving_serves = self.members.iter().any(|m| {
                    format!("node-{}", m.instance_id) == node_id && m.ready(self.now) && !m.left
                });
                let others_serving = serving - usize::from(leaving_serves);
                if serving * 2 <= managers {
                    return Advance::Continue; // no quorum: the demotion cannot commit
                }
                if others_serving * 2 < managers || managers <= 1 {
                    self.violations.push(format!(
                        "demoting {node_id} leaves {others_serving} serving of {} managers",
                        managers - 1
                    ));
                }
                if let Some(m) = self.member_by_node(&node_id) {
                    m.role = Role::Worker;
                    let id = m.instance_id.clone();
                    if let Some(n) = self.nodes.get_mut(&id) {
                        if let EngineState::Active { node_id, .. } = &n.engine {
                            n.engine = EngineState::Active {
                                node_id: node_id.clone(),
                                cluster_id: None,
                                is_manager: false,
                            };
                        }
                    }
                }
            }
            Step::Drain { via, node_id } => {
                if self.is_manager(&via) {
                    if let Some(m) = self.member_by_node(&node_id) {
                        m.availability = Availability::Drain;
                    }
                }
            }
            Step::Leave { instance_id } => {
                if let Some(m) = self
                    .members
                    .iter_mut()
                    .find(|m| m.instance_id == instance_id)
                {
                    if m.role == Role::Manager {
                        self.violations
                            .push(format!("manager {instance_id} left without being demoted"));
                    }
                    m.left = true;
                }
                if let Some(n) = self.nodes.get_mut(&instance_id) {
                    n.engine = EngineState::Inactive;
                }
            }
            Step::RemoveNode { via, node_id } => {
                if self.is_manager(&via) {
                    let down = self
                        .members
                        .iter()
                        .find(|m| format!("node-{}", m.instance_id) == node_id)
                        .map(|m| (m.left || m.dead, m.role));
                    match down {
                        Some((true, Role::Manager)) => self
                            .violations
                            .push(format!("manager {node_id} removed without being demoted")),
                        Some((true, Role::Worker)) => self
                            .members
                            .retain(|m| format!("node-{}", m.instance_id) != node_id),
                        _ => {} // not down: the swarm refuses
                    }
                }
            }
            Step::Forget {
                instance_id,
                expected_generation,
            } => {
                if self.write(expected_generation) {
                    self.store
                        .departures
                        .retain(|d| d.instance_id != instance_id);
                    self.store.managers.retain(|m| m.instance_id != instance_id);
                    self.store.leases.retain(|l| l.instance_id != instance_id);
                    self.store.nodes.retain(|n| n.instance_id != instance_id);
                }
            }
            Step::Complete { result, .. } if self.leaving.contains_key(subject) => {
                if self.members.iter().any(|m| m.instance_id == subject) {
                    self.violations.push(format!(
                        "{subject} completed its termination while still in the swarm"
                    ));
                }
                if self.store.has_manager(subject) || self.store.departure_of(subject).is_some() {
                    self.violations.push(format!(
                        "{subject} completed its termination before the store forgot it"
                    ));
                }
                self.leaving.remove(subject);
                self.terminations
                    .entry(subject.to_owned())
                    .or_default()
                    .push(result);
                // The machine goes.
                if let Some(n) = self.nodes.get_mut(subject) {
                    n.engine = EngineState::Unreachable;
                    n.boot_delay = u32::MAX;
                }
                return Advance::Done;
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
            Step::Disregard { reason } => {
                self.violations
                    .push(format!("{subject}'s real event disregarded: {reason}"));
                return Advance::Done;
            }
        }
        Advance::Continue
    }
}
