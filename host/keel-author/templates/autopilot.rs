//! {{name}}: an autopilot strategy that reports health as Nomad does and
//! asks for no membership changes.
//!
//! A server is healthy when gossip sees it alive, it heard from the leader
//! within `last_contact_threshold`, and its log trails the leader's by at
//! most `max_trailing_logs` entries (the leader is healthy when alive). The
//! failure tolerance is how many healthy voters the cluster can lose and
//! keep a quorum.

use keel_sdk::autopilot::{AutopilotStrategy, Cluster, Decision, GossipStatus, Health, Server, ServerHealth, Suffrage};
use keel_sdk::{Plugin, PluginInfo};

pub struct ReportOnly;

impl Plugin for ReportOnly {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0")
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        keel_sdk::refuse_settings(settings).map(|()| ReportOnly)
    }
}

impl AutopilotStrategy for ReportOnly {
    fn evaluate(&self, cluster: &Cluster) -> Result<Decision, String> {
        let servers: Vec<ServerHealth> = cluster.servers.iter().map(|server| health_of(cluster, server)).collect();
        let voters: Vec<String> = servers.iter().filter(|s| s.voter).map(|s| s.id.clone()).collect();
        let healthy_voters = servers.iter().filter(|s| s.voter && s.healthy).count();
        let quorum = voters.len() / 2 + 1;
        let failure_tolerance = u32::try_from(healthy_voters.saturating_sub(quorum)).unwrap_or(u32::MAX);
        let health = Health {
            healthy: servers.iter().all(|s| s.healthy),
            failure_tolerance,
            optimistic_failure_tolerance: u32::try_from(voters.len().saturating_sub(quorum)).unwrap_or(u32::MAX),
            leader: cluster.leader_id.clone(),
            read_replicas: cluster.servers.iter().filter(|s| s.read_replica).map(|s| s.id.clone()).collect(),
            voters,
            servers,
            redundancy_zones: Vec::new(),
            upgrade: None,
        };
        Ok(Decision { health, actions: Vec::new() })
    }
}

fn health_of(cluster: &Cluster, server: &Server) -> ServerHealth {
    let leader = server.id == cluster.leader_id;
    let alive = server.gossip_status == GossipStatus::Alive;
    let in_contact = server.last_contact_ms <= cluster.config.last_contact_threshold_ms;
    let caught_up = cluster.leader_last_index.saturating_sub(server.last_index) <= cluster.config.max_trailing_logs;
    let reason = match (alive, leader || in_contact, leader || caught_up) {
        (false, _, _) => format!("gossip status {:?}", server.gossip_status),
        (_, false, _) => format!("no contact for {} ms", server.last_contact_ms),
        (_, _, false) => format!("at index {}, the leader at {}", server.last_index, cluster.leader_last_index),
        _ => "healthy".to_owned(),
    };
    ServerHealth {
        id: server.id.clone(),
        name: server.name.clone(),
        address: server.address.clone(),
        gossip_status: server.gossip_status,
        version: server.version.clone(),
        leader,
        voter: server.suffrage == Suffrage::Voter,
        healthy: alive && (leader || (in_contact && caught_up)),
        last_contact_ms: server.last_contact_ms,
        last_term: server.last_term,
        last_index: server.last_index,
        stable_since_ms: server.stable_since_ms,
        reason,
    }
}

keel_sdk::export_autopilot_strategy!(ReportOnly);

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::Config;

    use super::*;

    fn server(n: u32, last_contact_ms: u64, last_index: u64) -> Server {
        Server {
            id: format!("s{n}"),
            name: format!("s{n}.global"),
            address: format!("127.0.0.{n}:4647"),
            gossip_status: GossipStatus::Alive,
            version: "0.1.0".into(),
            suffrage: Suffrage::Voter,
            read_replica: false,
            last_contact_ms,
            last_term: 2,
            last_index,
            previous_healthy: Some(true),
            stable_since_ms: 0,
            tags: Vec::new(),
        }
    }

    fn cluster(servers: Vec<Server>) -> Cluster {
        let config = Config {
            cleanup_dead_servers: true,
            last_contact_threshold_ms: 200,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time_ms: 10_000,
            enable_redundancy_zones: false,
            disable_upgrade_migration: false,
            enable_custom_upgrades: false,
        };
        let (leader_term, leader_last_index, now_ms) = (2, 1_000, 1_800_000_000_000);
        Cluster {
            config,
            servers,
            leader_id: "s1".into(),
            leader_term,
            leader_last_index,
            licensed_features: Vec::new(),
            now_ms,
            autopilot_started_ms: 0,
        }
    }

    #[test]
    fn three_healthy_voters_tolerate_one_failure() {
        let facts = cluster((1..=3).map(|n| server(n, 10, 1_000)).collect());
        let decision = ReportOnly.evaluate(&facts).expect("a decision");
        assert!(decision.health.healthy);
        assert_eq!(decision.health.failure_tolerance, 1);
        assert_eq!(decision.health.servers.len(), 3);
        assert!(decision.actions.is_empty());
    }

    #[test]
    fn a_silent_or_lagging_server_is_unhealthy() {
        let facts = cluster(vec![server(1, 0, 1_000), server(2, 5_000, 1_000), server(3, 10, 100)]);
        let decision = ReportOnly.evaluate(&facts).expect("a decision");
        let healthy: Vec<bool> = decision.health.servers.iter().map(|s| s.healthy).collect();
        assert_eq!(healthy, [true, false, false]);
        let reasons: Vec<&str> = decision.health.servers.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons, ["healthy", "no contact for 5000 ms", "at index 100, the leader at 1000"]);
        assert_eq!(decision.health.failure_tolerance, 0);
    }
}
