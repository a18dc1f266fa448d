//! `/v1/jobs`, `/v1/job/:id`, `/v1/evaluation(s)` and `/v1/allocation(s)`
//! shapes, as Nomad's `api` package writes them.
//!
//! A job is kept as Nomad sends it: the fields Keel acts on are typed, and
//! every other field (update strategies, services, meta...) is kept as the
//! JSON it came as and returned unchanged. Go's `api` package writes nil
//! slices and pointers as `null`; [`Job::from_request`] reads a `null` as
//! the field left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::{RestartPolicy, TaskState};

/// Nomad's `KillTimeout` when a task sets none: 5 s.
pub const DEFAULT_KILL_TIMEOUT_NS: u64 = 5_000_000_000;

/// The job types Nomad knows.
pub const JOB_TYPES: [&str; 4] = ["service", "batch", "system", "sysbatch"];

/// A job: what to run, how many of each group, and where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Job {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub region: String,
    #[serde(rename = "Type")]
    pub job_type: String,
    pub priority: u32,
    pub datacenters: Vec<String>,
    pub node_pool: String,
    pub constraints: Vec<Constraint>,
    pub task_groups: Vec<TaskGroup>,
    pub stop: bool,
    pub status: String,
    pub status_description: String,
    pub version: u64,
    /// Unix nanoseconds of the registration.
    pub submit_time: i64,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    /// Every field Keel does not act on, as it came.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Constraint {
    #[serde(rename = "LTarget")]
    pub l_target: String,
    #[serde(rename = "RTarget")]
    pub r_target: String,
    pub operand: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    pub name: String,
    /// `None` until canonicalized: Nomad's default is 1, and 0 is a count.
    pub count: Option<u32>,
    pub constraints: Vec<Constraint>,
    pub tasks: Vec<Task>,
    pub restart_policy: RestartPolicy,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    pub name: String,
    pub driver: String,
    pub config: BTreeMap<String, Value>,
    pub env: BTreeMap<String, String>,
    pub constraints: Vec<Constraint>,
    pub resources: Resources,
    /// How long a task has to exit after its kill signal before it is
    /// killed, in nanoseconds (Nomad's default: 5 s).
    pub kill_timeout: Option<u64>,
    /// The signal that asks the task to exit (`SIGINT` when empty).
    pub kill_signal: String,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A task's ask. `None` until canonicalized (CPU 100 MHz, 300 MB).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: Option<u64>,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<u64>,
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<u64>,
}

impl Resources {
    pub fn cpu(&self) -> u64 {
        self.cpu.unwrap_or(100)
    }

    pub fn memory_mb(&self) -> u64 {
        self.memory_mb.unwrap_or(300)
    }

    pub fn disk_mb(&self) -> u64 {
        self.disk_mb.unwrap_or(0)
    }
}

/// `PUT|POST /v1/jobs` and `POST /v1/job/:id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterRequest {
    pub job: Option<Job>,
}

/// The answer to a job registration or deregistration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub warnings: String,
    pub index: u64,
    pub last_contact: u64,
    pub known_leader: bool,
}

/// The answer to `POST /v1/job/:id/plan`: what registering the job would
/// do, nothing written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobPlanResponse {
    pub annotations: PlanAnnotations,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// The registered job's `JobModifyIndex` (0 for a new job), for a
    /// check-and-set registration.
    pub job_modify_index: u64,
    pub created_evals: Vec<Evaluation>,
    pub diff: Option<Value>,
    pub warnings: String,
    pub index: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanAnnotations {
    #[serde(rename = "DesiredTGUpdates")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
    pub preempted_allocs: Vec<Allocation>,
}

/// What a plan does to one task group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredUpdates {
    pub ignore: u64,
    pub place: u64,
    pub migrate: u64,
    pub stop: u64,
    pub in_place_update: u64,
    pub destructive_update: u64,
    pub canary: u64,
    pub preemptions: u64,
}

/// One entry of `GET /v1/jobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub name: String,
    pub namespace: String,
    pub datacenters: Vec<String>,
    #[serde(rename = "Type")]
    pub job_type: String,
    pub priority: u32,
    pub periodic: bool,
    pub parameterized_job: bool,
    pub stop: bool,
    pub status: String,
    pub status_description: String,
    pub job_summary: JobSummary,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
}

/// How a job's allocations stand, per task group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    pub summary: BTreeMap<String, GroupSummary>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupSummary {
    pub queued: u32,
    pub complete: u32,
    pub failed: u32,
    pub running: u32,
    pub starting: u32,
    pub lost: u32,
}

impl JobSummary {
    /// The summary of `job` given its allocations and its blocked
    /// evaluations' queued allocations.
    pub fn of<'a>(job: &Job, allocs: impl IntoIterator<Item = &'a Allocation>, queued: &BTreeMap<String, u32>) -> Self {
        let mut summary: BTreeMap<String, GroupSummary> =
            job.task_groups.iter().map(|group| (group.name.clone(), GroupSummary::default())).collect();
        for alloc in allocs {
            let group = summary.entry(alloc.task_group.clone()).or_default();
            match alloc.client_status.as_str() {
                client_status::PENDING if alloc.desired_status == desired_status::RUN => group.starting += 1,
                client_status::RUNNING => group.running += 1,
                client_status::COMPLETE => group.complete += 1,
                client_status::FAILED => group.failed += 1,
                client_status::LOST => group.lost += 1,
                _ => {}
            }
        }
        for (name, count) in queued {
            summary.entry(name.clone()).or_default().queued += count;
        }
        JobSummary {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            summary,
            create_index: job.create_index,
            modify_index: job.modify_index,
        }
    }
}

impl Job {
    /// The job's entry in `GET /v1/jobs`, with its status and summary.
    pub fn stub(&self, status: &str, summary: JobSummary) -> JobListStub {
        JobListStub {
            id: self.id.clone(),
            parent_id: String::new(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            datacenters: self.datacenters.clone(),
            job_type: self.job_type.clone(),
            priority: self.priority,
            periodic: self.other.get("Periodic").is_some_and(|periodic| !periodic.is_null()),
            parameterized_job: self.other.get("ParameterizedJob").is_some_and(|p| !p.is_null()),
            stop: self.stop,
            status: status.to_owned(),
            status_description: self.status_description.clone(),
            job_summary: summary,
            create_index: self.create_index,
            modify_index: self.modify_index,
            job_modify_index: self.job_modify_index,
            submit_time: self.submit_time,
        }
    }
}

/// Drops every `null` inside `value`, so that a field Go's `api` package
/// wrote as `null` reads as left out.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

impl Job {
    /// Nomad's `Canonicalize`: the defaults a submitted job gets.
    pub fn canonicalize(&mut self) {
        if self.name.is_empty() {
            self.name = self.id.clone();
        }
        let defaults =
            [(&mut self.namespace, "default"), (&mut self.region, "global"), (&mut self.job_type, "service")];
        for (field, default) in defaults {
            if field.is_empty() {
                *field = default.to_owned();
            }
        }
        if self.node_pool.is_empty() {
            self.node_pool = "default".to_owned();
        }
        if self.priority == 0 {
            self.priority = 50;
        }
        if self.datacenters.is_empty() {
            self.datacenters = vec!["*".to_owned()];
        }
        let restart = RestartPolicy::nomad_default(&self.job_type);
        for group in &mut self.task_groups {
            group.count.get_or_insert(1);
            group.restart_policy.fill(&restart);
            for task in &mut group.tasks {
                task.resources.cpu.get_or_insert(100);
                task.resources.memory_mb.get_or_insert(300);
                task.kill_timeout.get_or_insert(DEFAULT_KILL_TIMEOUT_NS);
            }
        }
    }

    /// Nomad's checks of a submitted job, after [`Job::canonicalize`].
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("Job ID hasn't been provided".to_owned());
        }
        if self.id.contains(' ') || self.id.contains('\0') {
            return Err(format!("Job ID contains a space or null character: {:?}", self.id));
        }
        if !JOB_TYPES.contains(&self.job_type.as_str()) {
            return Err(format!("Invalid job type: {:?}", self.job_type));
        }
        if !(1..=100).contains(&self.priority) {
            return Err(format!("Job priority must be between [1, 100], not {}", self.priority));
        }
        if self.task_groups.is_empty() {
            return Err("Missing job task groups".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for group in &self.task_groups {
            if group.name.is_empty() {
                return Err("Task group has no name".to_owned());
            }
            if !names.insert(group.name.as_str()) {
                return Err(format!("Job task group {:?} defined more than once", group.name));
            }
            if group.tasks.is_empty() {
                return Err(format!("Task group {:?} has no tasks", group.name));
            }
            if let Some(task) = group.tasks.iter().find(|task| task.name.is_empty() || task.driver.is_empty()) {
                return Err(format!("Task group {:?}: a task needs a name and a driver: {:?}", group.name, task.name));
            }
            if let Some(task) = group.tasks.iter().find(|task| !is_path_component(&task.name)) {
                return Err(format!(
                    "Task group {:?}: task name {:?} must be a plain name (no \"/\", not \".\", \"..\" or \"alloc\")",
                    group.name, task.name
                ));
            }
            let mut tasks = std::collections::BTreeSet::new();
            if let Some(task) = group.tasks.iter().find(|task| !tasks.insert(task.name.as_str())) {
                return Err(format!("Task group {:?}: task {:?} defined more than once", group.name, task.name));
            }
            group.restart_policy.validate().map_err(|error| format!("Task group {:?}: {error}", group.name))?;
        }
        Ok(())
    }

    /// Whether `GET /v1/jobs?namespace=&prefix=` lists the job: of that
    /// namespace (`*` for every one) and with an id that starts so.
    pub fn listed(&self, namespace: &str, prefix: &str) -> bool {
        in_namespace(namespace, &self.namespace) && self.id.starts_with(prefix)
    }

    /// The key that identifies the job in its namespace.
    pub fn key(&self) -> String {
        job_key(&self.namespace, &self.id)
    }
}

/// Whether a task's name can name its directory beside the allocation's
/// shared `alloc/` directory.
fn is_path_component(name: &str) -> bool {
    !matches!(name, "." | ".." | "alloc") && !name.contains(['/', '\0'])
}

/// Whether something of namespace `of` answers a request of `namespace`
/// (`*`: every namespace), as `?namespace=` reads.
pub fn in_namespace(namespace: &str, of: &str) -> bool {
    namespace == "*" || namespace == of
}

/// `namespace/id`: how jobs are keyed in the state.
pub fn job_key(namespace: &str, id: &str) -> String {
    format!("{namespace}/{id}")
}

/// An evaluation's status.
pub mod eval_status {
    pub const PENDING: &str = "pending";
    pub const BLOCKED: &str = "blocked";
    pub const COMPLETE: &str = "complete";
    pub const FAILED: &str = "failed";
    pub const CANCELED: &str = "canceled";
}

/// Why placements of a task group failed, as Nomad's `AllocMetric` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    pub nodes_evaluated: u32,
    pub nodes_filtered: u32,
    pub nodes_in_pool: u32,
    pub nodes_available: BTreeMap<String, u32>,
    pub class_filtered: BTreeMap<String, u32>,
    pub constraint_filtered: BTreeMap<String, u32>,
    pub nodes_exhausted: u32,
    pub class_exhausted: BTreeMap<String, u32>,
    pub dimension_exhausted: BTreeMap<String, u32>,
    /// How many more allocations failed the same way.
    pub coalesced_failures: u32,
}

/// A request to reconcile one job with what runs, and the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    pub priority: u32,
    #[serde(rename = "Type")]
    pub job_type: String,
    pub triggered_by: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_modify_index: u64,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub status: String,
    pub status_description: String,
    pub previous_eval: String,
    pub blocked_eval: String,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    pub queued_allocations: BTreeMap<String, u32>,
    pub create_index: u64,
    pub modify_index: u64,
    /// Unix nanoseconds.
    pub create_time: i64,
    pub modify_time: i64,
}

/// What the servers want of an allocation.
pub mod desired_status {
    pub const RUN: &str = "run";
    pub const STOP: &str = "stop";
}

/// What the client reports of an allocation.
pub mod client_status {
    pub const PENDING: &str = "pending";
    pub const RUNNING: &str = "running";
    pub const COMPLETE: &str = "complete";
    pub const FAILED: &str = "failed";
    pub const LOST: &str = "lost";
}

/// One instance of a task group, placed on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// `<job>.<group>[<index>]`.
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_type: String,
    pub job_version: u64,
    pub task_group: String,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    /// What the client reports of each task, by task name.
    pub task_states: BTreeMap<String, TaskState>,
    pub allocated_resources: AllocatedResources,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// An allocation as its client is sent it: with its job (`None` once
/// purged), as Nomad's allocations carry theirs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlacedAlloc {
    pub alloc: Allocation,
    pub job: Option<Job>,
}

/// A node's allocations as its client is sent them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlacedAllocs {
    pub allocs: Vec<PlacedAlloc>,
}

/// What a client reports of its allocations in one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocUpdates {
    pub updates: Vec<AllocUpdate>,
}

/// What a client reports of one of its allocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocUpdate {
    #[serde(rename = "ID")]
    pub id: String,
    pub client_status: String,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
}

/// What a placement holds on its node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedResources {
    pub cpu_shares: u64,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: u64,
    #[serde(rename = "DiskMB")]
    pub disk_mb: u64,
}

impl Allocation {
    /// Whether the allocation still holds its node's resources: wanted
    /// running and not finished on the client.
    pub fn is_live(&self) -> bool {
        self.desired_status == desired_status::RUN && !self.is_finished()
    }

    /// Whether the client is done with it: it completed, failed or was lost.
    pub fn is_finished(&self) -> bool {
        matches!(self.client_status.as_str(), client_status::COMPLETE | client_status::FAILED | client_status::LOST)
    }

    /// The index in `<job>.<group>[<index>]`.
    pub fn index(&self) -> Option<u32> {
        self.name.rsplit_once('[')?.1.strip_suffix(']')?.parse().ok()
    }
}

impl TaskGroup {
    /// What one allocation of the group asks: the sum of its tasks.
    pub fn ask(&self) -> AllocatedResources {
        self.tasks.iter().fold(AllocatedResources::default(), |sum, task| AllocatedResources {
            cpu_shares: sum.cpu_shares + task.resources.cpu(),
            memory_mb: sum.memory_mb + task.resources.memory_mb(),
            disk_mb: sum.disk_mb + task.resources.disk_mb(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn submitted(value: Value) -> Job {
        serde_json::from_value(without_nulls(value)).expect("a job")
    }

    #[test]
    fn canonicalize_fills_nomads_defaults_and_keeps_what_it_does_not_know() {
        let mut job = submitted(json!({
            "ID": "web", "Datacenters": null, "Priority": null, "Update": {"MaxParallel": 2},
            "TaskGroups": [{"Name": "g", "Count": null, "Tasks": [{"Name": "t", "Driver": "raw_exec",
                "Resources": {"CPU": null}, "Services": null}]}]
        }));
        job.canonicalize();
        assert_eq!((job.name.as_str(), job.namespace.as_str(), job.region.as_str()), ("web", "default", "global"));
        assert_eq!((job.job_type.as_str(), job.priority, job.datacenters.clone()), ("service", 50, vec!["*".into()]));
        let group = &job.task_groups[0];
        assert_eq!(group.count, Some(1));
        assert_eq!((group.tasks[0].resources.cpu, group.tasks[0].resources.memory_mb), (Some(100), Some(300)));
        assert_eq!(job.other["Update"], json!({"MaxParallel": 2}), "kept as it came");
        assert_eq!(serde_json::to_value(&job).expect("serializes")["Update"]["MaxParallel"], 2);
        assert_eq!(job.validate(), Ok(()));
    }

    #[test]
    fn a_count_of_zero_stays_zero() {
        let mut job = submitted(json!({"ID": "j", "TaskGroups": [{"Name": "g", "Count": 0,
            "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}]}));
        job.canonicalize();
        assert_eq!(job.task_groups[0].count, Some(0));
    }

    #[test]
    fn validation_says_what_is_missing() {
        let check = |value: Value| {
            let mut job = submitted(value);
            job.canonicalize();
            job.validate()
        };
        assert_eq!(check(json!({})), Err("Job ID hasn't been provided".into()));
        assert_eq!(check(json!({"ID": "j"})), Err("Missing job task groups".into()));
        assert_eq!(
            check(json!({"ID": "j", "Type": "cron", "TaskGroups": []})),
            Err("Invalid job type: \"cron\"".into())
        );
        let no_tasks = json!({"ID": "j", "TaskGroups": [{"Name": "g"}]});
        assert_eq!(check(no_tasks), Err("Task group \"g\" has no tasks".into()));
        let twice = json!({"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "d"}]},
            {"Name": "g", "Tasks": [{"Name": "t", "Driver": "d"}]}]});
        assert!(check(twice).expect_err("refused").contains("more than once"));
        for hostile in ["../etc", "alloc", ".."] {
            let named = json!({"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": hostile, "Driver": "d"}]}]});
            assert!(check(named).expect_err("refused").contains("must be a plain name"), "{hostile}");
        }
        let same_task = json!({"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "d"},
            {"Name": "t", "Driver": "d"}]}]});
        assert!(check(same_task).expect_err("refused").contains("task \"t\" defined more than once"));
        let restart = json!({"ID": "j", "TaskGroups": [{"Name": "g", "RestartPolicy": {"Mode": "never"},
            "Tasks": [{"Name": "t", "Driver": "d"}]}]});
        assert_eq!(check(restart), Err("Task group \"g\": Unsupported restart mode: \"never\"".into()));
    }

    #[test]
    fn an_allocation_is_live_until_stopped_or_finished_and_knows_its_index() {
        let alloc = Allocation {
            name: "web.g[12]".into(),
            desired_status: desired_status::RUN.into(),
            client_status: client_status::PENDING.into(),
            ..Allocation::default()
        };
        assert!(alloc.is_live());
        assert_eq!(alloc.index(), Some(12));
        assert!(!Allocation { client_status: client_status::LOST.into(), ..alloc.clone() }.is_live());
        assert!(!Allocation { desired_status: desired_status::STOP.into(), ..alloc }.is_live());
    }
}
