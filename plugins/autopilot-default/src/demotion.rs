//! Demoting a failed voter while the voters are odd in number.
//!
//! With an odd number of voters, one fewer needs the same quorum, so taking
//! a failed voter's vote away costs no failure tolerance. It also keeps the
//! count odd once a healthy non-voter is promoted in its place next round,
//! where promoting first would make the count even and raise the quorum.

use keel_sdk::autopilot::Action;

use crate::health::{Presence, gossip_name};
use crate::membership::{Membership, quorum};

/// Demotes at most one voter that gossip reports failed or gone, the first
/// by id that can go without losing quorum or dropping below min quorum.
pub(crate) fn demote_failed_voter(membership: &Membership<'_>) -> Option<(Action, String)> {
    let voters = membership.voters();
    if voters.is_multiple_of(2) {
        return None;
    }
    let mut failed: Vec<_> = membership
        .members()
        .filter(|m| m.voter && !m.leader && matches!(m.presence(), Presence::Failed | Presence::Stale))
        .collect();
    failed.sort_unstable_by_key(|m| m.id);
    failed.into_iter().find(|m| membership.check_voter_loss(m.id).is_ok()).map(|m| {
        let (id, status) = (m.id, gossip_name(m.gossip));
        let reason = format!(
            "demote server {id}: voter is {status} in gossip; {voters} voters need a quorum of {}, as {} do",
            quorum(voters),
            voters - 1
        );
        (Action::Demote(id.to_owned()), reason)
    })
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{Cluster, GossipStatus};

    use super::*;
    use crate::fixtures::{cluster, demote, nonvoter, server, with_status};
    use crate::health::assess;

    fn demotion(c: &Cluster) -> Option<(Action, String)> {
        let assessed = assess(c).expect("valid");
        let membership = Membership::new(&assessed, c.config.min_quorum);
        demote_failed_voter(&membership)
    }

    fn failed(id: &str) -> keel_sdk::autopilot::Server {
        with_status(GossipStatus::Failed, server(id))
    }

    #[test]
    fn with_an_odd_number_of_voters_a_failed_voter_is_demoted() {
        let c = cluster(vec![server("s1"), server("s2"), failed("s3"), nonvoter("s4")]);
        let (action, reason) = demotion(&c).expect("a demotion");
        assert_eq!(action, demote("s3"));
        assert_eq!(reason, "demote server s3: voter is failed in gossip; 3 voters need a quorum of 2, as 2 do");
    }

    #[test]
    fn with_an_even_number_of_voters_nothing_is_demoted() {
        let c = cluster(vec![server("s1"), server("s2"), server("s3"), failed("s4")]);
        assert_eq!(demotion(&c), None);
    }

    #[test]
    fn only_one_failed_voter_is_demoted_the_first_by_id() {
        let c = cluster(vec![server("s1"), server("s2"), server("s3"), failed("s5"), failed("s4")]);
        assert_eq!(demotion(&c).map(|(a, _)| a), Some(demote("s4")));
    }

    #[test]
    fn stale_voters_count_as_failed() {
        let c = cluster(vec![server("s1"), server("s2"), with_status(GossipStatus::Left, server("s3"))]);
        assert_eq!(demotion(&c).map(|(a, _)| a), Some(demote("s3")));
    }

    #[test]
    fn leaving_voters_are_left_alone() {
        let c = cluster(vec![server("s1"), server("s2"), with_status(GossipStatus::Leaving, server("s3"))]);
        assert_eq!(demotion(&c), None);
    }

    #[test]
    fn min_quorum_holds_the_demotion_back() {
        let mut c = cluster(vec![server("s1"), server("s2"), failed("s3")]);
        c.config.min_quorum = 3;
        assert_eq!(demotion(&c), None);
    }

    #[test]
    fn a_cluster_without_quorum_is_not_touched() {
        let c = cluster(vec![server("s1"), failed("s2"), failed("s3")]);
        assert_eq!(demotion(&c), None);
    }
}
