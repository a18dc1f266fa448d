//! `/v1/operator/autopilot/health`: the cluster's facts, judged by the
//! autopilot plugin.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use keel_api::operator::{OperatorHealthReply, ServerHealth, UpgradeHealth, ZoneHealth};
use keel_api::time::rfc3339_ms;
use keel_cluster::Server;
use keel_http::ApiError;
use keel_plugins::autopilot::{Cluster, Config, GossipStatus, Health, Suffrage};
use keel_plugins::{LicenseVerdict, autopilot};

use super::agent_info::member_name;
use super::{Service, license, now_ms};

/// What autopilot remembers between rounds: each server's last verdict and
/// since when it has held it.
#[derive(Debug, Default)]
pub(super) struct Memory {
    verdicts: Mutex<HashMap<String, (bool, u64)>>,
}

impl Service {
    /// Asks the autopilot plugin for the health of the cluster as this
    /// server (the leader) sees it.
    pub(super) fn evaluate_autopilot(&self, server: &Server) -> Result<OperatorHealthReply, ApiError> {
        let cluster = self.cluster_facts(server);
        let decision = self.plugins.autopilot.evaluate(&cluster).map_err(|error| {
            tracing::error!(%error, "autopilot plugin failed");
            ApiError::internal("the autopilot plugin failed; see the server log")
        })?;
        self.remember(&decision.health);
        Ok(reply(decision.health))
    }

    fn cluster_facts(&self, server: &Server) -> Cluster {
        let config =
            server.view().read(|state| state.autopilot.clone()).unwrap_or_else(|| self.config.autopilot.clone());
        let status = server.status();
        let (peers, _) = server.configuration();
        let leader_id = peers.iter().find(|peer| peer.leader).map(|peer| peer.node.id.clone()).unwrap_or_default();
        let memory = self.autopilot.verdicts.lock().map(|m| m.clone()).unwrap_or_default();
        let now = now_ms();
        let servers = peers
            .iter()
            .map(|peer| {
                let me = peer.node.id == server.me().id;
                let remembered = memory.get(&peer.node.id).copied();
                autopilot::Server {
                    id: peer.node.id.clone(),
                    name: member_name(&peer.node.name, &self.config.region),
                    address: peer.node.address.clone(),
                    // Without gossip, only this server is known to be alive.
                    gossip_status: if me { GossipStatus::Alive } else { GossipStatus::None },
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    suffrage: if peer.voter { Suffrage::Voter } else { Suffrage::Nonvoter },
                    last_contact_ms: if me { server.last_contact_ms() } else { u64::MAX },
                    last_term: if me { status.term } else { 0 },
                    last_index: if me { status.applied_index } else { 0 },
                    previous_healthy: remembered.map(|(healthy, _)| healthy),
                    stable_since_ms: remembered.map_or(self.started_unix_ms, |(_, since)| since),
                    tags: vec![("build".to_owned(), env!("CARGO_PKG_VERSION").to_owned())],
                }
            })
            .collect();
        let licensed_features = server
            .view()
            .read(|state| state.license.clone())
            .map(|stored| match self.plugins.license.validate(&stored.blob, license::PRODUCT, now) {
                verdict @ LicenseVerdict::Valid(_) => verdict.features().to_vec(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        Cluster {
            config: Config {
                cleanup_dead_servers: config.cleanup_dead_servers,
                last_contact_threshold_ms: millis(config.last_contact_threshold),
                max_trailing_logs: config.max_trailing_logs,
                min_quorum: u32::try_from(config.min_quorum).unwrap_or(u32::MAX),
                server_stabilization_time_ms: millis(config.server_stabilization_time),
                enable_redundancy_zones: config.enable_redundancy_zones,
                disable_upgrade_migration: config.disable_upgrade_migration,
                enable_custom_upgrades: config.enable_custom_upgrades,
            },
            servers,
            leader_id,
            leader_term: status.term,
            leader_last_index: status.applied_index,
            licensed_features,
            now_ms: now,
            autopilot_started_ms: self.started_unix_ms,
        }
    }

    fn remember(&self, health: &Health) {
        if let Ok(mut verdicts) = self.autopilot.verdicts.lock() {
            verdicts.retain(|id, _| health.servers.iter().any(|server| &server.id == id));
            for server in &health.servers {
                verdicts.insert(server.id.clone(), (server.healthy, server.stable_since_ms));
            }
        }
    }
}

fn reply(health: Health) -> OperatorHealthReply {
    let enterprise = !health.redundancy_zones.is_empty() || health.upgrade.is_some();
    OperatorHealthReply {
        healthy: health.healthy,
        failure_tolerance: u64::from(health.failure_tolerance),
        servers: health
            .servers
            .into_iter()
            .map(|server| ServerHealth {
                id: server.id,
                name: server.name,
                address: server.address,
                serf_status: gossip_status(server.gossip_status).to_owned(),
                version: server.version,
                leader: server.leader,
                last_contact: Duration::from_millis(server.last_contact_ms),
                last_term: server.last_term,
                last_index: server.last_index,
                healthy: server.healthy,
                voter: server.voter,
                stable_since: rfc3339_ms(i64::try_from(server.stable_since_ms).unwrap_or(i64::MAX)),
            })
            .collect(),
        voters: health.voters,
        leader: health.leader,
        optimistic_failure_tolerance: enterprise.then_some(u64::from(health.optimistic_failure_tolerance)),
        redundancy_zones: enterprise.then(|| {
            health
                .redundancy_zones
                .into_iter()
                .map(|zone| {
                    let zone_health = ZoneHealth {
                        servers: zone.servers,
                        voters: zone.voters,
                        failure_tolerance: u64::from(zone.failure_tolerance),
                    };
                    (zone.name, zone_health)
                })
                .collect()
        }),
        upgrade: health.upgrade.map(|upgrade| UpgradeHealth {
            status: upgrade.status,
            target_version: upgrade.target_version,
            target_version_voters: upgrade.target_version_voters,
            target_version_non_voters: upgrade.target_version_non_voters,
            other_version_voters: upgrade.other_version_voters,
            other_version_non_voters: upgrade.other_version_non_voters,
        }),
        read_replicas: (!health.read_replicas.is_empty()).then_some(health.read_replicas),
    }
}

/// Serf's name for a gossip status.
fn gossip_status(status: GossipStatus) -> &'static str {
    match status {
        GossipStatus::None => "none",
        GossipStatus::Alive => "alive",
        GossipStatus::Leaving => "leaving",
        GossipStatus::Left => "left",
        GossipStatus::Failed => "failed",
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
