//! The Raft node: start-up, bootstrap, writes and membership.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keel_api::limits::{RAFT_ENTRY_MAX_BYTES, RESTORE_PIECE_MAX_BYTES, RPC_CHUNK_MAX_BYTES};
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_state::{Command, DataDir, Outcome, ServerNode, State, StateView, Store, TypeConfig};
use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::{ChangeMembers, Config, Raft, RaftMetrics, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::client::RpcClient;
use crate::elector::{self, LeaderContact, Timing};
use crate::network::{Contacts, Network};
use crate::read_index::{self, ReadIndex};
use crate::rpc::{Forwarded, ForwardedReply, RpcRequest, RpcResponse};
use crate::rpc_server::{self, Endpoints, Forwarder, Handlers};
use crate::{ClusterError, ClusterKey, node_id_of};

/// How long a write may wait to be committed and applied. A leader that
/// has lost its quorum cannot commit; the client gets an error instead of
/// a request that hangs.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long asking a peer whether it holds Raft state may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a configuration change waits for the one before it to commit.
const MEMBERSHIP_QUEUE: Duration = WRITE_TIMEOUT;

/// How a server forms its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// A cluster of this server alone, bootstrapped at first start (`--dev`,
    /// `bootstrap_expect = 1`).
    Solo,
    /// Bootstrap once this many servers see each other. Until then, or
    /// until [`Server::initialize`] is called, the server waits to be
    /// contacted by a leader.
    Expect(u32),
}

/// What a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The raft ID (a UUID, kept in the data dir).
    pub raft_id: String,
    pub node_name: String,
    pub rpc_address: SocketAddr,
    pub bootstrap: Bootstrap,
    pub raft: RaftTuning,
    /// Written by the first leader when the state has no autopilot config.
    pub autopilot_defaults: AutopilotConfiguration,
    /// Written by the first leader when the state has no scheduler config.
    pub scheduler_defaults: SchedulerConfiguration,
    /// The cluster key every RPC connection must prove (`server.encrypt`);
    /// `None` accepts any peer.
    pub key: Option<ClusterKey>,
}

/// The Raft settings an operator may change, as Nomad's server block
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTuning {
    /// Scales Raft's timings (`raft_multiplier`, 1 to 10).
    pub multiplier: u32,
    /// Applied entries between snapshots (`raft_snapshot_threshold`).
    pub snapshot_threshold: u64,
    /// Entries kept in the log behind a snapshot, so that a follower a
    /// little behind catches up from the log rather than a whole snapshot
    /// (`raft_trailing_logs`).
    pub trailing_logs: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        Self { multiplier: 1, snapshot_threshold: 8_192, trailing_logs: 10_240 }
    }
}

/// A write that was applied: what the state machine answered, and at which
/// Raft index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub index: u64,
}

/// One server in the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub node: ServerNode,
    pub voter: bool,
    pub leader: bool,
}

/// What the leader knows of one server's replication, for autopilot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// Milliseconds since the server last answered the leader; `None` if it
    /// never has since this server became leader.
    pub last_contact_ms: Option<u64>,
    /// The term and index of the last entry the server is known to hold.
    pub last_term: u64,
    pub last_index: u64,
}

/// A summary of the node's Raft state for `/v1/agent/self` and health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftStatus {
    pub state: String,
    pub term: u64,
    pub last_log_index: u64,
    pub applied_index: u64,
    pub last_snapshot_index: u64,
    /// The last index removed from the log (kept only in a snapshot).
    pub purged_index: u64,
    pub commit_index: u64,
    pub num_peers: usize,
    pub configuration_index: u64,
}

/// A running Raft server. Dropping it does not stop Raft; call [`Server::shutdown`].
pub struct Server {
    raft: Raft<TypeConfig>,
    view: StateView,
    me: ServerNode,
    leader_duties: JoinHandle<()>,
    /// The term in which this server's leadership is established (see
    /// [`Server::is_leader`]); 0 when never.
    established: Arc<AtomicU64>,
    /// The accept loop of the RPC port; taken and stopped on shutdown.
    rpc_listener: Mutex<Option<JoinHandle<()>>>,
    pub(crate) endpoints: Arc<Endpoints>,
    pub(crate) client: Arc<RpcClient>,
    contacts: Contacts,
    /// When this server last heard from a leader (on a follower).
    leader_contact: LeaderContact,
    timing: Timing,
    elector: JoinHandle<()>,
    read_index: ReadIndex,
}

impl Server {
    /// Binds the RPC port, opens the storage in `data_dir`, starts Raft and
    /// bootstraps a solo cluster on its first start.
    pub async fn start(config: ServerConfig, data_dir: &DataDir) -> Result<Self, ClusterError> {
        let me = ServerNode {
            id: config.raft_id.clone(),
            address: config.rpc_address.to_string(),
            name: config.node_name.clone(),
        };
        let node_id = node_id_of(&me.id);
        let listener = TcpListener::bind(config.rpc_address)
            .await
            .map_err(|e| ClusterError::Start(format!("bind the rpc address {}: {e}", config.rpc_address)))?;
        let (log_store, state_machine) = Store::open(data_dir)?;
        let view = state_machine.view();
        let raft_config = Arc::new(raft_config(config.raft)?);
        let contacts = Contacts::default();
        let network = Network::new(node_id, Arc::clone(&contacts), config.key.clone());
        let raft = Raft::new(node_id, raft_config, network, log_store.clone(), state_machine)
            .await
            .map_err(|e| ClusterError::Start(e.to_string()))?;

        // Elections start from the elector, after a pre-vote.
        raft.runtime_config().elect(false);
        let timing = Timing {
            lease: Duration::from_millis(raft.config().election_timeout_max),
            tick: Duration::from_millis(raft.config().heartbeat_interval / 2),
        };
        let leader_contact = LeaderContact::default();
        let client = Arc::new(RpcClient::new(config.key.clone()));
        let endpoints = Arc::new(Endpoints::default());
        let handlers = Handlers {
            raft: raft.clone(),
            endpoints: Arc::clone(&endpoints),
            contact: leader_contact.clone(),
            timing,
            key: config.key.clone(),
            log: log_store.clone(),
        };
        let rpc_listener = tokio::spawn(rpc_server::serve(listener, handlers));
        if let Err(error) = bootstrap_if_needed(&raft, &config, &me, node_id).await {
            // Nothing else will stop the accept loop of a server that never
            // started.
            rpc_listener.abort();
            return Err(error);
        }
        let established = Arc::new(AtomicU64::new(0));
        let leader_duties = tokio::spawn(leader_duties(raft.clone(), config, Arc::clone(&established)));
        let elector = tokio::spawn(elector::run(
            raft.clone(),
            node_id,
            leader_contact.clone(),
            Arc::clone(&client),
            timing,
            log_store,
        ));
        Ok(Self {
            raft,
            view,
            me,
            leader_duties,
            established,
            rpc_listener: Mutex::new(Some(rpc_listener)),
            endpoints,
            client,
            contacts,
            leader_contact,
            timing,
            elector,
            read_index: ReadIndex::new(),
        })
    }

    /// Installs what serves API requests other servers forward here. Only
    /// the first call counts.
    pub fn set_forwarder(&self, forwarder: Arc<dyn Forwarder>) {
        let _ = self.endpoints.forwarder.set(forwarder);
    }

    /// Sends an API request to the leader and brings back its answer, or
    /// fails after `timeout` (a leader that stopped answering must not hold
    /// the client forever) or as soon as another server is known to lead (a
    /// paused leader's answer would come too late to matter).
    pub async fn forward(&self, request: Forwarded, timeout: Duration) -> Result<ForwardedReply, ClusterError> {
        let leader = self.leader().ok_or(ClusterError::NoLeader)?;
        if leader.id == self.me.id {
            return Err(ClusterError::NotLeader(None));
        }
        metrics::counter!("nomad.nomad.rpc.forwarded").increment(1);
        tokio::select! {
            answer = self.ask(&leader.address, request, timeout) => answer,
            () = self.leadership_moves_from(&leader.id) => {
                Err(ClusterError::Rpc(format!(
                    "{}: another server was elected leader while the request was relayed; it may or may not \
                     have been applied",
                    leader.address
                )))
            }
        }
    }

    /// Sends an API request to the server at `rpc_address`, which serves it
    /// through its own router, and brings back its answer, or fails after
    /// `timeout`.
    pub async fn ask(
        &self,
        rpc_address: &str,
        request: Forwarded,
        timeout: Duration,
    ) -> Result<ForwardedReply, ClusterError> {
        let (head, body) = request.split();
        match self.client.call(rpc_address, &RpcRequest::Forward(head), &body, timeout).await {
            Ok((RpcResponse::Forward(reply), body)) => Ok(ForwardedReply::join(reply, body)),
            Ok(_) => Err(ClusterError::Rpc(format!("{rpc_address} answered another request"))),
            Err(failed) if !failed.maybe_delivered => {
                Err(ClusterError::Unreachable(format!("{rpc_address}: {}", failed.error)))
            }
            Err(failed) => Err(ClusterError::Rpc(format!("{rpc_address}: {}", failed.error))),
        }
    }

    /// Whether this server holds Raft state: it bootstrapped, or a leader
    /// has replicated a membership to it.
    pub async fn is_initialized(&self) -> Result<bool, ClusterError> {
        self.raft.is_initialized().await.map_err(|e| ClusterError::Stopped(e.to_string()))
    }

    /// Asks the server at `rpc_address` whether it holds Raft state.
    pub async fn peer_is_initialized(&self, rpc_address: &str) -> Result<bool, ClusterError> {
        match self.client.call(rpc_address, &RpcRequest::Initialized, &[], PROBE_TIMEOUT).await {
            Ok((RpcResponse::Initialized(initialized), _)) => Ok(initialized),
            Ok(_) => Err(ClusterError::Rpc(format!("{rpc_address} answered another request"))),
            Err(failed) => Err(ClusterError::Rpc(format!("{rpc_address}: {}", failed.error))),
        }
    }

    /// Adds `node` to the Raft configuration as a non-voter and returns
    /// without waiting for it to catch up.
    pub async fn add_nonvoter(&self, node: ServerNode) -> Result<u64, ClusterError> {
        let response = self.raft.add_learner(node_id_of(&node.id), node, false).await.map_err(write_error)?;
        Ok(response.log_id.index)
    }

    /// Makes the non-voter with raft ID `id` a voter.
    pub async fn promote(&self, id: &str) -> Result<u64, ClusterError> {
        self.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id_of(id)])), true).await
    }

    /// Makes the voter with raft ID `id` a non-voter.
    pub async fn demote(&self, id: &str) -> Result<u64, ClusterError> {
        self.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node_id_of(id)])), true).await
    }

    /// Raft takes one configuration change at a time. As in Nomad, where
    /// changes queue, a change asked while another is still committing
    /// (a server joining, autopilot at work) waits for it, up to
    /// [`MEMBERSHIP_QUEUE`], instead of failing.
    async fn change_membership(
        &self,
        change: ChangeMembers<u64, ServerNode>,
        retain: bool,
    ) -> Result<u64, ClusterError> {
        let deadline = tokio::time::Instant::now() + MEMBERSHIP_QUEUE;
        loop {
            match self.raft.change_membership(change.clone(), retain).await {
                Ok(response) => return Ok(response.log_id.index),
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                ))) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => return Err(write_error(error)),
            }
        }
    }

    /// On the leader: what it knows of each other server's replication, by
    /// raft ID. Empty on a follower.
    pub fn replication(&self) -> BTreeMap<String, Replication> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let Some(replication) = &metrics.replication else {
            return BTreeMap::new();
        };
        let contacts = self.contacts.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let membership = metrics.membership_config.membership();
        replication
            .iter()
            .filter_map(|(node_id, matched)| {
                let node = membership.get_node(node_id)?;
                let facts = Replication {
                    last_contact_ms: contacts
                        .get(node_id)
                        .map(|at| u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)),
                    last_term: matched.map_or(0, |log_id| log_id.leader_id.term),
                    last_index: matched.map_or(0, |log_id| log_id.index),
                };
                Some((node.id.clone(), facts))
            })
            .collect()
    }

    /// Forms a new cluster of `members` (this server among them), all voters.
    /// Called once, on one server of a cluster that has never been
    /// initialized; the others learn the configuration from the leader.
    pub async fn initialize(&self, members: Vec<ServerNode>) -> Result<(), ClusterError> {
        let members: BTreeMap<u64, ServerNode> = members.into_iter().map(|node| (node_id_of(&node.id), node)).collect();
        self.raft.initialize(members).await.map_err(|e| ClusterError::Initialize(e.to_string()))
    }

    /// The replicated state as this server has applied it.
    pub fn view(&self) -> &StateView {
        &self.view
    }

    /// This server.
    pub fn me(&self) -> &ServerNode {
        &self.me
    }

    /// The current leader, when one is known. A follower that has not heard
    /// from its leader for two leases knows none any more: openraft keeps
    /// naming the last leader until a new one is elected, which without a
    /// quorum never happens.
    pub fn leader(&self) -> Option<ServerNode> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let leader = metrics.current_leader?;
        let me = leader == node_id_of(&self.me.id);
        let gone_silent = self.leader_contact.silence().is_some_and(|silence| silence > 2 * self.timing.lease);
        let established = self.established.load(Ordering::Acquire) == metrics.current_term;
        if (me && !established) || (!me && gone_silent) {
            return None;
        }
        metrics.membership_config.membership().get_node(&leader).cloned()
    }

    /// Whether this server is the leader now.
    ///
    /// A leader counts from the moment its first write of the term is
    /// committed (Nomad's barrier on gaining leadership). Until then it may
    /// not hold every committed entry yet, and a server restarted after
    /// leading, which openraft restores as leader of its old term, never
    /// counts: its first write cannot commit, and it steps down.
    pub fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        metrics.state == ServerState::Leader && self.established.load(Ordering::Acquire) == metrics.current_term
    }

    /// Confirms, with a quorum, that this server still leads and has applied
    /// everything committed so far, so that a read of the state after it is
    /// linearizable. A deposed leader (one resumed after a pause, say) learns
    /// here that it no longer leads. Concurrent calls share rounds.
    pub async fn confirm_leadership(&self) -> Result<(), ClusterError> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        match self.read_index.confirm(|| read_index::round(&self.raft, self.timing.lease)).await {
            true => Ok(()),
            false => Err(self.not_leader()),
        }
    }

    /// The error for a request only the leader may answer.
    fn not_leader(&self) -> ClusterError {
        match self.leader() {
            Some(leader) if leader.id != self.me.id => ClusterError::NotLeader(Some(leader)),
            _ => ClusterError::NoLeader,
        }
    }

    /// Milliseconds since this server last heard from the leader: 0 on the
    /// leader itself.
    pub fn last_contact_ms(&self) -> u64 {
        if self.is_leader() {
            return 0;
        }
        self.leader_contact.silence().map_or(0, |silence| u64::try_from(silence.as_millis()).unwrap_or(u64::MAX))
    }

    /// Submits `command` and waits until it is applied. A command whose
    /// JSON, which is what the log stores and the wire carries, exceeds
    /// [`RAFT_ENTRY_MAX_BYTES`] is refused before it reaches the log, where
    /// it could never be replicated.
    pub async fn write(&self, command: Command) -> Result<Applied, ClusterError> {
        let entry_bytes = command.json_len();
        if entry_bytes > RAFT_ENTRY_MAX_BYTES {
            return Err(ClusterError::Refused(format!(
                "raft entry of {entry_bytes} bytes exceeds the limit of {RAFT_ENTRY_MAX_BYTES} bytes"
            )));
        }
        let started = std::time::Instant::now();
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(command)).await {
            Ok(Ok(response)) => {
                metrics::counter!("nomad.raft.apply").increment(1);
                metrics::histogram!("nomad.raft.commitTime").record(started.elapsed().as_secs_f64() * 1_000.0);
                Ok(Applied { outcome: response.data, index: response.log_id.index })
            }
            Ok(Err(error)) => Err(write_error(error)),
            Err(_) => Err(ClusterError::Timeout(format!(
                "the write was not committed within {}s; the leader may have lost its quorum",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Replaces all replicated data with `state`: its JSON goes through the
    /// log in pieces of [`RESTORE_PIECE_MAX_BYTES`], each a small entry, and
    /// the state changes on every server at the commit entry, whose index
    /// this answers. Another restore started meanwhile, or a change of
    /// leader, makes this one fail with nothing changed.
    pub async fn restore(&self, state: State) -> Result<Applied, ClusterError> {
        // Encoding a large state takes long enough to hold up heartbeats on
        // the async runtime.
        let encode = move || serde_json::to_string(&state).expect("the state is plain data and always serializes");
        let json = tokio::task::spawn_blocking(encode).await.map_err(|e| ClusterError::Stopped(e.to_string()))?;
        let id = uuid::Uuid::new_v4().to_string();
        let pieces = keel_state::restore::pieces(&json, RESTORE_PIECE_MAX_BYTES);
        let count = u32::try_from(pieces.len()).expect("a restore has far fewer than 2^32 pieces");
        let lost = || ClusterError::Refused("another snapshot restore started while this one was written".to_owned());
        for (seq, text) in (0..count).zip(pieces) {
            let staged = self.write(Command::StageRestore { id: id.clone(), seq, text: text.to_owned() }).await?;
            if !staged.outcome.updated() {
                return Err(lost());
            }
        }
        let bytes = u64::try_from(json.len()).expect("a length fits 64 bits");
        let committed = self.write(Command::CommitRestore { id, pieces: count, bytes }).await?;
        if committed.outcome.updated() { Ok(committed) } else { Err(lost()) }
    }

    /// The Raft configuration and the index of the log entry that set it.
    pub fn configuration(&self) -> (Vec<Peer>, u64) {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let peers = membership
            .nodes()
            .map(|(id, node)| Peer {
                node: node.clone(),
                voter: voters.contains(id),
                leader: metrics.current_leader == Some(*id),
            })
            .collect();
        let index = metrics.membership_config.log_id().map_or(0, |log_id| log_id.index);
        (peers, index)
    }

    /// Removes the peer with raft ID `id` (or RPC address `address`) from the
    /// Raft configuration, and answers the index of the change. Removing
    /// the last voter is refused.
    pub async fn remove_peer(&self, matches: impl Fn(&ServerNode) -> bool, named: &str) -> Result<u64, ClusterError> {
        let (peers, _) = self.configuration();
        let target = peers
            .iter()
            .find(|peer| matches(&peer.node))
            .ok_or_else(|| ClusterError::PeerNotFound(format!("{named} was not found in the Raft configuration")))?;
        let voters = peers.iter().filter(|peer| peer.voter).count();
        if target.voter && voters <= 1 {
            return Err(ClusterError::Refused(format!(
                "{named} is the only voter in the Raft configuration; removing it would leave the cluster without a leader"
            )));
        }
        let id = node_id_of(&target.node.id);
        let change = if target.voter {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.change_membership(change, false).await
    }

    /// The node's Raft state in numbers.
    pub fn status(&self) -> RaftStatus {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let applied_index = metrics.last_applied.map_or(0, |log_id| log_id.index);
        RaftStatus {
            state: format!("{:?}", metrics.state),
            term: metrics.current_term,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            applied_index,
            last_snapshot_index: metrics.snapshot.map_or(0, |log_id| log_id.index),
            purged_index: metrics.purged.map_or(0, |log_id| log_id.index),
            // A single node commits what it applies; a follower's commit
            // index is not in openraft's metrics, and applied trails it
            // only by entries in flight.
            commit_index: applied_index,
            num_peers: metrics.membership_config.membership().nodes().count().saturating_sub(1),
            configuration_index: metrics.membership_config.log_id().map_or(0, |log_id| log_id.index),
        }
    }

    /// Returns once a server other than `leader` (a raft ID) is known to lead.
    async fn leadership_moves_from(&self, leader: &str) {
        let mut metrics = self.raft.metrics();
        while self.leader().is_none_or(|known| known.id == leader) {
            // `leader()` also depends on time (a silent leader stops
            // counting): look again shortly even without a change.
            let _ = tokio::time::timeout(Duration::from_millis(50), metrics.changed()).await;
        }
    }

    /// Waits until some leader is known, or `timeout` passes.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<ServerNode> {
        let mut metrics = self.raft.metrics();
        let known = async {
            loop {
                if let Some(leader) = self.leader() {
                    return leader;
                }
                // A leader's own establishment shows in no metric: look
                // again shortly even without a change.
                let _ = tokio::time::timeout(Duration::from_millis(10), metrics.changed()).await;
            }
        };
        tokio::time::timeout(timeout, known).await.ok()
    }

    /// Waits until a leader is known and this server has applied the
    /// leader's default configurations, so that a first read of a
    /// configuration already shows the stored one and a check-and-set
    /// against it can win; `None` when `timeout` passes first.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<ServerNode> {
        let deadline = tokio::time::Instant::now() + timeout;
        let leader = self.wait_for_leader(timeout).await?;
        let has_defaults = || self.view.read(|state| state.autopilot.is_some() && state.scheduler.is_some());
        let mut applied = self.view.subscribe_applied();
        let waited = tokio::time::timeout_at(deadline, async {
            while !has_defaults() {
                if applied.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        (waited.is_ok() && has_defaults()).then_some(leader)
    }

    /// Stops Raft and closes the RPC port: in-flight writes fail, storage is
    /// flushed and closed.
    pub async fn shutdown(&self) {
        self.leader_duties.abort();
        self.elector.abort();
        let rpc_listener = self.rpc_listener.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(rpc_listener) = rpc_listener {
            rpc_listener.abort();
            // Waiting for the aborted task makes sure the port is closed
            // when this returns, so a restart can bind it again.
            let _ = rpc_listener.await;
        }
        if let Err(error) = self.raft.shutdown().await {
            tracing::warn!(%error, "raft did not shut down cleanly");
        }
    }
}

/// Bootstraps a solo cluster on its first start, and lets a restarted server
/// that is the only voter elect itself at once.
async fn bootstrap_if_needed(
    raft: &Raft<TypeConfig>,
    config: &ServerConfig,
    me: &ServerNode,
    node_id: u64,
) -> Result<(), ClusterError> {
    let initialized = raft.is_initialized().await.map_err(|e| ClusterError::Stopped(e.to_string()))?;
    if !initialized && config.bootstrap == Bootstrap::Solo {
        tracing::info!(raft_id = %me.id, "bootstrapping a new single-server cluster");
        raft.initialize(BTreeMap::from([(node_id, me.clone())]))
            .await
            .map_err(|e| ClusterError::Start(format!("bootstrap: {e}")))?;
    }
    if initialized && only_voter_is(&raft.metrics().borrow(), node_id) {
        // Alone in the configuration, nobody else can win: elect now
        // instead of waiting out an election timeout after a restart.
        raft.trigger().elect().await.map_err(|e| ClusterError::Stopped(e.to_string()))?;
    }
    Ok(())
}

/// Raft's timings at `raft_multiplier = 1`: a heartbeat every 100 ms and an
/// election timeout of 300–600 ms. openraft lets a follower that has seen a
/// leader campaign only after the leader's lease (the maximum timeout) *and*
/// its own random timeout have passed without word, so a leader's death is
/// acted on after 0.9–1.2 s of silence, while a follower rides out eight or
/// more lost heartbeats. A loaded machine raises the multiplier, as with
/// Nomad's `raft_multiplier`.
fn raft_config(tuning: RaftTuning) -> Result<Config, ClusterError> {
    let multiplier = u64::from(tuning.multiplier.clamp(1, 10));
    Config {
        cluster_name: "keel".to_owned(),
        heartbeat_interval: 100 * multiplier,
        election_timeout_min: 300 * multiplier,
        election_timeout_max: 600 * multiplier,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(tuning.snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: tuning.trailing_logs,
        // One snapshot chunk per InstallSnapshot frame, well inside the frame limit.
        snapshot_max_chunk_size: RPC_CHUNK_MAX_BYTES as u64,
        // Each chunk, and the last one with the install of the whole state,
        // must answer within this. openraft's 200 ms is too short for a
        // state near the restore limit on a loaded machine: every try timed
        // out and the follower never caught up. A slow follower only slows
        // its own catch-up.
        install_snapshot_timeout: 30_000,
        ..Config::default()
    }
    .validate()
    .map_err(|e| ClusterError::Start(format!("raft configuration: {e}")))
}

fn only_voter_is(metrics: &RaftMetrics<u64, ServerNode>, node_id: u64) -> bool {
    metrics.membership_config.membership().voter_ids().eq([node_id])
}

fn write_error(error: RaftError<u64, ClientWriteError<u64, ServerNode>>) -> ClusterError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => match forward.leader_node {
            Some(leader) => ClusterError::NotLeader(Some(leader)),
            None => ClusterError::NoLeader,
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(refused)) => {
            ClusterError::Membership(refused.to_string())
        }
        RaftError::Fatal(fatal) => ClusterError::Stopped(fatal.to_string()),
    }
}

/// What a server does each time it becomes leader: makes sure the state has
/// an autopilot and a scheduler configuration (Nomad writes its defaults on
/// leadership too, so `CreateIndex` is a real Raft index). That write
/// committing establishes the leadership of the term.
async fn leader_duties(raft: Raft<TypeConfig>, config: ServerConfig, established: Arc<AtomicU64>) {
    let mut metrics = raft.metrics();
    let mut served_term = None;
    loop {
        let leading_term = {
            let current = metrics.borrow_and_update();
            (current.state == ServerState::Leader).then_some(current.current_term)
        };
        if let Some(term) = leading_term.filter(|term| served_term != Some(*term)) {
            served_term = Some(term);
            let defaults = Command::InitDefaults {
                autopilot: config.autopilot_defaults.clone(),
                scheduler: config.scheduler_defaults.clone(),
            };
            match raft.client_write(defaults).await {
                Ok(_) => established.store(term, Ordering::Release),
                Err(error) => {
                    tracing::warn!(%error, term, "could not write the default configurations as the new leader");
                    served_term = None;
                }
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
