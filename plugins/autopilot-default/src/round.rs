//! One autopilot round, from the host's facts to a decision.
//!
//! A round runs in raft-autopilot's order: it assesses every server, then
//! reconciles voting rights with one kind of change (a failed voter's
//! demotion, else the upgrade migration's step, else promotions of stable
//! non-voters), then cleans up dead servers. Each phase sees the membership
//! the earlier ones leave behind, so their safety checks compose.

use keel_sdk::autopilot::{Action, Cluster, Decision, PlannedAction};

use crate::cleanup::remove_dead_servers;
use crate::demotion::demote_failed_voter;
use crate::health::assess;
use crate::membership::Membership;
use crate::promotion::{Stabilization, promote_stable};
use crate::report::health_report;
use crate::upgrade::{Migration, status};
use crate::zones::redundancy_zones;

/// Runs one round. Fails only when the facts describe no Raft cluster.
pub(crate) fn evaluate(cluster: &Cluster) -> Result<Decision, String> {
    let assessments = assess(cluster)?;
    let stabilization = Stabilization::of(cluster);
    let mut membership = Membership::new(&assessments, cluster.config.min_quorum);
    let migration = Migration::of(cluster, &assessments);
    let step = migration.as_ref().map(|m| m.step(&assessments, &membership, &stabilization));

    let reconcile = match demote_failed_voter(&membership) {
        Some(demotion) => vec![demotion],
        None => match (&migration, &step) {
            (Some(migration), Some(step)) if step.status == status::AWAIT_SERVER_REMOVAL => {
                // Old servers are on their way out; only new ones may vote.
                let mut promotions = promote_stable(&assessments, &membership, &stabilization);
                promotions.retain(|(action, _)| migration.runs_target(action_target(action)));
                promotions
            }
            (Some(_), Some(step)) if step.status != status::IDLE => step.actions.clone(),
            _ => promote_stable(&assessments, &membership, &stabilization),
        },
    };
    for (action, _) in &reconcile {
        membership.apply(action);
    }

    // After a leadership transfer this server can no longer change the
    // configuration; the new leader cleans up in its own rounds.
    let transfers = reconcile.iter().any(|(action, _)| matches!(action, Action::TransferLeadership(_)));
    let removals =
        if cluster.config.cleanup_dead_servers && !transfers { remove_dead_servers(&membership) } else { Vec::new() };
    let removed = |id: &str| removals.iter().any(|(action, _)| matches!(action, Action::Remove(r) if r == id));
    // A voter demoted and removed in one round only needs removing.
    let mut actions: Vec<(Action, String)> =
        reconcile.into_iter().filter(|(action, _)| !matches!(action, Action::Demote(id) if removed(id))).collect();
    actions.extend(removals);

    let upgrade = migration.zip(step).map(|(migration, step)| migration.report(&assessments, step.status));
    let health = health_report(cluster, &assessments, redundancy_zones(cluster, &assessments), upgrade);
    let actions = actions.into_iter().map(|(action, reason)| PlannedAction { action, reason }).collect();
    Ok(Decision { health, actions })
}

fn action_target(action: &Action) -> &str {
    match action {
        Action::Promote(id) | Action::Demote(id) | Action::Remove(id) | Action::TransferLeadership(id) => id,
    }
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{GossipStatus, Server};

    use super::*;
    use crate::fixtures::{cluster, demote, kinds, nonvoter, promote, remove, server, transfer, with_status};
    use crate::upgrade::FEATURE as UPGRADES;
    use crate::zones::{FEATURE as ZONES, ZONE_TAG};

    fn actions(c: &Cluster) -> Vec<Action> {
        kinds(&evaluate(c).expect("valid").actions)
    }

    fn failed(s: Server) -> Server {
        with_status(GossipStatus::Failed, s)
    }

    #[test]
    fn a_healthy_cluster_needs_nothing() {
        let decision = evaluate(&cluster(vec![server("s1"), server("s2"), server("s3")])).expect("valid");
        assert!(decision.actions.is_empty());
        assert!(decision.health.healthy);
        assert_eq!(decision.health.failure_tolerance, 1);
        assert!(decision.health.upgrade.is_none());
        assert!(decision.health.redundancy_zones.is_empty());
    }

    #[test]
    fn a_failed_voter_is_demoted_before_anything_is_promoted() {
        let mut c = cluster(vec![server("s1"), server("s2"), failed(server("s3")), nonvoter("s4")]);
        c.config.cleanup_dead_servers = false;
        assert_eq!(actions(&c), [demote("s3")]);
        // Next round the demoted server is a non-voter and the new one is promoted.
        let mut next = c.clone();
        next.servers[2].suffrage = keel_sdk::autopilot::Suffrage::Nonvoter;
        assert_eq!(actions(&next), [promote("s4")]);
    }

    #[test]
    fn a_voter_demoted_and_removed_in_one_round_is_only_removed() {
        let c = cluster(vec![server("s1"), server("s2"), failed(server("s3"))]);
        let decision = evaluate(&c).expect("valid");
        assert_eq!(kinds(&decision.actions), [remove("s3")]);
        assert!(
            decision.actions[0].reason.starts_with("remove server s3: failed voter"),
            "{}",
            decision.actions[0].reason
        );
    }

    #[test]
    fn promotions_and_cleanup_share_a_round_as_in_raft_autopilot() {
        let c = cluster(vec![server("s1"), server("s2"), server("s3"), failed(server("s4")), nonvoter("s5")]);
        assert_eq!(actions(&c), [promote("s5"), remove("s4")]);
    }

    #[test]
    fn cleanup_can_be_turned_off() {
        let mut c =
            cluster(vec![server("s1"), server("s2"), server("s3"), with_status(GossipStatus::Left, nonvoter("s4"))]);
        assert_eq!(actions(&c), [remove("s4")]);
        c.config.cleanup_dead_servers = false;
        assert!(actions(&c).is_empty());
    }

    #[test]
    fn min_quorum_lets_a_replacement_vote_before_the_failed_voter_goes() {
        let mut c = cluster(vec![server("s1"), server("s2"), failed(server("s3")), nonvoter("s4")]);
        c.config.min_quorum = 3;
        // Neither demoting nor removing s3 may leave two voters, so s4 is
        // promoted first and s3 removed in the same round, leaving three.
        assert_eq!(actions(&c), [promote("s4"), remove("s3")]);
    }

    #[test]
    fn an_upgrade_replaces_the_stable_promoter() {
        let new = |id| Server { version: "1.1.0".into(), ..nonvoter(id) };
        let mut c = cluster(vec![server("s1"), server("s2"), server("s3"), new("s4")]);
        assert_eq!(actions(&c), [promote("s4")], "without the license, the stable promoter runs");
        c.licensed_features = vec![UPGRADES.into()];
        let decision = evaluate(&c).expect("valid");
        assert!(decision.actions.is_empty());
        let upgrade = decision.health.upgrade.expect("licensed");
        assert_eq!(upgrade.status, status::AWAIT_NEW_SERVERS);
        assert_eq!(upgrade.target_version, "1.1.0");
    }

    #[test]
    fn after_the_upgrade_only_new_servers_are_promoted() {
        let new = |s: Server| Server { version: "1.1.0".into(), ..s };
        let mut c =
            cluster(vec![new(server("s1")), new(server("s2")), new(server("s3")), nonvoter("s4"), new(nonvoter("s5"))]);
        c.licensed_features = vec![UPGRADES.into()];
        let decision = evaluate(&c).expect("valid");
        assert_eq!(kinds(&decision.actions), [promote("s5")]);
        assert_eq!(decision.health.upgrade.map(|u| u.status), Some(status::AWAIT_SERVER_REMOVAL.to_owned()));
    }

    #[test]
    fn a_round_that_hands_over_leadership_leaves_cleanup_to_the_next_leader() {
        let new = |s: Server| Server { version: "1.1.0".into(), ..s };
        let mut c = cluster(vec![server("s1"), new(server("s2")), new(server("s3")), failed(nonvoter("s4"))]);
        c.licensed_features = vec![UPGRADES.into()];
        assert_eq!(actions(&c), [transfer("s2")]);
    }

    #[test]
    fn zones_appear_when_enabled_and_licensed() {
        let mut c = cluster(vec![
            crate::fixtures::tagged(ZONE_TAG, "a", server("s1")),
            crate::fixtures::tagged(ZONE_TAG, "b", server("s2")),
        ]);
        c.config.enable_redundancy_zones = true;
        c.licensed_features = vec![ZONES.into()];
        let zones = evaluate(&c).expect("valid").health.redundancy_zones;
        assert_eq!(zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn invalid_facts_are_an_error() {
        let mut c = cluster(vec![server("s1")]);
        c.leader_id = "nobody".into();
        assert!(evaluate(&c).is_err());
    }
}
