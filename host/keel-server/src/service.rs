//! [`Service`]: the running agent behind the HTTP API, and the helpers its
//! endpoint families share (reads with their query meta, writes, errors).
//! The `keel_http` traits are implemented for it in `api/`, one file each.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use keel_cluster::gossip::Gossip;
use keel_cluster::{ClusterError, DEFAULT_RPC_PORT, Server, with_default_port};
use keel_http::{ApiError, Consistency, Identity, QueryMeta, Read, Written};
use keel_plugins::Plugins;
use keel_state::{Command, DataDir, State};

use crate::registry::{PluginSet, Registry};
use crate::{Clock, Settings, Telemetry, acl, autopilot, nodes};

/// The Raft protocol version Keel speaks, as Nomad reports it.
pub const RAFT_PROTOCOL: &str = "3";

/// The agent as the API sees it.
pub struct Service {
    pub(crate) config: Settings,
    pub(crate) identity: Identity,
    pub(crate) server: Option<Arc<Server>>,
    /// Server gossip; `None` on an agent without a server.
    pub(crate) gossip: Option<Arc<Gossip>>,
    pub(crate) plugins: Arc<Plugins>,
    /// What this server knows about following the cluster's plugin registry.
    pub(crate) registry: Registry,
    pub(crate) started: Instant,
    pub(crate) started_unix_ms: u64,
    /// A client's known servers, replaced by `POST /v1/agent/servers`.
    pub(crate) client_servers: RwLock<Vec<String>>,
    pub(crate) autopilot: autopilot::Memory,
    pub(crate) acl: acl::AclGate,
    /// The data directory, for the ACL bootstrap reset file.
    pub(crate) data_dir: Arc<DataDir>,
    /// Wall-clock time for expiry, license validity and stabilization.
    pub(crate) clock: Arc<dyn Clock>,
    /// The process's metrics, for `/v1/metrics`.
    pub(crate) telemetry: Telemetry,
    /// On the leader: when each client node must next be heard from.
    pub(crate) heartbeats: nodes::Heartbeats,
    /// What wakes the leader's scheduling loop.
    pub(crate) scheduling: crate::scheduling::Scheduling,
    /// On a client: what runs its allocations, once the client started.
    pub(crate) runtime: std::sync::OnceLock<Arc<keel_client::Runtime>>,
}

impl Service {
    pub fn new(
        config: Settings,
        server: Option<Arc<Server>>,
        gossip: Option<Arc<Gossip>>,
        plugins: PluginSet,
        data_dir: Arc<DataDir>,
        clock: Arc<dyn Clock>,
        telemetry: Telemetry,
    ) -> Self {
        let identity = Identity {
            node_name: config.node_name.clone(),
            region: config.region.clone(),
            datacenter: config.datacenter.clone(),
            server: config.server,
            client: config.client,
        };
        let client_servers = match (&server, config.servers.is_empty()) {
            // A client beside a server talks to that server.
            (Some(server), true) => vec![server.me().address.clone()],
            _ => config.servers.iter().map(|address| with_default_port(address, DEFAULT_RPC_PORT)).collect(),
        };
        Self {
            identity,
            server,
            gossip,
            plugins: plugins.active,
            registry: Registry::new(plugins.runtime, plugins.fallbacks),
            started: Instant::now(),
            started_unix_ms: clock.now_ms(),
            client_servers: RwLock::new(client_servers),
            autopilot: autopilot::Memory::default(),
            acl: acl::AclGate::new(config.acl_enabled),
            data_dir,
            config,
            clock,
            telemetry,
            heartbeats: nodes::Heartbeats::default(),
            scheduling: crate::scheduling::Scheduling::default(),
            runtime: std::sync::OnceLock::new(),
        }
    }

    /// The Raft server, or the error a client-only agent gives for server work.
    pub(crate) fn server(&self) -> Result<&Server, ApiError> {
        self.server.as_deref().ok_or_else(|| ApiError::internal("No known servers: this agent runs no server"))
    }

    /// The server, checked to be able to answer a read with `consistency`.
    /// A default read first confirms with a quorum that this server still
    /// leads and has applied everything committed ([`Server::confirm_leadership`]),
    /// so that a leader resumed after a pause, already deposed, does not
    /// answer from its old state.
    pub(crate) async fn reader(&self, consistency: Consistency) -> Result<&Server, ApiError> {
        let server = self.server()?;
        if consistency == Consistency::Leader {
            server.confirm_leadership().await.map_err(|error| match error {
                ClusterError::NotLeader(Some(leader)) => ApiError::internal(format!(
                    "this server is not the leader ({} is); read with ?stale or ask the leader",
                    leader.address
                )),
                _ => ApiError::no_leader(),
            })?;
        }
        Ok(server)
    }

    /// Reads the replicated state with the query meta Nomad sends.
    pub(crate) async fn read<T>(
        &self,
        consistency: Consistency,
        index_of: impl FnOnce(&T) -> u64,
        value: impl FnOnce(&State) -> T,
    ) -> Result<Read<T>, ApiError> {
        let server = self.reader(consistency).await?;
        let value = server.view().read(value);
        let meta = self.meta(server, index_of(&value));
        Ok(Read { value, meta })
    }

    pub(crate) fn meta(&self, server: &Server, index: u64) -> QueryMeta {
        QueryMeta { index, last_contact_ms: server.last_contact_ms(), known_leader: server.leader().is_some() }
    }

    /// Submits a command and waits until it is applied.
    pub(crate) async fn write(&self, command: Command) -> Result<keel_cluster::Applied, ApiError> {
        self.server()?.write(command).await.map_err(cluster_error)
    }

    /// Writes a configuration and reports whether its check-and-set won.
    pub(crate) async fn write_config(&self, command: Command) -> Result<Written, ApiError> {
        let applied = self.write(command).await?;
        Ok(Written { updated: applied.outcome.updated(), index: applied.index })
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Wall-clock milliseconds since the Unix epoch, as token times are kept.
    pub(crate) fn acl_now_ms(&self) -> i64 {
        i64::try_from(self.now_ms()).unwrap_or(i64::MAX)
    }

    pub(crate) fn uptime_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Maps a server error to Nomad's status and message; detail goes to the log.
pub(crate) fn cluster_error(error: ClusterError) -> ApiError {
    match error {
        ClusterError::NoLeader => ApiError::no_leader(),
        ClusterError::NotLeader(Some(leader)) => {
            ApiError::internal(format!("this server is not the leader ({} is); try again", leader.address))
        }
        ClusterError::NotLeader(None) => ApiError::no_leader(),
        ClusterError::PeerNotFound(message) => ApiError::internal(message),
        ClusterError::Refused(message) | ClusterError::Membership(message) => ApiError::bad_request(message),
        ClusterError::Timeout(message) => ApiError::internal(message),
        ClusterError::Rpc(message) | ClusterError::Unreachable(message) => {
            tracing::warn!(%message, "forwarding to the leader failed");
            ApiError::internal(format!("rpc error: could not reach the leader: {message}"))
        }
        other => {
            tracing::error!(error = %other, "raft operation failed");
            ApiError::internal("raft operation failed; see the server log")
        }
    }
}
