//! `/v1/agent/...`: this agent's member record, its self report, join and
//! force-leave.

use std::collections::BTreeMap;

use keel_api::agent::{JoinResponse, Member};
use keel_cluster::ClusterError;
use keel_cluster::formation::tags;
use keel_cluster::gossip;
use keel_http::ApiError;
use keel_state::ServerNode;
use serde_json::json;

use crate::Settings;
use crate::service::{RAFT_PROTOCOL, Service};

/// This server's gossip tags, as Nomad's servers carry them.
pub fn gossip_tags(config: &Settings, raft_id: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (tags::ROLE.to_owned(), tags::SERVER_ROLE.to_owned()),
        (tags::REGION.to_owned(), config.region.clone()),
        (tags::DATACENTER.to_owned(), config.datacenter.clone()),
        (tags::PORT.to_owned(), config.rpc_address.port().to_string()),
        (tags::RPC_ADDR.to_owned(), config.rpc_address.ip().to_string()),
        (tags::BUILD.to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        (tags::VSN.to_owned(), "1".to_owned()),
        (tags::RAFT_VSN.to_owned(), RAFT_PROTOCOL.to_owned()),
        (tags::ID.to_owned(), raft_id.to_owned()),
    ]);
    if let Some(zone) = &config.redundancy_zone {
        tags.insert(tags::ZONE.to_owned(), zone.clone());
    }
    match config.bootstrap_expect {
        0 => {}
        1 => {
            tags.insert(tags::BOOTSTRAP.to_owned(), "1".to_owned());
        }
        n => {
            tags.insert(tags::EXPECT.to_owned(), n.to_string());
        }
    }
    tags
}

/// A gossip member as `/v1/agent/members` shows it.
fn api_member(member: &gossip::Member) -> Member {
    Member::new(
        member.name.clone(),
        member.addr.ip().to_string(),
        member.addr.port(),
        member.tags.clone(),
        member.status.as_str().to_owned(),
    )
}

impl Service {
    /// Every gossip member this agent knows; empty on an agent without a
    /// server, which takes no part in server gossip.
    pub(crate) fn gossip_members(&self) -> Vec<Member> {
        self.gossip.as_ref().map(|gossip| gossip.members().iter().map(api_member).collect()).unwrap_or_default()
    }

    /// The gossip status of the server with raft ID `id`, and its name.
    pub(crate) fn gossip_member_of(&self, id: &str) -> Option<gossip::Member> {
        let gossip = self.gossip.as_ref()?;
        gossip.members().iter().find(|member| member.tags.get(tags::ID).is_some_and(|tag| tag == id)).cloned()
    }

    /// The gossip name of a Raft server, or Nomad's "(unknown)" when gossip
    /// does not know it.
    pub(crate) fn member_name_of(&self, node: &ServerNode) -> String {
        self.gossip_member_of(&node.id).map_or_else(|| "(unknown)".to_owned(), |member| member.name)
    }

    /// `POST /v1/agent/join`: joins the gossip pool of each address.
    pub(crate) async fn join_members(&self, addresses: &[String]) -> Result<JoinResponse, ApiError> {
        let gossip = self.gossip.as_ref().ok_or_else(|| ApiError::not_implemented("Not a server agent"))?;
        let mut errors = Vec::new();
        let mut resolved = Vec::new();
        for address in addresses {
            match gossip::resolve_join_address(address).await {
                Ok(socket) => resolved.push((address, socket)),
                Err(error) => errors.push(error),
            }
        }
        let sockets: Vec<_> = resolved.iter().map(|(_, socket)| *socket).collect();
        let outcomes = gossip.join(&sockets).await;
        let num_joined = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        errors.extend(outcomes.into_iter().filter_map(Result::err));
        tracing::info!(?addresses, num_joined, "join");
        Ok(JoinResponse { num_joined, error: errors.join("; ") })
    }

    /// `POST /v1/agent/force-leave`: a failed member becomes `left`
    /// everywhere (`prune`: is forgotten). The node may be named with or
    /// without its region.
    pub(crate) async fn force_leave_member(&self, node: &str, prune: bool) -> Result<(), ApiError> {
        let gossip = self.gossip.as_ref().ok_or_else(|| ApiError::not_implemented("Not a server agent"))?;
        let known = |name: &str| gossip.members().iter().any(|member| member.name == name);
        let name = if known(node) { node.to_owned() } else { member_name(node, &self.config.region) };
        match gossip.force_leave(&name, prune).await {
            Ok(()) => tracing::info!(node = %name, prune, "forced a member to leave"),
            // Serf answers success for a node it does not know: the leave
            // intent it broadcasts simply finds no one, so Nomad's 200 follows.
            Err(ClusterError::PeerNotFound(_)) => tracing::info!(node = %name, "force-leave of an unknown member"),
            Err(error) => return Err(crate::service::cluster_error(error)),
        }
        Ok(())
    }

    /// This agent's own member record.
    fn own_member(&self) -> Option<Member> {
        let gossip = self.gossip.as_ref()?;
        let own = self.config.serf_address;
        gossip.members().iter().find(|member| member.addr == own).map(api_member)
    }

    /// `GET /v1/agent/self`.
    pub(crate) fn self_report(&self) -> serde_json::Value {
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
            "config": self.config.config_report,
            "member": self.own_member(),
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
        for keel_plugins::Described { kind, info, metrics, .. } in self.plugins.described() {
            stats.insert(format!("plugin.{kind}"), format!("{} {}", info.name, info.version));
            stats.insert(format!("plugin.{kind}.calls"), metrics.calls.to_string());
            stats.insert(format!("plugin.{kind}.errors"), metrics.errors.to_string());
            stats.insert(
                format!("plugin.{kind}.faults"),
                (metrics.traps + metrics.timeouts + metrics.memory_limits).to_string(),
            );
            stats.insert(format!("plugin.{kind}.busy"), metrics.busy.to_string());
        }
        stats
    }
}

/// Nomad's member name: `<node>.<region>`.
pub fn member_name(node: &str, region: &str) -> String {
    format!("{node}.{region}")
}

fn strings<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(key, value)| (key.to_owned(), value)).collect()
}
