//! The managers' Raft group, and the one place its rules live: when a manager may join,
//! and when one may stop being a manager, without the swarm losing its majority.
//!
//! A membership change commits only while a majority of the current managers is
//! reachable, and the managers after it must keep a majority of their own. A manager
//! that is unreachable (its engine dead, its instance running) does not forbid a join:
//! adding a reachable manager to 3 of which 2 answer leaves 3 of 4, still a majority,
//! and the dead one is replaced through its instance (`plan/repair.rs`).

use crate::cluster::SwarmMember;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerQuorum {
    /// Managers the swarm counts, reachable or not.
    pub members: usize,
    /// Those Ready and Leader or Reachable.
    pub reachable: usize,
}

impl ManagerQuorum {
    /// The managers as one of them reports them.
    pub fn of(managers: &[SwarmMember]) -> ManagerQuorum {
        ManagerQuorum {
            members: managers.len(),
            reachable: managers.iter().filter(|m| m.is_serving()).count(),
        }
    }

    /// A majority of the managers is reachable: the swarm can commit a change.
    pub fn holds(&self) -> bool {
        self.members > 0 && self.reachable * 2 > self.members
    }

    /// A manager may join now: the change commits, and with the joiner reachable the
    /// managers after it keep a majority (which follows: 2r > m gives 2(r + 1) > m + 1).
    pub fn allows_join(&self) -> bool {
        self.holds() && (self.reachable + 1) * 2 > self.members + 1
    }

    /// A manager (`leaving_serves`: reachable itself) may stop being one now: the
    /// demotion commits, and the managers left keep a majority of their own. The last
    /// manager never leaves this way.
    pub fn allows_removal(&self, leaving_serves: bool) -> bool {
        let after = self.members.saturating_sub(1);
        let others = self.reachable.saturating_sub(usize::from(leaving_serves));
        after >= 1 && self.holds() && others * 2 > after
    }

    /// Reachable managers short of a majority (0 when it holds).
    pub fn missing(&self) -> usize {
        (self.members / 2 + 1).saturating_sub(self.reachable)
    }
}
