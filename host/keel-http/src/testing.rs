//! Test support: an honest in-memory [`crate::Backend`] (each of its traits) and one helper that sends a
//! request through the router without a socket.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub, BootstrapRequest, MANAGEMENT};
use keel_api::agent::{JoinResponse, Member, MembersResponse};
use keel_api::job::{
    Allocation, Evaluation, Job, JobListStub, JobPlanResponse, JobRegisterResponse, JobSummary, in_namespace, job_key,
};
use keel_api::node::{Node, NodeListStub, NodeUpdateResponse};
use keel_api::operator::{
    AutopilotConfiguration, License, LicenseReply, OperatorHealthReply, RaftConfiguration, RaftServer,
    SchedulerConfiguration, ServerHealth,
};
use keel_api::plugin::{
    AgentPlugin, PluginEntry, PluginHistoryEntry, PluginInstallRequest, PluginInstallResponse, PluginStatus,
    PluginVersion,
};
use keel_api::task::LogKind;
use tower::ServiceExt;

use crate::{
    AclApi, AgentApi, ApiError, Authorize, AutopilotApi, Capability, Consistency, Identity, JobApi, Leadership,
    LicenseApi, Limits, NodeApi, OperatorRaftApi, PeerSelector, PluginApi, QueryMeta, Read, RelayError, RequestContext,
    SchedulerApi, SnapshotApi, Written,
};

/// Everything the test backend knows and everything it was asked.
#[derive(Debug)]
pub(crate) struct State {
    pub leader: Option<String>,
    pub leadership: Leadership,
    pub meta: QueryMeta,
    /// The last Raft index; every write takes the next one.
    pub index: u64,
    pub raft: RaftConfiguration,
    pub autopilot: AutopilotConfiguration,
    pub health: OperatorHealthReply,
    pub scheduler: SchedulerConfiguration,
    pub license: Option<LicenseReply>,
    pub snapshot: Vec<u8>,
    pub members: MembersResponse,
    pub agent_self: serde_json::Value,
    pub servers: Vec<String>,
    pub acl_policies: BTreeMap<String, AclPolicy>,
    pub acl_tokens: Vec<AclToken>,
    /// The index of the bootstrap, once done.
    pub acl_bootstrapped: Option<u64>,
    /// Installed plugins by kind: the entry and the history of digests.
    pub plugins: BTreeMap<String, PluginEntry>,
    pub nodes: BTreeMap<String, Node>,
    pub jobs: BTreeMap<String, Job>,
    pub evals: BTreeMap<String, Evaluation>,
    pub allocs: BTreeMap<String, Allocation>,

    pub last_auth: Option<(Option<String>, Capability)>,
    /// The method, path and namespace of the last request authorized.
    pub last_request: Option<[String; 3]>,
    pub last_consistency: Option<Consistency>,
    pub removed: Vec<PeerSelector>,
    pub license_writes: Vec<(String, bool)>,
    pub restored: Option<Vec<u8>>,
    pub joined: Vec<String>,
    pub force_left: Vec<(String, bool)>,
    /// Requests relayed to the leader: method, URI, headers, body.
    pub forwarded: Vec<Request<Vec<u8>>>,
    /// How the next relays fail, one entry per try; the leader answers
    /// once these are used up.
    pub relay_failures: std::collections::VecDeque<RelayError>,
}

/// A single-server cluster in memory. Leader-only reads fail without a
/// leader, writes take increasing indexes, and check-and-set compares with
/// `ModifyIndex` as Nomad's state store does.
///
/// Tokens: "no-rights" is denied everything that needs a right, "unknown"
/// is a token the ACL store does not know, any other token (and anonymous)
/// passes.
pub(crate) struct TestBackend {
    identity: Identity,
    state: Mutex<State>,
}

impl TestBackend {
    pub(crate) fn new() -> Self {
        Self::with_identity(Identity {
            node_name: "keel-1".into(),
            region: "global".into(),
            datacenter: "dc1".into(),
            server: true,
            client: true,
        })
    }

    pub(crate) fn with_identity(identity: Identity) -> Self {
        let server = |id: &str, node: &str, address: &str, leader: bool| RaftServer {
            id: id.into(),
            node: node.into(),
            address: address.into(),
            leader,
            voter: true,
            raft_protocol: "3".into(),
        };
        let index = 12;
        let state = State {
            leader: Some("127.0.0.1:4647".into()),
            leadership: Leadership::Here,
            meta: QueryMeta { index, last_contact_ms: 0, known_leader: true },
            index,
            raft: RaftConfiguration {
                servers: vec![
                    server("id-1", "keel-1.global", "127.0.0.1:4647", true),
                    server("id-2", "(unknown)", "127.0.0.2:4647", false),
                ],
                index,
            },
            autopilot: AutopilotConfiguration {
                create_index: 4,
                modify_index: 4,
                ..AutopilotConfiguration::nomad_defaults()
            },
            health: healthy_report(),
            scheduler: SchedulerConfiguration {
                create_index: 5,
                modify_index: 5,
                ..SchedulerConfiguration::nomad_defaults()
            },
            license: None,
            snapshot: b"hello".to_vec(),
            members: MembersResponse {
                server_name: "keel-1".into(),
                server_region: "global".into(),
                server_dc: "dc1".into(),
                members: vec![Member::new(
                    "keel-1.global".into(),
                    "127.0.0.1".into(),
                    4648,
                    BTreeMap::from([("region".into(), "global".into()), ("role".into(), "nomad".into())]),
                    "alive".into(),
                )],
            },
            agent_self: serde_json::json!({"config": {"Region": "global", "ACL": {"ReplicationToken": "<redacted>"}}, "member": {}, "stats": {}}),
            servers: vec!["127.0.0.2:4647".into(), "127.0.0.1:4647".into()],
            acl_policies: BTreeMap::new(),
            acl_tokens: Vec::new(),
            acl_bootstrapped: None,
            plugins: BTreeMap::new(),
            nodes: BTreeMap::new(),
            jobs: BTreeMap::new(),
            evals: BTreeMap::new(),
            allocs: BTreeMap::new(),
            last_auth: None,
            last_request: None,
            last_consistency: None,
            removed: Vec::new(),
            license_writes: Vec::new(),
            restored: None,
            joined: Vec::new(),
            force_left: Vec::new(),
            forwarded: Vec::new(),
            relay_failures: std::collections::VecDeque::new(),
        };
        Self { identity, state: Mutex::new(state) }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("no test panics while holding the state")
    }

    pub(crate) fn last_auth(&self) -> Option<(Option<String>, Capability)> {
        self.state().last_auth.clone()
    }

    fn read<T>(&self, consistency: Consistency, value: impl FnOnce(&State) -> T) -> Result<Read<T>, ApiError> {
        let mut state = self.state();
        state.last_consistency = Some(consistency);
        if consistency == Consistency::Leader && state.leader.is_none() {
            return Err(ApiError::no_leader());
        }
        Ok(Read { value: value(&state), meta: state.meta })
    }

    fn write(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        let state = self.state();
        if state.leader.is_none() {
            return Err(ApiError::no_leader());
        }
        Ok(state)
    }
}

fn healthy_report() -> OperatorHealthReply {
    OperatorHealthReply {
        healthy: true,
        failure_tolerance: 0,
        servers: vec![ServerHealth {
            id: "id-1".into(),
            name: "keel-1".into(),
            address: "127.0.0.1:4647".into(),
            serf_status: "alive".into(),
            version: "0.1.0".into(),
            leader: true,
            last_contact: Duration::ZERO,
            last_term: 2,
            last_index: 46,
            healthy: true,
            voter: true,
            stable_since: "2024-03-06T22:07:51Z".into(),
            reason: None,
        }],
        voters: vec!["id-1".into()],
        leader: "id-1".into(),
        optimistic_failure_tolerance: None,
        redundancy_zones: None,
        upgrade: None,
        read_replicas: None,
    }
}

pub(crate) fn sample_license(id: &str) -> LicenseReply {
    LicenseReply {
        license: License {
            license_id: id.into(),
            customer_id: "customer".into(),
            installation_id: "*".into(),
            issue_time: "2024-06-01T08:50:16Z".into(),
            start_time: "2024-06-01T08:50:16Z".into(),
            expiration_time: "2034-06-01T08:50:16Z".into(),
            termination_time: "2034-06-01T08:50:16Z".into(),
            non_production: false,
            product: "keel".into(),
            flags: BTreeMap::new(),
            modules: vec![],
            features: vec!["Redundancy Zones".into()],
        },
        config_outdated: false,
        warning: None,
        known_leader: false,
        last_contact: 0,
        last_index: 0,
    }
}

/// A configuration stored with its Raft indexes.
trait Indexed {
    fn create_index(&self) -> u64;
    fn modify_index(&self) -> u64;
    fn set_indexes(&mut self, create_index: u64, modify_index: u64);
}

macro_rules! indexed {
    ($type:ty) => {
        impl Indexed for $type {
            fn create_index(&self) -> u64 {
                self.create_index
            }
            fn modify_index(&self) -> u64 {
                self.modify_index
            }
            fn set_indexes(&mut self, create_index: u64, modify_index: u64) {
                (self.create_index, self.modify_index) = (create_index, modify_index);
            }
        }
    };
}

indexed!(AutopilotConfiguration);
indexed!(SchedulerConfiguration);

/// Check-and-set as the state store does it: with `cas`, the write wins
/// only when `cas` equals the stored `ModifyIndex`.
fn check_and_set<T: Indexed>(last_index: &mut u64, stored: &mut T, mut new: T, cas: Option<u64>) -> Written {
    if cas.is_some_and(|cas| cas != stored.modify_index()) {
        return Written { updated: false, index: *last_index };
    }
    *last_index += 1;
    new.set_indexes(stored.create_index(), *last_index);
    *stored = new;
    Written { updated: true, index: *last_index }
}

impl Authorize for TestBackend {
    async fn authorize(
        &self,
        token: Option<&str>,
        need: Capability,
        request: &RequestContext<'_>,
    ) -> Result<(), ApiError> {
        let mut state = self.state();
        state.last_auth = Some((token.map(str::to_owned), need));
        state.last_request = Some([request.method, request.path, request.namespace].map(str::to_owned));
        drop(state);
        match token {
            _ if need == Capability::None => Ok(()),
            Some("no-rights") => Err(ApiError::permission_denied()),
            Some("unknown") => Err(ApiError::token_not_found()),
            _ => Ok(()),
        }
    }
}

impl AgentApi for TestBackend {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn leadership(&self) -> Leadership {
        self.state().leadership
    }

    /// The leader's answer is recognizable: 200, `X-Nomad-Index: 99` and a
    /// body naming the leader.
    async fn forward(
        &self,
        request: Request<Vec<u8>>,
        _timeout: std::time::Duration,
    ) -> Result<axum::http::Response<Vec<u8>>, RelayError> {
        let mut state = self.state();
        state.forwarded.push(request);
        if let Some(failure) = state.relay_failures.pop_front() {
            return Err(failure);
        }
        Ok(axum::http::Response::builder()
            .status(StatusCode::OK)
            .header("x-nomad-index", "99")
            .header("content-type", "application/json")
            .body(br#"{"From":"the leader"}"#.to_vec())
            .expect("a valid response"))
    }

    fn leader(&self) -> Option<String> {
        self.state().leader.clone()
    }

    fn peers(&self) -> Result<Vec<String>, ApiError> {
        let state = self.state();
        Ok(state.raft.servers.iter().filter(|s| s.voter).map(|s| s.address.clone()).collect())
    }

    fn known_servers(&self) -> usize {
        self.state().servers.len()
    }

    fn members(&self) -> Result<MembersResponse, ApiError> {
        Ok(self.state().members.clone())
    }

    fn agent_self(&self) -> Result<serde_json::Value, ApiError> {
        Ok(self.state().agent_self.clone())
    }

    fn servers(&self) -> Result<Vec<String>, ApiError> {
        if !self.identity.client {
            return Err(ApiError::not_implemented("Invalid method"));
        }
        Ok(self.state().servers.clone())
    }

    fn metrics(&self, prometheus: bool) -> Result<crate::Metrics, ApiError> {
        match prometheus {
            true => Err(ApiError::new(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "Prometheus is not enabled")),
            false => Ok(crate::Metrics::Json(serde_json::json!({"Gauges": [], "Counters": [], "Samples": []}))),
        }
    }

    fn set_servers(&self, addresses: Vec<String>) -> Result<(), ApiError> {
        if !self.identity.client {
            return Err(ApiError::not_implemented("Invalid method"));
        }
        self.state().servers = addresses;
        Ok(())
    }

    async fn join(&self, addresses: Vec<String>) -> Result<JoinResponse, ApiError> {
        if !self.identity.server {
            return Err(ApiError::not_implemented("Invalid method"));
        }
        let (reachable, unreachable): (Vec<String>, Vec<String>) =
            addresses.into_iter().partition(|address| !address.starts_with("10."));
        let error = unreachable.iter().map(|a| format!("{a}: connection refused")).collect::<Vec<_>>().join("; ");
        let mut state = self.state();
        state.joined.extend(reachable.iter().cloned());
        Ok(JoinResponse { num_joined: reachable.len(), error })
    }

    async fn force_leave(&self, node: String, prune: bool) -> Result<(), ApiError> {
        self.state().force_left.push((node, prune));
        Ok(())
    }
}

impl OperatorRaftApi for TestBackend {
    async fn raft_configuration(&self, consistency: Consistency) -> Result<Read<RaftConfiguration>, ApiError> {
        self.read(consistency, |state| state.raft.clone())
    }

    async fn remove_raft_peer(&self, peer: PeerSelector) -> Result<(), ApiError> {
        let mut state = self.write()?;
        let position = state.raft.servers.iter().position(|server| match &peer {
            PeerSelector::Id(id) => &server.id == id,
            PeerSelector::Address(address) => &server.address == address,
        });
        let Some(position) = position else {
            return Err(match &peer {
                PeerSelector::Id(id) => {
                    ApiError::internal(format!("id {id:?} was not found in the Raft configuration"))
                }
                PeerSelector::Address(a) => {
                    ApiError::internal(format!("address {a:?} was not found in the Raft configuration"))
                }
            });
        };
        state.raft.servers.remove(position);
        state.removed.push(peer);
        Ok(())
    }
}

impl AutopilotApi for TestBackend {
    async fn autopilot_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<AutopilotConfiguration>, ApiError> {
        self.read(consistency, |state| state.autopilot.clone())
    }

    async fn set_autopilot_configuration(
        &self,
        config: AutopilotConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        let mut state = self.write()?;
        let State { index, autopilot, .. } = &mut *state;
        Ok(check_and_set(index, autopilot, config, cas))
    }

    async fn autopilot_health(&self) -> Result<OperatorHealthReply, ApiError> {
        let state = self.write()?;
        Ok(state.health.clone())
    }
}

impl SchedulerApi for TestBackend {
    async fn scheduler_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<SchedulerConfiguration>, ApiError> {
        self.read(consistency, |state| state.scheduler.clone())
    }

    async fn set_scheduler_configuration(
        &self,
        config: SchedulerConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        let mut state = self.write()?;
        let State { index, scheduler, .. } = &mut *state;
        Ok(check_and_set(index, scheduler, config, cas))
    }
}

impl LicenseApi for TestBackend {
    async fn license(&self, consistency: Consistency) -> Result<Read<Option<LicenseReply>>, ApiError> {
        self.read(consistency, |state| state.license.clone())
    }

    async fn set_license(&self, blob: String, force: bool) -> Result<u64, ApiError> {
        let mut state = self.write()?;
        if blob == "forged" {
            return Err(ApiError::bad_request("license signature is invalid"));
        }
        state.index += 1;
        state.license = Some(sample_license(&blob));
        state.license_writes.push((blob, force));
        Ok(state.index)
    }
}

impl SnapshotApi for TestBackend {
    async fn save_snapshot(&self, consistency: Consistency) -> Result<Read<Vec<u8>>, ApiError> {
        self.read(consistency, |state| state.snapshot.clone())
    }

    async fn restore_snapshot(&self, archive: Vec<u8>) -> Result<u64, ApiError> {
        let mut state = self.write()?;
        if !archive.starts_with(b"\x1f\x8b") {
            return Err(ApiError::bad_request("snapshot archive is not gzip"));
        }
        state.index += 1;
        state.restored = Some(archive);
        Ok(state.index)
    }
}

impl AclApi for TestBackend {
    async fn acl_bootstrap(&self, request: BootstrapRequest) -> Result<(AclToken, u64), ApiError> {
        if let Some(done) = self.state().acl_bootstrapped {
            return Err(ApiError::bad_request(format!("ACL bootstrap already done (reset index: {done})")));
        }
        let mut state = self.acl_write()?;
        let index = state.index;
        let secret = match request.bootstrap_secret.is_empty() {
            true => format!("secret-{index}"),
            false => request.bootstrap_secret,
        };
        let token = AclToken {
            accessor_id: format!("accessor-{index}"),
            secret_id: secret,
            name: "Bootstrap Token".into(),
            token_type: MANAGEMENT.into(),
            global: true,
            create_index: index,
            modify_index: index,
            ..AclToken::default()
        };
        state.acl_tokens.push(token.clone());
        state.acl_bootstrapped = Some(index);
        Ok((token, index))
    }

    async fn acl_policies(
        &self,
        _token: Option<&str>,
        consistency: Consistency,
    ) -> Result<Read<Vec<AclPolicyListStub>>, ApiError> {
        self.read(consistency, |state| state.acl_policies.values().map(AclPolicyListStub::from).collect())
    }

    async fn acl_policy(
        &self,
        _token: Option<&str>,
        name: &str,
        consistency: Consistency,
    ) -> Result<Read<AclPolicy>, ApiError> {
        let read = self.read(consistency, |state| state.acl_policies.get(name).cloned())?;
        let policy = read.value.ok_or_else(|| ApiError::not_found("ACL policy not found"))?;
        Ok(Read { value: policy, meta: read.meta })
    }

    async fn upsert_acl_policy(&self, policy: AclPolicy) -> Result<u64, ApiError> {
        if policy.rules == "invalid" {
            return Err(ApiError::bad_request("policy 0 invalid: rules do not parse"));
        }
        let mut state = self.acl_write()?;
        let index = state.index;
        let create_index = state.acl_policies.get(&policy.name).map_or(index, |old| old.create_index);
        state.acl_policies.insert(policy.name.clone(), AclPolicy { create_index, modify_index: index, ..policy });
        Ok(index)
    }

    async fn delete_acl_policy(&self, name: String) -> Result<u64, ApiError> {
        let mut state = self.acl_write()?;
        state.acl_policies.remove(&name);
        Ok(state.index)
    }

    async fn acl_tokens(&self, consistency: Consistency) -> Result<Read<Vec<AclTokenListStub>>, ApiError> {
        self.read(consistency, |state| state.acl_tokens.iter().map(AclTokenListStub::from).collect())
    }

    async fn acl_token(
        &self,
        _token: Option<&str>,
        accessor: &str,
        consistency: Consistency,
    ) -> Result<Read<AclToken>, ApiError> {
        let read =
            self.read(consistency, |state| state.acl_tokens.iter().find(|t| t.accessor_id == accessor).cloned())?;
        Ok(Read { value: read.value.ok_or_else(not_found_token)?, meta: read.meta })
    }

    async fn acl_token_self(&self, token: Option<&str>, consistency: Consistency) -> Result<Read<AclToken>, ApiError> {
        let secret = token.ok_or_else(not_found_token)?;
        let read = self.read(consistency, |state| state.acl_tokens.iter().find(|t| t.secret_id == secret).cloned())?;
        Ok(Read { value: read.value.ok_or_else(not_found_token)?, meta: read.meta })
    }

    async fn upsert_acl_token(&self, mut token: AclToken) -> Result<(AclToken, u64), ApiError> {
        let existing = self.state().acl_tokens.iter().position(|t| t.accessor_id == token.accessor_id);
        if !token.accessor_id.is_empty() && existing.is_none() {
            return Err(ApiError::bad_request(format!("cannot find token {}", token.accessor_id)));
        }
        let mut state = self.acl_write()?;
        let index = state.index;
        match existing {
            Some(position) => {
                let old = &mut state.acl_tokens[position];
                token.secret_id.clone_from(&old.secret_id);
                (token.create_index, token.modify_index) = (old.create_index, index);
                *old = token.clone();
            }
            None => {
                (token.accessor_id, token.secret_id) = (format!("accessor-{index}"), format!("secret-{index}"));
                (token.create_index, token.modify_index) = (index, index);
                state.acl_tokens.push(token.clone());
            }
        }
        Ok((token, index))
    }

    async fn delete_acl_token(&self, accessor: String) -> Result<u64, ApiError> {
        if !self.state().acl_tokens.iter().any(|t| t.accessor_id == accessor) {
            return Err(ApiError::bad_request(format!("Cannot delete nonexistent tokens: {accessor}")));
        }
        let mut state = self.acl_write()?;
        state.acl_tokens.retain(|t| t.accessor_id != accessor);
        Ok(state.index)
    }
}

/// The plugin kinds the test backend knows.
const PLUGIN_KINDS: [&str; 4] = ["acl", "autopilot", "scheduler", "license"];

fn plugin_kind(kind: &str) -> Result<String, ApiError> {
    match PLUGIN_KINDS.contains(&kind) {
        true => Ok(kind.to_owned()),
        false => Err(ApiError::bad_request(format!("unknown plugin kind {kind:?}"))),
    }
}

/// A registry of installs in memory: the component's bytes are its "digest".
impl TestBackend {
    fn update_node(&self, id: &str, change: impl FnOnce(&mut Node)) -> Result<NodeUpdateResponse, ApiError> {
        let mut state = self.write()?;
        state.index += 1;
        let index = state.index;
        let node = state.nodes.get_mut(id).ok_or_else(|| ApiError::not_found("node not found"))?;
        change(node);
        node.modify_index = index;
        Ok(NodeUpdateResponse { node_modify_index: index, index, ..NodeUpdateResponse::default() })
    }
}

impl crate::Watch for TestBackend {
    /// The test state has no change notifications: a blocking read answers
    /// at once.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

impl NodeApi for TestBackend {
    async fn nodes(&self, prefix: String, consistency: Consistency) -> Result<Read<Vec<NodeListStub>>, ApiError> {
        self.read(consistency, |state| {
            state.nodes.values().filter(|node| node.id.starts_with(&prefix)).map(Node::stub).collect()
        })
    }

    async fn node(&self, id: String, consistency: Consistency) -> Result<Read<Node>, ApiError> {
        let read = self.read(consistency, |state| state.nodes.get(&id).map(Node::public))?;
        let value = read.value.ok_or_else(|| ApiError::not_found("node not found"))?;
        Ok(Read { value, meta: read.meta })
    }

    async fn set_node_eligibility(&self, id: String, eligibility: String) -> Result<NodeUpdateResponse, ApiError> {
        self.update_node(&id, |node| node.scheduling_eligibility = eligibility)
    }

    async fn set_node_drain(
        &self,
        id: String,
        drain: bool,
        mark_eligible: bool,
    ) -> Result<NodeUpdateResponse, ApiError> {
        self.update_node(&id, |node| {
            node.drain = drain;
            if drain || mark_eligible {
                node.scheduling_eligibility = if drain { "ineligible" } else { "eligible" }.to_owned();
            }
        })
    }
}

/// A found item, or a 404 naming `what`.
fn found<T>(read: Read<Option<T>>, what: &str) -> Result<Read<T>, ApiError> {
    let value = read.value.ok_or_else(|| ApiError::not_found(format!("{what} not found")))?;
    Ok(Read { value, meta: read.meta })
}

/// Jobs are stored as submitted, each with one pending evaluation; nothing
/// is placed.
impl JobApi for TestBackend {
    async fn submit_job(&self, job: Job) -> Result<JobRegisterResponse, ApiError> {
        let mut state = self.write()?;
        state.index += 1;
        let index = state.index;
        let eval = Evaluation { id: format!("eval-{index}"), job_id: job.id.clone(), ..Evaluation::default() };
        let eval_id = eval.id.clone();
        state.evals.insert(eval_id.clone(), eval);
        state.jobs.insert(job.key(), Job { modify_index: index, ..job });
        Ok(JobRegisterResponse {
            eval_id,
            eval_create_index: index,
            job_modify_index: index,
            index,
            ..Default::default()
        })
    }

    async fn stop_job(&self, namespace: String, id: String, purge: bool) -> Result<JobRegisterResponse, ApiError> {
        let mut state = self.write()?;
        let key = job_key(&namespace, &id);
        let job = state.jobs.get_mut(&key).ok_or_else(|| ApiError::not_found("job not found"))?;
        job.stop = true;
        if purge {
            state.jobs.remove(&key);
        }
        state.index += 1;
        Ok(JobRegisterResponse { index: state.index, ..Default::default() })
    }

    async fn jobs(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<JobListStub>>, ApiError> {
        self.read(c, |state| {
            let jobs = state.jobs.values().filter(|job| job.listed(&namespace, &prefix));
            jobs.map(|job| job.stub("pending", JobSummary::of(job, [], &BTreeMap::new()))).collect()
        })
    }

    async fn job(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Job>, ApiError> {
        found(self.read(c, |state| state.jobs.get(&job_key(&namespace, &id)).cloned())?, "job")
    }

    async fn job_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read(c, |state| {
            state.allocs.values().filter(|a| a.namespace == namespace && a.job_id == id).cloned().collect()
        })
    }

    async fn job_evaluations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Evaluation>>, ApiError> {
        self.read(c, |state| {
            state.evals.values().filter(|eval| eval.namespace == namespace && eval.job_id == id).cloned().collect()
        })
    }

    /// A plan that places every group's count.
    async fn plan_job(&self, job: Job) -> Result<JobPlanResponse, ApiError> {
        let updates = job.task_groups.iter().map(|group| {
            let place = u64::from(group.count.unwrap_or(1));
            (group.name.clone(), keel_api::job::DesiredUpdates { place, ..Default::default() })
        });
        let annotations =
            keel_api::job::PlanAnnotations { desired_tg_updates: updates.collect(), ..Default::default() };
        Ok(JobPlanResponse { annotations, ..JobPlanResponse::default() })
    }

    async fn job_summary(&self, namespace: String, id: String, c: Consistency) -> Result<Read<JobSummary>, ApiError> {
        let read = self.read(c, |state| {
            let job = state.jobs.get(&job_key(&namespace, &id))?;
            let allocs = state.allocs.values().filter(|a| a.namespace == namespace && a.job_id == id);
            Some(JobSummary::of(job, allocs, &BTreeMap::new()))
        })?;
        found(read, "job")
    }

    async fn evaluations(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<Evaluation>>, ApiError> {
        self.read(c, |state| {
            let matching =
                state.evals.values().filter(|e| in_namespace(&namespace, &e.namespace) && e.id.starts_with(&prefix));
            matching.cloned().collect()
        })
    }

    async fn evaluation(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Evaluation>, ApiError> {
        found(
            self.read(c, |state| state.evals.get(&id).filter(|e| in_namespace(&namespace, &e.namespace)).cloned())?,
            "eval",
        )
    }

    async fn node_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read(c, |state| {
            let placed = state.allocs.values().filter(|a| a.node_id == id && in_namespace(&namespace, &a.namespace));
            placed.cloned().collect()
        })
    }

    async fn evaluation_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read(c, |state| {
            let placed = state.allocs.values().filter(|a| a.eval_id == id && in_namespace(&namespace, &a.namespace));
            placed.cloned().collect()
        })
    }

    async fn allocations(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read(c, |state| {
            let matching =
                state.allocs.values().filter(|a| in_namespace(&namespace, &a.namespace) && a.id.starts_with(&prefix));
            matching.cloned().collect()
        })
    }

    async fn allocation(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Allocation>, ApiError> {
        found(
            self.read(c, |state| state.allocs.get(&id).filter(|a| in_namespace(&namespace, &a.namespace)).cloned())?,
            "alloc",
        )
    }

    /// A log that says what was asked, of an allocation the state has.
    async fn alloc_logs(
        &self,
        alloc_id: String,
        namespace: String,
        task: String,
        kind: LogKind,
    ) -> Result<Vec<u8>, ApiError> {
        let known = self.read(Consistency::Stale, |state| state.allocs.get(&alloc_id).map(|a| a.namespace.clone()))?;
        match known.value {
            Some(of) if of == namespace => Ok(format!("{task} {}\n", kind.name()).into_bytes()),
            _ => Err(ApiError::not_found(format!("unknown allocation {alloc_id:?}"))),
        }
    }
}

impl PluginApi for TestBackend {
    async fn plugins(&self, consistency: Consistency) -> Result<Read<Vec<PluginEntry>>, ApiError> {
        self.read(consistency, |state| state.plugins.values().cloned().collect())
    }

    async fn plugin(
        &self,
        kind: String,
        consistency: Consistency,
        _token: Option<String>,
    ) -> Result<Read<PluginStatus>, ApiError> {
        let kind = plugin_kind(&kind)?;
        self.read(consistency, |state| PluginStatus {
            entry: state.plugins.get(&kind).cloned().unwrap_or_else(|| PluginEntry { kind, ..PluginEntry::default() }),
            servers: Vec::new(),
        })
    }

    async fn install_plugin(
        &self,
        kind: String,
        request: PluginInstallRequest,
    ) -> Result<PluginInstallResponse, ApiError> {
        let kind = plugin_kind(&kind)?;
        if request.component.is_empty() {
            return Err(ApiError::bad_request("Component is not a plugin"));
        }
        let mut state = self.write()?;
        state.index += 1;
        let index = state.index;
        let entry = state.plugins.entry(kind.clone()).or_default();
        if let Some(previous) = entry.installed.take() {
            let PluginVersion { digest, name, version, install_index, .. } = previous;
            entry.history.insert(0, PluginHistoryEntry { digest, name, version, install_index });
        }
        let digest = request.component.clone();
        let version =
            PluginVersion { digest: digest.clone(), name: "test".into(), install_index: index, ..Default::default() };
        *entry = PluginEntry {
            kind: kind.clone(),
            source: "installed".into(),
            mode: "active".into(),
            installed: Some(version),
            active_index: index,
            ..entry.clone()
        };
        Ok(PluginInstallResponse {
            kind,
            digest,
            name: "test".into(),
            version: String::new(),
            mode: "active".into(),
            index,
        })
    }

    async fn promote_plugin(&self, kind: String) -> Result<u64, ApiError> {
        plugin_kind(&kind)?;
        Err(ApiError::bad_request("there is no shadow plugin to promote"))
    }

    async fn rollback_plugin(&self, kind: String, digest: Option<String>) -> Result<u64, ApiError> {
        let kind = plugin_kind(&kind)?;
        let mut state = self.write()?;
        state.index += 1;
        let index = state.index;
        let entry = state.plugins.get_mut(&kind).ok_or_else(|| ApiError::bad_request("nothing installed"))?;
        if digest.is_some_and(|digest| !entry.history.iter().any(|kept| kept.digest == digest)) {
            return Err(ApiError::bad_request("no kept plugin has that digest"));
        }
        entry.installed = None;
        entry.active_index = index;
        Ok(index)
    }

    async fn remove_plugin(&self, kind: String) -> Result<u64, ApiError> {
        self.rollback_plugin(kind, None).await
    }

    fn agent_plugins(&self) -> Vec<AgentPlugin> {
        PLUGIN_KINDS
            .iter()
            .map(|kind| AgentPlugin { kind: (*kind).to_owned(), source: "embedded".into(), ..AgentPlugin::default() })
            .collect()
    }
}

impl TestBackend {
    /// Takes the next index for an ACL write, as the last step of its checks.
    fn acl_write(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        let mut state = self.write()?;
        state.index += 1;
        Ok(state)
    }
}

fn not_found_token() -> ApiError {
    ApiError::not_found("ACL token not found")
}

/// The router over a test backend, and what it answered.
pub(crate) struct Harness {
    pub backend: Arc<TestBackend>,
    limits: Limits,
}

/// A reply, collected.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().expect("test replies have ASCII headers"))
    }

    pub(crate) fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        assert_eq!(self.content_type(), "application/json", "a JSON reply; body: {:?}", self.body);
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Asserts an error reply in Nomad's format: the status, text/plain, the
/// bare message.
#[track_caller]
pub(crate) fn assert_error(reply: Reply, status: StatusCode, message: &str) {
    assert_eq!((reply.status, reply.text()), (status, message));
    assert_eq!(reply.content_type(), "text/plain; charset=utf-8");
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with(TestBackend::new(), Limits::default())
    }

    pub(crate) fn with(backend: TestBackend, limits: Limits) -> Self {
        Self { backend: Arc::new(backend), limits }
    }

    /// Asserts that every one of `methods` on `uri` is refused with
    /// `status` and "Invalid method" (a reply to HEAD carries no body).
    pub(crate) async fn assert_invalid_methods(&self, uri: &str, methods: &[&str], status: StatusCode) {
        for method in methods {
            let reply = self.send(method, uri).await;
            assert_eq!((reply.status, reply.content_type()), (status, "text/plain; charset=utf-8"), "{method} {uri}");
            let message = if *method == "HEAD" { "" } else { "Invalid method" };
            assert_eq!(reply.text(), message, "{method} {uri}");
        }
    }

    pub(crate) async fn send(&self, method: &str, uri: &str) -> Reply {
        self.request(method, uri, &[], Body::empty()).await
    }

    pub(crate) async fn send_body(&self, method: &str, uri: &str, body: impl Into<Body>) -> Reply {
        self.request(method, uri, &[], body).await
    }

    pub(crate) async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let router = crate::router_with_limits(Arc::clone(&self.backend), self.limits);
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.into()).expect("a valid test request");
        let response = router.oneshot(request).await.expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("a readable body").to_bytes();
        Reply { status, headers, body }
    }
}

/// A request body that declares `declared_bytes` (none: chunked) and then
/// never sends anything: a client that went quiet.
pub(crate) struct Stalled {
    pub declared_bytes: Option<u64>,
}

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.declared_bytes {
            Some(bytes) => http_body::SizeHint::with_exact(bytes),
            None => http_body::SizeHint::default(),
        }
    }
}
