//! What the HTTP API asks of the running agent: one trait per endpoint
//! family, and [`Backend`], which is all of them, so the router is generic
//! over one type.
//!
//! Authorization is a trait of its own ([`Authorize`]) rather than part of
//! [`AgentApi`]: the authorization layer needs only it, and an ACL
//! implementation can be written and tested without the agent's other
//! duties.

use std::future::Future;

use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub, BootstrapRequest};
use keel_api::agent::{JoinResponse, MembersResponse};
use keel_api::job::{Allocation, Evaluation, Job, JobListStub, JobPlanResponse, JobRegisterResponse, JobSummary};
use keel_api::node::{Node, NodeListStub, NodeUpdateResponse};
use keel_api::operator::{
    AutopilotConfiguration, LicenseReply, OperatorHealthReply, RaftConfiguration, SchedulerConfiguration,
};

use keel_api::plugin::{AgentPlugin, PluginEntry, PluginInstallRequest, PluginInstallResponse, PluginStatus};
use keel_api::task::LogKind;

use crate::ApiError;

/// The right a request needs, as the "ACL Required" column of the API
/// reference gives it. Every handler declares one before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// No token needed (health, join, status).
    None,
    /// A management token.
    Management,
    /// Any token the ACL store knows and that has not expired, or no token
    /// (the anonymous token). The endpoint itself narrows what such a token
    /// may see (its own token, its own policies).
    Authenticated,
    OperatorRead,
    OperatorWrite,
    AgentRead,
    AgentWrite,
    NodeRead,
    NodeWrite,
    /// `namespace` capabilities, of the request's namespace.
    ListJobs,
    ReadJob,
    SubmitJob,
    ReadLogs,
}

/// How fresh a read must be: served by the leader, or by any server from
/// its own state (`?stale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Leader,
    Stale,
}

/// What Nomad's query headers report about a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryMeta {
    /// `X-Nomad-Index`: the Raft index the answer reflects.
    pub index: u64,
    /// `X-Nomad-LastContact`: milliseconds since this server last heard
    /// from the leader, 0 on the leader.
    pub last_contact_ms: u64,
    /// `X-Nomad-KnownLeader`.
    pub known_leader: bool,
}

/// A read's value and its meta.
#[derive(Debug, Clone, PartialEq)]
pub struct Read<T> {
    pub value: T,
    pub meta: QueryMeta,
}

/// The result of a write: whether it took effect (false only when a
/// check-and-set lost) and the Raft index it was applied at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub updated: bool,
    pub index: u64,
}

/// Where the leader is, as far as this agent knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// This agent leads, or runs no server and answers from what it has.
    Here,
    /// Another server leads: leader-only requests are forwarded to it.
    Elsewhere,
    /// No leader is known.
    Unknown,
}

/// Why a request could not be relayed to the leader.
#[derive(Debug)]
pub struct RelayError {
    /// What the client is told when the request is not tried again.
    pub error: ApiError,
    /// Whether the leader may have received the request (the connection
    /// broke or timed out after it was sent). Such a write is not sent
    /// again, since it may have been applied; one the leader certainly did
    /// not receive (no leader known, connection refused) may be.
    pub maybe_delivered: bool,
}

/// Which Raft peer a removal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSelector {
    Id(String),
    Address(String),
}

/// Who this agent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub node_name: String,
    pub region: String,
    pub datacenter: String,
    pub server: bool,
    pub client: bool,
}

/// The running agent, as the HTTP API sees it: every endpoint family. The
/// `keel` binary implements each trait over the Raft node, the state, gossip
/// and the plugins; the router only parses requests, has rights checked
/// through [`Authorize`] before a handler runs, and writes replies.
///
/// # To ensure correctness
/// - Errors are [`ApiError`]s carrying Nomad's status and a message fit for
///   clients; internal detail is logged by the implementation, not returned.
///   This holds for every method of every family below.
pub trait Backend:
    Authorize
    + AgentApi
    + OperatorRaftApi
    + AutopilotApi
    + SchedulerApi
    + LicenseApi
    + SnapshotApi
    + AclApi
    + PluginApi
    + NodeApi
    + JobApi
    + Watch
{
}

impl<T> Backend for T where
    T: Authorize
        + AgentApi
        + OperatorRaftApi
        + AutopilotApi
        + SchedulerApi
        + LicenseApi
        + SnapshotApi
        + AclApi
        + PluginApi
        + NodeApi
        + JobApi
        + Watch
{
}

/// What blocking queries wait on.
pub trait Watch: Send + Sync + 'static {
    /// A receiver that sees each change of the state this agent reads
    /// from; `None` on an agent that holds no state.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>>;
}

/// The right a request's token holds, checked before any handler runs.
///
/// # To ensure correctness
/// - A denial is a 403 ("Permission denied", or "ACL token not found" for a
///   token the ACL store does not know); [`Capability::None`] is granted to
///   anyone.
pub trait Authorize: Send + Sync + 'static {
    /// Decides whether `token` (the secret from `X-Nomad-Token` or
    /// `Authorization: Bearer`, `None` for anonymous) has `need` for
    /// `request`.
    fn authorize(
        &self,
        token: Option<&str>,
        need: Capability,
        request: &RequestContext<'_>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The request a right is asked for, as ACL rules may look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// Upper case, as sent: `GET`, `PUT`, `POST`, `DELETE`.
    pub method: &'a str,
    /// The path without the query string.
    pub path: &'a str,
    /// `?namespace=`, or `default` when the request names none.
    pub namespace: &'a str,
}

/// The agent's metrics in the format asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Metrics {
    /// Nomad's `{Timestamp, Gauges, Points, Counters, Samples}`.
    Json(serde_json::Value),
    /// Prometheus's text exposition format.
    Prometheus(String),
}

/// The agent itself: who it is, where the leader is, gossip members and a
/// client's servers, health and status.
///
/// # To ensure correctness
/// - Every answer comes from this agent's own knowledge; nothing here is
///   forwarded to the leader.
/// - [`AgentApi::forward`] brings back the leader's answer unchanged.
pub trait AgentApi: Send + Sync + 'static {
    fn identity(&self) -> &Identity;

    /// Whether leader-only requests are served here, forwarded, or refused.
    fn leadership(&self) -> Leadership;

    /// Relays a request, as it arrived, to the leader and brings back the
    /// leader's answer unchanged, or fails after `timeout`. A failure says
    /// whether the leader may have received the request.
    fn forward(
        &self,
        request: axum::http::Request<Vec<u8>>,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<axum::http::Response<Vec<u8>>, RelayError>> + Send;

    /// The current leader's RPC address, if one is known.
    fn leader(&self) -> Option<String>;
    /// The RPC addresses of the Raft voters.
    fn peers(&self) -> Result<Vec<String>, ApiError>;
    /// How many servers a client agent knows.
    fn known_servers(&self) -> usize;

    fn members(&self) -> Result<MembersResponse, ApiError>;
    /// `GET /v1/agent/self`: `{config, member, stats}` with secrets redacted.
    fn agent_self(&self) -> Result<serde_json::Value, ApiError>;
    /// A client agent's known servers; 501 on a server-only agent.
    fn servers(&self) -> Result<Vec<String>, ApiError>;
    /// `GET /v1/metrics`: Nomad's JSON shape, or Prometheus's text format
    /// when `prometheus` is asked for (415 unless the agent enables it).
    fn metrics(&self, prometheus: bool) -> Result<Metrics, ApiError>;
    fn set_servers(&self, addresses: Vec<String>) -> Result<(), ApiError>;
    /// Joins the gossip pool through `addresses`; 501 on a client-only agent.
    fn join(&self, addresses: Vec<String>) -> impl Future<Output = Result<JoinResponse, ApiError>> + Send;
    fn force_leave(&self, node: String, prune: bool) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// `/v1/operator/plugins`, `/v1/operator/plugin/:kind[/promote|/rollback]`
/// and `/v1/agent/plugins`: the cluster's plugin registry. `kind` is as the
/// path spells it; an unknown kind is a 400.
///
/// # To ensure correctness
/// - An install is verified before anything is written, and every refusal
///   is a 400 naming the reason that changes nothing.
/// - A change answers once the answering server enforces it.
pub trait PluginApi: Send + Sync + 'static {
    fn plugins(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<PluginEntry>>, ApiError>> + Send;
    /// One kind, with every server's active plugin, asked with `token`.
    fn plugin(
        &self,
        kind: String,
        consistency: Consistency,
        token: Option<String>,
    ) -> impl Future<Output = Result<Read<PluginStatus>, ApiError>> + Send;
    fn install_plugin(
        &self,
        kind: String,
        request: PluginInstallRequest,
    ) -> impl Future<Output = Result<PluginInstallResponse, ApiError>> + Send;
    fn promote_plugin(&self, kind: String) -> impl Future<Output = Result<u64, ApiError>> + Send;
    fn rollback_plugin(
        &self,
        kind: String,
        digest: Option<String>,
    ) -> impl Future<Output = Result<u64, ApiError>> + Send;
    fn remove_plugin(&self, kind: String) -> impl Future<Output = Result<u64, ApiError>> + Send;
    /// This agent's active plugins.
    fn agent_plugins(&self) -> Vec<AgentPlugin>;
}

/// `/v1/operator/raft/...`.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A removal answers only after the new configuration is committed.
pub trait OperatorRaftApi: Send + Sync + 'static {
    fn raft_configuration(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<RaftConfiguration>, ApiError>> + Send;
    fn remove_raft_peer(&self, peer: PeerSelector) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// `/v1/operator/autopilot/...`.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A write answers only after its command is applied (and so durable), with
///   the index it was applied at.
pub trait AutopilotApi: Send + Sync + 'static {
    fn autopilot_configuration(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<AutopilotConfiguration>, ApiError>> + Send;
    fn set_autopilot_configuration(
        &self,
        config: AutopilotConfiguration,
        cas: Option<u64>,
    ) -> impl Future<Output = Result<Written, ApiError>> + Send;
    /// The autopilot plugin's report on the cluster.
    fn autopilot_health(&self) -> impl Future<Output = Result<OperatorHealthReply, ApiError>> + Send;
}

/// `/v1/operator/scheduler/configuration`.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A write answers only after its command is applied (and so durable), with
///   the index it was applied at.
pub trait SchedulerApi: Send + Sync + 'static {
    fn scheduler_configuration(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<SchedulerConfiguration>, ApiError>> + Send;
    fn set_scheduler_configuration(
        &self,
        config: SchedulerConfiguration,
        cas: Option<u64>,
    ) -> impl Future<Output = Result<Written, ApiError>> + Send;
}

/// `/v1/nodes`, `/v1/node/:id`: the client nodes.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A node's secret never leaves the servers: every node answered is
///   [`Node::public`].
/// - An unknown id is a 404 "node not found", for reads and writes alike;
///   a write answers only after its command is applied.
pub trait NodeApi: Send + Sync + 'static {
    /// Every node whose id starts with `prefix`, in id order.
    fn nodes(
        &self,
        prefix: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<NodeListStub>>, ApiError>> + Send;
    fn node(&self, id: String, consistency: Consistency) -> impl Future<Output = Result<Read<Node>, ApiError>> + Send;
    /// Sets whether new work may be placed on the node.
    fn set_node_eligibility(
        &self,
        id: String,
        eligibility: String,
    ) -> impl Future<Output = Result<NodeUpdateResponse, ApiError>> + Send;
    /// Starts draining the node (its allocations are placed elsewhere), or
    /// ends the drain; answers the evaluations the drain created.
    fn set_node_drain(
        &self,
        id: String,
        drain: bool,
        mark_eligible: bool,
    ) -> impl Future<Output = Result<NodeUpdateResponse, ApiError>> + Send;
}

/// `/v1/jobs`, `/v1/job/:id`, `/v1/evaluation(s)`, `/v1/allocation(s)`.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A registration answers once the job and its evaluation are applied,
///   together; an unknown job, evaluation or allocation is a 404.
pub trait JobApi: Send + Sync + 'static {
    /// Registers a canonicalized, valid job with an evaluation for it.
    fn submit_job(&self, job: Job) -> impl Future<Output = Result<JobRegisterResponse, ApiError>> + Send;
    /// What registering a canonicalized, valid job would do, through the
    /// scheduler plugin; nothing is written.
    fn plan_job(&self, job: Job) -> impl Future<Output = Result<JobPlanResponse, ApiError>> + Send;
    /// Stops a job (forgets it, with `purge`) with an evaluation that stops
    /// its allocations; 404 "job not found".
    fn stop_job(
        &self,
        namespace: String,
        id: String,
        purge: bool,
    ) -> impl Future<Output = Result<JobRegisterResponse, ApiError>> + Send;
    /// The jobs of `namespace` (`*`: every namespace) whose id starts with `prefix`.
    fn jobs(
        &self,
        namespace: String,
        prefix: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<JobListStub>>, ApiError>> + Send;
    fn job(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Job>, ApiError>> + Send;
    /// One job's allocations or evaluations, oldest first.
    fn job_allocations(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Allocation>>, ApiError>> + Send;
    fn job_evaluations(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Evaluation>>, ApiError>> + Send;
    /// One job's summary: its groups' allocations by client status.
    fn job_summary(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<JobSummary>, ApiError>> + Send;
    /// The evaluations or allocations of `namespace` (`*`: every one)
    /// whose ids start with `prefix`, oldest first.
    fn evaluations(
        &self,
        namespace: String,
        prefix: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Evaluation>>, ApiError>> + Send;
    /// One evaluation, or allocation, of `namespace` (`*`: any); one of
    /// another namespace is not found.
    fn evaluation(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Evaluation>, ApiError>> + Send;
    /// The allocations of `namespace` placed on node `id`.
    fn node_allocations(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Allocation>>, ApiError>> + Send;
    /// The allocations an evaluation of `namespace` placed.
    fn evaluation_allocations(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Allocation>>, ApiError>> + Send;
    fn allocations(
        &self,
        namespace: String,
        prefix: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<Allocation>>, ApiError>> + Send;
    fn allocation(
        &self,
        namespace: String,
        id: String,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Allocation>, ApiError>> + Send;
    /// The whole log of `kind` of `task` of allocation `alloc_id`, which must
    /// be of `namespace` (else it is not found), from the agent whose
    /// client runs it.
    fn alloc_logs(
        &self,
        alloc_id: String,
        namespace: String,
        task: String,
        kind: LogKind,
    ) -> impl Future<Output = Result<Vec<u8>, ApiError>> + Send;
}

/// `/v1/operator/license`.
///
/// # To ensure correctness
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A write answers only after its command is applied (and so durable), with
///   the index it was applied at.
pub trait LicenseApi: Send + Sync + 'static {
    /// The installed license as the license plugin reads it now, `None` when
    /// none is installed.
    fn license(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Option<LicenseReply>>, ApiError>> + Send;
    /// Validates `blob` (the request body without surrounding whitespace)
    /// with the license plugin and stores it; a refused license is a 400
    /// that says why.
    fn set_license(&self, blob: String, force: bool) -> impl Future<Output = Result<u64, ApiError>> + Send;
}

/// `/v1/operator/snapshot`.
///
/// # To ensure correctness
/// - Saves with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A restore answers only after the restored state is applied, with the
///   index it was applied at.
pub trait SnapshotApi: Send + Sync + 'static {
    /// A snapshot archive (DESIGN.md §6) of the current state.
    fn save_snapshot(&self, consistency: Consistency) -> impl Future<Output = Result<Read<Vec<u8>>, ApiError>> + Send;
    /// Verifies an archive completely, then replaces the state with it.
    fn restore_snapshot(&self, archive: Vec<u8>) -> impl Future<Output = Result<u64, ApiError>> + Send;
}

/// The ACL endpoints. With ACLs disabled each answers 400 "ACL support
/// disabled".
///
/// # To ensure correctness
/// - Secrets appear only in the replies that create a token, read one by
///   accessor or read the caller's own token.
/// - Reads with [`Consistency::Leader`] fail with "No cluster leader" rather
///   than answer from a server that may be behind.
/// - A write answers only after its command is applied (and so durable), with
///   the index it was applied at.
pub trait AclApi: Send + Sync + 'static {
    /// Creates the first management token, once; a second call is a 400
    /// naming the reset index, unless the data dir's reset file holds it.
    fn acl_bootstrap(
        &self,
        request: BootstrapRequest,
    ) -> impl Future<Output = Result<(AclToken, u64), ApiError>> + Send;
    /// Every policy for a management token; the policies of `token` otherwise.
    fn acl_policies(
        &self,
        token: Option<&str>,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<AclPolicyListStub>>, ApiError>> + Send;
    /// One policy: for a management token, a token that holds it, or anyone
    /// when it is the anonymous policy; 404 "ACL policy not found".
    fn acl_policy(
        &self,
        token: Option<&str>,
        name: &str,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<AclPolicy>, ApiError>> + Send;
    /// Creates or replaces a policy whose rules the ACL plugin accepts.
    fn upsert_acl_policy(&self, policy: AclPolicy) -> impl Future<Output = Result<u64, ApiError>> + Send;
    fn delete_acl_policy(&self, name: String) -> impl Future<Output = Result<u64, ApiError>> + Send;
    /// Every token, without secrets.
    fn acl_tokens(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<Vec<AclTokenListStub>>, ApiError>> + Send;
    /// One token by accessor: any for a management token, only itself for
    /// another; 404 "ACL token not found".
    fn acl_token(
        &self,
        token: Option<&str>,
        accessor: &str,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<AclToken>, ApiError>> + Send;
    /// The token whose secret is `token`; 404 "ACL token not found".
    fn acl_token_self(
        &self,
        token: Option<&str>,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Read<AclToken>, ApiError>> + Send;
    /// Creates a token (empty accessor) or updates one; answers the stored token.
    fn upsert_acl_token(&self, token: AclToken) -> impl Future<Output = Result<(AclToken, u64), ApiError>> + Send;
    fn delete_acl_token(&self, accessor: String) -> impl Future<Output = Result<u64, ApiError>> + Send;
}
