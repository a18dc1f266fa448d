//! The replicated data and the pure function that applies a command to it.

use keel_api::acl::{AclPolicy, AclToken};
use keel_api::node::Node;
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use serde::{Deserialize, Serialize};

use crate::acl::AclState;
use crate::command::{Command, Outcome};
use crate::jobs::Scheduling;
use crate::nodes::{self, Nodes};
use crate::plugins::PluginRegistry;
use crate::restore::StagedRestore;

/// Everything an operator can change, as of some Raft index.
///
/// `apply` is deterministic: every server applies the same commands in the
/// same order and ends with the same state. It never does I/O; the storage
/// layer persists the [`Record`]s it reports as changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub autopilot: Option<AutopilotConfiguration>,
    pub scheduler: Option<SchedulerConfiguration>,
    pub license: Option<StoredLicense>,
    /// Absent from states written before ACLs existed, hence the default.
    #[serde(default)]
    pub acl: AclState,
    /// Plugins installed through Raft; absent from older states.
    #[serde(default)]
    pub plugins: PluginRegistry,
    /// Client nodes by id; absent from older states.
    #[serde(default)]
    pub nodes: Nodes,
    /// Jobs, evaluations and allocations; absent from older states.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// A restore arriving in pieces, until its commit entry. It is part of
    /// Raft snapshots, so that a server catching up mid-restore has every
    /// piece, but never of a snapshot archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring: Option<StagedRestore>,
}

/// The raw license blob, kept as the operator sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLicense {
    pub blob: String,
    pub modify_index: u64,
}

/// One independently stored piece of the state. The storage layer keeps
/// one sled value per record, so a write rewrites only what it changed:
/// each ACL policy and each token is its own record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record {
    Autopilot,
    Scheduler,
    License,
    AclBootstrap,
    /// The policy with this name.
    AclPolicy(String),
    /// The token with this accessor.
    AclToken(String),
    /// Piece `seq` of the restore in progress.
    RestorePiece(u32),
    /// The registry of the plugin kind with this name.
    Plugin(String),
    /// The client node with this id.
    Node(String),
    /// The job with this `namespace/id`.
    Job(String),
    /// The evaluation with this id.
    Eval(String),
    /// The allocation with this id.
    Alloc(String),
}

const ACL_POLICY_PREFIX: &str = "acl-policy/";
const ACL_TOKEN_PREFIX: &str = "acl-token/";
const RESTORE_PIECE_PREFIX: &str = "restore-piece/";
const PLUGIN_PREFIX: &str = "plugin/";
const NODE_PREFIX: &str = "node/";
const JOB_PREFIX: &str = "job/";
const EVAL_PREFIX: &str = "eval/";
const ALLOC_PREFIX: &str = "alloc/";

/// A record that one of many names tells apart from the others.
type Named = fn(String) -> Record;

/// The prefixes of named records' keys.
const NAMED: [(&str, Named); 7] = [
    (ACL_POLICY_PREFIX, Record::AclPolicy),
    (ACL_TOKEN_PREFIX, Record::AclToken),
    (PLUGIN_PREFIX, Record::Plugin),
    (NODE_PREFIX, Record::Node),
    (JOB_PREFIX, Record::Job),
    (EVAL_PREFIX, Record::Eval),
    (ALLOC_PREFIX, Record::Alloc),
];

impl Record {
    /// The records that exist once, whatever the state holds.
    pub const SINGLETONS: [Record; 4] = [Record::Autopilot, Record::Scheduler, Record::License, Record::AclBootstrap];

    /// The record's key in storage.
    pub fn key(&self) -> String {
        match self {
            Record::Autopilot => "autopilot".to_owned(),
            Record::Scheduler => "scheduler".to_owned(),
            Record::License => "license".to_owned(),
            Record::AclBootstrap => "acl-bootstrap".to_owned(),
            Record::AclPolicy(name) => format!("{ACL_POLICY_PREFIX}{name}"),
            Record::AclToken(accessor) => format!("{ACL_TOKEN_PREFIX}{accessor}"),
            // Zero-padded, so that stored pieces are read back in order.
            Record::RestorePiece(seq) => format!("{RESTORE_PIECE_PREFIX}{seq:010}"),
            Record::Plugin(kind) => format!("{PLUGIN_PREFIX}{kind}"),
            Record::Node(id) => format!("{NODE_PREFIX}{id}"),
            Record::Job(key) => format!("{JOB_PREFIX}{key}"),
            Record::Eval(id) => format!("{EVAL_PREFIX}{id}"),
            Record::Alloc(id) => format!("{ALLOC_PREFIX}{id}"),
        }
    }

    pub fn from_key(key: &[u8]) -> Option<Record> {
        let key = std::str::from_utf8(key).ok()?;
        let named = NAMED.iter().find_map(|(prefix, record)| Some((key.strip_prefix(prefix)?, record)));
        if let Some((name, record)) = named {
            return Some(record(name.to_owned()));
        }
        if let Some(seq) = key.strip_prefix(RESTORE_PIECE_PREFIX) {
            return seq.parse().ok().map(Record::RestorePiece);
        }
        Record::SINGLETONS.into_iter().find(|record| record.key() == key)
    }
}

/// Which records a command changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Some(Vec<Record>),
    /// A restore: every record is replaced, and records not in the new
    /// state are removed.
    All,
}

/// A stored record that could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("decode state record {key:?}: {source}")]
pub struct DecodeError {
    key: String,
    source: serde_json::Error,
}

impl State {
    /// Applies `command`, written at Raft `index`, and says what changed.
    pub fn apply(&mut self, index: u64, command: Command) -> (Outcome, Changed) {
        match command {
            Command::InitDefaults { autopilot, scheduler } => self.init_defaults(index, autopilot, scheduler),
            Command::SetAutopilotConfig { config, cas } => self.set_autopilot_config(index, config, cas),
            Command::SetSchedulerConfig { config, cas } => self.set_scheduler_config(index, config, cas),
            Command::SetLicense { blob } => self.set_license(index, blob),
            Command::AclBootstrap { token, reset_index } => self.acl_bootstrap(index, token, reset_index),
            Command::UpsertAclPolicies { policies } => self.upsert_acl_policies(index, policies),
            Command::DeleteAclPolicies { names } => self.delete_acl_policies(names),
            Command::UpsertAclTokens { tokens } => self.upsert_acl_tokens(index, tokens),
            Command::DeleteAclTokens { accessors } => self.delete_acl_tokens(accessors),
            Command::Restore { state } => self.restore(*state),
            Command::StageRestore { id, seq, text } => self.stage_restore(id, seq, text),
            Command::CommitRestore { id, pieces, bytes } => self.commit_restore(&id, pieces, bytes),
            Command::InstallPlugin { kind, plugin, mode } => self.plugins.install(index, kind, *plugin, mode),
            Command::PromotePlugin { kind } => self.plugins.promote(index, kind),
            Command::RollbackPlugin { kind, digest } => self.plugins.rollback(index, kind, digest.as_deref()),
            Command::ProbationRollback { kind, digest, reason } => {
                self.plugins.probation_rollback(index, kind, &digest, reason)
            }
            Command::RemovePlugin { kind } => self.plugins.remove(index, kind),
            Command::RegisterNode { node } => nodes::register(&mut self.nodes, index, *node),
            Command::SetNodeStatus { id, status, description, at } => {
                nodes::set_status(&mut self.nodes, index, &id, status, description, at)
            }
            Command::SetNodeEligibility { id, eligibility } => {
                nodes::set_eligibility(&mut self.nodes, index, &id, eligibility)
            }
            Command::SetNodeDrain { id, drain, mark_eligible } => {
                nodes::set_drain(&mut self.nodes, index, &id, drain, mark_eligible)
            }
            Command::RegisterJob { job, eval } => self.scheduling.register_job(index, *job, *eval),
            Command::DeregisterJob { key, purge, eval } => self.scheduling.deregister_job(index, &key, purge, *eval),
            Command::UpsertEvals { evals } => self.scheduling.upsert_evals(index, evals),
            Command::ApplyPlan { placed, stopped, evals } => self.scheduling.apply_plan(index, placed, stopped, evals),
            Command::UpdateAllocsFromClient { node_id, updates, evals } => {
                self.scheduling.update_from_client(index, &node_id, updates, evals)
            }
        }
    }

    fn init_defaults(
        &mut self,
        index: u64,
        autopilot: AutopilotConfiguration,
        scheduler: SchedulerConfiguration,
    ) -> (Outcome, Changed) {
        let mut changed = Vec::new();
        if fill_if_unset(&mut self.autopilot, autopilot, index) {
            changed.push(Record::Autopilot);
        }
        if fill_if_unset(&mut self.scheduler, scheduler, index) {
            changed.push(Record::Scheduler);
        }
        // The old leader's restore, if one was in progress, can get no more
        // pieces: its client was told it failed.
        changed.extend(self.abandon_restore());
        applied(changed)
    }

    fn set_autopilot_config(
        &mut self,
        index: u64,
        config: AutopilotConfiguration,
        cas: Option<u64>,
    ) -> (Outcome, Changed) {
        write_config(&mut self.autopilot, config, cas, index, Record::Autopilot)
    }

    fn set_scheduler_config(
        &mut self,
        index: u64,
        config: SchedulerConfiguration,
        cas: Option<u64>,
    ) -> (Outcome, Changed) {
        write_config(&mut self.scheduler, config, cas, index, Record::Scheduler)
    }

    fn set_license(&mut self, index: u64, blob: String) -> (Outcome, Changed) {
        self.license = Some(StoredLicense { blob, modify_index: index });
        applied(vec![Record::License])
    }

    /// The first bootstrap always wins; a later one only with the reset
    /// index of the last, so each reset file allows exactly one more.
    fn acl_bootstrap(&mut self, index: u64, token: AclToken, reset_index: Option<u64>) -> (Outcome, Changed) {
        let allowed = match self.acl.bootstrap_index {
            None => true,
            Some(done) => reset_index == Some(done),
        };
        if !allowed {
            return (Outcome::Cas(false), Changed::Some(Vec::new()));
        }
        let accessor = token.accessor_id.clone();
        self.acl.put_token(AclToken { create_index: index, modify_index: index, ..token });
        self.acl.bootstrap_index = Some(index);
        (Outcome::Cas(true), Changed::Some(vec![Record::AclToken(accessor), Record::AclBootstrap]))
    }

    fn upsert_acl_policies(&mut self, index: u64, policies: Vec<AclPolicy>) -> (Outcome, Changed) {
        let changed = policies
            .into_iter()
            .map(|policy| {
                let create_index = self.acl.policies.get(&policy.name).map_or(index, |old| old.create_index);
                let name = policy.name.clone();
                self.acl.policies.insert(name.clone(), AclPolicy { create_index, modify_index: index, ..policy });
                Record::AclPolicy(name)
            })
            .collect();
        applied(changed)
    }

    fn delete_acl_policies(&mut self, names: Vec<String>) -> (Outcome, Changed) {
        let changed =
            names.into_iter().filter(|name| self.acl.policies.remove(name).is_some()).map(Record::AclPolicy).collect();
        applied(changed)
    }

    fn upsert_acl_tokens(&mut self, index: u64, tokens: Vec<AclToken>) -> (Outcome, Changed) {
        let changed = tokens
            .into_iter()
            .map(|token| {
                let create_index = self.acl.tokens.get(&token.accessor_id).map_or(index, |old| old.create_index);
                let accessor = token.accessor_id.clone();
                self.acl.put_token(AclToken { create_index, modify_index: index, ..token });
                Record::AclToken(accessor)
            })
            .collect();
        applied(changed)
    }

    fn delete_acl_tokens(&mut self, accessors: Vec<String>) -> (Outcome, Changed) {
        let changed =
            accessors.into_iter().filter(|accessor| self.acl.remove_token(accessor)).map(Record::AclToken).collect();
        applied(changed)
    }

    /// Every record the state holds, for writing the whole state.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let policies = self.acl.policies.keys().cloned().map(Record::AclPolicy);
        let tokens = self.acl.tokens.keys().cloned().map(Record::AclToken);
        let pieces = (0..self.restoring.as_ref().map_or(0, StagedRestore::piece_count)).map(Record::RestorePiece);
        let plugins = self.plugins.kinds.keys().cloned().map(Record::Plugin);
        let nodes = self.nodes.keys().cloned().map(Record::Node);
        let scheduling = &self.scheduling;
        let jobs = scheduling.jobs.keys().cloned().map(Record::Job);
        let evals = scheduling.evals.keys().cloned().map(Record::Eval);
        let allocs = scheduling.allocs.keys().cloned().map(Record::Alloc);
        let singletons = Record::SINGLETONS.into_iter().chain(policies).chain(tokens).chain(pieces).chain(plugins);
        singletons.chain(nodes).chain(jobs).chain(evals).chain(allocs)
    }

    /// A record's stored form, or `None` when the state does not have it.
    pub fn encode(&self, record: &Record) -> Option<Vec<u8>> {
        let encoded = match record {
            Record::Autopilot => self.autopilot.as_ref().map(serde_json::to_vec),
            Record::Scheduler => self.scheduler.as_ref().map(serde_json::to_vec),
            Record::License => self.license.as_ref().map(serde_json::to_vec),
            Record::AclBootstrap => self.acl.bootstrap_index.as_ref().map(serde_json::to_vec),
            Record::AclPolicy(name) => self.acl.policies.get(name).map(serde_json::to_vec),
            Record::AclToken(accessor) => self.acl.tokens.get(accessor).map(serde_json::to_vec),
            Record::RestorePiece(seq) => {
                self.restoring.as_ref().and_then(|staged| staged.piece(*seq)).map(|piece| serde_json::to_vec(&piece))
            }
            Record::Plugin(kind) => self.plugins.get(kind).map(serde_json::to_vec),
            Record::Node(id) => self.nodes.get(id).map(serde_json::to_vec),
            Record::Job(key) => self.scheduling.jobs.get(key).map(serde_json::to_vec),
            Record::Eval(id) => self.scheduling.evals.get(id).map(serde_json::to_vec),
            Record::Alloc(id) => self.scheduling.allocs.get(id).map(serde_json::to_vec),
        };
        encoded.map(|bytes| bytes.expect("state records are plain data and always serialize"))
    }

    /// Sets one record from its stored form.
    pub fn decode(&mut self, record: Record, bytes: &[u8]) -> Result<(), DecodeError> {
        let fail = |source| DecodeError { key: record.key(), source };
        match &record {
            Record::Autopilot => self.autopilot = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::Scheduler => self.scheduler = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::License => self.license = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::AclBootstrap => self.acl.bootstrap_index = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::AclPolicy(_) => {
                let policy: AclPolicy = serde_json::from_slice(bytes).map_err(fail)?;
                self.acl.policies.insert(policy.name.clone(), policy);
            }
            Record::AclToken(_) => self.acl.put_token(serde_json::from_slice(bytes).map_err(fail)?),
            Record::RestorePiece(_) => self.load_restore_piece(serde_json::from_slice(bytes).map_err(fail)?),
            Record::Plugin(kind) => self.plugins.put(kind.clone(), serde_json::from_slice(bytes).map_err(fail)?),
            Record::Node(id) => {
                let node: Node = serde_json::from_slice(bytes).map_err(fail)?;
                self.nodes.insert(id.clone(), node);
            }
            Record::Job(key) => {
                self.scheduling.jobs.insert(key.clone(), serde_json::from_slice(bytes).map_err(fail)?);
            }
            Record::Eval(id) => {
                self.scheduling.evals.insert(id.clone(), serde_json::from_slice(bytes).map_err(fail)?);
            }
            Record::Alloc(id) => {
                self.scheduling.allocs.insert(id.clone(), serde_json::from_slice(bytes).map_err(fail)?);
            }
        }
        Ok(())
    }
}

/// A configuration stored under Raft indexes: the autopilot and the
/// scheduler configuration, which are written by the same rules.
trait Indexed {
    /// The stored `(CreateIndex, ModifyIndex)`.
    fn indexes(&self) -> (u64, u64);

    /// The configuration as stored at these indexes; whatever indexes the
    /// writer sent are replaced, since only Raft decides them.
    fn at(self, create_index: u64, modify_index: u64) -> Self;
}

impl Indexed for AutopilotConfiguration {
    fn indexes(&self) -> (u64, u64) {
        (self.create_index, self.modify_index)
    }

    fn at(self, create_index: u64, modify_index: u64) -> Self {
        AutopilotConfiguration { create_index, modify_index, ..self }
    }
}

impl Indexed for SchedulerConfiguration {
    fn indexes(&self) -> (u64, u64) {
        (self.create_index, self.modify_index)
    }

    fn at(self, create_index: u64, modify_index: u64) -> Self {
        SchedulerConfiguration { create_index, modify_index, ..self }
    }
}

/// Stores `config` in an empty `slot`, created at `index`; says whether it
/// did. A configuration that is already there is left alone.
fn fill_if_unset<C: Indexed>(slot: &mut Option<C>, config: C, index: u64) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(config.at(index, index));
    true
}

/// Writes `config` into `slot` at `index` under Nomad's check-and-set rule,
/// reporting `record` as changed when the write happens. A lost check
/// changes nothing.
fn write_config<C: Indexed>(
    slot: &mut Option<C>,
    config: C,
    cas: Option<u64>,
    index: u64,
    record: Record,
) -> (Outcome, Changed) {
    let current = slot.as_ref().map(Indexed::indexes);
    match check_and_set(current, cas, index) {
        Some(create_index) => {
            *slot = Some(config.at(create_index, index));
            (cas_outcome(cas, true), Changed::Some(vec![record]))
        }
        None => (cas_outcome(cas, false), Changed::Some(Vec::new())),
    }
}

/// Nomad's check-and-set rule: without `cas` the write always happens;
/// with it, only when the stored `ModifyIndex` equals `cas` (0 meaning
/// "does not exist yet"). Returns the `CreateIndex` to keep, or `None` when
/// the check fails.
fn check_and_set(current: Option<(u64, u64)>, cas: Option<u64>, index: u64) -> Option<u64> {
    match (current, cas) {
        (Some((create_index, _)), None) => Some(create_index),
        (None, None | Some(0)) => Some(index),
        (Some((create_index, modify_index)), Some(cas)) if modify_index == cas => Some(create_index),
        _ => None,
    }
}

/// Only a write that asked for a check answers with its result; Nomad
/// answers a plain write as applied.
fn cas_outcome(cas: Option<u64>, won: bool) -> Outcome {
    match cas {
        Some(_) => Outcome::Cas(won),
        None => Outcome::Applied,
    }
}

/// The answer of a command that always takes effect.
fn applied(changed: Vec<Record>) -> (Outcome, Changed) {
    (Outcome::Applied, Changed::Some(changed))
}

#[cfg(test)]
mod tests {
    use keel_api::acl::{CLIENT, MANAGEMENT};

    use super::*;

    fn token(accessor: &str, secret: &str, token_type: &str) -> AclToken {
        AclToken {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            token_type: token_type.into(),
            ..AclToken::default()
        }
    }

    fn policy(name: &str) -> AclPolicy {
        AclPolicy { name: name.into(), rules: r#"operator { policy = "read" }"#.into(), ..AclPolicy::default() }
    }

    fn bootstrap(state: &mut State, index: u64, reset_index: Option<u64>) -> Outcome {
        let token = token(&format!("boot-{index}"), &format!("secret-{index}"), MANAGEMENT);
        state.apply(index, Command::AclBootstrap { token, reset_index }).0
    }

    #[test]
    fn bootstrap_happens_once_unless_reset_with_the_last_index() {
        let mut state = State::default();
        assert_eq!(bootstrap(&mut state, 5, None), Outcome::Cas(true));
        assert_eq!(state.acl.bootstrap_index, Some(5));
        assert_eq!(bootstrap(&mut state, 6, None), Outcome::Cas(false));
        assert_eq!(bootstrap(&mut state, 7, Some(4)), Outcome::Cas(false));
        assert_eq!(state.acl.tokens.len(), 1);
        assert_eq!(bootstrap(&mut state, 8, Some(5)), Outcome::Cas(true));
        assert_eq!(state.acl.bootstrap_index, Some(8));
        assert!(state.acl.token_by_secret("secret-8").is_some_and(AclToken::is_management));
        assert_eq!(bootstrap(&mut state, 9, Some(5)), Outcome::Cas(false), "a reset index works once");
    }

    #[test]
    fn acl_upserts_keep_create_index_and_deletes_forget() {
        let mut state = State::default();
        state.apply(3, Command::UpsertAclPolicies { policies: vec![policy("ops")] });
        let (_, changed) = state.apply(4, Command::UpsertAclPolicies { policies: vec![policy("ops"), policy("dev")] });
        assert_eq!(changed, Changed::Some(vec![Record::AclPolicy("ops".into()), Record::AclPolicy("dev".into())]));
        let ops = &state.acl.policies["ops"];
        assert_eq!((ops.create_index, ops.modify_index), (3, 4));

        state.apply(5, Command::UpsertAclTokens { tokens: vec![token("t1", "s1", CLIENT)] });
        state.apply(6, Command::UpsertAclTokens { tokens: vec![token("t1", "s1", CLIENT)] });
        assert_eq!((state.acl.tokens["t1"].create_index, state.acl.tokens["t1"].modify_index), (5, 6));

        let (_, changed) = state.apply(7, Command::DeleteAclTokens { accessors: vec!["t1".into(), "nope".into()] });
        assert_eq!(changed, Changed::Some(vec![Record::AclToken("t1".into())]));
        assert!(state.acl.token_by_secret("s1").is_none());
        let (_, changed) = state.apply(8, Command::DeleteAclPolicies { names: vec!["dev".into(), "nope".into()] });
        assert_eq!(changed, Changed::Some(vec![Record::AclPolicy("dev".into())]));
        assert_eq!(state.acl.policies.keys().collect::<Vec<_>>(), ["ops"]);
    }

    #[test]
    fn record_keys_name_what_they_store() {
        let records = [
            Record::License,
            Record::AclBootstrap,
            Record::AclPolicy("a/b".into()),
            Record::AclToken("t".into()),
            Record::RestorePiece(7),
            Record::Plugin("acl".into()),
            Record::Node("n".into()),
            Record::Job("default/web/child".into()),
            Record::Eval("e".into()),
            Record::Alloc("a".into()),
        ];
        for record in records {
            assert_eq!(Record::from_key(record.key().as_bytes()), Some(record));
        }
        assert_eq!(Record::from_key(b"acl-widget"), None);
    }

    fn scheduler(algorithm: &str) -> SchedulerConfiguration {
        SchedulerConfiguration { scheduler_algorithm: algorithm.into(), ..SchedulerConfiguration::default() }
    }

    fn initialised() -> State {
        let mut state = State::default();
        state.apply(
            3,
            Command::InitDefaults {
                autopilot: AutopilotConfiguration::nomad_defaults(),
                scheduler: SchedulerConfiguration::nomad_defaults(),
            },
        );
        state
    }

    #[test]
    fn init_defaults_fills_only_what_is_missing() {
        let mut state = initialised();
        assert_eq!(state.scheduler.as_ref().map(|c| (c.create_index, c.modify_index)), Some((3, 3)));
        state.apply(4, Command::SetSchedulerConfig { config: scheduler("spread"), cas: None });
        let (_, changed) = state.apply(
            5,
            Command::InitDefaults {
                autopilot: AutopilotConfiguration::nomad_defaults(),
                scheduler: SchedulerConfiguration::nomad_defaults(),
            },
        );
        assert_eq!(changed, Changed::Some(vec![]));
        assert_eq!(state.scheduler.as_ref().map(|c| c.scheduler_algorithm.as_str()), Some("spread"));
    }

    #[test]
    fn cas_wins_only_on_the_current_modify_index() {
        let mut state = initialised();
        let (outcome, _) = state.apply(7, Command::SetSchedulerConfig { config: scheduler("spread"), cas: Some(2) });
        assert_eq!(outcome, Outcome::Cas(false));
        assert_eq!(state.scheduler.as_ref().map(|c| c.scheduler_algorithm.as_str()), Some("binpack"));

        let (outcome, _) = state.apply(8, Command::SetSchedulerConfig { config: scheduler("spread"), cas: Some(3) });
        assert_eq!(outcome, Outcome::Cas(true));
        let stored = state.scheduler.as_ref().expect("set");
        assert_eq!((stored.create_index, stored.modify_index, stored.scheduler_algorithm.as_str()), (3, 8, "spread"));
    }

    #[test]
    fn plain_writes_keep_create_index_and_answer_applied() {
        let mut state = initialised();
        let config =
            AutopilotConfiguration { max_trailing_logs: 9, create_index: 99, modify_index: 99, ..Default::default() };
        let (outcome, changed) = state.apply(10, Command::SetAutopilotConfig { config, cas: None });
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(changed, Changed::Some(vec![Record::Autopilot]));
        let stored = state.autopilot.as_ref().expect("set");
        assert_eq!((stored.create_index, stored.modify_index, stored.max_trailing_logs), (3, 10, 9));
    }

    fn autopilot(max_trailing_logs: u64) -> AutopilotConfiguration {
        // The indexes a writer sends are nonsense on purpose: apply must replace them.
        AutopilotConfiguration { max_trailing_logs, create_index: 77, modify_index: 77, ..Default::default() }
    }

    fn stored_indexes<C: Indexed>(config: &Option<C>) -> Option<(u64, u64)> {
        config.as_ref().map(Indexed::indexes)
    }

    #[test]
    fn cas_zero_creates_a_configuration_that_is_not_set() {
        let mut state = State::default();
        let answer = state.apply(4, Command::SetAutopilotConfig { config: autopilot(7), cas: Some(0) });
        assert_eq!(answer, (Outcome::Cas(true), Changed::Some(vec![Record::Autopilot])));
        assert_eq!(stored_indexes(&state.autopilot), Some((4, 4)));
        assert_eq!(state.autopilot.as_ref().map(|c| c.max_trailing_logs), Some(7));

        let answer = state.apply(5, Command::SetSchedulerConfig { config: scheduler("spread"), cas: Some(0) });
        assert_eq!(answer, (Outcome::Cas(true), Changed::Some(vec![Record::Scheduler])));
        assert_eq!(stored_indexes(&state.scheduler), Some((5, 5)));
    }

    #[test]
    fn a_lost_cas_changes_nothing() {
        let lost = [
            // Zero means "does not exist yet", so it loses once the configuration exists.
            (initialised(), Some(0)),
            // Any other index loses while there is nothing to compare it with.
            (State::default(), Some(3)),
            (initialised(), Some(4)),
        ];
        for (before, cas) in lost {
            let mut state = before.clone();
            let answer = state.apply(9, Command::SetAutopilotConfig { config: autopilot(1), cas });
            assert_eq!(answer, (Outcome::Cas(false), Changed::Some(vec![])), "autopilot, cas {cas:?}");
            let answer = state.apply(10, Command::SetSchedulerConfig { config: scheduler("spread"), cas });
            assert_eq!(answer, (Outcome::Cas(false), Changed::Some(vec![])), "scheduler, cas {cas:?}");
            assert_eq!(state, before, "cas {cas:?}");
        }
    }

    #[test]
    fn autopilot_cas_wins_on_the_current_modify_index() {
        let mut state = initialised();
        let answer = state.apply(6, Command::SetAutopilotConfig { config: autopilot(8), cas: Some(3) });
        assert_eq!(answer, (Outcome::Cas(true), Changed::Some(vec![Record::Autopilot])));
        assert_eq!(stored_indexes(&state.autopilot), Some((3, 6)));
        let (outcome, _) = state.apply(7, Command::SetAutopilotConfig { config: autopilot(9), cas: Some(3) });
        assert_eq!(outcome, Outcome::Cas(false), "the first winner moved the modify index on");
        assert_eq!(state.autopilot.as_ref().map(|c| c.max_trailing_logs), Some(8));
    }

    #[test]
    fn a_plain_write_creates_a_configuration_that_is_not_set() {
        let mut state = State::default();
        let answer = state.apply(2, Command::SetAutopilotConfig { config: autopilot(5), cas: None });
        assert_eq!(answer, (Outcome::Applied, Changed::Some(vec![Record::Autopilot])));
        assert_eq!(stored_indexes(&state.autopilot), Some((2, 2)));
        let answer = state.apply(3, Command::SetSchedulerConfig { config: scheduler("spread"), cas: None });
        assert_eq!(answer, (Outcome::Applied, Changed::Some(vec![Record::Scheduler])));
        assert_eq!(stored_indexes(&state.scheduler), Some((3, 3)));
    }

    #[test]
    fn init_defaults_creates_both_configurations_at_its_index() {
        let mut state = State::default();
        let defaults = Command::InitDefaults {
            autopilot: autopilot(250),
            scheduler: SchedulerConfiguration { create_index: 77, ..scheduler("binpack") },
        };
        let answer = state.apply(3, defaults);
        assert_eq!(answer, (Outcome::Applied, Changed::Some(vec![Record::Autopilot, Record::Scheduler])));
        assert_eq!(stored_indexes(&state.autopilot), Some((3, 3)));
        assert_eq!(stored_indexes(&state.scheduler), Some((3, 3)));
    }

    #[test]
    fn a_license_replaces_the_last_at_its_index() {
        let mut state = State::default();
        state.apply(4, Command::SetLicense { blob: "old".into() });
        let answer = state.apply(6, Command::SetLicense { blob: "new".into() });
        assert_eq!(answer, (Outcome::Applied, Changed::Some(vec![Record::License])));
        assert_eq!(state.license, Some(StoredLicense { blob: "new".into(), modify_index: 6 }));
    }

    #[test]
    fn bootstrap_stores_its_token_at_its_index_and_a_refusal_changes_nothing() {
        let mut state = State::default();
        let boot = AclToken { create_index: 77, modify_index: 77, ..token("boot", "s-boot", MANAGEMENT) };
        let answer = state.apply(5, Command::AclBootstrap { token: boot, reset_index: None });
        let changed = Changed::Some(vec![Record::AclToken("boot".into()), Record::AclBootstrap]);
        assert_eq!(answer, (Outcome::Cas(true), changed));
        let stored = &state.acl.tokens["boot"];
        assert_eq!((stored.create_index, stored.modify_index), (5, 5));

        let before = state.clone();
        let again = token("again", "s-again", MANAGEMENT);
        let answer = state.apply(6, Command::AclBootstrap { token: again, reset_index: None });
        assert_eq!(answer, (Outcome::Cas(false), Changed::Some(vec![])));
        assert_eq!(state, before);
    }

    #[test]
    fn token_upserts_report_each_token_and_ignore_sent_indexes() {
        let mut state = State::default();
        let sent = AclToken { create_index: 77, modify_index: 77, ..token("t1", "s1", CLIENT) };
        let answer = state.apply(4, Command::UpsertAclTokens { tokens: vec![sent, token("t2", "s2", CLIENT)] });
        let changed = Changed::Some(vec![Record::AclToken("t1".into()), Record::AclToken("t2".into())]);
        assert_eq!(answer, (Outcome::Applied, changed));
        assert_eq!((state.acl.tokens["t1"].create_index, state.acl.tokens["t1"].modify_index), (4, 4));
        assert!(state.acl.token_by_secret("s2").is_some());
    }

    #[test]
    fn records_round_trip_through_their_stored_form() {
        let mut state = initialised();
        state.apply(4, Command::SetLicense { blob: "keel-license-v1.a.b".into() });
        state.apply(5, Command::AclBootstrap { token: token("boot", "s-boot", MANAGEMENT), reset_index: None });
        state.apply(6, Command::UpsertAclPolicies { policies: vec![policy("ops")] });
        state.apply(7, Command::UpsertAclTokens { tokens: vec![token("t1", "s1", CLIENT)] });
        let mut loaded = State::default();
        for record in state.records() {
            let Some(bytes) = state.encode(&record) else { continue };
            loaded.decode(Record::from_key(record.key().as_bytes()).expect("known key"), &bytes).expect("decodes");
        }
        assert_eq!(loaded, state);
    }

    #[test]
    fn restore_replaces_everything() {
        let mut state = initialised();
        state.apply(4, Command::SetLicense { blob: "x".into() });
        let (_, changed) = state.apply(5, Command::Restore { state: Box::new(State::default()) });
        assert_eq!(changed, Changed::All);
        assert_eq!(state, State::default());
    }
}
