use keel_api::job::{
    Allocation, Evaluation, Job, JobListStub, JobPlanResponse, JobRegisterResponse, JobSummary, eval_status,
    in_namespace, job_key,
};
use keel_api::task::LogKind;
use keel_client::LogError;
use keel_http::{ApiError, Consistency, JobApi, Read};
use keel_state::{Command, State};

use crate::Service;
use crate::scheduling::new_eval;

/// The queued allocations of a job's blocked evaluations, per group.
fn queued(state: &State, job: &Job) -> std::collections::BTreeMap<String, u32> {
    let blocked =
        state.scheduling.evals.values().filter(|eval| {
            eval.status == eval_status::BLOCKED && eval.namespace == job.namespace && eval.job_id == job.id
        });
    let mut queued = std::collections::BTreeMap::new();
    for (group, count) in blocked.flat_map(|eval| eval.queued_allocations.iter()) {
        *queued.entry(group.clone()).or_default() += count;
    }
    queued
}

/// A job as the API shows it: with its status.
fn shown(state: &State, job: &Job) -> Job {
    Job { status: state.scheduling.job_status(job).to_owned(), ..job.clone() }
}

/// The highest `ModifyIndex` of what a list holds, for `X-Nomad-Index`.
fn list_index<T>(items: &[T], index: impl Fn(&T) -> u64) -> u64 {
    items.iter().map(index).max().unwrap_or(0)
}

/// How long a server waits for a client agent's logs.
const NODE_LOGS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The most of a log a server relays from a client agent.
const NODE_LOGS_MAX_BYTES: u64 = 64 * 1024 * 1024;

impl Service {
    /// Asks the client agent of the allocation's node for its logs, as
    /// Nomad's servers forward `fs` requests to the node.
    async fn logs_from_node(
        &self,
        alloc_id: &str,
        namespace: &str,
        task: &str,
        kind: LogKind,
    ) -> Result<Vec<u8>, ApiError> {
        let unknown = || ApiError::not_found(format!("unknown allocation {alloc_id:?}"));
        let server = self.server().map_err(|_| unknown())?;
        let node = server.view().read(|state| {
            let alloc = state.scheduling.allocs.get(alloc_id).filter(|alloc| alloc.namespace == namespace)?;
            state.nodes.get(&alloc.node_id).map(|node| (node.id.clone(), node.http_addr.clone()))
        });
        let (node_id, address) = node.ok_or_else(unknown)?;
        if self.runtime.get().is_some_and(|runtime| runtime.node_id() == node_id) {
            // This agent's own client, which has not been sent the allocation yet.
            return Err(unknown());
        }
        let path = keel_api::query::with_query(
            &format!("/v1/client/fs/logs/{}", keel_api::query::percent_encode(alloc_id)),
            &[("task", task), ("type", kind.name()), ("namespace", namespace), ("plain", "true")],
        );
        let url = format!("http://{address}{path}");
        let fetched = tokio::task::spawn_blocking(move || fetch_logs(&url)).await;
        fetched.unwrap_or_else(|_| Err(ApiError::internal("the log request to the node failed")))
    }

    fn reply(&self, eval_id: String, index: u64) -> JobRegisterResponse {
        JobRegisterResponse {
            eval_id,
            eval_create_index: index,
            job_modify_index: index,
            warnings: String::new(),
            index,
            last_contact: 0,
            known_leader: true,
        }
    }

    /// A read of one item the state may not have: 404 `what not found`.
    async fn read_one<T>(
        &self,
        consistency: Consistency,
        what: &str,
        index_of: impl FnOnce(&T) -> u64,
        value: impl FnOnce(&State) -> Option<T>,
    ) -> Result<Read<T>, ApiError> {
        let read = self.read(consistency, |found: &Option<T>| found.as_ref().map_or(0, index_of), value).await?;
        let value = read.value.ok_or_else(|| ApiError::not_found(format!("{what} not found")))?;
        Ok(Read { value, meta: read.meta })
    }

    /// The allocations `wanted` keeps, oldest first.
    async fn read_allocs(
        &self,
        c: Consistency,
        wanted: impl Fn(&Allocation) -> bool,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_list(
            c,
            |alloc: &Allocation| alloc.modify_index,
            |state| {
                let mut allocs: Vec<Allocation> =
                    state.scheduling.allocs.values().filter(|a| wanted(a)).cloned().collect();
                allocs.sort_by_key(|alloc| alloc.create_index);
                allocs
            },
        )
        .await
    }

    /// A read of a list, indexed by the newest item in it.
    async fn read_list<T>(
        &self,
        consistency: Consistency,
        index_of: impl Fn(&T) -> u64,
        value: impl FnOnce(&State) -> Vec<T>,
    ) -> Result<Read<Vec<T>>, ApiError> {
        self.read(consistency, |items: &Vec<T>| list_index(items, &index_of), value).await
    }
}

impl JobApi for Service {
    async fn submit_job(&self, job: Job) -> Result<JobRegisterResponse, ApiError> {
        let now = self.now_ns();
        let job = Job { submit_time: now, ..job };
        let eval = new_eval(&job, "job-register", now);
        let eval_id = eval.id.clone();
        let applied = self.write(Command::RegisterJob { job: Box::new(job), eval: Box::new(eval) }).await?;
        self.scheduling.wake();
        Ok(self.reply(eval_id, applied.index))
    }

    async fn plan_job(&self, job: Job) -> Result<JobPlanResponse, ApiError> {
        self.dry_run(&job).await.map_err(|reason| ApiError::internal(format!("could not plan the job: {reason}")))
    }

    async fn stop_job(&self, namespace: String, id: String, purge: bool) -> Result<JobRegisterResponse, ApiError> {
        let key = job_key(&namespace, &id);
        let job = self.server()?.view().read(|state| state.scheduling.jobs.get(&key).cloned());
        let job = job.ok_or_else(|| ApiError::not_found("job not found"))?;
        let eval = new_eval(&job, "job-deregister", self.now_ns());
        let eval_id = eval.id.clone();
        let applied = self.write(Command::DeregisterJob { key, purge, eval: Box::new(eval) }).await?;
        if !applied.outcome.updated() {
            return Err(ApiError::not_found("job not found"));
        }
        self.scheduling.wake();
        Ok(self.reply(eval_id, applied.index))
    }

    async fn jobs(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<JobListStub>>, ApiError> {
        self.read_list(
            c,
            |stub: &JobListStub| stub.modify_index,
            |state| {
                let jobs = state.scheduling.jobs.values().filter(|job| job.listed(&namespace, &prefix));
                jobs.map(|job| {
                    let summary =
                        JobSummary::of(job, state.scheduling.allocs_of(&job.namespace, &job.id), &queued(state, job));
                    job.stub(state.scheduling.job_status(job), summary)
                })
                .collect()
            },
        )
        .await
    }

    async fn job(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Job>, ApiError> {
        let key = job_key(&namespace, &id);
        self.read_one(
            c,
            "job",
            |job: &Job| job.modify_index,
            |state| state.scheduling.jobs.get(&key).map(|job| shown(state, job)),
        )
        .await
    }

    async fn job_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_allocs(c, |alloc| alloc.namespace == namespace && alloc.job_id == id).await
    }

    async fn job_evaluations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Evaluation>>, ApiError> {
        self.read_list(
            c,
            |eval: &Evaluation| eval.modify_index,
            |state| {
                let evals =
                    state.scheduling.evals.values().filter(|eval| eval.namespace == namespace && eval.job_id == id);
                let mut evals: Vec<Evaluation> = evals.cloned().collect();
                evals.sort_by_key(|eval| eval.create_index);
                evals
            },
        )
        .await
    }

    async fn job_summary(&self, namespace: String, id: String, c: Consistency) -> Result<Read<JobSummary>, ApiError> {
        let key = job_key(&namespace, &id);
        self.read_one(
            c,
            "job",
            |summary: &JobSummary| summary.modify_index,
            |state| {
                let job = state.scheduling.jobs.get(&key)?;
                Some(JobSummary::of(job, state.scheduling.allocs_of(&namespace, &id), &queued(state, job)))
            },
        )
        .await
    }

    async fn evaluations(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<Evaluation>>, ApiError> {
        self.read_list(
            c,
            |eval: &Evaluation| eval.modify_index,
            |state| {
                let evals = state.scheduling.evals.values();
                let mut evals: Vec<Evaluation> = evals
                    .filter(|e| in_namespace(&namespace, &e.namespace) && e.id.starts_with(&prefix))
                    .cloned()
                    .collect();
                evals.sort_by_key(|eval| eval.create_index);
                evals
            },
        )
        .await
    }

    async fn evaluation(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Evaluation>, ApiError> {
        self.read_one(
            c,
            "eval",
            |eval: &Evaluation| eval.modify_index,
            |state| state.scheduling.evals.get(&id).filter(|eval| in_namespace(&namespace, &eval.namespace)).cloned(),
        )
        .await
    }

    async fn node_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_allocs(c, |alloc| alloc.node_id == id && in_namespace(&namespace, &alloc.namespace)).await
    }

    async fn evaluation_allocations(
        &self,
        namespace: String,
        id: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_allocs(c, |alloc| alloc.eval_id == id && in_namespace(&namespace, &alloc.namespace)).await
    }

    async fn allocations(
        &self,
        namespace: String,
        prefix: String,
        c: Consistency,
    ) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_allocs(c, |alloc| in_namespace(&namespace, &alloc.namespace) && alloc.id.starts_with(&prefix)).await
    }

    async fn allocation(&self, namespace: String, id: String, c: Consistency) -> Result<Read<Allocation>, ApiError> {
        self.read_one(
            c,
            "alloc",
            |alloc: &Allocation| alloc.modify_index,
            |state| {
                state.scheduling.allocs.get(&id).filter(|alloc| in_namespace(&namespace, &alloc.namespace)).cloned()
            },
        )
        .await
    }

    /// From this agent's client when it runs the allocation; otherwise a
    /// server asks the client agent of the allocation's node.
    async fn alloc_logs(
        &self,
        alloc_id: String,
        namespace: String,
        task: String,
        kind: LogKind,
    ) -> Result<Vec<u8>, ApiError> {
        if let Some(runtime) = self.runtime.get().filter(|runtime| runtime.has(&alloc_id)) {
            return runtime.logs(&alloc_id, &namespace, &task, kind).map_err(|error| match error {
                LogError::UnknownAlloc(id) => ApiError::not_found(format!("unknown allocation {id:?}")),
                LogError::UnknownTask(task) => ApiError::bad_request(format!("unknown task name {task:?}")),
                LogError::Unreadable(reason) => ApiError::internal(format!("failed to read the log: {reason}")),
            });
        }
        self.logs_from_node(&alloc_id, &namespace, &task, kind).await
    }
}

/// `GET url` on a client agent; its error status and message pass through.
fn fetch_logs(url: &str) -> Result<Vec<u8>, ApiError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(NODE_LOGS_TIMEOUT))
        .build()
        .into();
    let unreachable =
        |error: ureq::Error| ApiError::internal(format!("failed to reach the allocation's node: {error}"));
    let mut response = agent.get(url).call().map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(NODE_LOGS_MAX_BYTES).read_to_vec().map_err(unreachable)?;
    match status {
        200 => Ok(body),
        _ => {
            let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
            Err(ApiError::new(status, String::from_utf8_lossy(&body).trim().to_owned()))
        }
    }
}
