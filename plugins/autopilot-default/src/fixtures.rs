//! Test clusters: healthy servers with Nomad's default autopilot
//! configuration, which tests then bend one fact at a time.

use keel_sdk::autopilot::{Action, Cluster, Config, GossipStatus, PlannedAction, Server, Suffrage};

/// The round's clock: long after autopilot started and every server
/// stabilized, unless a test says otherwise.
pub(crate) const NOW_MS: u64 = 1_000_000;
pub(crate) const TERM: u64 = 2;
pub(crate) const INDEX: u64 = 5_000;

/// Nomad's defaults: cleanup on, 200ms, 250 entries, no min quorum, 10s.
pub(crate) fn config() -> Config {
    Config {
        cleanup_dead_servers: true,
        last_contact_threshold_ms: 200,
        max_trailing_logs: 250,
        min_quorum: 0,
        server_stabilization_time_ms: 10_000,
        enable_redundancy_zones: false,
        disable_upgrade_migration: false,
        enable_custom_upgrades: false,
    }
}

/// A healthy voter that has been healthy since the epoch.
pub(crate) fn server(id: &str) -> Server {
    Server {
        id: id.to_owned(),
        name: format!("{id}.global"),
        address: format!("10.0.0.{}:4647", id.len()),
        gossip_status: GossipStatus::Alive,
        version: "1.0.0".to_owned(),
        suffrage: Suffrage::Voter,
        read_replica: false,
        last_contact_ms: 10,
        last_term: TERM,
        last_index: INDEX,
        previous_healthy: Some(true),
        stable_since_ms: 0,
        tags: Vec::new(),
    }
}

/// A healthy non-voter, stable long enough to be promoted.
pub(crate) fn nonvoter(id: &str) -> Server {
    Server { suffrage: Suffrage::Nonvoter, ..server(id) }
}

/// A server that gossip reports with `status`.
pub(crate) fn with_status(status: GossipStatus, server: Server) -> Server {
    Server { gossip_status: status, previous_healthy: Some(false), ..server }
}

/// A read replica: a non-voter that is never promoted.
pub(crate) fn read_replica(server: Server) -> Server {
    Server { read_replica: true, ..server }
}

/// A server carrying one more gossip tag.
pub(crate) fn tagged(key: &str, value: &str, mut server: Server) -> Server {
    server.tags.push((key.to_owned(), value.to_owned()));
    server
}

/// A cluster led by its first server.
pub(crate) fn cluster(servers: Vec<Server>) -> Cluster {
    Cluster {
        config: config(),
        leader_id: servers.first().map(|s| s.id.clone()).unwrap_or_default(),
        servers,
        leader_term: TERM,
        leader_last_index: INDEX,
        licensed_features: Vec::new(),
        now_ms: NOW_MS,
        autopilot_started_ms: 0,
    }
}

/// An action with its reason, as a step of a round or as a decision holds it.
pub(crate) trait Planned {
    fn action(&self) -> &Action;
}

impl Planned for (Action, String) {
    fn action(&self) -> &Action {
        &self.0
    }
}

impl Planned for PlannedAction {
    fn action(&self) -> &Action {
        &self.action
    }
}

/// The actions of a decision without their reasons, for short assertions.
pub(crate) fn kinds(actions: &[impl Planned]) -> Vec<Action> {
    actions.iter().map(|planned| planned.action().clone()).collect()
}

pub(crate) fn promote(id: &str) -> Action {
    Action::Promote(id.to_owned())
}

pub(crate) fn demote(id: &str) -> Action {
    Action::Demote(id.to_owned())
}

pub(crate) fn remove(id: &str) -> Action {
    Action::Remove(id.to_owned())
}

pub(crate) fn transfer(id: &str) -> Action {
    Action::TransferLeadership(id.to_owned())
}
