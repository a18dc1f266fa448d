//! Dead-server cleanup: removing servers that gossip reports gone or failed
//! from the Raft configuration.
//!
//! The order is raft-autopilot's: stale non-voters, stale voters, failed
//! non-voters, failed voters, each group by id. Three rules bound it, so
//! that cleanup cannot take a cluster's quorum with it (consul#5922):
//! - one round removes at most (potential voters - 1) / 2 servers that are
//!   voters or could become voters, counted over the whole round;
//! - neither the voters nor the potential voters left may drop below
//!   `min_quorum`;
//! - the voters left must still have a healthy quorum.
//!
//! Leaving servers are not removed, and neither is the leader.

use keel_sdk::autopilot::Action;

use crate::health::{Presence, gossip_name};
use crate::membership::{Member, Membership};

/// The removal groups, in the order cleanup works through them.
const ORDER: [(Presence, bool); 4] =
    [(Presence::Stale, false), (Presence::Stale, true), (Presence::Failed, false), (Presence::Failed, true)];

/// The removals this round asks for, each with its reason.
pub(crate) fn remove_dead_servers(membership: &Membership<'_>) -> Vec<(Action, String)> {
    let mut after = membership.clone();
    let mut budget = membership.potential_voters().saturating_sub(1) / 2;
    let mut removals = Vec::new();
    for (presence, voter) in ORDER {
        let mut group: Vec<Member<'_>> =
            after.members().filter(|m| m.presence() == presence && m.voter == voter && !m.leader).cloned().collect();
        group.sort_unstable_by_key(|m| m.id);
        for member in group {
            let counted = member.potential_voter();
            if counted && budget == 0 {
                continue;
            }
            if counted && after.potential_voters().saturating_sub(1) < after.min_quorum() {
                continue;
            }
            if member.voter && after.check_voter_loss(member.id).is_err() {
                continue;
            }
            let action = Action::Remove(member.id.to_owned());
            after.apply(&action);
            budget -= usize::from(counted);
            let reason = format!(
                "remove server {}: {} {}, gossip status {}",
                member.id,
                if presence == Presence::Stale { "stale" } else { "failed" },
                if member.voted_at_start { "voter" } else { "non-voter" },
                gossip_name(member.gossip)
            );
            removals.push((action, reason));
        }
    }
    removals
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{Cluster, GossipStatus, Server};

    use super::*;
    use crate::fixtures::{cluster, kinds, nonvoter, read_replica, remove, server, with_status};
    use crate::health::assess;

    fn removals(c: &Cluster) -> Vec<(Action, String)> {
        let assessed = assess(c).expect("valid");
        remove_dead_servers(&Membership::new(&assessed, c.config.min_quorum))
    }

    fn failed(s: Server) -> Server {
        with_status(GossipStatus::Failed, s)
    }

    fn left(s: Server) -> Server {
        with_status(GossipStatus::Left, s)
    }

    #[test]
    fn groups_go_in_raft_autopilots_order() {
        // Seven voters and plenty of budget: (9 potential - 1) / 2 = 4.
        let c = cluster(vec![
            server("s1"),
            server("s2"),
            server("s3"),
            server("s4"),
            server("s5"),
            failed(server("a-failed-voter")),
            left(server("b-stale-voter")),
            failed(nonvoter("c-failed-nonvoter")),
            with_status(GossipStatus::None, nonvoter("d-stale-nonvoter")),
            nonvoter("s6"),
        ]);
        let got = removals(&c);
        assert_eq!(
            kinds(&got),
            [
                remove("d-stale-nonvoter"),
                remove("b-stale-voter"),
                remove("c-failed-nonvoter"),
                remove("a-failed-voter"),
            ]
        );
        assert_eq!(got[0].1, "remove server d-stale-nonvoter: stale non-voter, gossip status none");
        assert_eq!(got[3].1, "remove server a-failed-voter: failed voter, gossip status failed");
    }

    #[test]
    fn at_most_half_the_potential_voters_less_one_go_at_once() {
        // Three voters and three failed non-voters: (6 - 1) / 2 = 2 removals.
        let c = cluster(vec![
            server("s1"),
            server("s2"),
            server("s3"),
            failed(nonvoter("s4")),
            failed(nonvoter("s5")),
            failed(nonvoter("s6")),
        ]);
        assert_eq!(kinds(&removals(&c)), [remove("s4"), remove("s5")]);
    }

    #[test]
    fn the_budget_counts_the_whole_round() {
        // Three voters and two failed non-voters: (5 - 1) / 2 = 2 in total,
        // so the failed voter waits for the next round.
        let c = cluster(vec![
            server("s1"),
            server("s2"),
            failed(server("s3")),
            failed(nonvoter("s4")),
            failed(nonvoter("s5")),
        ]);
        assert_eq!(kinds(&removals(&c)), [remove("s4"), remove("s5")]);
    }

    #[test]
    fn stale_non_voters_and_read_replicas_cost_no_budget() {
        let c = cluster(vec![
            server("s1"),
            server("s2"),
            failed(server("s3")),
            left(nonvoter("s4")),
            left(nonvoter("s5")),
            failed(read_replica(nonvoter("s6"))),
        ]);
        assert_eq!(kinds(&removals(&c)), [remove("s4"), remove("s5"), remove("s6"), remove("s3")]);
    }

    #[test]
    fn min_quorum_is_respected() {
        let mut c = cluster(vec![server("s1"), server("s2"), server("s3"), failed(server("s4")), failed(server("s5"))]);
        c.config.min_quorum = 4;
        assert_eq!(kinds(&removals(&c)), [remove("s4")]);
        c.config.min_quorum = 5;
        assert!(removals(&c).is_empty());
    }

    #[test]
    fn min_quorum_also_counts_potential_voters() {
        // Two voters and a failed non-voter that could vote: with a minimum
        // of three, the non-voter stays.
        let mut c = cluster(vec![server("s1"), server("s2"), failed(nonvoter("s3"))]);
        c.config.min_quorum = 3;
        assert!(removals(&c).is_empty());
        c.config.min_quorum = 2;
        assert_eq!(kinds(&removals(&c)), [remove("s3")]);
    }

    #[test]
    fn quorum_is_never_lost() {
        // Three voters, two failed: no quorum now, and removing one would
        // leave one healthy voter of two.
        let c = cluster(vec![server("s1"), failed(server("s2")), failed(server("s3"))]);
        assert!(removals(&c).is_empty());
    }

    #[test]
    fn the_leader_and_leaving_servers_stay() {
        let mut c = cluster(vec![
            failed(server("s1")),
            server("s2"),
            server("s3"),
            with_status(GossipStatus::Leaving, server("s4")),
            server("s5"),
        ]);
        c.leader_id = "s1".into();
        assert!(removals(&c).is_empty());
    }
}
