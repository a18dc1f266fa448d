//! Upgrade migration (an enterprise feature): when servers of a newer
//! version join, autopilot waits until there are enough of them to replace
//! the old voters, promotes them, demotes the old voters, and finally hands
//! leadership to a new server. The old servers are then the operator's to
//! remove.
//!
//! While a migration is under way it replaces the stable promoter: new
//! servers are promoted only together, once enough of them are healthy,
//! and old non-voters are not promoted at all, so the voter count does not
//! swing back and forth during the upgrade.

use std::collections::HashSet;

use keel_sdk::autopilot::{Action, Cluster, Upgrade};

use crate::facts::{licensed, tag};
use crate::health::Assessment;
use crate::membership::Membership;
use crate::promotion::Stabilization;
use crate::version::{self, Version};

/// The license feature that turns upgrade migration on.
pub(crate) const FEATURE: &str = "Automated Upgrades";
/// The gossip tag that carries a custom upgrade version.
pub(crate) const VERSION_TAG: &str = "upgrade_version";

/// The statuses Nomad reports for a migration.
pub(crate) mod status {
    pub(crate) const IDLE: &str = "idle";
    pub(crate) const AWAIT_NEW_SERVERS: &str = "await-new-servers";
    pub(crate) const AWAIT_NEW_VOTERS: &str = "await-new-voters";
    pub(crate) const PROMOTING: &str = "promoting";
    pub(crate) const DEMOTING: &str = "demoting";
    pub(crate) const LEADER_TRANSFER: &str = "leader-transfer";
    pub(crate) const AWAIT_SERVER_REMOVAL: &str = "await-server-removal";
}

/// Where a migration stands this round, and the changes it asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub(crate) status: &'static str,
    pub(crate) actions: Vec<(Action, String)>,
}

impl Step {
    fn waiting(status: &'static str) -> Self {
        Self { status, actions: Vec::new() }
    }
}

/// The servers' versions and the version they are migrating to.
#[derive(Debug, Clone)]
pub(crate) struct Migration<'a> {
    /// The highest version among the servers that may vote, as written.
    target: Option<&'a str>,
    on_target: HashSet<&'a str>,
}

impl<'a> Migration<'a> {
    /// The migration, when the license grants it and the configuration does
    /// not disable it.
    pub(crate) fn of(cluster: &'a Cluster, assessments: &[Assessment<'a>]) -> Option<Self> {
        if !licensed(cluster, FEATURE) || cluster.config.disable_upgrade_migration {
            return None;
        }
        let version_of = |a: &Assessment<'a>| -> &'a str {
            let custom = cluster.config.enable_custom_upgrades.then(|| tag(a.server, VERSION_TAG)).flatten();
            custom.unwrap_or(a.server.version.as_str())
        };
        // Read replicas never vote, so they neither set the target nor hold
        // the migration up.
        let versions: Vec<(&'a str, &'a str, Option<Version>)> = assessments
            .iter()
            .filter(|a| !a.read_replica)
            .map(|a| {
                let text = version_of(a);
                (a.server.id.as_str(), text, version::parse(text))
            })
            .collect();
        let highest = versions.iter().filter_map(|(_, _, v)| v.as_ref()).max();
        let target = versions.iter().find(|(_, _, v)| v.is_some() && v.as_ref() == highest).map(|(_, text, _)| *text);
        let on_target =
            versions.iter().filter(|(_, _, v)| v.is_some() && v.as_ref() == highest).map(|(id, _, _)| *id).collect();
        Some(Self { target, on_target })
    }

    fn on_target(&self, server: &Assessment<'_>) -> bool {
        self.runs_target(server.id())
    }

    /// Whether the server `id` runs the target version.
    pub(crate) fn runs_target(&self, id: &str) -> bool {
        self.on_target.contains(id)
    }

    /// Decides this round's part of the migration: wait, promote the new
    /// servers, demote the old voters, or hand leadership over, in that
    /// order of progress.
    pub(crate) fn step(
        &self,
        assessments: &[Assessment<'_>],
        membership: &Membership<'_>,
        stabilization: &Stabilization,
    ) -> Step {
        let Some(target) = self.target else {
            return Step::waiting(status::IDLE);
        };
        let mut servers: Vec<&Assessment<'_>> = assessments.iter().filter(|a| !a.read_replica).collect();
        servers.sort_by(|a, b| a.id().cmp(b.id()));
        if servers.iter().all(|a| self.on_target(a)) {
            return Step::waiting(status::IDLE);
        }
        let voter = |a: &Assessment<'_>| membership.get(a.id()).is_some_and(|m| m.voter);
        let select = |keep: &dyn Fn(&Assessment<'_>) -> bool| -> Vec<&Assessment<'_>> {
            servers.iter().copied().filter(|a| keep(a)).collect()
        };
        let old_voters = select(&|a| voter(a) && !self.on_target(a));
        if old_voters.is_empty() {
            return Step::waiting(status::AWAIT_SERVER_REMOVAL);
        }
        if select(&|a| self.on_target(a) && a.healthy()).len() < old_voters.len() {
            return Step::waiting(status::AWAIT_NEW_SERVERS);
        }
        let candidates = select(&|a| self.on_target(a) && !voter(a) && a.healthy());
        if !candidates.is_empty() {
            return promote_new(&candidates, target, stabilization);
        }
        let new_voters = select(&|a| self.on_target(a) && voter(a) && a.healthy());
        if new_voters.len() < old_voters.len() {
            return Step::waiting(status::AWAIT_NEW_VOTERS);
        }
        let (leader, followers): (Vec<&Assessment<'_>>, Vec<&Assessment<'_>>) =
            old_voters.iter().partition(|a| a.leader);
        if !followers.is_empty() {
            return demote_old(&followers, membership, target);
        }
        match leader.first() {
            Some(leader) => hand_over(leader, &new_voters, target),
            None => Step::waiting(status::AWAIT_NEW_VOTERS),
        }
    }

    /// The report, from the round's facts and the step's status.
    pub(crate) fn report(&self, assessments: &[Assessment<'_>], status: &str) -> Upgrade {
        let mut servers: Vec<&Assessment<'_>> = assessments.iter().filter(|a| !a.read_replica).collect();
        servers.sort_by(|a, b| a.id().cmp(b.id()));
        let ids = |on_target: bool, voter: bool| -> Vec<String> {
            servers
                .iter()
                .filter(|a| self.on_target(a) == on_target && a.voter == voter)
                .map(|a| a.id().to_owned())
                .collect()
        };
        Upgrade {
            status: status.to_owned(),
            target_version: self.target.unwrap_or_default().to_owned(),
            target_version_voters: ids(true, true),
            target_version_non_voters: ids(true, false),
            other_version_voters: ids(false, true),
            other_version_non_voters: ids(false, false),
        }
    }
}

/// Promotes the new servers that are stable; waits while none is.
fn promote_new(candidates: &[&Assessment<'_>], target: &str, stabilization: &Stabilization) -> Step {
    let actions: Vec<(Action, String)> = candidates
        .iter()
        .filter(|a| stabilization.is_stable(a))
        .map(|a| {
            let reason = format!(
                "promote server {}: runs the upgrade's target version {target}, {}",
                a.id(),
                stabilization.explain(a)
            );
            (Action::Promote(a.id().to_owned()), reason)
        })
        .collect();
    if actions.is_empty() {
        Step::waiting(status::AWAIT_NEW_VOTERS)
    } else {
        Step { status: status::PROMOTING, actions }
    }
}

/// Demotes the old followers, each only if the voters left keep a healthy
/// quorum and `min_quorum`.
fn demote_old(followers: &[&Assessment<'_>], membership: &Membership<'_>, target: &str) -> Step {
    let mut after = membership.clone();
    let mut actions = Vec::new();
    for a in followers {
        if after.check_voter_loss(a.id()).is_ok() {
            let action = Action::Demote(a.id().to_owned());
            after.apply(&action);
            let reason = format!(
                "demote server {}: runs {}, the upgrade's target version is {target}",
                a.id(),
                a.server.version
            );
            actions.push((action, reason));
        }
    }
    Step { status: status::DEMOTING, actions }
}

/// Only the leader runs an old version now: it hands over to the new voter
/// that has been healthy longest.
fn hand_over(leader: &Assessment<'_>, new_voters: &[&Assessment<'_>], target: &str) -> Step {
    let successor = new_voters.iter().min_by(|a, b| a.stable_since_ms.cmp(&b.stable_since_ms).then(a.id().cmp(b.id())));
    let Some(next) = successor else {
        return Step::waiting(status::AWAIT_NEW_VOTERS);
    };
    let reason = format!(
        "transfer leadership to server {}: the leader runs {}, the upgrade's target version is {target}",
        next.id(),
        leader.server.version
    );
    Step { status: status::LEADER_TRANSFER, actions: vec![(Action::TransferLeadership(next.id().to_owned()), reason)] }
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{GossipStatus, Server};

    use super::*;
    use crate::fixtures::{
        NOW_MS, cluster, demote, kinds, nonvoter, promote, read_replica, server, tagged, transfer, with_status,
    };
    use crate::health::assess;

    fn licensed_cluster(servers: Vec<Server>) -> Cluster {
        let mut c = cluster(servers);
        c.licensed_features = vec![FEATURE.into()];
        c
    }

    fn on(version: &str, s: Server) -> Server {
        Server { version: version.into(), ..s }
    }

    fn step_of(c: &Cluster) -> Step {
        let assessed = assess(c).expect("valid");
        let migration = Migration::of(c, &assessed).expect("licensed");
        migration.step(&assessed, &Membership::new(&assessed, c.config.min_quorum), &Stabilization::of(c))
    }

    fn old_cluster_with(new: Vec<Server>) -> Cluster {
        let mut servers = vec![server("s1"), server("s2"), server("s3")];
        servers.extend(new);
        licensed_cluster(servers)
    }

    #[test]
    fn no_migration_without_the_license_or_when_disabled() {
        let c = cluster(vec![server("s1")]);
        let assessed = assess(&c).expect("valid");
        assert!(Migration::of(&c, &assessed).is_none());
        let mut disabled = licensed_cluster(vec![server("s1")]);
        disabled.config.disable_upgrade_migration = true;
        let assessed = assess(&disabled).expect("valid");
        assert!(Migration::of(&disabled, &assessed).is_none());
    }

    #[test]
    fn one_version_everywhere_is_idle() {
        let c = old_cluster_with(vec![]);
        assert_eq!(step_of(&c), Step::waiting(status::IDLE));
    }

    #[test]
    fn the_target_is_the_highest_version_and_the_report_splits_by_it() {
        let c = old_cluster_with(vec![on("1.10.0", nonvoter("s4")), on("1.9.0", nonvoter("s5"))]);
        let assessed = assess(&c).expect("valid");
        let migration = Migration::of(&c, &assessed).expect("licensed");
        let report = migration.report(&assessed, status::AWAIT_NEW_SERVERS);
        assert_eq!(report.target_version, "1.10.0");
        assert_eq!(report.target_version_non_voters, ["s4"]);
        assert!(report.target_version_voters.is_empty());
        assert_eq!(report.other_version_voters, ["s1", "s2", "s3"]);
        assert_eq!(report.other_version_non_voters, ["s5"]);
    }

    #[test]
    fn custom_upgrades_read_the_upgrade_version_tag() {
        let mut c = old_cluster_with(vec![tagged(VERSION_TAG, "2.0.0", nonvoter("s4"))]);
        assert_eq!(step_of(&c), Step::waiting(status::IDLE));
        c.config.enable_custom_upgrades = true;
        assert_eq!(step_of(&c), Step::waiting(status::AWAIT_NEW_SERVERS));
    }

    #[test]
    fn new_servers_wait_until_there_are_enough_to_replace_the_voters() {
        let c = old_cluster_with(vec![on("1.1.0", nonvoter("s4")), on("1.1.0", nonvoter("s5"))]);
        assert_eq!(step_of(&c), Step::waiting(status::AWAIT_NEW_SERVERS));
    }

    #[test]
    fn enough_stable_new_servers_are_promoted_together() {
        let c = old_cluster_with(vec![
            on("1.1.0", nonvoter("s4")),
            on("1.1.0", nonvoter("s5")),
            on("1.1.0", nonvoter("s6")),
        ]);
        let got = step_of(&c);
        assert_eq!(got.status, status::PROMOTING);
        assert_eq!(kinds(&got.actions), [promote("s4"), promote("s5"), promote("s6")]);
        assert!(got.actions[0].1.contains("target version 1.1.0"), "{}", got.actions[0].1);
    }

    #[test]
    fn new_servers_not_yet_stable_are_awaited() {
        let fresh = |id| Server { stable_since_ms: NOW_MS - 1_000, ..on("1.1.0", nonvoter(id)) };
        let c = old_cluster_with(vec![fresh("s4"), fresh("s5"), fresh("s6")]);
        assert_eq!(step_of(&c), Step::waiting(status::AWAIT_NEW_VOTERS));
    }

    #[test]
    fn once_the_new_servers_vote_the_old_followers_are_demoted() {
        let c = old_cluster_with(vec![on("1.1.0", server("s4")), on("1.1.0", server("s5")), on("1.1.0", server("s6"))]);
        let got = step_of(&c);
        assert_eq!(got.status, status::DEMOTING);
        assert_eq!(kinds(&got.actions), [demote("s2"), demote("s3")]);
    }

    #[test]
    fn an_unhealthy_new_voter_holds_the_demotions_back() {
        let c = old_cluster_with(vec![
            on("1.1.0", server("s4")),
            on("1.1.0", server("s5")),
            on("1.1.0", with_status(GossipStatus::Failed, server("s6"))),
        ]);
        // Only two healthy new servers for three old voters.
        assert_eq!(step_of(&c), Step::waiting(status::AWAIT_NEW_SERVERS));
    }

    #[test]
    fn an_old_leader_hands_over_to_the_longest_healthy_new_voter() {
        let mut s5 = on("1.1.0", server("s5"));
        s5.stable_since_ms = 5;
        let mut s4 = on("1.1.0", server("s4"));
        s4.stable_since_ms = 9;
        let c = licensed_cluster(vec![server("s1"), nonvoter("s2"), s4, s5]);
        let got = step_of(&c);
        assert_eq!(got.status, status::LEADER_TRANSFER);
        assert_eq!(kinds(&got.actions), [transfer("s5")]);
        assert_eq!(
            got.actions[0].1,
            "transfer leadership to server s5: the leader runs 1.0.0, the upgrade's target version is 1.1.0"
        );
    }

    #[test]
    fn old_non_voters_are_left_for_removal() {
        let mut c = licensed_cluster(vec![
            on("1.1.0", server("s4")),
            on("1.1.0", server("s5")),
            on("1.1.0", server("s6")),
            nonvoter("s1"),
        ]);
        c.leader_id = "s4".into();
        assert_eq!(step_of(&c), Step::waiting(status::AWAIT_SERVER_REMOVAL));
    }

    #[test]
    fn read_replicas_neither_set_the_target_nor_hold_it_up() {
        let c = old_cluster_with(vec![read_replica(on("9.0.0", nonvoter("s4")))]);
        assert_eq!(step_of(&c), Step::waiting(status::IDLE));
    }
}
