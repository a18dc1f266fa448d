use keel_api::job::{Allocation, Evaluation, Job, JobListStub, JobRegisterResponse, JobSummary, eval_status, job_key};
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

impl Service {
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
        self.read_list(
            c,
            |alloc: &Allocation| alloc.modify_index,
            |state| {
                let mut allocs: Vec<Allocation> = state.scheduling.allocs_of(&namespace, &id).cloned().collect();
                allocs.sort_by_key(|alloc| alloc.create_index);
                allocs
            },
        )
        .await
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

    async fn evaluations(&self, c: Consistency) -> Result<Read<Vec<Evaluation>>, ApiError> {
        self.read_list(
            c,
            |eval: &Evaluation| eval.modify_index,
            |state| {
                let mut evals: Vec<Evaluation> = state.scheduling.evals.values().cloned().collect();
                evals.sort_by_key(|eval| eval.create_index);
                evals
            },
        )
        .await
    }

    async fn evaluation(&self, id: String, c: Consistency) -> Result<Read<Evaluation>, ApiError> {
        self.read_one(
            c,
            "eval",
            |eval: &Evaluation| eval.modify_index,
            |state| state.scheduling.evals.get(&id).cloned(),
        )
        .await
    }

    async fn allocations(&self, c: Consistency) -> Result<Read<Vec<Allocation>>, ApiError> {
        self.read_list(
            c,
            |alloc: &Allocation| alloc.modify_index,
            |state| {
                let mut allocs: Vec<Allocation> = state.scheduling.allocs.values().cloned().collect();
                allocs.sort_by_key(|alloc| alloc.create_index);
                allocs
            },
        )
        .await
    }

    async fn allocation(&self, id: String, c: Consistency) -> Result<Read<Allocation>, ApiError> {
        self.read_one(
            c,
            "alloc",
            |alloc: &Allocation| alloc.modify_index,
            |state| state.scheduling.allocs.get(&id).cloned(),
        )
        .await
    }
}
