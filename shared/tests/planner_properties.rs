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
    // First the random schedule, then round-robin until every delivery is done.
    let mut choices = s.schedule.iter().copied().chain((0..).map(|_| 0));
    let mut rounds = 0;
    while !deliveries.is_empty() && rounds < 20_000 {
        rounds += 1;
        let pick = choices.next().unwrap_or(0) % deliveries.len();
        let id = deliveries[pick].clone();
        match world.advance(&id) {
            Advance::Continue => {}
            Advance::Done => {
                deliveries.remove(pick);
            }
            Advance::Retry => {
                // Redelivered later: move it to the back.
                let d = deliveries.remove(pick);
                deliveries.push(d);
            }
        }
    }
    world
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
