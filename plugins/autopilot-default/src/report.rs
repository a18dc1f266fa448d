//! The cluster's health report, as `/v1/operator/autopilot/health` shows it.

use keel_sdk::autopilot::{Cluster, Health, ServerHealth, Upgrade, Zone};

use crate::health::Assessment;
use crate::membership::quorum;

/// Builds the report from the round's facts. Zones and the upgrade are
/// worked out elsewhere because they depend on the license.
pub(crate) fn health_report(
    cluster: &Cluster,
    assessments: &[Assessment<'_>],
    redundancy_zones: Vec<Zone>,
    upgrade: Option<Upgrade>,
) -> Health {
    Health {
        healthy: assessments.iter().all(Assessment::healthy),
        failure_tolerance: failure_tolerance(assessments),
        optimistic_failure_tolerance: optimistic_failure_tolerance(assessments),
        leader: cluster.leader_id.clone(),
        voters: sorted_voters(assessments),
        read_replicas: assessments.iter().filter(|a| a.read_replica).map(|a| a.id().to_owned()).collect(),
        servers: assessments.iter().map(server_health).collect(),
        redundancy_zones,
        upgrade,
    }
}

/// How many voters may fail before the cluster loses quorum: healthy
/// voters beyond a majority of all voters.
pub(crate) fn failure_tolerance(assessments: &[Assessment<'_>]) -> u32 {
    let voters = assessments.iter().filter(|a| a.voter).count();
    let healthy = assessments.iter().filter(|a| a.voter && a.healthy()).count();
    to_u32(healthy.saturating_sub(quorum(voters)))
}

/// Like the failure tolerance, but counting every healthy server that votes
/// or could be promoted to, as Nomad Enterprise does: how many could fail
/// if promotions kept up with the failures.
pub(crate) fn optimistic_failure_tolerance(assessments: &[Assessment<'_>]) -> u32 {
    let voters = assessments.iter().filter(|a| a.voter).count();
    let healthy = assessments.iter().filter(|a| a.healthy() && (a.voter || !a.read_replica)).count();
    to_u32(healthy.saturating_sub(quorum(voters)))
}

/// Voter ids in raft-autopilot's order: the leader, then healthy before
/// unhealthy, then the longest in their state, then by id.
fn sorted_voters(assessments: &[Assessment<'_>]) -> Vec<String> {
    let mut voters: Vec<&Assessment<'_>> = assessments.iter().filter(|a| a.voter).collect();
    voters.sort_by(|a, b| {
        b.leader
            .cmp(&a.leader)
            .then(b.healthy().cmp(&a.healthy()))
            .then(a.stable_since_ms.cmp(&b.stable_since_ms))
            .then_with(|| a.id().cmp(b.id()))
    });
    voters.into_iter().map(|a| a.id().to_owned()).collect()
}

fn server_health(a: &Assessment<'_>) -> ServerHealth {
    let s = a.server;
    ServerHealth {
        id: s.id.clone(),
        name: s.name.clone(),
        address: s.address.clone(),
        gossip_status: s.gossip_status,
        version: s.version.clone(),
        leader: a.leader,
        voter: a.voter,
        healthy: a.healthy(),
        last_contact_ms: if a.leader { 0 } else { s.last_contact_ms },
        last_term: s.last_term,
        last_index: s.last_index,
        stable_since_ms: a.stable_since_ms,
        reason: a.unhealthy.as_ref().map_or_else(|| "healthy".to_owned(), ToString::to_string),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{GossipStatus, Server};

    use super::*;
    use crate::fixtures::{cluster, nonvoter, read_replica, server, with_status};
    use crate::health::assess;

    fn report(c: &Cluster) -> Health {
        health_report(c, &assess(c).expect("valid"), Vec::new(), None)
    }

    fn failed(id: &str) -> Server {
        with_status(GossipStatus::Failed, server(id))
    }

    #[test]
    fn failure_tolerance_of_three_voters() {
        let tolerance = |servers| report(&cluster(servers)).failure_tolerance;
        assert_eq!(tolerance(vec![server("s1"), server("s2"), server("s3")]), 1);
        assert_eq!(tolerance(vec![server("s1"), server("s2"), failed("s3")]), 0);
        assert_eq!(tolerance(vec![server("s1"), failed("s2"), failed("s3")]), 0);
    }

    #[test]
    fn failure_tolerance_of_five_voters() {
        let five = |failures: usize| {
            let servers =
                (1..=5).map(|i| if i > 5 - failures { failed(&format!("s{i}")) } else { server(&format!("s{i}")) });
            report(&cluster(servers.collect())).failure_tolerance
        };
        assert_eq!([0, 1, 2, 3, 4].map(five), [2, 1, 0, 0, 0]);
    }

    #[test]
    fn non_voters_do_not_add_failure_tolerance_but_add_optimistic_tolerance() {
        let c = cluster(vec![
            server("s1"),
            server("s2"),
            server("s3"),
            nonvoter("s4"),
            nonvoter("s5"),
            read_replica(nonvoter("s6")),
            with_status(GossipStatus::Failed, nonvoter("s7")),
        ]);
        let health = report(&c);
        assert_eq!(health.failure_tolerance, 1);
        // Five healthy servers that vote or could, a quorum of two.
        assert_eq!(health.optimistic_failure_tolerance, 3);
    }

    #[test]
    fn the_cluster_is_healthy_only_when_every_server_is() {
        assert!(report(&cluster(vec![server("s1"), nonvoter("s2")])).healthy);
        let lagging = Server { last_index: 0, ..nonvoter("s2") };
        assert!(!report(&cluster(vec![server("s1"), lagging])).healthy);
    }

    #[test]
    fn voters_come_leader_first_then_healthy_then_longest_stable() {
        let c = cluster(vec![
            Server { stable_since_ms: 50, ..server("s1") },
            Server { stable_since_ms: 20, ..server("s2") },
            failed("s3"),
            Server { stable_since_ms: 10, ..server("s4") },
            nonvoter("s5"),
            Server { stable_since_ms: 10, ..server("s0") },
        ]);
        assert_eq!(report(&c).voters, ["s1", "s0", "s4", "s2", "s3"]);
    }

    #[test]
    fn every_server_appears_once_with_its_verdict() {
        let mut leader = server("s1");
        leader.last_contact_ms = 99;
        let c = cluster(vec![leader, with_status(GossipStatus::Left, nonvoter("s2")), read_replica(nonvoter("s3"))]);
        let health = report(&c);
        assert_eq!(health.leader, "s1");
        assert_eq!(health.read_replicas, ["s3"]);
        let ids: Vec<&str> = health.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2", "s3"]);
        let s1 = &health.servers[0];
        assert!(s1.leader && s1.voter && s1.healthy && s1.last_contact_ms == 0);
        let s2 = &health.servers[1];
        assert!(!s2.voter && !s2.healthy && s2.gossip_status == GossipStatus::Left);
        assert_eq!(s2.stable_since_ms, 0, "a verdict that holds keeps its start");
    }
}
