//! Autopilot: the cluster's facts, judged by the autopilot plugin, for
//! `/v1/operator/autopilot/health` and for the leader's rounds, which apply
//! the plugin's membership changes after the host's own quorum check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_api::operator::{OperatorHealthReply, ServerHealth, UpgradeHealth, ZoneHealth};
use keel_api::time::rfc3339_ms;
use keel_cluster::Server;
use keel_http::ApiError;
use keel_plugins::autopilot::{Action, Cluster, Config, Decision, GossipStatus, Health, PlannedAction, Suffrage};
use keel_plugins::{LicenseVerdict, PluginError, autopilot};

use keel_cluster::formation::tags;
use keel_cluster::gossip::MemberStatus;

use crate::license;
use crate::service::Service;

/// What a shadow's decision is compared on: the health verdict and the
/// actions, not the wording of their reasons.
#[derive(Debug, PartialEq)]
struct Verdict {
    healthy: bool,
    failure_tolerance: u32,
    actions: Vec<String>,
}

impl Verdict {
    fn of(decision: &Decision) -> Self {
        Verdict {
            healthy: decision.health.healthy,
            failure_tolerance: decision.health.failure_tolerance,
            actions: decision.actions.iter().map(|planned| format!("{:?}", planned.action)).collect(),
        }
    }
}

/// What autopilot remembers between rounds: each server's last verdict and
/// since when it has held it.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    verdicts: Mutex<HashMap<String, (bool, u64)>>,
}

impl Service {
    /// Asks the autopilot plugin for the health of the cluster as this
    /// server (the leader) sees it.
    pub(crate) async fn evaluate_autopilot(&self, server: &Server) -> Result<OperatorHealthReply, ApiError> {
        let cluster = self.cluster_facts(server).await;
        let decision = self.decide(cluster).await.map_err(|error| {
            tracing::error!(%error, "autopilot plugin failed");
            ApiError::internal("the autopilot plugin failed; see the server log")
        })?;
        self.remember(&decision.health);
        Ok(reply(decision.health))
    }

    /// The active autopilot plugin's decision on `cluster`. A shadow, if
    /// there is one, is asked the same beside it.
    async fn decide(&self, cluster: Cluster) -> Result<Decision, PluginError> {
        let decision = self.plugins.autopilot.get().evaluate(&cluster).await?;
        if let Some(shadow) = self.plugins.autopilot.shadow() {
            let input = format!(
                "{} servers, leader {} at index {}",
                cluster.servers.len(),
                cluster.leader_id,
                cluster.leader_last_index
            );
            shadow.compare(input, Verdict::of(&decision), move |shadow| async move {
                shadow.plugin.evaluate(&cluster).await.map(|decision| Verdict::of(&decision)).map_err(|e| e.to_string())
            });
        }
        Ok(decision)
    }

    /// Runs an autopilot round every `interval` for as long as the task
    /// lives (a round does nothing unless this server leads).
    pub async fn autopilot_rounds(self: Arc<Self>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.autopilot_round().await;
        }
    }

    /// One autopilot round, on the leader: asks the plugin, then applies
    /// the actions it returns, in order, each only if it passes [`vet`]
    /// against the cluster as it is at that moment.
    pub async fn autopilot_round(&self) {
        let Some(server) = self.server.as_deref().filter(|server| server.is_leader()) else {
            return;
        };
        let decision = match self.decide(self.cluster_facts(server).await).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(%error, "autopilot plugin failed; this round changes nothing");
                return;
            }
        };
        self.remember(&decision.health);
        for PlannedAction { action, reason } in decision.actions {
            if let Err(refusal) = vet(&action, &self.cluster_facts(server).await) {
                tracing::warn!(?action, %reason, %refusal, "autopilot action refused");
                continue;
            }
            tracing::info!(?action, %reason, "autopilot action");
            let applied = match &action {
                Action::Promote(id) => server.promote(id).await,
                Action::Demote(id) => server.demote(id).await,
                Action::Remove(id) => server.remove_peer(|node| &node.id == id, &format!("id {id:?}")).await,
                Action::TransferLeadership(_) => unreachable!("vet refuses leadership transfers"),
            };
            if let Err(error) = applied {
                tracing::warn!(?action, %error, "autopilot action failed");
            }
        }
    }

    async fn cluster_facts(&self, server: &Server) -> Cluster {
        let now = self.now_ms();
        let licensed_features = self.licensed_features(server, now).await;
        let config =
            server.view().read(|state| state.autopilot.clone()).unwrap_or_else(|| self.config.autopilot.clone());
        let status = server.status();
        let (peers, _) = server.configuration();
        let leader_id = peers.iter().find(|peer| peer.leader).map(|peer| peer.node.id.clone()).unwrap_or_default();
        let memory = self.autopilot.verdicts.lock().map(|m| m.clone()).unwrap_or_default();
        let replication = server.replication();
        let servers = peers
            .iter()
            .map(|peer| {
                let me = peer.node.id == server.me().id;
                let remembered = memory.get(&peer.node.id).copied();
                let member = self.gossip_member_of(&peer.node.id);
                let (last_contact_ms, last_term, last_index) = match replication.get(&peer.node.id) {
                    _ if me => (server.last_contact_ms(), status.term, status.last_log_index),
                    Some(facts) => (facts.last_contact_ms.unwrap_or(u64::MAX), facts.last_term, facts.last_index),
                    None => (u64::MAX, 0, 0),
                };
                autopilot::Server {
                    id: peer.node.id.clone(),
                    name: member.as_ref().map_or_else(|| "(unknown)".to_owned(), |member| member.name.clone()),
                    address: peer.node.address.clone(),
                    gossip_status: member.as_ref().map_or(GossipStatus::None, |member| gossip_status_of(member.status)),
                    version: member
                        .as_ref()
                        .and_then(|member| member.tags.get(tags::BUILD).cloned())
                        .unwrap_or_default(),
                    suffrage: if peer.voter { Suffrage::Voter } else { Suffrage::Nonvoter },
                    read_replica: member.as_ref().is_some_and(|member| {
                        // Spelled any way Go's `strconv.ParseBool` reads true.
                        let value = member.tags.get(tags::READ_REPLICA).map(String::as_str);
                        matches!(value, Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
                    }),
                    last_contact_ms,
                    last_term,
                    last_index,
                    previous_healthy: remembered.map(|(healthy, _)| healthy),
                    stable_since_ms: remembered.map_or(self.started_unix_ms, |(_, since)| since),
                    tags: member
                        .map(|member| member.tags.into_iter().filter(|(key, _)| key != tags::READ_REPLICA).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
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
            leader_last_index: status.last_log_index,
            licensed_features,
            now_ms: now,
            autopilot_started_ms: self.started_unix_ms,
        }
    }

    /// The features of the installed license, none when it is invalid or
    /// the license plugin fails (a fault turns enterprise features off).
    async fn licensed_features(&self, server: &Server, now: u64) -> Vec<String> {
        let Some(stored) = server.view().read(|state| state.license.clone()) else { return Vec::new() };
        match license::validate(&self.plugins.license, &stored.blob, now).await {
            verdict @ LicenseVerdict::Valid(_) => verdict.features().to_vec(),
            LicenseVerdict::Failed(error) => {
                tracing::warn!(%error, "license plugin failed; autopilot sees no licensed features");
                Vec::new()
            }
            LicenseVerdict::Invalid(_) => Vec::new(),
        }
    }

    /// Keeps each server's verdict for the next round, logs the verdicts
    /// that changed with the plugin's reason, and sets the health gauges
    /// Nomad's leader reports.
    fn remember(&self, health: &Health) {
        metrics::gauge!("nomad.nomad.autopilot.healthy").set(f64::from(u8::from(health.healthy)));
        metrics::gauge!("nomad.nomad.autopilot.failure_tolerance").set(f64::from(health.failure_tolerance));
        if let Ok(mut verdicts) = self.autopilot.verdicts.lock() {
            verdicts.retain(|id, _| health.servers.iter().any(|server| &server.id == id));
            for server in &health.servers {
                let before = verdicts.insert(server.id.clone(), (server.healthy, server.stable_since_ms));
                if before.is_none_or(|(healthy, _)| healthy != server.healthy) {
                    let verdict = if server.healthy { "healthy" } else { "unhealthy" };
                    tracing::info!(server = %server.id, reason = %server.reason, "autopilot: server is {verdict}");
                }
            }
        }
    }
}

/// The host's own check of an autopilot action, whatever the plugin
/// decided: a change must leave enough healthy voters for a quorum of the
/// new configuration, and never fewer voters than MinQuorum. Healthy, for
/// this check, means alive in gossip and heard from within the last-contact
/// threshold (the leader always is).
pub(crate) fn vet(action: &Action, cluster: &Cluster) -> Result<(), String> {
    let healthy = |s: &autopilot::Server| {
        s.id == cluster.leader_id
            || (s.gossip_status == GossipStatus::Alive && s.last_contact_ms <= cluster.config.last_contact_threshold_ms)
    };
    let voters: Vec<&autopilot::Server> = cluster.servers.iter().filter(|s| s.suffrage == Suffrage::Voter).collect();
    let healthy_voters = voters.iter().filter(|s| healthy(s)).count();
    let target_id = match action {
        Action::Promote(id) | Action::Demote(id) | Action::Remove(id) => id,
        Action::TransferLeadership(_) => return Err("leadership transfer is not supported by this server".into()),
    };
    let target = cluster.servers.iter().find(|s| &s.id == target_id).ok_or("no such server in the configuration")?;
    let is_voter = target.suffrage == Suffrage::Voter;
    let (voters_after, healthy_after) = match action {
        Action::Promote(_) if is_voter => return Err("the server is already a voter".into()),
        Action::Promote(_) => (voters.len() + 1, healthy_voters + usize::from(healthy(target))),
        Action::Demote(_) if !is_voter => return Err("the server is not a voter".into()),
        Action::Remove(_) if !is_voter => return Ok(()),
        _ if target.id == cluster.leader_id => return Err("the leader cannot demote or remove itself".into()),
        _ => (voters.len() - 1, healthy_voters - usize::from(healthy(target))),
    };
    let min_quorum = usize::try_from(cluster.config.min_quorum).unwrap_or(usize::MAX);
    if voters_after < min_quorum && voters_after < voters.len() {
        return Err(format!("it would leave {voters_after} voters, below MinQuorum {min_quorum}"));
    }
    let quorum = voters_after / 2 + 1;
    if healthy_after < quorum {
        return Err(format!(
            "it would leave {healthy_after} healthy voters of {voters_after}, below the quorum of {quorum}"
        ));
    }
    Ok(())
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
                reason: Some(server.reason),
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

fn gossip_status_of(status: MemberStatus) -> GossipStatus {
    match status {
        MemberStatus::Alive => GossipStatus::Alive,
        MemberStatus::Leaving => GossipStatus::Leaving,
        MemberStatus::Left => GossipStatus::Left,
        MemberStatus::Failed => GossipStatus::Failed,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, voter: bool, status: GossipStatus, last_contact_ms: u64) -> autopilot::Server {
        autopilot::Server {
            id: id.to_owned(),
            name: format!("{id}.global"),
            address: format!("{id}:4647"),
            gossip_status: status,
            version: "0.1.0".to_owned(),
            suffrage: if voter { Suffrage::Voter } else { Suffrage::Nonvoter },
            read_replica: false,
            last_contact_ms,
            last_term: 2,
            last_index: 10,
            previous_healthy: None,
            stable_since_ms: 0,
            tags: Vec::new(),
        }
    }

    fn voter(id: &str) -> autopilot::Server {
        server(id, true, GossipStatus::Alive, 50)
    }

    fn failed_voter(id: &str) -> autopilot::Server {
        server(id, true, GossipStatus::Failed, u64::MAX)
    }

    fn cluster(servers: Vec<autopilot::Server>, min_quorum: u32) -> Cluster {
        Cluster {
            config: Config {
                cleanup_dead_servers: true,
                last_contact_threshold_ms: 200,
                max_trailing_logs: 250,
                min_quorum,
                server_stabilization_time_ms: 10_000,
                enable_redundancy_zones: false,
                disable_upgrade_migration: false,
                enable_custom_upgrades: false,
            },
            servers,
            leader_id: "a".to_owned(),
            leader_term: 2,
            leader_last_index: 10,
            licensed_features: Vec::new(),
            now_ms: 1_000_000,
            autopilot_started_ms: 0,
        }
    }

    fn remove(id: &str) -> Action {
        Action::Remove(id.to_owned())
    }

    #[test]
    fn a_failed_voter_may_go_while_a_quorum_stays_healthy() {
        let c = cluster(vec![voter("a"), voter("b"), failed_voter("c")], 0);
        assert_eq!(vet(&remove("c"), &c), Ok(()));
        assert_eq!(vet(&Action::Demote("c".into()), &c), Ok(()));
    }

    #[test]
    fn removing_a_healthy_voter_when_another_has_failed_would_lose_quorum() {
        let c = cluster(vec![voter("a"), voter("b"), failed_voter("c")], 0);
        let refusal = vet(&remove("b"), &c).expect_err("refused");
        assert_eq!(refusal, "it would leave 1 healthy voters of 2, below the quorum of 2");
    }

    #[test]
    fn min_quorum_bounds_removals_whatever_the_health() {
        let c = cluster(vec![voter("a"), voter("b"), failed_voter("c")], 3);
        assert_eq!(vet(&remove("c"), &c), Err("it would leave 2 voters, below MinQuorum 3".to_owned()));
    }

    #[test]
    fn a_voter_that_stopped_answering_counts_as_unhealthy_even_if_gossip_says_alive() {
        let mut c = cluster(vec![voter("a"), voter("b"), voter("c"), voter("d"), voter("e")], 0);
        c.servers[1].last_contact_ms = 5_000;
        c.servers[2].last_contact_ms = 5_000;
        // Healthy: a, d, e. Removing d leaves 2 healthy of 4, below 3.
        assert!(vet(&remove("d"), &c).is_err());
        assert_eq!(vet(&remove("b"), &c), Ok(()));
    }

    #[test]
    fn promoting_an_unhealthy_server_that_would_break_quorum_is_refused() {
        let c = cluster(vec![voter("a"), voter("b"), server("n", false, GossipStatus::Failed, u64::MAX)], 0);
        // Three voters, quorum 2, two healthy: a dead third voter is allowed...
        assert_eq!(vet(&Action::Promote("n".into()), &c), Ok(()));
        let c =
            cluster(vec![voter("a"), voter("b"), failed_voter("c"), server("n", false, GossipStatus::Failed, 0)], 0);
        // ...but a second dead voter of four leaves 2 healthy, below 3.
        assert!(vet(&Action::Promote("n".into()), &c).is_err());
        let c = cluster(vec![voter("a"), server("n", false, GossipStatus::Alive, 10)], 0);
        assert_eq!(vet(&Action::Promote("n".into()), &c), Ok(()));
    }

    #[test]
    fn nonsense_actions_are_refused() {
        let c = cluster(vec![voter("a"), voter("b"), server("n", false, GossipStatus::Alive, 10)], 0);
        assert!(vet(&remove("zz"), &c).is_err(), "unknown server");
        assert!(vet(&Action::Promote("b".into()), &c).is_err(), "already a voter");
        assert!(vet(&Action::Demote("n".into()), &c).is_err(), "not a voter");
        assert!(vet(&remove("a"), &c).is_err(), "the leader itself");
        assert!(vet(&Action::TransferLeadership("b".into()), &c).is_err());
        assert_eq!(vet(&remove("n"), &c), Ok(()), "a non-voter can always go");
    }
}
