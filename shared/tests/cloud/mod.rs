//! An in-memory cloud for the brain's property tests: a store with the same conditional
//! writes, groups with lifecycle actions, Docker simulated (`docker.rs`) behind the engine
//! port, a clock, follow-ups, and failures injected into any call. The brain runs here as
//! it runs in a function: `trigger::Brain::handle` over these ports. Every port call
//! yields once first, so the interleaving executor (`interleave.rs`) can switch between
//! deliveries at each call, as concurrent functions would.

pub mod docker;
pub mod interleave;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use swarmhook::cluster::{GroupMember, MemberState, Role, StoreRecord};
use swarmhook::events::{Event, LifecycleEvent, ReconcileTrigger, Transition};
use swarmhook::plan::{BalancerChange, BalancerView, LifecycleResult};
use swarmhook::ports::{
    ActionOutcome, ActionRef, Balancer, Clock, ClusterStore, DnsRecord, Fleet, FollowUps,
    InstanceFacts, ManagersRecord, NodeEngine, PortError, Saved, ScriptOutput, WriteOutcome,
};

use docker::{Docker, Engine};
use interleave::yield_now;

pub const MANAGERS: &str = "sim-managers";
pub const WORKERS: &str = "sim-workers";

#[derive(Debug, Clone)]
pub struct Instance {
    pub role: Role,
    pub state: MemberState,
    pub address: String,
    /// When its agent comes online (seconds).
    pub online_at: u64,
    /// The lifecycle action waiting on it, if any.
    pub action: Option<(String, Transition)>,
}

#[derive(Debug, Default)]
pub struct World {
    pub now_ms: u64,
    pub store: Option<StoreRecord>,
    pub instances: BTreeMap<String, Instance>,
    pub docker: Docker,
    /// Messages the cloud sends: lifecycle events, reconcile requests (with their delay).
    pub outbox: Vec<(Event, u64)>,
    /// Every completion the groups accepted: (token, result).
    pub completions: Vec<(String, LifecycleResult)>,
    pub violations: Vec<String>,
    /// About one call in `fail_every` fails (0: none), chosen pseudo-randomly from the
    /// call's number and `fail_seed` (a fixed period would fall in step with a periodic
    /// workload and fail the same call every time).
    pub fail_every: u64,
    pub fail_seed: u64,
    pub calls: u64,
    next_instance: u32,
    next_token: u32,
}

impl World {
    pub fn now(&self) -> u64 {
        self.now_ms / 1000
    }

    /// Launches an instance into a group: its launch action and event.
    pub fn launch(&mut self, role: Role, boot_delay: u64) -> String {
        self.next_instance += 1;
        let id = format!("i-{:04}", self.next_instance);
        let address = format!(
            "10.0.{}.{}",
            self.next_instance / 250,
            self.next_instance % 250 + 1
        );
        let token = self.token();
        self.instances.insert(
            id.clone(),
            Instance {
                role,
                state: MemberState::Pending,
                address: address.clone(),
                online_at: self.now() + boot_delay,
                action: Some((token.clone(), Transition::Launching)),
            },
        );
        self.docker.addresses.insert(id.clone(), address);
        self.docker.engines.insert(
            id.clone(),
            Engine {
                up: true,
                node_id: None,
            },
        );
        self.emit(&id, role, &token, Transition::Launching);
        id
    }

    /// The group begins terminating an instance in service (Terminating:Wait, its event)
    /// and, as Auto Scaling does, launches its replacement at once (an instance waiting
    /// on its terminate hook does not count toward the group's capacity).
    pub fn begin_termination(&mut self, instance_id: &str) {
        let token = self.token();
        let Some(inst) = self.instances.get_mut(instance_id) else {
            return;
        };
        if inst.state != MemberState::InService {
            return;
        }
        inst.state = MemberState::Terminating;
        inst.action = Some((token.clone(), Transition::Terminating));
        let role = inst.role;
        self.emit(instance_id, role, &token, Transition::Terminating);
        self.launch(role, 2);
    }

    /// A terminate event for an instance the group does not terminate (stale or forged).
    pub fn forge_terminate(&mut self, instance_id: &str) {
        let Some(role) = self.instances.get(instance_id).map(|i| i.role) else {
            return;
        };
        let token = format!("forged-{}", self.token());
        self.emit(instance_id, role, &token, Transition::Terminating);
    }

    /// The instance vanishes outside any hook (killed from the console, lost with its
    /// host): no event; the group launches a replacement.
    pub fn kill(&mut self, instance_id: &str) {
        self.gone(instance_id, true);
    }

    /// The engine stops while the instance runs.
    pub fn stop_engine(&mut self, instance_id: &str) {
        if let Some(e) = self.docker.engines.get_mut(instance_id) {
            e.up = false;
        }
    }

    fn token(&mut self) -> String {
        self.next_token += 1;
        format!("token-{}", self.next_token)
    }

    fn emit(&mut self, instance_id: &str, role: Role, token: &str, transition: Transition) {
        let group = match role {
            Role::Manager => MANAGERS,
            Role::Worker => WORKERS,
        };
        let hook = match transition {
            Transition::Launching => "launching",
            Transition::Terminating => "terminating",
        };
        self.outbox.push((
            Event::Lifecycle(LifecycleEvent {
                action: ActionRef {
                    group: group.into(),
                    hook: hook.into(),
                    instance_id: instance_id.into(),
                    token: token.into(),
                },
                transition,
                enters_the_group: true,
                began_at_ms: Some(self.now_ms as i64),
            }),
            0,
        ));
    }

    /// The instance leaves its group and its machine goes; an abandoned launch is
    /// replaced (a terminated instance's replacement launched when it began to go).
    fn gone(&mut self, instance_id: &str, replace: bool) {
        if let Some(inst) = self.instances.remove(instance_id) {
            self.stop_engine(instance_id);
            if replace {
                self.launch(inst.role, 2);
            }
        }
    }

    fn failing(&mut self, operation: &'static str, target: &str) -> Result<(), PortError> {
        self.calls += 1;
        let mut x = self.calls ^ self.fail_seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if self.fail_every > 0 && x.is_multiple_of(self.fail_every) {
            return Err(PortError {
                operation,
                target: target.to_owned(),
                retryable: true,
                source: "injected: the service is unavailable".into(),
            });
        }
        Ok(())
    }
}

/// The cloud as the brain's ports see it.
#[derive(Clone, Default)]
pub struct Cloud(pub Arc<Mutex<World>>);

impl Cloud {
    pub fn world(&self) -> MutexGuard<'_, World> {
        match self.0.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    async fn call(
        &self,
        operation: &'static str,
        target: &str,
    ) -> Result<MutexGuard<'_, World>, PortError> {
        yield_now().await;
        let mut world = self.world();
        world.failing(operation, target)?;
        Ok(world)
    }
}

impl ClusterStore for Cloud {
    async fn load(&self) -> Result<StoreRecord, PortError> {
        let world = self.call("load", "store").await?;
        Ok(world.store.clone().unwrap_or_default())
    }

    async fn save(&self, record: &StoreRecord, expected: u64) -> Result<Saved, PortError> {
        let mut world = self.call("save", "store").await?;
        let current = world.store.as_ref().map(|r| r.generation).unwrap_or(0);
        if current != expected {
            let current = world.store.clone().map(Box::new);
            return Ok(Saved::Lost { current });
        }
        world.store = Some(record.clone());
        Ok(Saved::Written)
    }

    async fn remove(&self) -> Result<(), PortError> {
        let mut world = self.call("remove", "store").await?;
        world.store = None;
        Ok(())
    }
}

impl NodeEngine for Cloud {
    async fn run(
        &self,
        instance_id: &str,
        script: &str,
    ) -> Result<Option<ScriptOutput>, PortError> {
        let mut world = self.call("run", instance_id).await?;
        let online = (world.instances.get(instance_id)).is_some_and(|i| world.now() >= i.online_at);
        if !online {
            return Ok(None);
        }
        let before = world.docker.changes.len();
        let out = world.docker.run(instance_id, script);
        let world = &mut *world;
        for change in &world.docker.changes[before..] {
            // Only what the cloud confirms is leaving may be touched.
            if let Some(inst) = world.instances.get(&change.instance_id) {
                if inst.state != MemberState::Terminating {
                    world.violations.push(format!(
                        "{} of {}, which its group holds {:?}",
                        change.what, change.instance_id, inst.state
                    ));
                }
            }
        }
        if world.docker.cluster_id.is_some() && !world.docker.has_quorum() {
            world.violations.push(format!(
                "the managers lost their quorum after a script on {instance_id}"
            ));
        }
        Ok(Some(out))
    }
}

impl Fleet for Cloud {
    async fn members(&self) -> Result<Vec<GroupMember>, PortError> {
        let world = self.call("members", "groups").await?;
        Ok((world.instances.iter())
            .map(|(id, i)| GroupMember {
                instance_id: id.clone(),
                role: i.role,
                state: i.state,
                placement: None,
                cloud_state: None,
            })
            .collect())
    }

    async fn swarm_deleting(&self) -> Result<bool, PortError> {
        let _world = self.call("swarm_deleting", "groups").await?;
        Ok(false)
    }

    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, PortError> {
        let world = self.call("describe", instance_id).await?;
        Ok(world.instances.get(instance_id).map(|i| InstanceFacts {
            role: Some(i.role),
            lifecycle: Some(i.state),
            address: Some(i.address.clone()),
        }))
    }

    async fn complete(
        &self,
        action: &ActionRef,
        result: LifecycleResult,
    ) -> Result<ActionOutcome, PortError> {
        let mut world = self.call("complete", &action.instance_id).await?;
        let id = action.instance_id.as_str();
        let pending = (world.instances.get(id))
            .and_then(|i| i.action.clone())
            .filter(|(token, _)| *token == action.token);
        let Some((token, transition)) = pending else {
            return Ok(ActionOutcome::NotPending);
        };
        world.completions.push((token, result));
        if let Some(inst) = world.instances.get_mut(id) {
            inst.action = None;
        }
        match (transition, result) {
            (Transition::Launching, LifecycleResult::Continue) => {
                if let Some(inst) = world.instances.get_mut(id) {
                    inst.state = MemberState::InService;
                }
            }
            (Transition::Launching, LifecycleResult::Abandon) => world.gone(id, true),
            (Transition::Terminating, _) => world.gone(id, false),
        }
        Ok(ActionOutcome::Done)
    }

    async fn heartbeat(&self, action: &ActionRef) -> Result<ActionOutcome, PortError> {
        let world = self.call("heartbeat", &action.instance_id).await?;
        let pending = (world.instances.get(&action.instance_id))
            .and_then(|i| i.action.as_ref())
            .is_some_and(|(token, _)| *token == action.token);
        Ok(if pending {
            ActionOutcome::Done
        } else {
            ActionOutcome::NotPending
        })
    }

    async fn mark_unhealthy(&self, instance_id: &str) -> Result<(), PortError> {
        let mut world = self.call("mark_unhealthy", instance_id).await?;
        world.begin_termination(instance_id);
        Ok(())
    }

    async fn signal_ready(&self, _instance_id: &str, _role: Role) -> Result<(), PortError> {
        let _world = self.call("signal_ready", "stack").await?;
        Ok(())
    }
}

impl Clock for Cloud {
    fn now_ms(&self) -> u64 {
        self.world().now_ms
    }

    async fn pause(&self, how_long: Duration) {
        self.world().now_ms += how_long.as_millis() as u64;
        yield_now().await;
    }
}

impl FollowUps for Cloud {
    async fn request_reconcile(&self, delay_seconds: u64) -> Result<(), PortError> {
        let mut world = self.call("request_reconcile", "queue").await?;
        let at = world.now() + delay_seconds;
        world
            .outbox
            .push((Event::Reconcile(ReconcileTrigger::AfterChange), at));
        Ok(())
    }
}

/// The stack has no load balancer and no managers' record here: never called.
pub struct Absent;

impl Balancer for Absent {
    async fn observe(&self) -> Result<BalancerView, PortError> {
        Err(absent())
    }
    async fn apply(&self, _change: &BalancerChange) -> Result<(), PortError> {
        Err(absent())
    }
}

impl ManagersRecord for Absent {
    async fn current(&self) -> Result<Option<DnsRecord>, PortError> {
        Err(absent())
    }
    async fn replace(
        &self,
        _current: Option<&DnsRecord>,
        _wanted: &[String],
    ) -> Result<WriteOutcome, PortError> {
        Err(absent())
    }
}

fn absent() -> PortError {
    PortError {
        operation: "absent",
        target: "none".into(),
        retryable: false,
        source: "not part of this stack".into(),
    }
}
