//! What a scheduled reconcile picks: ghosts (the store knows them, no group holds them),
//! managers first, then instances in service that the registry does not know; never more
//! than the batch.

use swarmhook::cluster::{
    Departure, GroupMember, JoinLease, ManagerRecord, MemberState, NodeRecord, Role, StoreRecord,
    SwarmRecord,
};
use swarmhook::engine::parse_swarm_census;
use swarmhook::plan::{plan_reconcile, Ghost};

fn store() -> StoreRecord {
    let mut s = StoreRecord {
        generation: 4,
        swarm: Some(SwarmRecord {
            cluster_id: "c1".into(),
            tokens_published: true,
        }),
        ..StoreRecord::default()
    };
    for (id, role) in [
        ("i-m1", Role::Manager),
        ("i-m2", Role::Manager),
        ("i-w1", Role::Worker),
        ("i-w2", Role::Worker),
    ] {
        s.nodes.push(NodeRecord {
            instance_id: id.into(),
            node_id: format!("n-{id}"),
            role,
        });
        if role == Role::Manager {
            s.managers.push(ManagerRecord {
                instance_id: id.into(),
                address: "10.0.1.1".into(),
            });
        }
    }
    s
}

fn held(ids: &[(&str, Role, MemberState)]) -> Vec<GroupMember> {
    ids.iter()
        .map(|(id, role, state)| GroupMember {
            instance_id: (*id).into(),
            role: *role,
            state: *state,
            placement: None,
            cloud_state: None,
        })
        .collect()
}

#[test]
fn a_healthy_cluster_has_no_work() {
    let members = held(&[
        ("i-m1", Role::Manager, MemberState::InService),
        ("i-m2", Role::Manager, MemberState::InService),
        ("i-w1", Role::Worker, MemberState::InService),
        ("i-w2", Role::Worker, MemberState::Terminating),
    ]);
    let work = plan_reconcile(&store(), &members, 10);
    assert!(work.ghosts.is_empty(), "{work:?}");
    assert!(work.unjoined.is_empty(), "{work:?}");
    assert_eq!(work.deferred, 0);
}

#[test]
fn instances_no_group_holds_are_ghosts_managers_first() {
    let mut s = store();
    s.departures.push(Departure {
        instance_id: "i-w9".into(),
        node_id: "n-w9".into(),
        role: Role::Worker,
    });
    s.leases.push(JoinLease {
        instance_id: "i-w8".into(),
        role: Role::Worker,
        expires_at: 1,
    });
    let members = held(&[("i-m1", Role::Manager, MemberState::InService)]);
    let work = plan_reconcile(&s, &members, 10);
    let ghosts: Vec<(&str, Role)> = work
        .ghosts
        .iter()
        .map(|Ghost { instance_id, role }| (instance_id.as_str(), *role))
        .collect();
    assert_eq!(
        ghosts,
        vec![
            ("i-m2", Role::Manager),
            ("i-w1", Role::Worker),
            ("i-w2", Role::Worker),
            ("i-w8", Role::Worker),
            ("i-w9", Role::Worker),
        ]
    );
}

#[test]
fn instances_in_service_but_unregistered_are_to_join_unless_joining_or_launching() {
    let mut s = store();
    s.leases.push(JoinLease {
        instance_id: "i-w4".into(),
        role: Role::Worker,
        expires_at: 1,
    });
    let members = held(&[
        ("i-m1", Role::Manager, MemberState::InService),
        ("i-m2", Role::Manager, MemberState::InService),
        ("i-w1", Role::Worker, MemberState::InService),
        ("i-w2", Role::Worker, MemberState::InService),
        ("i-w3", Role::Worker, MemberState::InService),
        ("i-w4", Role::Worker, MemberState::InService),
        ("i-w5", Role::Worker, MemberState::Pending),
    ]);
    let work = plan_reconcile(&s, &members, 10);
    let unjoined: Vec<&str> = work
        .unjoined
        .iter()
        .map(|m| m.instance_id.as_str())
        .collect();
    assert_eq!(unjoined, vec!["i-w3"]);
    // Before the swarm exists, the launch hooks do the joining.
    s.swarm = None;
    assert!(plan_reconcile(&s, &members, 10).unjoined.is_empty());
}

#[test]
fn one_run_acts_on_at_most_the_batch() {
    let members: Vec<GroupMember> = (0..25)
        .map(|i| GroupMember {
            instance_id: format!("i-new{i:02}"),
            role: Role::Worker,
            state: MemberState::InService,
            placement: None,
            cloud_state: None,
        })
        .collect();
    let work = plan_reconcile(&store(), &members, 10);
    // The four stored instances are ghosts (no group holds them), and come first.
    assert_eq!(work.ghosts.len(), 4);
    assert_eq!(work.unjoined.len(), 6);
    assert_eq!(work.deferred, 19);
}

#[test]
fn the_census_counts_nodes_by_status_and_managers_by_standing() {
    let out = "      3 Ready \n      1 Down \n      1 Ready Leader\n      1 Ready Reachable\n      1 Down Unreachable\n";
    let c = parse_swarm_census(out).expect("parses");
    assert_eq!(
        (
            c.nodes,
            c.managers,
            c.workers,
            c.reachable_managers,
            c.nodes_down
        ),
        (7, 3, 4, 2, 2)
    );
    assert!(parse_swarm_census("x Ready\n").is_err());
}
