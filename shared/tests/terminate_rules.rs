//! The terminate planner's rules, one situation each: a worker drains, leaves and is
//! removed; a manager is demoted first, one at a time, and never at the cost of quorum.

use swarmhook::cluster::{
    Availability, ClusterView, Departure, EngineState, JoinLease, ManagerRecord, ManagerStatus,
    MemberState, NodeRecord, NodeStatus, Role, StoreRecord, Subject, SwarmMember, SwarmRecord,
};
use swarmhook::plan::{next_terminate_step, LifecycleResult, ManagerQuorum, Step, TerminateAction};
use swarmhook::settings::ClusterSettings;

const NOW: u64 = 10_000;

fn member(name: &str, role: Role, serving: bool) -> SwarmMember {
    SwarmMember {
        node_id: format!("n-{name}"),
        hostname: name.into(),
        role,
        status: if serving {
            NodeStatus::Ready
        } else {
            NodeStatus::Down
        },
        manager_status: (role == Role::Manager).then_some(if serving {
            ManagerStatus::Reachable
        } else {
            ManagerStatus::Unreachable
        }),
        availability: Availability::Active,
    }
}

/// `i-x` (of `role`) leaving a swarm whose managers are `managers` (i-m0, i-m1, …, all
/// serving), reported by i-m0.
fn leaving(role: Role, managers: usize) -> ClusterView {
    let mut store = StoreRecord {
        generation: 9,
        swarm: Some(SwarmRecord {
            cluster_id: "c1".into(),
            tokens_published: true,
        }),
        ..StoreRecord::default()
    };
    let mut seen = Vec::new();
    for i in 0..managers {
        let id = if role == Role::Manager && i == managers - 1 {
            "i-x".to_owned()
        } else {
            format!("i-m{i}")
        };
        store.managers.push(ManagerRecord {
            instance_id: id.clone(),
            address: format!("10.0.1.{}", 10 + i),
        });
        seen.push(member(&id, Role::Manager, true));
    }
    let me = seen
        .iter()
        .find(|m| m.hostname == "i-x")
        .cloned()
        .unwrap_or_else(|| member("i-x", Role::Worker, true));
    ClusterView {
        now: NOW,
        now_ms: NOW * 1000,
        settings: ClusterSettings::default(),
        store,
        subject: Subject {
            instance_id: "i-x".into(),
            role: Some(role),
            lifecycle: Some(MemberState::Terminating),
            address: Some("10.0.1.99".into()),
            engine: EngineState::Active {
                node_id: me.node_id.clone(),
                cluster_id: None,
                is_manager: role == Role::Manager,
            },
            joined_now: false,
            contacted_at_ms: None,
            refused: false,
            membership: Some(me),
            running_tasks: Some(0),
        },
        swarm_observed: true,
        managers: seen,
        reported_by: Some("i-m0".into()),
    }
}

fn departed(mut v: ClusterView, role: Role) -> ClusterView {
    v.store.departures.push(Departure {
        instance_id: "i-x".into(),
        node_id: "n-i-x".into(),
        role,
    });
    v
}

fn action(seconds_left: u64, elapsed_seconds: u64) -> TerminateAction {
    TerminateAction {
        instance_id: "i-x".into(),
        seconds_left,
        elapsed_seconds,
        swarm_deleting: false,
    }
}

fn is_retry(step: &Step, heartbeat: bool) -> bool {
    matches!(step, Step::RetryLater { heartbeat: h, .. } if *h == heartbeat)
}

#[test]
fn a_worker_is_recorded_drained_left_and_removed_in_that_order() {
    let v = leaving(Role::Worker, 3);
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::RecordDeparture { ref node_id, role: Role::Worker, .. } if node_id == "n-i-x"
    ));
    let v = departed(v, Role::Worker);
    assert_eq!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Drain {
            via: "i-m0".into(),
            node_id: "n-i-x".into()
        }
    );
    let mut v = v;
    if let Some(m) = v.subject.membership.as_mut() {
        m.availability = Availability::Drain;
    }
    v.subject.running_tasks = Some(2);
    assert!(is_retry(&next_terminate_step(&v, &action(300, 10)), false));
    // Tasks that will not move in time do not hold the machine forever.
    assert_eq!(
        next_terminate_step(&v, &action(300, 61)),
        Step::Leave {
            instance_id: "i-x".into()
        }
    );
    v.subject.running_tasks = Some(0);
    assert_eq!(
        next_terminate_step(&v, &action(300, 10)),
        Step::Leave {
            instance_id: "i-x".into()
        }
    );
    // Left: the swarm still calls it Ready for a moment, then Down.
    v.subject.engine = EngineState::Inactive;
    assert!(is_retry(&next_terminate_step(&v, &action(300, 12)), false));
    if let Some(m) = v.subject.membership.as_mut() {
        m.status = NodeStatus::Down;
    }
    assert_eq!(
        next_terminate_step(&v, &action(300, 14)),
        Step::RemoveNode {
            via: "i-m0".into(),
            node_id: "n-i-x".into()
        }
    );
    v.subject.membership = None;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 15)),
        Step::Forget { ref instance_id, .. } if instance_id == "i-x"
    ));
    v.store.departures.clear();
    assert!(matches!(
        next_terminate_step(&v, &action(300, 15)),
        Step::Complete {
            result: LifecycleResult::Continue,
            ..
        }
    ));
}

#[test]
fn a_manager_is_demoted_by_another_manager_before_anything_else() {
    let v = departed(leaving(Role::Manager, 3), Role::Manager);
    assert_eq!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Demote {
            via: "i-m0".into(),
            node_id: "n-i-x".into()
        }
    );
    // Only the leaving manager answered: nobody else can demote it.
    let mut alone = v.clone();
    alone.reported_by = Some("i-x".into());
    assert!(is_retry(
        &next_terminate_step(&alone, &action(300, 0)),
        false
    ));
    // Demoted: from here it leaves as a worker does, and is forgotten as a manager.
    let mut v = v;
    if let Some(m) = v.subject.membership.as_mut() {
        m.role = Role::Worker;
        m.manager_status = None;
    }
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Drain { .. }
    ));
    v.subject.membership = None;
    v.subject.engine = EngineState::Inactive;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Forget { .. }
    ));
}

#[test]
fn the_last_manager_is_held_with_heartbeats() {
    let v = leaving(Role::Manager, 1);
    assert!(is_retry(&next_terminate_step(&v, &action(300, 0)), false));
    assert!(is_retry(&next_terminate_step(&v, &action(60, 540)), true));
}

#[test]
fn a_manager_waits_while_quorum_would_be_lost_or_another_change_is_under_way() {
    // 3 managers, one of the others unreachable: removing this one leaves 1 of 2.
    let mut v = leaving(Role::Manager, 3);
    v.managers[1] = member("i-m1", Role::Manager, false);
    assert!(is_retry(&next_terminate_step(&v, &action(300, 0)), false));

    // Another manager is leaving.
    let mut v = leaving(Role::Manager, 5);
    v.store.departures.push(Departure {
        instance_id: "i-m1".into(),
        node_id: "n-i-m1".into(),
        role: Role::Manager,
    });
    assert!(is_retry(&next_terminate_step(&v, &action(300, 0)), false));

    // Another manager is joining.
    let mut v = leaving(Role::Manager, 5);
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Manager,
        expires_at: NOW + 100,
    });
    assert!(is_retry(&next_terminate_step(&v, &action(300, 0)), false));

    // Workers leave whatever the managers do.
    let mut v = leaving(Role::Worker, 3);
    v.managers[1] = member("i-m1", Role::Manager, false);
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::RecordDeparture { .. }
    ));
}

#[test]
fn quorum_allows_one_removal_only_with_a_majority_left() {
    let m = |n: &str, serving: bool| member(n, Role::Manager, serving);
    let cases = [
        (vec![m("a", true)], false),
        (vec![m("a", true), m("b", true)], true),
        (vec![m("a", true), m("b", true), m("c", true)], true),
        (vec![m("a", true), m("b", false), m("c", true)], false),
        (vec![m("a", false), m("b", true), m("c", true)], true),
        (
            vec![
                m("a", true),
                m("b", true),
                m("c", true),
                m("d", true),
                m("e", false),
            ],
            true,
        ),
        (
            vec![
                m("a", true),
                m("b", true),
                m("c", true),
                m("d", false),
                m("e", false),
            ],
            false,
        ),
    ];
    for (managers, want) in cases {
        let statuses: Vec<bool> = managers.iter().map(|m| m.is_serving()).collect();
        assert_eq!(
            ManagerQuorum::of(&managers).allows_removal(managers[0].is_serving()),
            want,
            "removing the first of {statuses:?}"
        );
    }
}

#[test]
fn nothing_to_remove_ends_at_once() {
    let mut v = leaving(Role::Worker, 3);
    v.subject.role = None;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Complete { .. }
    ));
    let mut v = leaving(Role::Worker, 3);
    v.store.swarm = None;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Complete { .. }
    ));
    // Crashed before it ever joined: not a member, nothing recorded.
    let mut v = leaving(Role::Worker, 3);
    v.subject.engine = EngineState::Unreachable;
    v.subject.membership = None;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::Complete { .. }
    ));
}

#[test]
fn a_node_whose_engine_stopped_is_found_by_its_registered_id_and_removed_once_down() {
    let mut v = leaving(Role::Worker, 3);
    v.store.nodes.push(NodeRecord {
        instance_id: "i-x".into(),
        node_id: "n-i-x".into(),
        role: Role::Worker,
    });
    v.subject.engine = EngineState::Unreachable;
    v.subject.membership = None;
    // Its engine says nothing and no manager answered: not "not in the swarm".
    v.reported_by = None;
    assert!(is_retry(&next_terminate_step(&v, &action(600, 0)), false));
    // A manager reports it (by the registered id), still Ready: record, drain, wait.
    v.reported_by = Some("i-m0".into());
    v.subject.membership = Some(member("i-x", Role::Worker, true));
    assert!(matches!(
        next_terminate_step(&v, &action(600, 0)),
        Step::RecordDeparture { ref node_id, .. } if node_id == "n-i-x"
    ));
    let mut v = departed(v, Role::Worker);
    v.subject.membership = Some(member("i-x", Role::Worker, false));
    // Down: nothing to leave (its engine cannot), removed without waiting for tasks.
    assert!(matches!(
        next_terminate_step(&v, &action(600, 0)),
        Step::RemoveNode { ref node_id, .. } if node_id == "n-i-x"
    ));
    // Gone from the swarm: its registry entry is forgotten before completing.
    v.subject.membership = None;
    assert!(matches!(
        next_terminate_step(&v, &action(600, 0)),
        Step::Forget { .. }
    ));
    v.store.departures.clear();
    v.store.nodes.clear();
    assert!(matches!(
        next_terminate_step(&v, &action(600, 0)),
        Step::Complete {
            result: LifecycleResult::Continue,
            ..
        }
    ));
}

#[test]
fn nobody_waits_once_the_swarm_s_groups_are_being_deleted() {
    let deleting = TerminateAction {
        swarm_deleting: true,
        ..action(300, 0)
    };
    let continues = |step: Step| {
        matches!(
            step,
            Step::Complete {
                result: LifecycleResult::Continue,
                ..
            }
        )
    };
    // The last manager, otherwise held until another serves.
    let last = leaving(Role::Manager, 1);
    assert!(is_retry(
        &next_terminate_step(&last, &action(300, 0)),
        false
    ));
    assert!(continues(next_terminate_step(&last, &deleting)));
    // A worker no manager answers for, otherwise kept waiting to be removed.
    let mut worker = departed(leaving(Role::Worker, 3), Role::Worker);
    worker.reported_by = None;
    worker.managers.clear();
    assert!(is_retry(
        &next_terminate_step(&worker, &action(300, 0)),
        false
    ));
    assert!(continues(next_terminate_step(&worker, &deleting)));
}

#[test]
fn a_terminate_event_for_an_instance_its_group_does_not_confirm_leaving_changes_nothing() {
    for role in [Role::Manager, Role::Worker] {
        for state in [
            MemberState::InService,
            MemberState::Pending,
            MemberState::Other,
        ] {
            let mut v = leaving(role, 3);
            v.subject.lifecycle = Some(state);
            assert!(
                matches!(
                    next_terminate_step(&v, &action(300, 0)),
                    Step::Disregard { .. }
                ),
                "{role:?} {state:?}"
            );
            // Even halfway through a removal that an earlier (real) event began.
            let v = departed(v, role);
            assert!(
                matches!(
                    next_terminate_step(&v, &action(300, 0)),
                    Step::Disregard { .. }
                ),
                "{role:?} {state:?} departed"
            );
        }
    }
    // Terminating, or in no group at all (gone from it): the planner goes on.
    let mut v = leaving(Role::Worker, 3);
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::RecordDeparture { .. }
    ));
    v.subject.lifecycle = None;
    assert!(matches!(
        next_terminate_step(&v, &action(300, 0)),
        Step::RecordDeparture { .. }
    ));
}

#[test]
fn leaving_is_decided_on_the_engine_and_the_swarm_read_in_this_delivery() {
    let action = TerminateAction {
        instance_id: "i-x".into(),
        seconds_left: 600,
        elapsed_seconds: 0,
        swarm_deleting: false,
    };
    let mut v = leaving(Role::Worker, 3);
    let engine = v.subject.engine.clone();
    v.subject.engine = EngineState::Unobserved;
    v.swarm_observed = false;
    assert_eq!(
        next_terminate_step(&v, &action),
        Step::ObserveEngine {
            instance_id: "i-x".into()
        }
    );
    v.subject.engine = engine;
    assert!(matches!(
        next_terminate_step(&v, &action),
        Step::ObserveSwarm {
            until_ready: false,
            ..
        }
    ));
    v.swarm_observed = true;
    assert!(matches!(
        next_terminate_step(&v, &action),
        Step::RecordDeparture { .. }
    ));
}
