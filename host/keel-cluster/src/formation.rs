//! Forming and growing a cluster from what gossip shows.
//!
//! - **Bootstrap** (`bootstrap_expect = N`, N > 1): once N servers of the
//!   region see each other in gossip and none of them holds Raft state,
//!   exactly one of them — the one with the lowest raft ID — forms the
//!   cluster with all of them as voters. A server that holds Raft state
//!   (also after a restart) never bootstraps, and a server that finds
//!   another one holding Raft state waits to be added instead.
//! - **Growing**: the leader adds every alive server of its region that is
//!   not in the Raft configuration as a non-voter; autopilot promotes it
//!   once it has been stable long enough.
//! - **Retry-join**: an agent given `retry_join` addresses joins the
//!   gossip pool through them, trying again until one answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keel_state::ServerNode;

use crate::gossip::{self, Gossip, Member, MemberStatus};
use crate::server::Server;

/// Nomad's gossip tag names that matter for forming a cluster.
pub mod tags {
    /// `nomad` for a server.
    pub const ROLE: &str = "role";
    pub const REGION: &str = "region";
    pub const DATACENTER: &str = "dc";
    /// The raft ID.
    pub const ID: &str = "id";
    /// The RPC address's IP and port.
    pub const RPC_ADDR: &str = "rpc_addr";
    pub const PORT: &str = "port";
    /// `bootstrap_expect` when above 1.
    pub const EXPECT: &str = "expect";
    /// Present (`1`) on a server that bootstraps alone.
    pub const BOOTSTRAP: &str = "bootstrap";
    pub const BUILD: &str = "build";
    pub const VSN: &str = "vsn";
    pub const RAFT_VSN: &str = "raft_vsn";
    /// A server's redundancy zone (`server { redundancy_zone }`), which
    /// autopilot plugins group servers by.
    pub const ZONE: &str = "zone";
    /// `true` on a read replica: a non-voter autopilot never promotes.
    pub const READ_REPLICA: &str = "read_replica";
    /// The role of a server.
    pub const SERVER_ROLE: &str = "nomad";
}

/// How often the formation duty looks again even without a gossip change
/// (a probe may have failed, leadership may have moved).
const RECHECK: Duration = Duration::from_secs(1);

/// The Raft server a gossip member advertises, if it is a server.
pub fn server_of(member: &Member) -> Option<ServerNode> {
    let tag = |name: &str| member.tags.get(name);
    if tag(tags::ROLE).map(String::as_str) != Some(tags::SERVER_ROLE) {
        return None;
    }
    let region = tag(tags::REGION)?;
    let name = member.name.strip_suffix(&format!(".{region}")).unwrap_or(&member.name);
    Some(ServerNode {
        id: tag(tags::ID)?.clone(),
        address: format!("{}:{}", tag(tags::RPC_ADDR)?, tag(tags::PORT)?),
        name: name.to_owned(),
    })
}

/// Runs until the server stops: bootstraps when `expect` servers are seen,
/// and adds new servers while this server leads.
pub async fn run(server: Arc<Server>, gossip: Arc<Gossip>, expect: u32, region: String) {
    let mut members = gossip.subscribe();
    let mut bootstrap = BootstrapState::default();
    loop {
        let seen = members.borrow_and_update().clone();
        let servers: Vec<ServerNode> = seen
            .iter()
            .filter(|member| member.status == MemberStatus::Alive)
            .filter(|member| member.tags.get(tags::REGION) == Some(&region))
            .filter_map(server_of)
            .collect();
        match server.is_initialized().await {
            Ok(false) if expect > 1 => bootstrap.attempt(&server, &seen, servers, expect).await,
            Ok(true) if server.is_leader() => add_new_servers(&server, servers).await,
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "cluster formation stops with the server");
                return;
            }
        }
        tokio::select! {
            changed = members.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
}

/// What the bootstrap attempt last said, so it is logged once, not every
/// second.
#[derive(Default)]
struct BootstrapState {
    last_said: String,
}

impl BootstrapState {
    fn say(&mut self, message: String) {
        if message != self.last_said {
            tracing::info!("{message}");
            self.last_said = message;
        }
    }

    async fn attempt(&mut self, server: &Server, seen: &[Member], servers: Vec<ServerNode>, expect: u32) {
        let mismatched: Vec<&str> = seen
            .iter()
            .filter(|member| member.tags.get(tags::EXPECT).is_some_and(|theirs| *theirs != expect.to_string()))
            .map(|member| member.name.as_str())
            .collect();
        if !mismatched.is_empty() {
            self.say(format!(
                "not bootstrapping: servers {mismatched:?} expect a different number of servers than {expect}"
            ));
            return;
        }
        if servers.len() < expect as usize {
            self.say(format!("waiting for servers to bootstrap: {} of {expect} seen", servers.len()));
            return;
        }
        let me = server.me();
        let chosen = servers.iter().min_by(|a, b| a.id.cmp(&b.id)).expect("at least `expect` servers");
        if chosen.id != me.id {
            self.say(format!("{expect} servers seen; {} ({}) bootstraps the cluster", chosen.name, chosen.address));
            return;
        }
        for other in servers.iter().filter(|other| other.id != me.id) {
            match server.peer_is_initialized(&other.address).await {
                Ok(false) => {}
                Ok(true) => {
                    self.say(format!(
                        "not bootstrapping: {} ({}) already holds Raft state; waiting to be added to its cluster",
                        other.name, other.address
                    ));
                    return;
                }
                Err(error) => {
                    self.say(format!("not bootstrapping yet: cannot ask {} for its Raft state: {error}", other.name));
                    return;
                }
            }
        }
        let addresses: Vec<&str> = servers.iter().map(|node| node.address.as_str()).collect();
        tracing::info!(servers = ?addresses, "bootstrapping the cluster");
        if let Err(error) = server.initialize(servers).await {
            tracing::warn!(%error, "bootstrap failed; will try again");
        }
    }
}

/// On the leader: adds alive servers that are not in the Raft
/// configuration as non-voters.
async fn add_new_servers(server: &Server, servers: Vec<ServerNode>) {
    let (peers, _) = server.configuration();
    for node in servers {
        if peers.iter().any(|peer| peer.node.id == node.id) {
            continue;
        }
        if let Some(stale) = peers.iter().find(|peer| peer.node.address == node.address) {
            // The same address under a new raft ID: the server lost its
            // data dir. The old entry must go first (autopilot's dead-server
            // cleanup or a peer removal), or two entries would claim one
            // address.
            tracing::warn!(address = %node.address, old = %stale.node.id, new = %node.id, "a server came back with a new raft ID; remove the old peer to add it");
            continue;
        }
        tracing::info!(server = %node.name, address = %node.address, "adding a new server as a non-voter");
        if let Err(error) = server.add_nonvoter(node.clone()).await {
            tracing::warn!(server = %node.name, %error, "could not add the server");
        }
    }
}

/// How often retry-join tries again until one address answers.
const RETRY_JOIN_INTERVAL: Duration = Duration::from_secs(2);

/// Joins the gossip pool through `addresses` (this agent's own skipped),
/// trying again until one of them answers.
pub async fn retry_join(gossip: Arc<Gossip>, addresses: Vec<String>, own: SocketAddr) {
    loop {
        let mut targets = Vec::new();
        let mut unresolved = false;
        for address in &addresses {
            match gossip::resolve_join_address(address).await {
                Ok(socket) if socket != own => targets.push(socket),
                Ok(_) => {}
                Err(error) => {
                    unresolved = true;
                    tracing::warn!(%address, %error, "retry-join address");
                }
            }
        }
        if targets.is_empty() && !unresolved {
            // Every address is this agent's own: nothing to join.
            return;
        }
        let outcomes = gossip.join(&targets).await;
        let joined = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        if joined > 0 {
            tracing::info!(joined, "retry-join succeeded");
            return;
        }
        let errors: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
        tracing::info!(?errors, "retry-join: no address answered yet; trying again");
        tokio::time::sleep(RETRY_JOIN_INTERVAL).await;
    }
}
