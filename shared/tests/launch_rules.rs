//! The launch planner's rules, one example each.

use swarmhook::cluster::{
    Availability, ClusterView, EngineState, InitClaim, JoinLease, ManagerRecord, ManagerStatus,
    MemberState, NodeRecord, NodeStatus, Role, StoreRecord, Subject, SwarmMember, SwarmRecord,
};
use swarmhook::plan::{next_launch_step, LaunchAction, LifecycleResult, Step, WaitingFor};
use swarmhook::settings::ClusterSettings;

const NOW: u64 = 10_000;

fn view(role: Option<Role>, engine: EngineState) -> ClusterView {
    ClusterView {
        now: NOW,
        now_ms: NOW * 1000,
        settings: ClusterSettings::default(),
        store: StoreRecord::default(),
        subject: Subject {
            instance_id: "i-new".into(),
            role,
            lifecycle: role.map(|_| MemberState::Pending),
            address: Some("10.0.1.9".into()),
            engine,
            joined_now: false,
            contacted_at_ms: None,
            refused: false,
            membership: None,
            running_tasks: None,
        },
        swarm_observed: true,
        managers: vec![],
        reported_by: None,
    }
}

fn with_swarm(mut v: ClusterView) -> ClusterView {
    v.store.generation = 7;
    v.store.swarm = Some(SwarmRecord {
        cluster_id: "c1".into(),
        tokens_published: true,
    });
    v.store.managers = vec![ManagerRecord {
        instance_id: "i-first".into(),
        address: "10.0.1.4".into(),
    }];
    v.managers = vec![member("first", Role::Manager, true)];
    v
}

fn member(name: &str, role: Role, ready: bool) -> SwarmMember {
    SwarmMember {
        node_id: format!("n-{name}"),
        hostname: name.into(),
        role,
        status: if ready {
            NodeStatus::Ready
        } else {
            NodeStatus::Down
        },
        manager_status: (role == Role::Manager).then_some(if ready {
            ManagerStatus::Reachable
        } else {
            ManagerStatus::Unreachable
        }),
        availability: Availability::Active,
    }
}

fn action(seconds_left: u64) -> LaunchAction {
    LaunchAction {
        instance_id: "i-new".into(),
        seconds_left,
        began_at_ms: None,
    }
}

fn next(v: &ClusterView) -> Step {
    next_launch_step(v, &action(3_000))
}

#[test]
fn an_engine_not_up_yet_is_retried_with_a_heartbeat_only_when_time_runs_short() {
    let v = view(Some(Role::Worker), EngineState::Unreachable);
    assert!(matches!(
        next_launch_step(&v, &action(3_000)),
        Step::RetryLater {
            heartbeat: false,
            ..
        }
    ));
    assert!(matches!(
        next_launch_step(&v, &action(60)),
        Step::RetryLater {
            heartbeat: true,
            ..
        }
    ));
}

#[test]
fn an_engine_that_cannot_join_is_abandoned() {
    let v = view(Some(Role::Worker), EngineState::Failed("locked".into()));
    assert!(matches!(
        next(&v),
        Step::Complete {
            result: LifecycleResult::Abandon,
            ..
        }
    ));
}

#[test]
fn a_worker_before_any_swarm_waits_for_the_first_manager() {
    let v = view(Some(Role::Worker), EngineState::Inactive);
    assert!(
        matches!(next(&v), Step::RetryLater { reason, .. } if reason.contains("first manager"))
    );
}

#[test]
fn the_first_manager_claims_the_bootstrap_at_the_generation_it_read() {
    let mut v = view(Some(Role::Manager), EngineState::Inactive);
    v.store.generation = 3;
    assert_eq!(
        next(&v),
        Step::ClaimInit {
            instance_id: "i-new".into(),
            expected_generation: 3
        }
    );
}

#[test]
fn another_managers_claim_is_waited_for_until_it_goes_stale() {
    let mut v = view(Some(Role::Manager), EngineState::Inactive);
    v.store.generation = 4;
    v.store.init_claim = Some(InitClaim {
        instance_id: "i-other".into(),
        generation: 4,
        claimed_at: NOW - 10,
    });
    assert!(matches!(next(&v), Step::RetryLater { reason, .. } if reason.contains("i-other")));
    if let Some(c) = v.store.init_claim.as_mut() {
        c.claimed_at = NOW - 10_000;
    }
    assert!(matches!(
        next(&v),
        Step::ClaimInit {
            expected_generation: 4,
            ..
        }
    ));
}

#[test]
fn the_claimer_initialises_then_records_the_swarm_under_its_claim() {
    let mut v = view(Some(Role::Manager), EngineState::Inactive);
    v.store.generation = 5;
    v.store.init_claim = Some(InitClaim {
        instance_id: "i-new".into(),
        generation: 5,
        claimed_at: NOW - 1,
    });
    assert!(matches!(next(&v), Step::InitSwarm { .. }));
    v.subject.engine = EngineState::Active {
        node_id: "n1".into(),
        cluster_id: Some("c9".into()),
        is_manager: true,
    };
    assert_eq!(
        next(&v),
        Step::RecordSwarm {
            instance_id: "i-new".into(),
            address: "10.0.1.9".into(),
            cluster_id: "c9".into(),
            claim_generation: 5,
            expected_generation: 5,
        }
    );
}

#[test]
fn a_node_in_another_swarm_is_abandoned() {
    let v = with_swarm(view(
        Some(Role::Manager),
        EngineState::Active {
            node_id: "n".into(),
            cluster_id: Some("someone-else".into()),
            is_manager: true,
        },
    ));
    assert!(
        matches!(next(&v), Step::Complete { result: LifecycleResult::Abandon, reason } if reason.contains("someone-else"))
    );
}

#[test]
fn a_manager_waits_only_while_a_join_would_not_keep_a_majority_reachable() {
    let mut v = with_swarm(view(Some(Role::Manager), EngineState::Inactive));
    v.managers.push(member("second", Role::Manager, false));
    assert!(matches!(next(&v), Step::RetryLater { reason, .. } if reason.contains("1 of 2")));
    // Two of three answer: the join keeps three of four, and goes ahead (the dead one is
    // replaced through its instance).
    v.managers.push(member("third", Role::Manager, true));
    assert!(matches!(
        next(&v),
        Step::AcquireLease {
            role: Role::Manager,
            ..
        }
    ));
    v.managers.truncate(1);
    assert!(matches!(
        next(&v),
        Step::AcquireLease {
            role: Role::Manager,
            expected_generation: 7,
            ..
        }
    ));
}

#[test]
fn a_joiner_with_a_lease_joins_trying_every_recorded_manager() {
    let mut v = with_swarm(view(Some(Role::Worker), EngineState::Inactive));
    v.store.managers.push(ManagerRecord {
        instance_id: "i-second".into(),
        address: "10.0.1.5".into(),
    });
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Worker,
        expires_at: NOW + 100,
    });
    assert_eq!(
        next(&v),
        Step::Join {
            instance_id: "i-new".into(),
            role: Role::Worker,
            managers: vec!["10.0.1.4".into(), "10.0.1.5".into()],
        }
    );
}

#[test]
fn a_serving_manager_is_recorded_releases_its_slot_and_only_then_continues() {
    let mut v = with_swarm(view(
        Some(Role::Manager),
        EngineState::Active {
            node_id: "n-new".into(),
            cluster_id: Some("c1".into()),
            is_manager: true,
        },
    ));
    v.subject.membership = Some(member("new", Role::Manager, true));
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Manager,
        expires_at: NOW + 100,
    });
    assert!(matches!(next(&v), Step::RecordManager { .. }));
    v.store.managers.push(ManagerRecord {
        instance_id: "i-new".into(),
        address: "10.0.1.9".into(),
    });
    assert!(matches!(
        next(&v),
        Step::RecordJoined { ref node_id, role: Role::Manager, .. } if node_id == "n-new"
    ));
    v.store.leases.clear();
    v.store.nodes.push(NodeRecord {
        instance_id: "i-new".into(),
        node_id: "n-new".into(),
        role: Role::Manager,
    });
    assert!(matches!(
        next(&v),
        Step::Complete {
            result: LifecycleResult::Continue,
            ..
        }
    ));
}

#[test]
fn a_joined_node_not_yet_ready_is_not_completed() {
    let mut v = with_swarm(view(
        Some(Role::Worker),
        EngineState::Active {
            node_id: "n-new".into(),
            cluster_id: None,
            is_manager: false,
        },
    ));
    v.subject.membership = Some(member("new", Role::Worker, false));
    assert!(matches!(next(&v), Step::RetryLater { .. }));
}

/// A delivery's first view: the store read, the engine and the swarm not asked yet.
fn first_view(role: Role) -> ClusterView {
    let mut v = with_swarm(view(Some(role), EngineState::Unobserved));
    v.swarm_observed = false;
    v.managers.clear();
    v
}

#[test]
fn a_worker_takes_a_slot_and_joins_without_asking_first() {
    // The join script asks the engine itself: no probe, no swarm view before it.
    let mut v = first_view(Role::Worker);
    v.subject.address = None;
    assert!(matches!(
        next(&v),
        Step::AcquireLease {
            role: Role::Worker,
            ..
        }
    ));
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Worker,
        expires_at: NOW + 100,
    });
    assert!(matches!(next(&v), Step::Join { .. }));
    // An engine found in a swarm it did not join in this delivery, and not registered:
    // the swarm confirms it is this one's, waiting for Ready.
    v.subject.engine = EngineState::Active {
        node_id: "n-new".into(),
        cluster_id: None,
        is_manager: false,
    };
    assert_eq!(
        next(&v),
        Step::ObserveSwarm {
            node_id: Some("n-new".into()),
            until_ready: true,
        }
    );
    v.swarm_observed = true;
    v.subject.membership = Some(member("new", Role::Worker, true));
    assert!(matches!(next(&v), Step::RecordJoined { .. }));
}

#[test]
fn a_worker_that_joined_now_is_recorded_on_its_own_word_and_a_manager_is_not() {
    for role in [Role::Worker, Role::Manager] {
        let mut v = first_view(role);
        v.store.leases.push(JoinLease {
            instance_id: "i-new".into(),
            role,
            expires_at: NOW + 100,
        });
        // The join script joined it with the role's token, and reports it active.
        v.subject.engine = EngineState::Active {
            node_id: "n-new".into(),
            cluster_id: (role == Role::Manager).then(|| "c1".into()),
            is_manager: role == Role::Manager,
        };
        v.subject.joined_now = true;
        let step = next(&v);
        match role {
            Role::Worker => assert!(
                matches!(&step, Step::RecordJoined { node_id, .. } if node_id == "n-new"),
                "{step:?}"
            ),
            // A manager's reachability is the quorum's: a manager confirms it.
            Role::Manager => assert_eq!(
                step,
                Step::ObserveSwarm {
                    node_id: Some("n-new".into()),
                    until_ready: true,
                }
            ),
        }
    }
}

#[test]
fn a_registered_worker_found_active_under_its_node_id_completes_without_the_swarm() {
    let mut v = first_view(Role::Worker);
    v.store.nodes.push(NodeRecord {
        instance_id: "i-new".into(),
        node_id: "n-new".into(),
        role: Role::Worker,
    });
    v.subject.engine = EngineState::Active {
        node_id: "n-new".into(),
        cluster_id: None,
        is_manager: false,
    };
    assert!(matches!(
        next(&v),
        Step::Complete {
            result: LifecycleResult::Continue,
            ..
        }
    ));
    // Under another node id (it left and joined again elsewhere): the swarm is asked.
    v.store.nodes[0].node_id = "n-old".into();
    assert!(matches!(next(&v), Step::ObserveSwarm { .. }));
}

#[test]
fn each_not_yet_names_what_a_pause_must_look_at_again() {
    let mut v = first_view(Role::Worker);
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Worker,
        expires_at: NOW + 100,
    });
    let waiting_for = |v: &ClusterView| match next(v) {
        Step::RetryLater { waiting_for, .. } => Some(waiting_for),
        _ => None,
    };
    v.subject.engine = EngineState::Unreachable;
    assert_eq!(waiting_for(&v), Some(WaitingFor::Engine));
    v.subject.engine = EngineState::Pending;
    assert_eq!(waiting_for(&v), Some(WaitingFor::Engine));
    // A manager without an address waits for the cloud: only a later delivery reads it.
    let mut m = first_view(Role::Manager);
    m.subject.address = None;
    assert_eq!(waiting_for(&m), Some(WaitingFor::Cloud));
    // A worker at the cap waits for the others' slots in the store.
    let mut w = first_view(Role::Worker);
    w.settings.worker_join_parallelism = 1;
    w.store.leases.push(JoinLease {
        instance_id: "i-other".into(),
        role: Role::Worker,
        expires_at: NOW + 100,
    });
    assert_eq!(waiting_for(&w), Some(WaitingFor::Store));
}

#[test]
fn a_manager_reads_the_swarm_before_it_takes_a_slot() {
    let mut v = first_view(Role::Manager);
    assert_eq!(
        next(&v),
        Step::ObserveSwarm {
            node_id: None,
            until_ready: false,
        }
    );
    v.swarm_observed = true;
    v.managers = vec![member("first", Role::Manager, true)];
    assert!(matches!(
        next(&v),
        Step::AcquireLease {
            role: Role::Manager,
            ..
        }
    ));
    // A manager still needs its address; a worker does not.
    v.subject.address = None;
    assert!(matches!(next(&v), Step::RetryLater { .. }));
}

#[test]
fn the_join_s_report_decides_what_follows() {
    let mut v = first_view(Role::Worker);
    v.store.leases.push(JoinLease {
        instance_id: "i-new".into(),
        role: Role::Worker,
        expires_at: NOW + 100,
    });
    v.subject.engine = EngineState::Unreachable;
    assert!(matches!(next(&v), Step::RetryLater { .. }));
    v.subject.engine = EngineState::Failed("locked".into());
    assert!(matches!(
        next(&v),
        Step::Complete {
            result: LifecycleResult::Abandon,
            ..
        }
    ));
    v.subject.engine = EngineState::Pending;
    assert!(matches!(next(&v), Step::RetryLater { .. }));
}

#[test]
fn a_registered_node_s_engine_is_asked_before_any_slot_is_taken() {
    let mut v = first_view(Role::Worker);
    v.store.nodes.push(NodeRecord {
        instance_id: "i-new".into(),
        node_id: "n-new".into(),
        role: Role::Worker,
    });
    assert_eq!(
        next(&v),
        Step::ObserveEngine {
            instance_id: "i-new".into()
        }
    );
}

#[test]
fn a_launch_event_for_an_instance_its_group_terminates_changes_nothing() {
    for engine in [EngineState::Unobserved, EngineState::Inactive] {
        let mut v = with_swarm(view(Some(Role::Worker), engine));
        v.subject.lifecycle = Some(MemberState::Terminating);
        v.store.leases.push(JoinLease {
            instance_id: "i-new".into(),
            role: Role::Worker,
            expires_at: NOW + 100,
        });
        assert!(matches!(next(&v), Step::Disregard { .. }), "{:?}", next(&v));
    }
}

#[test]
fn an_instance_in_neither_group_is_abandoned() {
    let v = with_swarm(view(None, EngineState::Inactive));
    assert!(matches!(
        next(&v),
        Step::Complete {
            result: LifecycleResult::Abandon,
            ..
        }
    ));
}

#[test]
fn a_fresh_launch_waits_out_the_learned_boot_before_its_first_command() {
    let mut v = first_view(Role::Worker);
    v.store.boot_ms = Some(40_000);
    let launched = |at_ms: u64| LaunchAction {
        began_at_ms: Some(at_ms),
        ..action(3_000)
    };
    // Launched 10 s ago, instances take 40 s: no command for 30 s more.
    let step = next_launch_step(&v, &launched(v.now_ms - 10_000));
    assert!(
        matches!(
            step,
            Step::RetryLater {
                waiting_for: WaitingFor::Boot { until_ms },
                ..
            } if until_ms == v.now_ms + 30_000
        ),
        "{step:?}"
    );
    // Past it, or with no launch time or no estimate: the join goes ahead as before.
    assert!(matches!(
        next_launch_step(&v, &launched(v.now_ms - 41_000)),
        Step::AcquireLease { .. }
    ));
    assert!(matches!(next(&v), Step::AcquireLease { .. }));
    // A command refused already in this delivery: the estimate was short; no more waiting
    // on it.
    v.subject.refused = true;
    assert!(matches!(
        next_launch_step(&v, &launched(v.now_ms - 10_000)),
        Step::AcquireLease { .. }
    ));
}

#[test]
fn the_boot_time_is_learned_from_each_join_s_first_contact() {
    use swarmhook::plan::learned_boot_ms;
    // The first join: what it saw.
    assert_eq!(learned_boot_ms(None, 30_000, true), 30_000);
    // A command refused first: the boot ended about at the contact; half-way there.
    assert_eq!(learned_boot_ms(Some(20_000), 40_000, true), 30_000);
    // Up at the first try: an upper bound, taken when lower...
    assert_eq!(learned_boot_ms(Some(40_000), 25_000, false), 25_000);
    // ...and otherwise a tenth off, so an estimate too long does not stay.
    assert_eq!(learned_boot_ms(Some(40_000), 45_000, false), 36_000);
    // The join records it.
    let mut v = first_view(Role::Worker);
    v.store.boot_ms = Some(40_000);
    v.subject.engine = EngineState::Active {
        node_id: "n-new".into(),
        cluster_id: None,
        is_manager: false,
    };
    v.subject.joined_now = true;
    v.subject.contacted_at_ms = Some(v.now_ms);
    let step = next_launch_step(
        &v,
        &LaunchAction {
            began_at_ms: Some(v.now_ms - 25_000),
            ..action(3_000)
        },
    );
    assert!(
        matches!(
            step,
            Step::RecordJoined {
                boot_ms: Some(25_000),
                ..
            }
        ),
        "{step:?}"
    );
}
