//! The managers' quorum rules, tested directly: every size the template allows (1, 3,
//! 5, 7, and the even sizes a change passes through), every count reachable.

use swarmhook::plan::ManagerQuorum;

fn q(members: usize, reachable: usize) -> ManagerQuorum {
    ManagerQuorum { members, reachable }
}

#[test]
fn a_join_goes_ahead_exactly_while_a_majority_answers() {
    for members in 1..=8 {
        for reachable in 0..=members {
            let majority = reachable * 2 > members;
            assert_eq!(
                q(members, reachable).allows_join(),
                majority,
                "{reachable} of {members}"
            );
            // After the join, counting the joiner, a majority answers still.
            if majority {
                assert!((reachable + 1) * 2 > members + 1);
            }
        }
    }
    // The case a dead leader made: 2 of 3 answer, and the scale-out to 5 goes on.
    assert!(q(3, 2).allows_join());
    assert!(q(4, 3).allows_join());
    assert!(!q(2, 1).allows_join());
    assert!(!q(0, 0).allows_join());
}

#[test]
fn a_removal_keeps_a_majority_of_those_left() {
    // A reachable manager leaving 3 of 3: 2 of 2 are left.
    assert!(q(3, 3).allows_removal(true));
    // A dead one leaving 2 of 3: 2 of 2 are left.
    assert!(q(3, 2).allows_removal(false));
    // A reachable one leaving 2 of 3 (the other dead): 1 of 2 would be left.
    assert!(!q(3, 2).allows_removal(true));
    // The last manager never leaves this way.
    assert!(!q(1, 1).allows_removal(true));
    for members in 1..=8 {
        for reachable in 0..=members {
            for serves in [true, false] {
                if serves && reachable == 0 || !serves && reachable == members {
                    continue; // not a possible swarm
                }
                let after = members - 1;
                let left = reachable - usize::from(serves);
                let want = after >= 1 && reachable * 2 > members && left * 2 > after;
                assert_eq!(
                    q(members, reachable).allows_removal(serves),
                    want,
                    "{reachable} of {members} reachable, the leaving one serving: {serves}"
                );
            }
        }
    }
}

#[test]
fn missing_counts_the_managers_short_of_a_majority() {
    assert_eq!(q(3, 3).missing(), 0);
    assert_eq!(q(3, 1).missing(), 1);
    assert_eq!(q(5, 1).missing(), 2);
    assert_eq!(q(4, 2).missing(), 1);
}
