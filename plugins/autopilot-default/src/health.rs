//! One server's health verdict, as raft-autopilot decides it, and the facts
//! about the server that the rest of a round reads.

use std::collections::HashSet;
use std::fmt;

use keel_sdk::autopilot::{Cluster, GossipStatus, Server, Suffrage};

use crate::duration::human_ms;

/// How gossip sees a server, in the classes dead-server cleanup cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Alive,
    /// Leaving gracefully. Cleanup leaves such a server alone, as Consul and
    /// Nomad do, so that a server on its way out is not removed under it.
    Leaving,
    /// Known to gossip but failed.
    Failed,
    /// In the Raft configuration but unknown to gossip (`none`) or gone
    /// from it (`left`).
    Stale,
}

impl Presence {
    pub(crate) fn of(status: GossipStatus) -> Self {
        match status {
            GossipStatus::Alive => Presence::Alive,
            GossipStatus::Leaving => Presence::Leaving,
            GossipStatus::Failed => Presence::Failed,
            GossipStatus::None | GossipStatus::Left => Presence::Stale,
        }
    }
}

/// The lowercase name of a gossip status, as reasons print it.
pub(crate) fn gossip_name(status: GossipStatus) -> &'static str {
    match status {
        GossipStatus::None => "none",
        GossipStatus::Alive => "alive",
        GossipStatus::Leaving => "leaving",
        GossipStatus::Left => "left",
        GossipStatus::Failed => "failed",
    }
}

/// Why a server is not healthy: the first of raft-autopilot's checks it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unhealthy {
    NotAlive(GossipStatus),
    NoRecentContact { last_contact_ms: u64, threshold_ms: u64 },
    OtherTerm { term: u64, leader_term: u64 },
    Trailing { behind: u64, max_trailing_logs: u64 },
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unhealthy::NotAlive(status) => write!(f, "gossip status {}", gossip_name(status)),
            Unhealthy::NoRecentContact { last_contact_ms, threshold_ms } => {
                write!(f, "last contact {} ago, threshold {}", human_ms(last_contact_ms), human_ms(threshold_ms))
            }
            Unhealthy::OtherTerm { term, leader_term } => write!(f, "on term {term}, leader on term {leader_term}"),
            Unhealthy::Trailing { behind, max_trailing_logs } => {
                write!(f, "{behind} log entries behind the leader, max trailing logs {max_trailing_logs}")
            }
        }
    }
}

/// One server as this round sees it.
#[derive(Debug, Clone)]
pub(crate) struct Assessment<'a> {
    pub(crate) server: &'a Server,
    pub(crate) leader: bool,
    /// The leader counts as a voter whatever its recorded suffrage says.
    pub(crate) voter: bool,
    pub(crate) read_replica: bool,
    pub(crate) unhealthy: Option<Unhealthy>,
    /// When the current verdict began, in ms since the epoch.
    pub(crate) stable_since_ms: u64,
}

impl Assessment<'_> {
    pub(crate) fn healthy(&self) -> bool {
        self.unhealthy.is_none()
    }

    pub(crate) fn id(&self) -> &str {
        &self.server.id
    }

    /// How long the current verdict has held at `now_ms`.
    pub(crate) fn stable_for_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stable_since_ms)
    }
}

/// Assesses every server of the cluster, in input order.
///
/// Fails when the input cannot describe a Raft cluster: an empty or repeated
/// server id, or a leader that is not among the servers.
pub(crate) fn assess(cluster: &Cluster) -> Result<Vec<Assessment<'_>>, String> {
    let mut seen = HashSet::with_capacity(cluster.servers.len());
    for server in &cluster.servers {
        if server.id.is_empty() {
            return Err(format!("evaluate: server at address {:?} has an empty id", server.address));
        }
        if !seen.insert(server.id.as_str()) {
            return Err(format!("evaluate: server id {:?} appears more than once", server.id));
        }
    }
    if !seen.contains(cluster.leader_id.as_str()) {
        return Err(format!("evaluate: leader {:?} is not among the servers", cluster.leader_id));
    }
    Ok(cluster.servers.iter().map(|server| assess_server(cluster, server)).collect())
}

fn assess_server<'a>(cluster: &Cluster, server: &'a Server) -> Assessment<'a> {
    let leader = server.id == cluster.leader_id;
    let unhealthy = verdict(cluster, server, leader);
    // A verdict that carries on keeps its start; a new or changed one starts now.
    let stable_since_ms =
        if server.previous_healthy == Some(unhealthy.is_none()) { server.stable_since_ms } else { cluster.now_ms };
    Assessment {
        server,
        leader,
        voter: leader || server.suffrage == Suffrage::Voter,
        read_replica: server.read_replica,
        unhealthy,
        stable_since_ms,
    }
}

/// raft-autopilot's health checks, in its order.
fn verdict(cluster: &Cluster, server: &Server, leader: bool) -> Option<Unhealthy> {
    let config = &cluster.config;
    if server.gossip_status != GossipStatus::Alive {
        return Some(Unhealthy::NotAlive(server.gossip_status));
    }
    // The leader is in contact with itself, whatever figure it was handed.
    if !leader && server.last_contact_ms > config.last_contact_threshold_ms {
        return Some(Unhealthy::NoRecentContact {
            last_contact_ms: server.last_contact_ms,
            threshold_ms: config.last_contact_threshold_ms,
        });
    }
    if server.last_term != cluster.leader_term {
        return Some(Unhealthy::OtherTerm { term: server.last_term, leader_term: cluster.leader_term });
    }
    // A server ahead of the leader's figure (it was read a moment later) is not behind.
    let behind = cluster.leader_last_index.saturating_sub(server.last_index);
    if behind > config.max_trailing_logs {
        return Some(Unhealthy::Trailing { behind, max_trailing_logs: config.max_trailing_logs });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{NOW_MS, cluster, nonvoter, server};

    fn only(c: &Cluster, id: &str) -> Option<Unhealthy> {
        let assessed = assess(c).expect("valid cluster");
        assessed.iter().find(|a| a.id() == id).expect("server assessed").unhealthy
    }

    #[test]
    fn a_caught_up_alive_server_in_contact_is_healthy() {
        let c = cluster(vec![server("s1"), server("s2")]);
        assert_eq!(only(&c, "s2"), None);
    }

    #[test]
    fn every_gossip_status_but_alive_is_unhealthy() {
        for status in [GossipStatus::None, GossipStatus::Leaving, GossipStatus::Left, GossipStatus::Failed] {
            let c = cluster(vec![server("s1"), Server { gossip_status: status, ..server("s2") }]);
            assert_eq!(only(&c, "s2"), Some(Unhealthy::NotAlive(status)), "{status:?}");
        }
    }

    #[test]
    fn contact_beyond_the_threshold_is_unhealthy_and_at_it_is_not() {
        let threshold = cluster(vec![server("s1")]).config.last_contact_threshold_ms;
        let at = cluster(vec![server("s1"), Server { last_contact_ms: threshold, ..server("s2") }]);
        assert_eq!(only(&at, "s2"), None);
        let beyond = cluster(vec![server("s1"), Server { last_contact_ms: threshold + 1, ..server("s2") }]);
        assert_eq!(
            only(&beyond, "s2"),
            Some(Unhealthy::NoRecentContact { last_contact_ms: threshold + 1, threshold_ms: threshold })
        );
    }

    #[test]
    fn the_leader_is_always_in_contact() {
        let c = cluster(vec![Server { last_contact_ms: 60_000, ..server("s1") }, server("s2")]);
        assert_eq!(only(&c, "s1"), None);
    }

    #[test]
    fn another_term_is_unhealthy() {
        let c = cluster(vec![server("s1"), Server { last_term: 1, ..server("s2") }]);
        assert_eq!(only(&c, "s2"), Some(Unhealthy::OtherTerm { term: 1, leader_term: 2 }));
    }

    #[test]
    fn trailing_more_than_max_trailing_logs_is_unhealthy() {
        let base = cluster(vec![server("s1")]);
        let max = base.config.max_trailing_logs;
        let index = base.leader_last_index;
        let at = cluster(vec![server("s1"), Server { last_index: index - max, ..server("s2") }]);
        assert_eq!(only(&at, "s2"), None);
        let beyond = cluster(vec![server("s1"), Server { last_index: index - max - 1, ..server("s2") }]);
        assert_eq!(only(&beyond, "s2"), Some(Unhealthy::Trailing { behind: max + 1, max_trailing_logs: max }));
        let ahead = cluster(vec![server("s1"), Server { last_index: index + 5, ..server("s2") }]);
        assert_eq!(only(&ahead, "s2"), None);
    }

    #[test]
    fn stable_since_carries_on_only_while_the_verdict_holds() {
        let kept = Server { previous_healthy: Some(true), stable_since_ms: 42, ..server("s2") };
        let flipped = Server { previous_healthy: Some(false), stable_since_ms: 42, ..server("s3") };
        let first = Server { previous_healthy: None, stable_since_ms: 42, ..server("s4") };
        let still_bad = Server {
            gossip_status: GossipStatus::Failed,
            previous_healthy: Some(false),
            stable_since_ms: 7,
            ..server("s5")
        };
        let c = cluster(vec![server("s1"), kept, flipped, first, still_bad]);
        let since: Vec<u64> = assess(&c).expect("valid").iter().map(|a| a.stable_since_ms).collect();
        assert_eq!(since[1..], [42, NOW_MS, NOW_MS, 7]);
    }

    #[test]
    fn the_leader_votes_and_read_replicas_are_marked() {
        let mut replica = nonvoter("s3");
        replica.read_replica = true;
        let c = cluster(vec![Server { suffrage: Suffrage::Nonvoter, ..server("s1") }, nonvoter("s2"), replica]);
        let assessed = assess(&c).expect("valid");
        assert!(assessed[0].leader && assessed[0].voter);
        assert!(!assessed[1].voter && !assessed[1].read_replica);
        assert!(assessed[2].read_replica);
    }

    #[test]
    fn inputs_that_are_no_cluster_are_refused() {
        let mut unknown_leader = cluster(vec![server("s1")]);
        unknown_leader.leader_id = "s9".into();
        assert!(assess(&unknown_leader).expect_err("unknown leader").contains("s9"));
        let twice = cluster(vec![server("s1"), server("s1")]);
        assert!(assess(&twice).expect_err("duplicate").contains("more than once"));
        let empty = cluster(vec![server("s1"), server("")]);
        assert!(assess(&empty).expect_err("empty id").contains("empty id"));
    }

    #[test]
    fn reasons_read_well() {
        let contact = Unhealthy::NoRecentContact { last_contact_ms: 1500, threshold_ms: 200 };
        assert_eq!(contact.to_string(), "last contact 1.5s ago, threshold 200ms");
        assert_eq!(Unhealthy::NotAlive(GossipStatus::Left).to_string(), "gossip status left");
    }
}
