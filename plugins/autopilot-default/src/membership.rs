//! The Raft membership as a round changes it, so that every action is
//! checked against the configuration the earlier actions leave behind.

use keel_sdk::autopilot::{Action, GossipStatus};

use crate::health::{Assessment, Presence};

/// Votes needed for a majority of `voters`.
pub(crate) fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

/// One server's part in the membership.
#[derive(Debug, Clone)]
pub(crate) struct Member<'a> {
    pub(crate) id: &'a str,
    pub(crate) voter: bool,
    /// Whether it voted when the round began, for reasons that describe
    /// the server as the operator last saw it.
    pub(crate) voted_at_start: bool,
    pub(crate) leader: bool,
    pub(crate) healthy: bool,
    pub(crate) gossip: GossipStatus,
    pub(crate) read_replica: bool,
    pub(crate) removed: bool,
}

impl Member<'_> {
    pub(crate) fn presence(&self) -> Presence {
        Presence::of(self.gossip)
    }

    /// A voter, or a non-voter the promoter could make one: gossip knows it
    /// and it is not a read replica. Stale non-voters cannot be promoted, so
    /// they do not count.
    pub(crate) fn potential_voter(&self) -> bool {
        !self.removed && (self.voter || (!self.read_replica && self.presence() != Presence::Stale))
    }
}

/// The servers of the Raft configuration and the floor under its voters.
#[derive(Debug, Clone)]
pub(crate) struct Membership<'a> {
    members: Vec<Member<'a>>,
    min_quorum: usize,
}

impl<'a> Membership<'a> {
    pub(crate) fn new(assessments: &[Assessment<'a>], min_quorum: u32) -> Self {
        let members = assessments
            .iter()
            .map(|a| Member {
                id: &a.server.id,
                voter: a.voter,
                voted_at_start: a.voter,
                leader: a.leader,
                healthy: a.healthy(),
                gossip: a.server.gossip_status,
                read_replica: a.read_replica,
                removed: false,
            })
            .collect();
        Self { members, min_quorum: usize::try_from(min_quorum).unwrap_or(usize::MAX) }
    }

    /// The servers still in the configuration, in input order.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member<'a>> {
        self.members.iter().filter(|m| !m.removed)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Member<'a>> {
        self.members().find(|m| m.id == id)
    }

    pub(crate) fn min_quorum(&self) -> usize {
        self.min_quorum
    }

    pub(crate) fn voters(&self) -> usize {
        self.members().filter(|m| m.voter).count()
    }

    pub(crate) fn healthy_voters(&self) -> usize {
        self.members().filter(|m| m.voter && m.healthy).count()
    }

    pub(crate) fn potential_voters(&self) -> usize {
        self.members().filter(|m| m.potential_voter()).count()
    }

    /// Checks that the voter `id` can stop voting (by demotion or removal):
    /// the voters left must reach `min_quorum` and their healthy ones a
    /// quorum. The error says which rule refuses.
    pub(crate) fn check_voter_loss(&self, id: &str) -> Result<(), String> {
        let Some(member) = self.get(id) else {
            return Err(format!("server {id} is not in the configuration"));
        };
        let voters_after = self.voters().saturating_sub(1);
        if voters_after < self.min_quorum {
            return Err(format!(
                "it would leave {voters_after} voters, below the minimum quorum of {}",
                self.min_quorum
            ));
        }
        let healthy_after = self.healthy_voters() - usize::from(member.healthy);
        let needed = quorum(voters_after);
        if healthy_after < needed {
            return Err(format!(
                "it would leave {healthy_after} healthy of {voters_after} voters, short of a quorum of {needed}"
            ));
        }
        Ok(())
    }

    /// Applies one action. Actions on unknown servers change nothing; the
    /// phases of a round only name servers they found here.
    pub(crate) fn apply(&mut self, action: &Action) {
        let id = match action {
            Action::Promote(id) | Action::Demote(id) | Action::Remove(id) | Action::TransferLeadership(id) => id,
        };
        if let Action::TransferLeadership(_) = action {
            for member in self.members.iter_mut().filter(|m| !m.removed) {
                member.leader = member.id == id;
            }
            return;
        }
        let Some(member) = self.members.iter_mut().find(|m| !m.removed && m.id == id) else {
            return;
        };
        match action {
            Action::Promote(_) => member.voter = true,
            Action::Demote(_) => member.voter = false,
            Action::Remove(_) => member.removed = true,
            Action::TransferLeadership(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::GossipStatus;

    use super::*;
    use crate::fixtures::{cluster, demote, nonvoter, promote, read_replica, remove, server, transfer, with_status};
    use crate::health::assess;

    #[test]
    fn quorum_is_a_majority() {
        assert_eq!([1, 2, 3, 4, 5, 6, 7].map(quorum), [1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn potential_voters_are_voters_and_known_promotable_non_voters() {
        let c = cluster(vec![
            server("s1"),
            with_status(GossipStatus::Left, server("s2")),
            nonvoter("s3"),
            with_status(GossipStatus::Failed, nonvoter("s4")),
            with_status(GossipStatus::Left, nonvoter("s5")),
            read_replica(nonvoter("s6")),
        ]);
        let assessed = assess(&c).expect("valid");
        let m = Membership::new(&assessed, 0);
        assert_eq!(m.voters(), 2);
        assert_eq!(m.healthy_voters(), 1);
        assert_eq!(m.potential_voters(), 4);
    }

    #[test]
    fn losing_a_voter_respects_min_quorum_and_quorum() {
        let c = cluster(vec![server("s1"), server("s2"), with_status(GossipStatus::Failed, server("s3"))]);
        let assessed = assess(&c).expect("valid");
        assert_eq!(Membership::new(&assessed, 0).check_voter_loss("s3"), Ok(()));
        let floor = Membership::new(&assessed, 3).check_voter_loss("s3").expect_err("min quorum");
        assert!(floor.contains("minimum quorum of 3"), "{floor}");
        // Losing a healthy voter of three with one failed leaves one healthy of two.
        let short = Membership::new(&assessed, 0).check_voter_loss("s2").expect_err("quorum");
        assert!(short.contains("short of a quorum of 2"), "{short}");
    }

    #[test]
    fn actions_change_the_membership() {
        let c = cluster(vec![server("s1"), server("s2"), nonvoter("s3")]);
        let assessed = assess(&c).expect("valid");
        let mut m = Membership::new(&assessed, 0);
        m.apply(&promote("s3"));
        assert_eq!(m.voters(), 3);
        m.apply(&demote("s2"));
        assert_eq!(m.voters(), 2);
        m.apply(&remove("s2"));
        assert!(m.get("s2").is_none());
        m.apply(&transfer("s3"));
        assert!(m.get("s3").is_some_and(|s| s.leader));
        assert!(m.get("s1").is_some_and(|s| !s.leader));
    }
}
