//! [`Service`]: the running agent behind the HTTP API, implementing
//! `keel_http::Backend` over the Raft server, the replicated state, gossip
//! and the plugins.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::http::{Request, Response};
use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub, BootstrapRequest};
use keel_api::agent::{JoinResponse, MembersResponse};
use keel_api::operator::{
    AutopilotConfiguration, LicenseReply, OperatorHealthReply, RaftConfiguration, RaftServer, SchedulerConfiguration,
};
use keel_cluster::gossip::Gossip;
use keel_cluster::{ClusterError, Server};
use keel_http::{
    ApiError, Backend, Capability, Consistency, Identity, Leadership, PeerSelector, QueryMeta, Read, Written,
};
use keel_state::{Command, DataDir, State};

use keel_plugins::Plugins;

use crate::{Clock, Settings, acl, autopilot, license, snapshot};

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
}

impl Service {
    pub fn new(
        config: Settings,
        server: Option<Arc<Server>>,
        gossip: Option<Arc<Gossip>>,
        plugins: Arc<Plugins>,
        data_dir: Arc<DataDir>,
        clock: Arc<dyn Clock>,
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
            _ => config.servers.clone(),
        };
        Self {
            identity,
            server,
            gossip,
            plugins,
            started: Instant::now(),
            started_unix_ms: clock.now_ms(),
            client_servers: RwLock::new(client_servers),
            autopilot: autopilot::Memory::default(),
            acl: acl::AclGate::new(config.acl_enabled),
            data_dir,
            config,
            clock,
        }
    }

    /// The Raft server, or the error a client-only agent gives for server work.
    pub(crate) fn server(&self) -> Result<&Server, ApiError> {
        self.server.as_deref().ok_or_else(|| ApiError::internal("No known servers: this agent runs no server"))
    }

    /// The server, checked to be able to answer a read with `consistency`.
    pub(crate) fn reader(&self, consistency: Consistency) -> Result<&Server, ApiError> {
        let server = self.server()?;
        if consistency == Consistency::Leader && !server.is_leader() {
            return Err(match server.leader() {
                None => ApiError::no_leader(),
                Some(leader) => ApiError::internal(format!(
                    "this server is not the leader ({} is); read with ?stale or ask the leader",
                    leader.address
                )),
            });
        }
        Ok(server)
    }

    /// Reads the replicated state with the query meta Nomad sends.
    pub(crate) fn read<T>(
        &self,
        consistency: Consistency,
        index_of: impl FnOnce(&T) -> u64,
        value: impl FnOnce(&State) -> T,
    ) -> Result<Read<T>, ApiError> {
        let server = self.reader(consistency)?;
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
    async fn write_config(&self, command: Command) -> Result<Written, ApiError> {
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
        ClusterError::Rpc(message) => {
            tracing::warn!(%message, "forwarding to the leader failed");
            ApiError::internal(format!("rpc error: could not reach the leader: {message}"))
        }
        other => {
            tracing::error!(error = %other, "raft operation failed");
            ApiError::internal("raft operation failed; see the server log")
        }
    }
}

impl Backend for Service {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn leadership(&self) -> Leadership {
        match &self.server {
            None => Leadership::Here,
            Some(server) if server.is_leader() => Leadership::Here,
            Some(server) if server.leader().is_some() => Leadership::Elsewhere,
            Some(_) => Leadership::Unknown,
        }
    }

    async fn forward(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, ApiError> {
        self.forward_to_leader(request).await
    }

    /// The one place ACL decisions are made: a client-only agent, which holds
    /// no ACL state, knows no token.
    async fn authorize(&self, token: Option<&str>, need: Capability) -> Result<(), ApiError> {
        match &self.server {
            Some(server) => self.acl.authorize(server.view(), &self.plugins.acl, token, need, self.acl_now_ms()),
            None if !self.acl.enabled() || need == Capability::None => Ok(()),
            None => Err(ApiError::token_not_found()),
        }
    }

    fn leader(&self) -> Option<String> {
        self.server.as_ref()?.leader().map(|leader| leader.address)
    }

    fn peers(&self) -> Result<Vec<String>, ApiError> {
        let (peers, _) = self.server()?.configuration();
        Ok(peers.into_iter().filter(|peer| peer.voter).map(|peer| peer.node.address).collect())
    }

    fn known_servers(&self) -> usize {
        self.client_servers.read().map_or(0, |servers| servers.len())
    }

    async fn raft_configuration(&self, consistency: Consistency) -> Result<Read<RaftConfiguration>, ApiError> {
        let server = self.reader(consistency)?;
        let (peers, index) = server.configuration();
        let servers = peers
            .into_iter()
            .map(|peer| RaftServer {
                id: peer.node.id.clone(),
                node: self.member_name_of(&peer.node),
                address: peer.node.address.clone(),
                leader: peer.leader,
                voter: peer.voter,
                raft_protocol: RAFT_PROTOCOL.to_owned(),
            })
            .collect();
        Ok(Read { value: RaftConfiguration { servers, index }, meta: self.meta(server, index) })
    }

    async fn remove_raft_peer(&self, peer: PeerSelector) -> Result<(), ApiError> {
        let server = self.server()?;
        let removal = match &peer {
            PeerSelector::Id(id) => server.remove_peer(|node| &node.id == id, &format!("id {id:?}")).await,
            PeerSelector::Address(address) => {
                server.remove_peer(|node| &node.address == address, &format!("address {address:?}")).await
            }
        };
        removal.map(|index| tracing::info!(?peer, index, "removed raft peer")).map_err(cluster_error)
    }

    async fn autopilot_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<AutopilotConfiguration>, ApiError> {
        self.read(
            consistency,
            |config: &AutopilotConfiguration| config.modify_index,
            |state| state.autopilot.clone().unwrap_or_else(|| self.config.autopilot.clone()),
        )
    }

    async fn set_autopilot_configuration(
        &self,
        config: AutopilotConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        self.write_config(Command::SetAutopilotConfig { config, cas }).await
    }

    async fn autopilot_health(&self) -> Result<OperatorHealthReply, ApiError> {
        let server = self.reader(Consistency::Leader)?;
        self.evaluate_autopilot(server)
    }

    async fn scheduler_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<SchedulerConfiguration>, ApiError> {
        self.read(
            consistency,
            |config: &SchedulerConfiguration| config.modify_index,
            |state| state.scheduler.clone().unwrap_or_else(|| self.config.scheduler.clone()),
        )
    }

    async fn set_scheduler_configuration(
        &self,
        config: SchedulerConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        self.write_config(Command::SetSchedulerConfig { config, cas }).await
    }

    async fn license(&self, consistency: Consistency) -> Result<Read<Option<LicenseReply>>, ApiError> {
        let server = self.reader(consistency)?;
        let stored = server.view().read(|state| state.license.clone());
        let meta = self.meta(server, stored.as_ref().map_or(0, |license| license.modify_index));
        let reply =
            stored.map(|stored| license::reply(&self.plugins.license, &stored.blob, self.now_ms())).transpose()?;
        Ok(Read { value: reply, meta })
    }

    async fn set_license(&self, blob: String, force: bool) -> Result<u64, ApiError> {
        let server = self.server()?;
        let installed = server.view().read(|state| state.license.clone());
        license::check_new(
            &self.plugins.license,
            &blob,
            installed.as_ref().map(|l| l.blob.as_str()),
            force,
            self.now_ms(),
        )?;
        let applied = self.write(Command::SetLicense { blob }).await?;
        Ok(applied.index)
    }

    async fn save_snapshot(&self, consistency: Consistency) -> Result<Read<Vec<u8>>, ApiError> {
        let server = self.reader(consistency)?;
        let (archive, index) = snapshot::save(server, self.now_ms())?;
        Ok(Read { value: archive, meta: self.meta(server, index) })
    }

    async fn restore_snapshot(&self, archive: Vec<u8>) -> Result<u64, ApiError> {
        let state = snapshot::verify(&archive)?;
        let applied = self.write(Command::Restore { state: Box::new(state) }).await?;
        tracing::info!(index = applied.index, bytes = archive.len(), "snapshot restored");
        Ok(applied.index)
    }

    fn members(&self) -> Result<MembersResponse, ApiError> {
        Ok(MembersResponse {
            server_name: self.config.node_name.clone(),
            server_region: self.config.region.clone(),
            server_dc: self.config.datacenter.clone(),
            members: self.gossip_members(),
        })
    }

    fn agent_self(&self) -> Result<serde_json::Value, ApiError> {
        Ok(self.self_report())
    }

    fn servers(&self) -> Result<Vec<String>, ApiError> {
        if !self.config.client {
            return Err(ApiError::not_implemented("Not a client agent"));
        }
        let mut servers = self.client_servers.read().map(|servers| servers.clone()).unwrap_or_default();
        servers.sort();
        Ok(servers)
    }

    fn set_servers(&self, addresses: Vec<String>) -> Result<(), ApiError> {
        if !self.config.client {
            return Err(ApiError::not_implemented("Not a client agent"));
        }
        for address in &addresses {
            address
                .parse::<std::net::SocketAddr>()
                .map_err(|_| ApiError::bad_request(format!("invalid server address {address:?}: expected ip:port")))?;
        }
        if let Ok(mut servers) = self.client_servers.write() {
            *servers = addresses;
        }
        Ok(())
    }

    async fn join(&self, addresses: Vec<String>) -> Result<JoinResponse, ApiError> {
        self.join_members(&addresses).await
    }

    async fn force_leave(&self, node: String, prune: bool) -> Result<(), ApiError> {
        self.force_leave_member(&node, prune).await
    }

    async fn acl_bootstrap(&self, request: BootstrapRequest) -> Result<(AclToken, u64), ApiError> {
        self.bootstrap_acl(request).await
    }

    async fn acl_policies(
        &self,
        token: Option<&str>,
        consistency: Consistency,
    ) -> Result<Read<Vec<AclPolicyListStub>>, ApiError> {
        self.list_acl_policies(token, consistency)
    }

    async fn acl_policy(
        &self,
        token: Option<&str>,
        name: &str,
        consistency: Consistency,
    ) -> Result<Read<AclPolicy>, ApiError> {
        self.read_acl_policy(token, name, consistency)
    }

    async fn upsert_acl_policy(&self, policy: AclPolicy) -> Result<u64, ApiError> {
        self.write_acl_policy(policy).await
    }

    async fn delete_acl_policy(&self, name: String) -> Result<u64, ApiError> {
        self.remove_acl_policy(name).await
    }

    async fn acl_tokens(&self, consistency: Consistency) -> Result<Read<Vec<AclTokenListStub>>, ApiError> {
        self.list_acl_tokens(consistency)
    }

    async fn acl_token(
        &self,
        token: Option<&str>,
        accessor: &str,
        consistency: Consistency,
    ) -> Result<Read<AclToken>, ApiError> {
        self.read_acl_token(token, accessor, consistency)
    }

    async fn acl_token_self(&self, token: Option<&str>, consistency: Consistency) -> Result<Read<AclToken>, ApiError> {
        self.read_own_acl_token(token, consistency)
    }

    async fn upsert_acl_token(&self, token: AclToken) -> Result<(AclToken, u64), ApiError> {
        self.write_acl_token(token).await
    }

    async fn delete_acl_token(&self, accessor: String) -> Result<u64, ApiError> {
        self.remove_acl_token(accessor).await
    }
}
