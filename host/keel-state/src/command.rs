//! The Raft commands: every change to the replicated state is one of these.

use keel_api::acl::{AclPolicy, AclToken};
use keel_api::job::{AllocUpdate, Allocation, Evaluation, Job};
use keel_api::node::Node;
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use serde::{Deserialize, Serialize};

use crate::jobs::AllocStop;
use crate::plugins::{InstalledPlugin, PluginMode};
use crate::state::State;

/// A change to the replicated state, written to the Raft log and applied by
/// every server in log order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Written by a new leader: sets each configuration that the state does
    /// not have yet, and leaves the ones it has alone; drops a restore the
    /// old leader left in pieces.
    InitDefaults { autopilot: AutopilotConfiguration, scheduler: SchedulerConfiguration },
    /// Replaces the autopilot configuration; with `cas`, only when its
    /// `ModifyIndex` equals `cas`.
    SetAutopilotConfig { config: AutopilotConfiguration, cas: Option<u64> },
    /// Replaces the scheduler configuration; with `cas`, only when its
    /// `ModifyIndex` equals `cas`.
    SetSchedulerConfig { config: SchedulerConfiguration, cas: Option<u64> },
    /// Stores a license blob the license plugin accepted on the leader.
    SetLicense { blob: String },
    /// Stores the first management token. It wins only while ACLs were never
    /// bootstrapped, or when `reset_index` names the last bootstrap's index
    /// (the operator's reset file); the outcome is a check-and-set.
    AclBootstrap { token: AclToken, reset_index: Option<u64> },
    /// Creates or replaces policies by name; `CreateIndex` is kept.
    UpsertAclPolicies { policies: Vec<AclPolicy> },
    /// Removes policies by name; unknown names are ignored.
    DeleteAclPolicies { names: Vec<String> },
    /// Creates or replaces tokens by accessor; `CreateIndex` is kept.
    UpsertAclTokens { tokens: Vec<AclToken> },
    /// Removes tokens by accessor; unknown accessors are ignored.
    DeleteAclTokens { accessors: Vec<String> },
    /// Replaces all replicated data with a restored snapshot's, in one
    /// entry. Written by earlier versions and still applied from their
    /// logs; a restore now goes in pieces ([`Command::StageRestore`]).
    Restore { state: Box<State> },
    /// One piece of a restored state's JSON, the pieces numbered from 0. A
    /// piece 0 starts restore `id` and drops any other in progress; a later
    /// piece is taken only in order and for the restore in progress (a
    /// check-and-set).
    StageRestore { id: String, seq: u32, text: String },
    /// Replaces all replicated data with the state whose JSON the pieces of
    /// restore `id` hold, once all `pieces` of `bytes` in total are there (a
    /// check-and-set). The Raft membership is the live cluster's and is not
    /// touched.
    CommitRestore { id: String, pieces: u32, bytes: u64 },
    /// Installs a verified plugin for `kind` (`acl`, `autopilot`, ...):
    /// active, replacing the enforcing one, or as its shadow.
    InstallPlugin { kind: String, plugin: Box<InstalledPlugin>, mode: PluginMode },
    /// Makes the shadow of `kind` the active plugin (a check-and-set that
    /// fails without a shadow).
    PromotePlugin { kind: String },
    /// Makes the kept version with `digest`, or the previous one, active
    /// (a check-and-set that fails when there is no such version).
    RollbackPlugin { kind: String, digest: Option<String> },
    /// The leader's automatic rollback of a plugin on probation: while the
    /// plugin with `digest` is still the active one of `kind` (a
    /// check-and-set), the previous version becomes active and `reason` is
    /// kept for the listings.
    ProbationRollback { kind: String, digest: String, reason: String },
    /// Removes the installed and shadow plugin of `kind`, so the server's
    /// own plugin enforces (a check-and-set that fails when none is installed).
    RemovePlugin { kind: String },
    /// Registers a client node, or updates its registration; `CreateIndex`,
    /// the scheduling eligibility and the drain flag stay the servers'. A
    /// check-and-set that fails when the id is registered with another secret.
    RegisterNode { node: Box<Node> },
    /// Sets a node's status (`ready`, `down`, ...), as the leader's heartbeat
    /// tracker decides, at `at` (Unix seconds). A check-and-set that fails
    /// for an unknown id.
    SetNodeStatus { id: String, status: String, description: String, at: i64 },
    /// Sets whether new work may be placed on a node (`eligible` or
    /// `ineligible`). A check-and-set that fails for an unknown id.
    SetNodeEligibility { id: String, eligibility: String },
    /// Registers a job, or a new version of it, with the evaluation that
    /// reconciles it.
    RegisterJob { job: Box<Job>, eval: Box<Evaluation> },
    /// Stops the job `namespace/id` (forgets it, with `purge`) with the
    /// evaluation that stops its allocations. A check-and-set that fails
    /// for an unknown job.
    DeregisterJob { key: String, purge: bool, eval: Box<Evaluation> },
    /// Writes evaluations: new ones, or new outcomes of existing ones.
    UpsertEvals { evals: Vec<Evaluation> },
    /// A plan the leader checked against the state: allocations placed,
    /// allocations stopped, and the evaluations it settles or creates.
    ApplyPlan { placed: Vec<Allocation>, stopped: Vec<AllocStop>, evals: Vec<Evaluation> },
    /// What the client of node `node_id` reports of its allocations (their
    /// client status and task states), with the evaluations that replace
    /// the ones that failed. Updates of allocations on other nodes, or
    /// already `lost`, change nothing.
    UpdateAllocsFromClient { node_id: String, updates: Vec<AllocUpdate>, evals: Vec<Evaluation> },
    /// Starts draining a node (it becomes ineligible and its allocations
    /// are placed elsewhere), or ends the drain; the node then stays
    /// ineligible unless `mark_eligible`. A check-and-set that fails for an
    /// unknown id.
    SetNodeDrain { id: String, drain: bool, mark_eligible: bool },
}

impl Command {
    /// The length of the command's JSON, which is what the log stores and
    /// the wire carries, counted without holding the bytes.
    pub fn json_len(&self) -> usize {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len();
                Ok(bytes.len())
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut count = Count(0);
        serde_json::to_writer(&mut count, self).map_or(usize::MAX, |()| count.0)
    }
}

/// What applying a command answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The command changed the state (or was a no-op by design).
    Applied,
    /// A check-and-set write: whether it won.
    Cas(bool),
}

impl Outcome {
    /// Whether the write took effect.
    pub fn updated(self) -> bool {
        match self {
            Outcome::Applied => true,
            Outcome::Cas(won) => won,
        }
    }
}
