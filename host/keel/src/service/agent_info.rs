//! `/v1/agent/...`: this agent's member record, its self report, join and
//! force-leave.

use std::collections::BTreeMap;

use keel_api::agent::{JoinResponse, Member};
use keel_http::ApiError;
use keel_state::ServerNode;
use serde_json::json;

use super::{RAFT_PROTOCOL, Service};
use crate::config::AgentConfig;

/// What `/v1/agent/self` shows in place of a secret.
const REDACTED: &str = "<redacted>";

impl Service {
    /// This agent's gossip member record, with Nomad's tags.
    pub(super) fn own_member(&self) -> Member {
        let config = &self.config;
        let serf = config.serf_address();
        let mut tags = BTreeMap::from([
            ("role".to_owned(), "nomad".to_owned()),
            ("region".to_owned(), config.region.clone()),
            ("dc".to_owned(), config.datacenter.clone()),
            ("port".to_owned(), config.ports.rpc.to_string()),
            ("rpc_addr".to_owned(), config.rpc_address().ip().to_string()),
            ("build".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
            ("vsn".to_owned(), "1".to_owned()),
            ("raft_vsn".to_owned(), RAFT_PROTOCOL.to_owned()),
        ]);
        if let Some(server) = &self.server {
            tags.insert("id".to_owned(), server.me().id.clone());
        }
        match config.bootstrap_expect {
            0 => {}
            1 => {
                tags.insert("bootstrap".to_owned(), "1".to_owned());
            }
            n => {
                tags.insert("expect".to_owned(), n.to_string());
            }
        }
        Member {
            name: member_name(&config.node_name, &config.region),
            addr: serf.ip().to_string(),
            port: serf.port(),
            tags,
            status: "alive".to_owned(),
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    /// The gossip name of a Raft server, or Nomad's "(unknown)" when gossip
    /// does not know it.
    pub(super) fn member_name_of(&self, node: &ServerNode) -> String {
        match &self.server {
            Some(server) if server.me().id == node.id => member_name(&self.config.node_name, &self.config.region),
            _ => "(unknown)".to_owned(),
        }
    }

    /// `POST /v1/agent/force-leave`: only members in the failed state are
    /// affected, and this agent knows only itself, which is alive.
    pub(super) fn force_leave_member(&self, node: &str) -> Result<(), ApiError> {
        let own = member_name(&self.config.node_name, &self.config.region);
        if node == own || node == self.config.node_name {
            tracing::info!(node, "force-leave of an alive member changes nothing");
            return Ok(());
        }
        Err(ApiError::internal(format!("node {node:?} is not a member of the gossip pool")))
    }

    /// `GET /v1/agent/self`.
    pub(super) fn self_report(&self) -> serde_json::Value {
        let mut stats = BTreeMap::new();
        stats.insert("runtime", self.runtime_stats());
        stats.insert("keel", self.keel_stats());
        if let Some(server) = &self.server {
            let status = server.status();
            let (peers, _) = server.configuration();
            let configuration = peers
                .iter()
                .map(|peer| {
                    let suffrage = if peer.voter { "Voter" } else { "Nonvoter" };
                    format!("{{Suffrage:{suffrage} ID:{} Address:{}}}", peer.node.id, peer.node.address)
                })
                .collect::<Vec<_>>()
                .join(" ");
            stats.insert(
                "raft",
                strings([
                    ("state", status.state.clone()),
                    ("term", status.term.to_string()),
                    ("last_log_index", status.last_log_index.to_string()),
                    ("commit_index", status.commit_index.to_string()),
                    ("applied_index", status.applied_index.to_string()),
                    ("last_snapshot_index", status.last_snapshot_index.to_string()),
                    ("num_peers", status.num_peers.to_string()),
                    ("latest_configuration_index", status.configuration_index.to_string()),
                    ("latest_configuration", format!("[{configuration}]")),
                    (
                        "last_contact",
                        if server.is_leader() { "0".into() } else { format!("{}ms", server.last_contact_ms()) },
                    ),
                    ("protocol_version", RAFT_PROTOCOL.to_owned()),
                ]),
            );
        }
        if self.config.client {
            let servers = self.client_servers.read().map(|servers| servers.join(",")).unwrap_or_default();
            stats.insert("client", strings([("known_servers", servers)]));
        }
        json!({
            "config": config_report(&self.config),
            "member": self.server.as_ref().map(|_| self.own_member()),
            "stats": stats,
        })
    }

    fn runtime_stats(&self) -> BTreeMap<String, String> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        strings([
            ("arch", std::env::consts::ARCH.to_owned()),
            ("kernel.name", std::env::consts::OS.to_owned()),
            ("cpu_count", cpus.to_string()),
            ("version", format!("keel {}", env!("CARGO_PKG_VERSION"))),
            ("uptime_ms", self.uptime_ms().to_string()),
        ])
    }

    fn keel_stats(&self) -> BTreeMap<String, String> {
        let leader = self.server.as_ref().and_then(|server| server.leader());
        let mut stats = strings([
            ("server", self.config.server.to_string()),
            ("client", self.config.client.to_string()),
            ("leader", self.server.as_ref().is_some_and(|server| server.is_leader()).to_string()),
            ("leader_addr", leader.map(|leader| leader.address).unwrap_or_default()),
            ("bootstrap", (self.config.bootstrap_expect == 1).to_string()),
            ("known_regions", "1".to_owned()),
        ]);
        for (kind, info, metrics) in self.plugins.described() {
            stats.insert(format!("plugin.{kind}"), format!("{} {}", info.name, info.version));
            stats.insert(format!("plugin.{kind}.calls"), metrics.calls.to_string());
            stats.insert(format!("plugin.{kind}.errors"), metrics.errors.to_string());
            stats.insert(
                format!("plugin.{kind}.faults"),
                (metrics.traps + metrics.timeouts + metrics.memory_limits).to_string(),
            );
        }
        stats
    }
}

/// Nomad's member name: `<node>.<region>`.
pub(super) fn member_name(node: &str, region: &str) -> String {
    format!("{node}.{region}")
}

/// `POST /v1/agent/join` on this version: gossip between servers is not
/// available, so every address is reported as not joined.
pub(super) fn join(addresses: &[String]) -> JoinResponse {
    let error = addresses
        .iter()
        .map(|address| format!("{address}: joining other agents is not available in this version"))
        .collect::<Vec<_>>()
        .join("; ");
    JoinResponse { num_joined: 0, error }
}

fn strings<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(key, value)| (key.to_owned(), value)).collect()
}

/// The agent's configuration as `/v1/agent/self` shows it. Plugin settings
/// may hold secrets, so their values are redacted.
fn config_report(config: &AgentConfig) -> serde_json::Value {
    let plugins: BTreeMap<String, serde_json::Value> = config
        .plugins
        .iter()
        .map(|(kind, plugin)| {
            let settings: BTreeMap<&str, &str> =
                plugin.settings.iter().map(|(key, _)| (key.as_str(), REDACTED)).collect();
            (kind.to_string(), json!({ "Path": plugin.path, "Config": settings }))
        })
        .collect();
    let rpc = config.rpc_address();
    json!({
        "Region": config.region,
        "Datacenter": config.datacenter,
        "NodeName": config.node_name,
        "DataDir": config.data_dir,
        "DevMode": config.dev,
        "BindAddr": config.bind.to_string(),
        "Ports": { "HTTP": config.ports.http, "RPC": config.ports.rpc, "Serf": config.ports.serf },
        "Addresses": { "HTTP": config.bind.to_string(), "RPC": config.bind.to_string(), "Serf": config.bind.to_string() },
        "AdvertiseAddrs": {
            "HTTP": config.http_address().to_string(),
            "RPC": rpc.to_string(),
            "Serf": config.serf_address().to_string(),
        },
        "Server": {
            "Enabled": config.server,
            "BootstrapExpect": config.bootstrap_expect,
            "RetryJoin": config.retry_join,
            "RaftMultiplier": config.raft_multiplier,
            "DefaultSchedulerConfig": config.scheduler,
        },
        "Client": { "Enabled": config.client, "Servers": config.servers },
        // Nomad shows its ACL tokens here redacted; Keel's agent holds none,
        // and token secrets live only in the replicated state.
        "ACL": {
            "Enabled": config.acl_enabled,
            "TokenMinExpirationTTL": keel_api::duration::format(config.acl_token_min_ttl),
            "TokenMaxExpirationTTL": keel_api::duration::format(config.acl_token_max_ttl),
        },
        "Autopilot": config.autopilot,
        "Plugins": plugins,
        "Files": config.files,
        "Version": { "Version": env!("CARGO_PKG_VERSION") },
    })
}
