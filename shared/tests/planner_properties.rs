//! Property tests of the launch planner over random interleavings: any number of managers
//! and workers launching at once, every event delivered one to three times, engines that
//! come up late, deliveries advancing one step at a time in any order.

mod sim;

use proptest::prelude::*;
use swarmhook::cluster::Role;
use swarmhook::plan::LifecycleResult;
use swarmhook::settings::ClusterSettings;

use sim::{Advance, World};

#[derive(Debug, Clone)]
struct Scenario {
    managers: usize,
    workers: usize,
    boot_delays: Vec<u32>,
    copies: Vec<usize>,
    schedule: Vec<usize>,
    parallelism: usize,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=5, 0usize..=6, 1usize..=4).prop_flat_map(|(managers, workers, parallelism)| {
        let n = managers + workers;
        (
            prop::collection::vec(0u32..4, n),
            prop::collection::vec(1usize..=3, n),
            prop::collection::vec(0usize..1000, 0..400),
        )
            .prop_map(move |(boot_delays, copies, schedule)| Scenario {
                managers,
                workers,
                boot_delays,
                copies,
                schedule,
                parallelism,
            })
    })
}

/// Runs a scenario to quiescence and returns the world.
fn run(s: &Scenario) -> World {
    let mut world = World::new(ClusterSettings {
        worker_join_parallelism: s.parallelism,
        ..ClusterSettings::default()
    });
    let mut deliveries: Vec<String> = Vec::new();
    for i in 0..s.managers + s.workers {
        let (id, role) = if i < s.managers {
            (format!("m{i}"), Role::Manager)
        } else {
            (format!("w{i}"), Role::Worker)
        };
        world.launch(&id, Some(role), s.boot_delays[i]);
        for _ in 0..s.copies[i] {
            deliveries.push(id.clone());
        }
    }
    deliver(&mut deliveries, &s.schedule, 20_000, |id| world.advance(id));
    world
}

/// Advances deliveries one step at a time, first in the order `schedule` picks, then
/// from the front, until all are done or `limit` rounds have passed. A retried delivery
/// comes back after the others. Returns the rounds taken.
fn deliver<T: Clone>(
    deliveries: &mut Vec<T>,
    schedule: &[usize],
    limit: usize,
    mut advance: impl FnMut(&T) -> Advance,
) -> usize {
    let mut choices = schedule.iter().copied().chain((0..).map(|_| 0));
    let mut rounds = 0;
    while !deliveries.is_empty() && rounds < limit {
        rounds += 1;
        let pick = choices.next().unwrap_or(0) % deliveries.len();
        let d = deliveries[pick].clone();
        match advance(&d) {
            Advance::Continue => {}
            Advance::Done => {
                deliveries.remove(pick);
            }
            Advance::Retry => {
                let d = deliveries.remove(pick);
                deliveries.push(d);
            }
        }
    }
    rounds
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_launch_ends_in_one_swarm_each_action_completed_once(s in scenario()) {
        let world = run(&s);
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        prop_assert_eq!(world.inits.len(), 1, "exactly one swarm init: {:?}", world.inits);
        prop_assert!(world.pending.is_empty(), "actions left pending: {:?}", world.pending);
        for (id, results) in &world.completions {
            prop_assert_eq!(results, &vec![LifecycleResult::Continue], "{}", id);
        }
        prop_assert_eq!(world.completions.len(), s.managers + s.workers);
        let cluster = world.store.swarm.as_ref().map(|w| w.cluster_id.clone());
        prop_assert!(world.members.iter().all(|m| Some(&m.cluster_id) == cluster.as_ref()));
        prop_assert_eq!(world.members.len(), s.managers + s.workers);
        let mut recorded: Vec<_> = world.store.managers.iter().map(|m| m.instance_id.clone()).collect();
        recorded.sort();
        let mut managers: Vec<_> = (0..s.managers).map(|i| format!("m{i}")).collect();
        managers.sort();
        prop_assert_eq!(recorded, managers, "the store lists every manager");
        prop_assert!(world.store.leases.is_empty(), "leases left: {:?}", world.store.leases);
        prop_assert!(world.max_workers_joining <= s.parallelism,
            "{} workers joined at once, cap {}", world.max_workers_joining, s.parallelism);
    }
}

#[test]
fn an_instance_in_neither_group_is_abandoned() {
    let mut world = World::new(ClusterSettings::default());
    world.launch("stray", None, 0);
    assert_eq!(world.advance("stray"), Advance::Done);
    assert_eq!(world.completions["stray"], vec![LifecycleResult::Abandon]);
}

#[derive(Debug, Clone)]
struct ScaleIn {
    formed: Scenario,
    /// Which managers leave (never all of them: the last one is held, as it must be).
    leaving_managers: usize,
    leaving_workers: usize,
    /// Managers and workers launched while the others leave.
    new_managers: usize,
    new_workers: usize,
    copies: Vec<usize>,
    schedule: Vec<usize>,
}

fn scale_in() -> impl Strategy<Value = ScaleIn> {
    scenario().prop_flat_map(|formed| {
        let (m, w) = (formed.managers, formed.workers);
        (0..m, 0..=w, 0usize..=2, 0usize..=2).prop_flat_map(move |(lm, lw, nm, nw)| {
            let formed = formed.clone();
            let n = lm + lw + nm + nw;
            (
                prop::collection::vec(1usize..=3, n),
                prop::collection::vec(0usize..1000, 0..600),
            )
                .prop_map(move |(copies, schedule)| ScaleIn {
                    formed: formed.clone(),
                    leaving_managers: lm,
                    leaving_workers: lw,
                    new_managers: nm,
                    new_workers: nw,
                    copies,
                    schedule,
                })
        })
    })
}

/// A delivery: a terminate or a launch event of an instance.
#[derive(Debug, Clone)]
enum Delivery {
    Terminate(String),
    Launch(String),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn scale_in_keeps_quorum_demotes_before_removing_and_completes_each_action_once(s in scale_in()) {
        let mut world = run(&s.formed);
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        let managers: Vec<String> = (0..s.formed.managers).map(|i| format!("m{i}")).collect();
        let workers: Vec<String> = (s.formed.managers..s.formed.managers + s.formed.workers)
            .map(|i| format!("w{i}"))
            .collect();
        let leaving: Vec<String> = managers.iter().rev().take(s.leaving_managers)
            .chain(workers.iter().take(s.leaving_workers))
            .cloned()
            .collect();
        let mut deliveries = Vec::new();
        let mut copies = s.copies.iter().copied();
        for id in &leaving {
            world.terminate(id);
            for _ in 0..copies.next().unwrap_or(1) {
                deliveries.push(Delivery::Terminate(id.clone()));
            }
        }
        let mut joining = Vec::new();
        for i in 0..s.new_managers + s.new_workers {
            let (id, role) = if i < s.new_managers {
                (format!("nm{i}"), Role::Manager)
            } else {
                (format!("nw{i}"), Role::Worker)
            };
            world.launch(&id, Some(role), 1);
            for _ in 0..copies.next().unwrap_or(1) {
                deliveries.push(Delivery::Launch(id.clone()));
            }
            joining.push((id, role));
        }
        let rounds = deliver(&mut deliveries, &s.schedule, 40_000, |d| match d {
            Delivery::Terminate(id) => world.advance_terminate(id),
            Delivery::Launch(id) => world.advance(id),
        });
        prop_assert!(deliveries.is_empty(), "deliveries left after {} rounds: {:?}", rounds, deliveries);
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        for id in &leaving {
            prop_assert_eq!(world.terminations.get(id), Some(&vec![LifecycleResult::Continue]), "{}", id);
        }
        // The swarm is exactly who stayed and who came; the store lists its managers.
        let mut members: Vec<String> = world.members.iter().map(|m| m.instance_id.clone()).collect();
        members.sort();
        let mut want: Vec<String> = managers.iter().chain(&workers)
            .filter(|id| !leaving.contains(id))
            .cloned()
            .chain(joining.iter().map(|(id, _)| id.clone()))
            .collect();
        want.sort();
        prop_assert_eq!(members, want);
        let mut recorded: Vec<String> = world.store.managers.iter().map(|m| m.instance_id.clone()).collect();
        recorded.sort();
        let mut want_managers: Vec<String> = managers.iter()
            .filter(|id| !leaving.contains(id))
            .cloned()
            .chain(joining.iter().filter(|(_, r)| *r == Role::Manager).map(|(id, _)| id.clone()))
            .collect();
        want_managers.sort();
        prop_assert_eq!(recorded, want_managers);
        // The registry names every member by the node id the swarm knows it by.
        let mut registry: Vec<(String, String)> = world.store.nodes.iter()
            .map(|n| (n.instance_id.clone(), n.node_id.clone()))
            .collect();
        registry.sort();
        let mut want_registry: Vec<(String, String)> = world.members.iter()
            .map(|m| (m.instance_id.clone(), format!("node-{}", m.instance_id)))
            .collect();
        want_registry.sort();
        prop_assert_eq!(registry, want_registry);
        prop_assert!(world.store.departures.is_empty(), "{:?}", world.store.departures);
        prop_assert!(world.members.iter().all(|m| !m.left));
    }
}

#[derive(Debug, Clone)]
struct Kills {
    formed: Scenario,
    /// Managers killed: never a majority (the swarm itself would be lost).
    killed_managers: usize,
    killed_workers: usize,
    /// Replacements launched while reconcile removes the dead.
    new_managers: usize,
    new_workers: usize,
    /// How many reconcile deliveries (schedule ticks, duplicated) are in flight.
    ticks: usize,
    schedule: Vec<usize>,
}

fn kills() -> impl Strategy<Value = Kills> {
    scenario().prop_flat_map(|formed| {
        let (m, w) = (formed.managers, formed.workers);
        (0..=(m - 1) / 2, 0..=w, 0usize..=2, 0usize..=2, 1usize..=3).prop_flat_map(
            move |(km, kw, nm, nw, ticks)| {
                let formed = formed.clone();
                prop::collection::vec(0usize..1000, 0..600).prop_map(move |schedule| Kills {
                    formed: formed.clone(),
                    killed_managers: km,
                    killed_workers: kw,
                    new_managers: nm,
                    new_workers: nw,
                    ticks,
                    schedule,
                })
            },
        )
    })
}

/// A delivery: a launch event, or a reconcile tick.
#[derive(Debug, Clone)]
enum Tick {
    Launch(String),
    Reconcile,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn reconcile_removes_killed_instances_without_losing_quorum_while_replacements_join(k in kills()) {
        let mut world = run(&k.formed);
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        let managers: Vec<String> = (0..k.formed.managers).map(|i| format!("m{i}")).collect();
        let workers: Vec<String> = (k.formed.managers..k.formed.managers + k.formed.workers)
            .map(|i| format!("w{i}"))
            .collect();
        let killed: Vec<String> = managers.iter().take(k.killed_managers)
            .chain(workers.iter().take(k.killed_workers))
            .cloned()
            .collect();
        for id in &killed {
            world.kill(id);
        }
        let mut deliveries: Vec<Tick> = (0..k.ticks).map(|_| Tick::Reconcile).collect();
        let mut joining = Vec::new();
        for i in 0..k.new_managers + k.new_workers {
            let (id, role) = if i < k.new_managers {
                (format!("nm{i}"), Role::Manager)
            } else {
                (format!("nw{i}"), Role::Worker)
            };
            world.launch(&id, Some(role), 1);
            deliveries.push(Tick::Launch(id.clone()));
            joining.push((id, role));
        }
        let rounds = deliver(&mut deliveries, &k.schedule, 40_000, |d| match d {
            Tick::Launch(id) => world.advance(id),
            Tick::Reconcile => world.advance_reconcile(),
        });
        prop_assert!(deliveries.is_empty(), "deliveries left after {} rounds: {:?}", rounds, deliveries);
        // Demotions never below quorum, no manager removed undemoted (the world checks).
        prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        for (id, _) in &joining {
            prop_assert_eq!(world.completions.get(id), Some(&vec![LifecycleResult::Continue]), "{}", id);
        }
        // The swarm is who survived and who came; the store says exactly that.
        let mut members: Vec<String> = world.members.iter().map(|m| m.instance_id.clone()).collect();
        members.sort();
        let mut want: Vec<String> = managers.iter().chain(&workers)
            .filter(|id| !killed.contains(id))
            .cloned()
            .chain(joining.iter().map(|(id, _)| id.clone()))
            .collect();
        want.sort();
        prop_assert_eq!(&members, &want);
        let mut recorded: Vec<String> = world.store.managers.iter().map(|m| m.instance_id.clone()).collect();
        recorded.sort();
        let mut want_managers: Vec<String> = managers.iter()
            .filter(|id| !killed.contains(id))
            .cloned()
            .chain(joining.iter().filter(|(_, r)| *r == Role::Manager).map(|(id, _)| id.clone()))
            .collect();
        want_managers.sort();
        prop_assert_eq!(recorded, want_managers);
        let mut registry: Vec<String> = world.store.nodes.iter().map(|n| n.instance_id.clone()).collect();
        registry.sort();
        prop_assert_eq!(registry, want);
        prop_assert!(world.store.departures.is_empty(), "{:?}", world.store.departures);
        prop_assert!(world.store.leases.is_empty(), "{:?}", world.store.leases);
    }
}
