//! Repairing what no event reports: the suspects a reconcile notes and the instances it
//! has replaced.

use swarmhook::cluster::{
    Departure, GroupMember, MemberState, NodeRecord, Role, StoreRecord, Suspect,
};
use swarmhook::engine::parse_unhealthy_nodes;
use swarmhook::plan::plan_repairs;

const DEAD_AFTER: u64 = 180;

fn store() -> StoreRecord {
    StoreRecord {
        nodes: ["m1", "m2", "w1", "w2"]
            .iter()
            .map(|n| NodeRecord {
                instance_id: format!("i-{n}"),
                node_id: format!("n-{n}"),
                role: if n.starts_with('m') {
                    Role::Manager
                } else {
                    Role::Worker
                },
            })
            .collect(),
        ..StoreRecord::default()
    }
}

fn members(state_of: impl Fn(&str) -> MemberState) -> Vec<GroupMember> {
    ["m1", "m2", "w1", "w2"]
        .iter()
        .map(|n| GroupMember {
            instance_id: format!("i-{n}"),
            role: Role::Worker,
            state: state_of(n),
            placement: None,
            cloud_state: None,
        })
        .collect()
}

fn down(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|n| format!("n-{n}")).collect()
}

#[test]
fn a_node_found_dead_is_a_suspect_and_is_replaced_only_once_that_has_lasted() {
    let all_in_service = members(|_| MemberState::InService);
    let first = plan_repairs(&store(), &down(&["m1"]), &all_in_service, 1_000, DEAD_AFTER);
    assert_eq!(
        first.suspects,
        vec![Suspect {
            instance_id: "i-m1".into(),
            node_id: "n-m1".into(),
            since: 1_000,
        }]
    );
    assert!(first.replace.is_empty());
    let mut s = store();
    s.suspects = first.suspects.clone();
    // Still dead a little later: still a suspect, since the first sighting.
    let later = plan_repairs(&s, &down(&["m1"]), &all_in_service, 1_100, DEAD_AFTER);
    assert_eq!(later.suspects, first.suspects);
    assert!(later.replace.is_empty());
    // Dead for the whole setting: its instance is replaced.
    let dead = plan_repairs(&s, &down(&["m1"]), &all_in_service, 1_180, DEAD_AFTER);
    assert_eq!(dead.replace, first.suspects);
    // Back before that: no longer a suspect.
    let back = plan_repairs(&s, &[], &all_in_service, 1_179, DEAD_AFTER);
    assert!(back.suspects.is_empty() && back.replace.is_empty());
}

#[test]
fn only_an_instance_in_service_and_known_to_the_registry_is_judged() {
    let mut s = store();
    s.suspects = vec![Suspect {
        instance_id: "i-w1".into(),
        node_id: "n-w1".into(),
        since: 0,
    }];
    // Leaving already (its terminate hook has it), or still launching (its launch hook).
    for state in [
        MemberState::Terminating,
        MemberState::Pending,
        MemberState::Other,
    ] {
        let plan = plan_repairs(&s, &down(&["w1"]), &members(|_| state), 10_000, DEAD_AFTER);
        assert!(
            plan.suspects.is_empty() && plan.replace.is_empty(),
            "{state:?}"
        );
    }
    // In no group at all: reconcile's ghosts are its own business.
    let plan = plan_repairs(&s, &down(&["w1"]), &[], 10_000, DEAD_AFTER);
    assert!(plan.replace.is_empty());
    // A node no one registered (not this cluster's to judge).
    let in_service = members(|_| MemberState::InService);
    let plan = plan_repairs(&s, &["n-stranger".into()], &in_service, 10_000, DEAD_AFTER);
    assert!(plan.suspects.is_empty());
    // A departure recorded: it is on its way out.
    s.departures.push(Departure {
        instance_id: "i-w1".into(),
        node_id: "n-w1".into(),
        role: Role::Worker,
    });
    let plan = plan_repairs(&s, &down(&["w1"]), &in_service, 10_000, DEAD_AFTER);
    assert!(plan.replace.is_empty());
}

#[test]
fn the_census_lists_the_nodes_not_serving_after_its_counts() {
    let out = "      2 Ready \n      1 Down Unreachable\n--- unhealthy\nabc123def\n\nx9\n";
    assert_eq!(
        parse_unhealthy_nodes(out).expect("parses"),
        vec!["abc123def".to_owned(), "x9".to_owned()]
    );
    assert_eq!(
        parse_unhealthy_nodes("      2 Ready \n--- unhealthy\n").expect("parses"),
        Vec::<String>::new()
    );
    // Counts alone (an older script) or something that is no node id: an error.
    assert!(parse_unhealthy_nodes("      2 Ready \n").is_err());
    assert!(parse_unhealthy_nodes("--- unhealthy\nrm -rf /\n").is_err());
    // The counts stop at the marker.
    let counts = swarmhook::engine::parse_swarm_census(out).expect("parses");
    assert_eq!((counts.nodes, counts.managers), (3, 1));
}
