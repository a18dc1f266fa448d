//! Scheduling on the leader, in Nomad's shape: evaluations are taken
//! oldest first, up to [`BATCH`] of as many jobs at a time; each is
//! reconciled in turn (which allocations of each group are missing, which
//! are lost with their node, which are no longer wanted), and the
//! scheduler plugin is asked to place what is missing under the scheduler
//! configuration, seeing what the plans before it placed. The plans are
//! checked against the state as it is then (the node still ready and
//! eligible, the allocation still fitting beside what runs there and what
//! the earlier plans put there) and committed through Raft, with the
//! evaluations' outcomes, in one entry. A placement the plugin cannot make
//! leaves a `blocked` evaluation with the plugin's reasons, taken up again
//! when the nodes or the allocations change; a plugin fault blocks the
//! evaluation with the fault as its reason and never stops the loop.
//!
//! The loop keeps the scheduler plugin's [`NodeSet`] for as long as it
//! runs, and brings it up to date with the state before each batch, so
//! that the plugin is handed only the nodes that changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use keel_api::job::{
    AllocMetric, AllocatedResources, Allocation, DesiredUpdates, Evaluation, Job, JobPlanResponse, PlanAnnotations,
    client_status, desired_status, eval_status,
};
use keel_api::node::{Node, eligibility, status};
use keel_api::operator::SchedulerConfiguration;
use keel_cluster::Server;
use keel_plugins::scheduler::{self, NodeSet};
use keel_state::State;
use keel_state::jobs::AllocStop;
use tokio::sync::Notify;

use crate::Service;

/// How often the loop looks for work without being woken.
const TICK: Duration = Duration::from_secs(1);
/// How many times a plan the leader partly refused is tried again.
const PLAN_ATTEMPTS: u32 = 5;
/// At most this many evaluations, of as many jobs, are planned one after
/// the other and committed in one Raft entry.
const BATCH: usize = 16;

/// What wakes the scheduling loop.
#[derive(Debug, Default)]
pub(crate) struct Scheduling {
    wake: Notify,
}

impl Scheduling {
    /// Something worth scheduling was written.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What the loop keeps between evaluations.
#[derive(Default)]
struct Worker {
    nodes: NodeSet,
    /// The state generation the node set reflects.
    synced_at: u64,
    /// Blocked evaluations and the state generation they were last tried at.
    blocked_at: HashMap<String, u64>,
    /// Evaluations whose plans were partly refused, and how often.
    attempts: HashMap<String, u32>,
    /// The newest node change the system jobs were evaluated for.
    nodes_seen_at: u64,
    /// Nodes the node set shows with placements not committed (yet): they
    /// are taken from the state again at the next sync.
    held: BTreeSet<String>,
}

/// A new pending evaluation of `job` for `triggered_by` (Nomad's `TriggeredBy`).
pub(crate) fn new_eval(job: &Job, triggered_by: &str, now_ns: i64) -> Evaluation {
    let fresh = Evaluation {
        namespace: job.namespace.clone(),
        priority: job.priority,
        job_type: job.job_type.clone(),
        job_id: job.id.clone(),
        ..Evaluation::default()
    };
    renewed(&fresh, triggered_by, now_ns)
}

/// A new pending evaluation of the same job as `eval`.
fn renewed(eval: &Evaluation, triggered_by: &str, now_ns: i64) -> Evaluation {
    Evaluation {
        id: uuid::Uuid::new_v4().to_string(),
        namespace: eval.namespace.clone(),
        priority: eval.priority,
        job_type: eval.job_type.clone(),
        triggered_by: triggered_by.to_owned(),
        job_id: eval.job_id.clone(),
        job_modify_index: eval.job_modify_index,
        status: eval_status::PENDING.to_owned(),
        create_time: now_ns,
        modify_time: now_ns,
        ..Evaluation::default()
    }
}

/// A number that grows whenever nodes or allocations change, so that a
/// blocked evaluation is tried again only when a placement might now fit.
fn generation(state: &State) -> u64 {
    let nodes = state.nodes.values().map(|node| node.modify_index);
    nodes.chain(state.scheduling.allocs.values().map(|alloc| alloc.modify_index)).max().unwrap_or(0)
}

impl Service {
    /// On a server: the scheduling loop, which acts while the server leads.
    pub(crate) fn serve_scheduling(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.schedule_forever())
    }

    async fn schedule_forever(self: Arc<Self>) {
        let Ok(server) = self.server() else { return };
        let mut worker = Worker::default();
        loop {
            tokio::select! {
                () = self.scheduling.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
            if !server.is_leader() {
                worker = Worker::default();
                continue;
            }
            self.evaluate_jobs_on_lost_nodes(server).await;
            self.evaluate_system_jobs_on_new_nodes(&mut worker, server).await;
            loop {
                let batch = worker.next(server, BATCH);
                if batch.is_empty() || !self.evaluate(&mut worker, server, batch).await {
                    break;
                }
            }
        }
    }

    /// Writes an evaluation for every job with a live allocation on a node
    /// that is not ready or is draining, unless the job has one waiting
    /// already; and ends the drain of each node whose work is done.
    async fn evaluate_jobs_on_lost_nodes(&self, server: &Server) {
        let now = self.now_ns();
        let (evals, drained) = server.view().read(|state| {
            let leaving = state.nodes.keys().filter(|id| !node_keeps_work(state, id));
            let evals: Vec<Evaluation> =
                leaving.flat_map(|id| evals_for_work_on(state, id, "node-update", now)).collect();
            (dedup_by_job(evals), drained_nodes(state))
        });
        if !evals.is_empty()
            && let Err(error) = self.write(keel_state::Command::UpsertEvals { evals }).await
        {
            tracing::warn!("could not write evaluations for lost allocations: {}", error.message);
        }
        for id in drained {
            let command = keel_state::Command::SetNodeDrain { id: id.clone(), drain: false, mark_eligible: false };
            match self.write(command).await {
                Ok(_) => tracing::info!(node = %id, "node drain complete"),
                Err(error) => tracing::warn!(node = %id, "could not end the node's drain: {}", error.message),
            }
        }
    }

    /// Writes an evaluation of every system job, unless it has one waiting
    /// already, when a node has become schedulable: it may take one more.
    async fn evaluate_system_jobs_on_new_nodes(&self, worker: &mut Worker, server: &Server) {
        let (seen, now) = (worker.nodes_seen_at, self.now_ns());
        let (evals, newest) = server.view().read(|state| {
            let newest = state.nodes.values().map(|node| node.modify_index).max().unwrap_or(0);
            if !state.nodes.values().any(|node| node.modify_index > seen && schedulable(node)) {
                return (Vec::new(), newest);
            }
            let system = state.scheduling.jobs.values().filter(|job| job.job_type == "system" && !job.stop);
            (evals_for_jobs(state, system, "node-update", now), newest)
        });
        if !evals.is_empty()
            && let Err(error) = self.write(keel_state::Command::UpsertEvals { evals }).await
        {
            tracing::warn!("could not write evaluations of system jobs: {}", error.message);
            return;
        }
        worker.nodes_seen_at = newest;
    }

    /// Reconciles each evaluation's job in turn, each seeing what the ones
    /// before it placed, and commits the checked plans with the
    /// evaluations' outcomes in one Raft entry; false when the commit
    /// failed (leadership lost, say), so the loop waits.
    async fn evaluate(&self, worker: &mut Worker, server: &Server, evals: Vec<Evaluation>) -> bool {
        self.sync_nodes(worker, server);
        let mut planned = Vec::with_capacity(evals.len());
        for eval in evals {
            let started = std::time::Instant::now();
            let (job, existing) = server.view().read(|state| {
                let key = keel_api::job::job_key(&eval.namespace, &eval.job_id);
                (state.scheduling.jobs.get(&key).cloned(), Existing::of(state, &eval.namespace, &eval.job_id))
            });
            let plan = self.reconcile(worker, server, job.as_ref(), &eval, &existing).await;
            planned.push((eval, plan, existing.generation, started.elapsed()));
        }
        let started = std::time::Instant::now();
        let committed = self.commit(worker, server, &mut planned).await;
        // Each evaluation's own time, and its share of the commit.
        let commit_share = started.elapsed() / u32::try_from(planned.len()).unwrap_or(1).max(1);
        for (eval, _, _, took) in &planned {
            metrics::histogram!("nomad.nomad.worker.invoke_scheduler", "type" => eval.job_type.clone())
                .record((*took + commit_share).as_secs_f64() * 1_000.0);
        }
        committed
    }

    /// What the job's evaluation would do now: which allocations stay,
    /// which stop, and what the plugin places for what is missing.
    async fn reconcile(
        &self,
        worker: &mut Worker,
        server: &Server,
        job: Option<&Job>,
        eval: &Evaluation,
        existing: &Existing,
    ) -> Plan {
        let mut plan = Plan::default();
        let system = job.is_some_and(|job| job.job_type == "system");
        for (group, count) in wanted(job, &existing.live) {
            let mine: Vec<&Allocation> = existing.live.iter().filter(|alloc| alloc.task_group == group).collect();
            // A system job keeps one allocation on every node that has one.
            let keep = if system && count > 0 { u32::MAX } else { count };
            let mut taken = plan.stop_unwanted(server, &mine, keep, job.map(|job| job.version));
            plan.kept.insert(group.clone(), taken.len() as u64);
            let current = |alloc: &&Allocation| job.is_none_or(|job| alloc.job_version >= job.version);
            taken.extend(existing.done.iter().filter(|alloc| alloc.task_group == group).filter(current));
            let Some(job) = job.filter(|_| count > 0) else { continue };
            let before = plan.placed.len();
            if system {
                // As Nomad's system scheduler: each node that could take
                // one is asked about on its own.
                for node in server.view().read(|state| nodes_without(state, &taken)) {
                    let outcome = self.place(worker, job, &group, 1, &existing.config, Some(&node)).await;
                    plan.absorb(job, &group, eval, outcome, &taken, self.now_ns());
                }
            } else if let missing @ 1.. = count.saturating_sub(taken.len() as u32) {
                let outcome = self.place(worker, job, &group, missing, &existing.config, None).await;
                plan.absorb(job, &group, eval, outcome, &taken, self.now_ns());
            }
            // The next group, and the next plan of the batch, see these.
            worker.hold(&plan.placed[before..], job.priority);
        }
        plan
    }

    /// `POST /v1/job/:id/plan`: what registering `job` would do, from the
    /// plugin, over a node set of its own; nothing is written.
    pub(crate) async fn dry_run(&self, job: &Job) -> Result<JobPlanResponse, String> {
        let server = self.server().map_err(|error| error.message)?;
        let (existing, modify_index) = server.view().read(|state| {
            let stored = state.scheduling.jobs.get(&job.key()).map_or(0, |job| job.job_modify_index);
            (Existing::of(state, &job.namespace, &job.id), stored)
        });
        let mut worker = Worker::default();
        self.sync_nodes(&mut worker, server);
        let eval = new_eval(job, "job-plan", self.now_ns());
        let plan = self.reconcile(&mut worker, server, Some(job), &eval, &existing).await;
        if let Some(fault) = plan.fault {
            return Err(fault);
        }
        let group_of: HashMap<&str, &str> =
            existing.live.iter().map(|alloc| (alloc.id.as_str(), alloc.task_group.as_str())).collect();
        let mut updates: BTreeMap<String, DesiredUpdates> = BTreeMap::new();
        for (group, kept) in &plan.kept {
            updates.entry(group.clone()).or_default().ignore = *kept;
        }
        for alloc in &plan.placed {
            updates.entry(alloc.task_group.clone()).or_default().place += 1;
        }
        for stop in &plan.stopped {
            let group = group_of.get(stop.id.as_str()).copied().unwrap_or_default();
            updates.entry(group.to_owned()).or_default().stop += 1;
        }
        Ok(JobPlanResponse {
            annotations: PlanAnnotations { desired_tg_updates: updates, ..PlanAnnotations::default() },
            failed_tg_allocs: plan.failed,
            job_modify_index: modify_index,
            index: modify_index,
            ..JobPlanResponse::default()
        })
    }

    /// Brings the plugin's node set up to date with the state's nodes and
    /// their live allocations: only the nodes that changed, or whose
    /// allocations changed, since the last time.
    fn sync_nodes(&self, worker: &mut Worker, server: &Server) {
        let (synced, held) = (worker.synced_at, std::mem::take(&mut worker.held));
        let (nodes, generation, count) = server.view().read(|state| {
            let scheduling = &state.scheduling;
            let mut changed: BTreeSet<&str> =
                state.nodes.values().filter(|node| node.modify_index > synced).map(|node| node.id.as_str()).collect();
            changed.extend(held.iter().map(String::as_str));
            changed.extend(scheduling.allocs.values().filter(|a| a.modify_index > synced).map(|a| a.node_id.as_str()));
            let mut on_node: BTreeMap<&str, Vec<scheduler::Allocation>> = BTreeMap::new();
            for alloc in scheduling.allocs.values().filter(|a| a.is_live() && changed.contains(a.node_id.as_str())) {
                let key = keel_api::job::job_key(&alloc.namespace, &alloc.job_id);
                let priority = scheduling.jobs.get(&key).map_or(50, |job| job.priority);
                on_node.entry(alloc.node_id.as_str()).or_default().push(plugin_allocation(alloc, priority));
            }
            let nodes: Vec<scheduler::Node> = changed
                .iter()
                .filter_map(|id| state.nodes.get(*id))
                .map(|node| plugin_node(node, on_node.remove(node.id.as_str()).unwrap_or_default()))
                .collect();
            (nodes, generation(state), state.nodes.len())
        });
        for node in nodes {
            if let Err(error) = worker.nodes.upsert_if_changed(node) {
                tracing::warn!("a node the scheduler cannot be given: {error}");
            }
        }
        if worker.nodes.len() != count {
            // A node the state no longer has.
            let known: BTreeSet<String> = server.view().read(|state| state.nodes.keys().cloned().collect());
            for gone in worker.nodes.ids().into_iter().filter(|id| !known.contains(id)) {
                worker.nodes.remove(&gone);
            }
        }
        worker.synced_at = generation;
    }

    /// Asks the scheduler plugin to place `count` allocations of `group`,
    /// only on node `pin` when one is given.
    async fn place(
        &self,
        worker: &Worker,
        job: &Job,
        group: &str,
        count: u32,
        config: &SchedulerConfiguration,
        pin: Option<&str>,
    ) -> Result<scheduler::Plan, String> {
        let Some(task_group) = job.task_groups.iter().find(|g| g.name == group) else {
            return Err(format!("the job has no task group {group:?}"));
        };
        let ask = task_group.ask();
        // As Nomad's driver checker: only nodes with every task's driver.
        let drivers: BTreeSet<&str> = task_group.tasks.iter().map(|task| task.driver.as_str()).collect();
        let constraint = |l_target: String, operand: &str, r_target: &str| keel_api::job::Constraint {
            l_target,
            r_target: r_target.to_owned(),
            operand: operand.to_owned(),
        };
        let mut implied: Vec<keel_api::job::Constraint> =
            drivers.into_iter().map(|driver| constraint(format!("${{attr.driver.{driver}}}"), "is_set", "")).collect();
        implied.extend(pin.map(|id| constraint("${node.unique.id}".to_owned(), "=", id)));
        let mut constraints: Vec<&keel_api::job::Constraint> = job.constraints.iter().collect();
        constraints.extend(task_group.constraints.iter());
        constraints.extend(task_group.tasks.iter().flat_map(|task| task.constraints.iter()));
        constraints.extend(implied.iter());
        let group = scheduler::TaskGroup {
            namespace: job.namespace.clone(),
            job_id: job.id.clone(),
            name: task_group.name.clone(),
            job_type: job_type(&job.job_type),
            priority: job.priority,
            count,
            resources: scheduler::Resources { cpu_mhz: ask.cpu_shares, memory_mb: ask.memory_mb, disk_mb: ask.disk_mb },
            datacenters: job.datacenters.clone(),
            node_pool: job.node_pool.clone(),
            constraints: constraints
                .into_iter()
                .map(|c| scheduler::Constraint {
                    ltarget: c.l_target.clone(),
                    operand: c.operand.clone(),
                    rtarget: c.r_target.clone(),
                })
                .collect(),
        };
        let plugin = self.plugins.scheduler.get();
        plugin.place(&plugin_config(config), &group, &worker.nodes).await.map_err(|error| error.to_string())
    }

    /// The plan applier: keeps what still fits the state, plan after plan,
    /// commits them with the evaluations' outcomes, and leaves a partly
    /// refused evaluation pending to be tried again.
    async fn commit(
        &self,
        worker: &mut Worker,
        server: &Server,
        planned: &mut [(Evaluation, Plan, u64, Duration)],
    ) -> bool {
        let refused: Vec<usize> = server.view().read(|state| {
            let mut used = used_by_node(state);
            planned.iter_mut().map(|(_, plan, _, _)| plan.keep_what_fits(state, &mut used)).collect()
        });
        let now = self.now_ns();
        let (mut placed, mut stopped, mut evals) = (Vec::new(), Vec::new(), Vec::new());
        for ((eval, plan, generation, _), refused) in planned.iter_mut().zip(refused) {
            let attempts = worker.attempts.entry(eval.id.clone()).or_default();
            *attempts += u32::from(refused > 0);
            let mut outcomes = outcome(eval, plan, refused, *attempts, now);
            let outcome = &mut outcomes[0];
            if outcome.status != eval_status::PENDING {
                worker.attempts.remove(&eval.id);
            }
            if outcome.status == eval_status::BLOCKED {
                worker.blocked_at.insert(outcome.id.clone(), *generation);
            }
            outcome.modify_time = now;
            placed.append(&mut plan.placed);
            stopped.append(&mut plan.stopped);
            evals.extend(outcomes);
        }
        let command = keel_state::Command::ApplyPlan { placed, stopped, evals };
        match self.write(command).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!("could not commit {} plans: {}", planned.len(), error.message);
                false
            }
        }
    }

    pub(crate) fn now_ns(&self) -> i64 {
        i64::try_from(self.now_ms()).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000)
    }
}

/// What a plan makes of its evaluation: the evaluation's outcome, first,
/// and the blocked evaluation it leaves for what could not be placed.
///
/// - a plugin fault blocks the evaluation, with the fault as its reason;
/// - everything placed: `complete`;
/// - the plugin placed what it could and the rest fits nowhere: `complete`
///   with `FailedTGAllocs` and a new `blocked` evaluation for the rest
///   (a blocked evaluation that still fails stays blocked, with the new
///   reasons);
/// - the state refused part of the plan: still `pending`, to be tried
///   again, and `failed` after [`PLAN_ATTEMPTS`] refusals.
fn outcome(eval: &Evaluation, plan: &mut Plan, refused: usize, attempts: u32, now: i64) -> Vec<Evaluation> {
    let with = |status: &str| Evaluation { status: status.to_owned(), ..eval.clone() };
    match (refused, plan.failed.is_empty(), plan.fault.take()) {
        (_, _, Some(fault)) => vec![Evaluation { status_description: fault, ..with(eval_status::BLOCKED) }],
        (0, true, None) => vec![with(eval_status::COMPLETE)],
        (0, false, None) if eval.status == eval_status::BLOCKED => {
            vec![Evaluation { failed_tg_allocs: plan.failed.clone(), ..eval.clone() }]
        }
        (0, false, None) => {
            let blocked = Evaluation {
                status: eval_status::BLOCKED.to_owned(),
                previous_eval: eval.id.clone(),
                failed_tg_allocs: plan.failed.clone(),
                queued_allocations: plan.queued.clone(),
                ..renewed(eval, "queued-allocs", now)
            };
            let done = Evaluation {
                blocked_eval: blocked.id.clone(),
                failed_tg_allocs: plan.failed.clone(),
                ..with(eval_status::COMPLETE)
            };
            vec![done, blocked]
        }
        (_, _, None) if attempts >= PLAN_ATTEMPTS => vec![Evaluation {
            status_description: format!("plans refused {PLAN_ATTEMPTS} times: the cluster kept changing"),
            ..with(eval_status::FAILED)
        }],
        (_, _, None) => {
            vec![Evaluation { status_description: "plan partly refused; trying again".to_owned(), ..eval.clone() }]
        }
    }
}

impl Worker {
    /// The next evaluations to take, at most `max` and one per job: the
    /// oldest pending ones, then blocked ones not tried since the nodes or
    /// allocations last changed.
    fn next(&mut self, server: &Server, max: usize) -> Vec<Evaluation> {
        server.view().read(|state| {
            let now = generation(state);
            let mut waiting: Vec<&Evaluation> = state
                .scheduling
                .evals
                .values()
                .filter(|eval| match eval.status.as_str() {
                    eval_status::PENDING => true,
                    eval_status::BLOCKED => self.blocked_at.get(&eval.id).is_none_or(|tried| *tried < now),
                    _ => false,
                })
                .collect();
            waiting.sort_by_key(|eval| (eval.status != eval_status::PENDING, eval.create_index));
            let mut jobs = BTreeSet::new();
            let batch = waiting.into_iter().filter(|eval| jobs.insert((&eval.namespace, &eval.job_id)));
            batch.take(max).cloned().collect()
        })
    }

    /// Shows `placed` in the node set before they are committed, so that
    /// the next plan of the batch sees them.
    fn hold(&mut self, placed: &[Allocation], priority: u32) {
        for alloc in placed {
            let Some(mut node) = self.nodes.get(&alloc.node_id) else { continue };
            node.allocations.push(plugin_allocation(alloc, priority));
            if let Err(error) = self.nodes.upsert(node) {
                tracing::warn!("a node the scheduler cannot be given: {error}");
            }
            self.held.insert(alloc.node_id.clone());
        }
    }
}

/// A new evaluation, `triggered_by`, for each job with a live allocation on
/// node `node_id` and no evaluation waiting already.
pub(crate) fn evals_for_work_on(state: &State, node_id: &str, triggered_by: &str, now_ns: i64) -> Vec<Evaluation> {
    let scheduling = &state.scheduling;
    let live = scheduling.allocs.values().filter(|alloc| alloc.node_id == node_id && alloc.is_live());
    let jobs: BTreeSet<(&str, &str)> = live.map(|alloc| (alloc.namespace.as_str(), alloc.job_id.as_str())).collect();
    let jobs =
        jobs.into_iter().filter_map(|(namespace, id)| scheduling.jobs.get(&keel_api::job::job_key(namespace, id)));
    evals_for_jobs(state, jobs, triggered_by, now_ns)
}

/// A new evaluation, `triggered_by`, for each of `jobs` that has no
/// evaluation waiting already.
fn evals_for_jobs<'a>(
    state: &State,
    jobs: impl Iterator<Item = &'a Job>,
    triggered_by: &str,
    now_ns: i64,
) -> Vec<Evaluation> {
    let waiting: BTreeSet<(&str, &str)> = state
        .scheduling
        .evals
        .values()
        .filter(|eval| eval.status == eval_status::PENDING)
        .map(|eval| (eval.namespace.as_str(), eval.job_id.as_str()))
        .collect();
    jobs.filter(|job| !waiting.contains(&(job.namespace.as_str(), job.id.as_str())))
        .map(|job| new_eval(job, triggered_by, now_ns))
        .collect()
}

/// One evaluation per job.
fn dedup_by_job(evals: Vec<Evaluation>) -> Vec<Evaluation> {
    let mut seen = BTreeSet::new();
    evals.into_iter().filter(|eval| seen.insert((eval.namespace.clone(), eval.job_id.clone()))).collect()
}

/// The draining nodes whose work is done: nothing live on them, and
/// nothing still running there unless the node is down.
fn drained_nodes(state: &State) -> Vec<String> {
    let busy = |node: &Node, alloc: &Allocation| {
        let running = matches!(alloc.client_status.as_str(), client_status::PENDING | client_status::RUNNING);
        alloc.node_id == node.id && (alloc.is_live() || (running && node.status != status::DOWN))
    };
    let allocs = &state.scheduling.allocs;
    let drained = state.nodes.values().filter(|node| node.drain && !allocs.values().any(|alloc| busy(node, alloc)));
    drained.map(|node| node.id.clone()).collect()
}

/// The groups the job wants and how many of each: none of anything once
/// it is stopped or gone, so that what runs is stopped.
fn wanted(job: Option<&Job>, live: &[Allocation]) -> Vec<(String, u32)> {
    let mut wanted: BTreeMap<String, u32> = live.iter().map(|alloc| (alloc.task_group.clone(), 0)).collect();
    if let Some(job) = job.filter(|job| !job.stop) {
        for group in &job.task_groups {
            wanted.insert(group.name.clone(), group.count.unwrap_or(1));
        }
    }
    wanted.into_iter().collect()
}

/// How many times a batch allocation that failed is placed again (Nomad's
/// default reschedule policy for batch jobs: one attempt).
const BATCH_RESCHEDULES: usize = 1;

/// The allocations of a batch job that count as done and are not placed
/// again: the ones that completed, and the last failure of an instance
/// that failed more than [`BATCH_RESCHEDULES`] times. A service's
/// allocations are never done: one that finished is replaced.
fn done_for_good(allocs: &[&Allocation]) -> Vec<Allocation> {
    let batch = |alloc: &&&Allocation| matches!(alloc.job_type.as_str(), "batch" | "sysbatch");
    let wanted = |alloc: &&&Allocation| alloc.desired_status == desired_status::RUN;
    let mut failures: BTreeMap<&str, Vec<&Allocation>> = BTreeMap::new();
    let mut done = Vec::new();
    for alloc in allocs.iter().filter(batch).filter(wanted) {
        match alloc.client_status.as_str() {
            client_status::COMPLETE => done.push((*alloc).clone()),
            client_status::FAILED => failures.entry(alloc.name.as_str()).or_default().push(alloc),
            _ => {}
        }
    }
    for failed in failures.into_values().filter(|failed| failed.len() > BATCH_RESCHEDULES) {
        done.extend(failed.into_iter().max_by_key(|alloc| alloc.create_index).cloned());
    }
    done
}

/// What the leader reads of a job's allocations to reconcile it.
struct Existing {
    live: Vec<Allocation>,
    done: Vec<Allocation>,
    config: SchedulerConfiguration,
    /// The state generation they were read at.
    generation: u64,
}

impl Existing {
    fn of(state: &State, namespace: &str, job_id: &str) -> Self {
        let allocs: Vec<&Allocation> = state.scheduling.allocs_of(namespace, job_id).collect();
        Existing {
            live: allocs.iter().filter(|alloc| alloc.is_live()).map(|alloc| (*alloc).clone()).collect(),
            done: done_for_good(&allocs),
            config: state.scheduler.clone().unwrap_or_else(SchedulerConfiguration::nomad_defaults),
            generation: generation(state),
        }
    }
}

/// What one evaluation decided.
#[derive(Debug, Default)]
struct Plan {
    /// How many live allocations of each group stay as they are.
    kept: BTreeMap<String, u64>,
    placed: Vec<Allocation>,
    stopped: Vec<AllocStop>,
    failed: BTreeMap<String, AllocMetric>,
    queued: BTreeMap<String, u32>,
    /// The scheduler plugin's fault or refusal, when it had one.
    fault: Option<String>,
}

impl Plan {
    /// Stops the allocations of a group that are lost with their node or
    /// migrated off a draining one, those of an older `version` of the job
    /// (its group changed: they are replaced), and the highest-numbered
    /// ones beyond `count`; returns the ones kept.
    fn stop_unwanted<'a>(
        &mut self,
        server: &Server,
        allocs: &[&'a Allocation],
        count: u32,
        version: Option<u64>,
    ) -> Vec<&'a Allocation> {
        let (allocs, outdated): (Vec<&Allocation>, Vec<&Allocation>) =
            allocs.iter().partition(|alloc| version.is_none_or(|version| alloc.job_version >= version));
        for alloc in outdated {
            let description = "alloc is being updated due to job update".to_owned();
            self.stopped.push(AllocStop { id: alloc.id.clone(), description, lost: false });
        }
        let (up, leaving): (Vec<&Allocation>, Vec<(&Allocation, bool)>) = server.view().read(|state| {
            let (up, leaving): (Vec<&Allocation>, Vec<&Allocation>) =
                allocs.iter().partition(|alloc| node_keeps_work(state, &alloc.node_id));
            (up, leaving.into_iter().map(|alloc| (alloc, node_is_up(state, &alloc.node_id))).collect())
        });
        for (alloc, migrated) in leaving {
            let description = match migrated {
                true => "alloc is being migrated",
                false => "alloc is lost since its node is down",
            };
            self.stopped.push(AllocStop { id: alloc.id.clone(), description: description.to_owned(), lost: !migrated });
        }
        let mut up = up;
        up.sort_by_key(|alloc| alloc.index().unwrap_or(u32::MAX));
        for alloc in up.iter().skip(count as usize) {
            let description = "alloc not needed due to job update".to_owned();
            self.stopped.push(AllocStop { id: alloc.id.clone(), description, lost: false });
        }
        up.truncate(count as usize);
        up
    }

    /// Takes in the plugin's answer for one group.
    fn absorb(
        &mut self,
        job: &Job,
        group: &str,
        eval: &Evaluation,
        outcome: Result<scheduler::Plan, String>,
        kept: &[&Allocation],
        now_ns: i64,
    ) {
        let answer = match outcome {
            Ok(answer) => answer,
            Err(reason) => {
                self.fault = Some(format!("the scheduler plugin failed to place {group:?}: {reason}"));
                return;
            }
        };
        let system = job.job_type == "system";
        // Indices after those in use, and after this plan's own; a system
        // job's allocations are all `[0]`, one per node, as in Nomad.
        let planned = self.placed.iter().filter(|alloc| alloc.task_group == group);
        let used: BTreeSet<u32> = kept.iter().copied().chain(planned).filter_map(|alloc| alloc.index()).collect();
        let mut free = (0..).filter(|index| system || !used.contains(index));
        let ask = job.task_groups.iter().find(|g| g.name == group).map(|g| g.ask()).unwrap_or_default();
        for placement in answer.placements {
            let index = free.next().unwrap_or_default();
            self.placed.push(allocation(job, group, eval, &placement.node_id, index, ask, now_ns));
        }
        // A node a system job's constraints rule out is not a failure; one
        // without room is.
        let failed = match (system, &answer.failure) {
            (true, Some(failure)) => answer.failed.min(failure.nodes_exhausted),
            (true, None) => 0,
            (false, _) => answer.failed,
        };
        if failed > 0 {
            *self.queued.entry(group.to_owned()).or_default() += failed;
            let metric = answer.failure.map(alloc_metric).unwrap_or_default();
            let record = self.failed.entry(group.to_owned()).or_insert(AllocMetric { coalesced_failures: 0, ..metric });
            record.coalesced_failures = self.queued[group] - 1;
        }
    }

    /// Drops each placement the state no longer takes: its node gone, not
    /// ready or not eligible, or without room beside what already runs
    /// there and what this plan put there before it. Returns how many.
    /// `used` holds what is in use on each node, and takes in what is kept.
    fn keep_what_fits<'s>(&mut self, state: &'s State, used: &mut HashMap<&'s str, AllocatedResources>) -> usize {
        let before = self.placed.len();
        self.placed.retain(|alloc| {
            let Some(node) = state.nodes.get(&alloc.node_id) else { return false };
            let sum = used.entry(node.id.as_str()).or_default();
            let proposed = add(*sum, alloc.allocated_resources);
            let fits = schedulable(node) && within(node, proposed);
            if fits {
                *sum = proposed;
            }
            fits
        });
        before - self.placed.len()
    }
}

/// What the live allocations use on each node.
fn used_by_node(state: &State) -> HashMap<&str, AllocatedResources> {
    let mut used: HashMap<&str, AllocatedResources> = HashMap::new();
    for alloc in state.scheduling.allocs.values().filter(|alloc| alloc.is_live()) {
        let sum = used.entry(alloc.node_id.as_str()).or_default();
        *sum = add(*sum, alloc.allocated_resources);
    }
    used
}

fn add(a: AllocatedResources, b: AllocatedResources) -> AllocatedResources {
    AllocatedResources {
        cpu_shares: a.cpu_shares + b.cpu_shares,
        memory_mb: a.memory_mb + b.memory_mb,
        disk_mb: a.disk_mb + b.disk_mb,
    }
}

/// Whether `used` fits the node's capacity less its reservations.
fn within(node: &Node, used: AllocatedResources) -> bool {
    let (capacity, reserved) = (&node.node_resources, &node.reserved_resources);
    used.cpu_shares <= capacity.cpu.cpu_shares.saturating_sub(reserved.cpu.cpu_shares)
        && used.memory_mb <= capacity.memory.memory_mb.saturating_sub(reserved.memory.memory_mb)
        && used.disk_mb <= capacity.disk.disk_mb.saturating_sub(reserved.disk.disk_mb)
}

/// The nodes that are [`schedulable`] and hold none of `taken`.
fn nodes_without(state: &State, taken: &[&Allocation]) -> Vec<String> {
    let holding: BTreeSet<&str> = taken.iter().map(|alloc| alloc.node_id.as_str()).collect();
    let open = state.nodes.values().filter(|node| schedulable(node) && !holding.contains(node.id.as_str()));
    open.map(|node| node.id.clone()).collect()
}

/// Ready, eligible and not draining.
fn schedulable(node: &Node) -> bool {
    node.status == status::READY && node.scheduling_eligibility == eligibility::ELIGIBLE && !node.drain
}

fn node_is_up(state: &State, id: &str) -> bool {
    state.nodes.get(id).is_some_and(|node| node.status == status::READY)
}

/// Whether what runs on the node stays there: it is ready and not draining.
fn node_keeps_work(state: &State, id: &str) -> bool {
    state.nodes.get(id).is_some_and(|node| node.status == status::READY && !node.drain)
}

fn allocation(
    job: &Job,
    group: &str,
    eval: &Evaluation,
    node_id: &str,
    index: u32,
    ask: AllocatedResources,
    now_ns: i64,
) -> Allocation {
    Allocation {
        id: uuid::Uuid::new_v4().to_string(),
        eval_id: eval.id.clone(),
        name: format!("{}.{group}[{index}]", job.id),
        namespace: job.namespace.clone(),
        node_id: node_id.to_owned(),
        job_id: job.id.clone(),
        job_type: job.job_type.clone(),
        job_version: job.version,
        task_group: group.to_owned(),
        desired_status: desired_status::RUN.to_owned(),
        client_status: client_status::PENDING.to_owned(),
        allocated_resources: ask,
        create_time: now_ns,
        modify_time: now_ns,
        ..Allocation::default()
    }
}

/// A state node as the scheduler plugin sees it.
fn plugin_node(node: &Node, allocations: Vec<scheduler::Allocation>) -> scheduler::Node {
    let resources = &node.node_resources;
    let reserved = &node.reserved_resources;
    let pairs = |map: &BTreeMap<String, String>| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    scheduler::Node {
        id: node.id.clone(),
        name: node.name.clone(),
        datacenter: node.datacenter.clone(),
        node_pool: node.node_pool.clone(),
        node_class: node.node_class.clone(),
        status: match node.status.as_str() {
            status::READY => scheduler::NodeStatus::Ready,
            status::INITIALIZING => scheduler::NodeStatus::Initializing,
            status::DISCONNECTED => scheduler::NodeStatus::Disconnected,
            _ => scheduler::NodeStatus::Down,
        },
        eligible: node.scheduling_eligibility == eligibility::ELIGIBLE && !node.drain,
        attributes: pairs(&node.attributes),
        meta: pairs(&node.meta),
        capacity: scheduler::Resources {
            cpu_mhz: resources.cpu.cpu_shares,
            memory_mb: resources.memory.memory_mb,
            disk_mb: resources.disk.disk_mb,
        },
        reserved: scheduler::Resources {
            cpu_mhz: reserved.cpu.cpu_shares,
            memory_mb: reserved.memory.memory_mb,
            disk_mb: reserved.disk.disk_mb,
        },
        allocations,
    }
}

/// An allocation as the scheduler plugin sees it, with its job's priority.
fn plugin_allocation(alloc: &Allocation, priority: u32) -> scheduler::Allocation {
    let resources = alloc.allocated_resources;
    scheduler::Allocation {
        id: alloc.id.clone(),
        job_id: alloc.job_id.clone(),
        task_group: alloc.task_group.clone(),
        namespace: alloc.namespace.clone(),
        priority,
        job_type: job_type(&alloc.job_type),
        resources: scheduler::Resources {
            cpu_mhz: resources.cpu_shares,
            memory_mb: resources.memory_mb,
            disk_mb: resources.disk_mb,
        },
    }
}

fn job_type(name: &str) -> scheduler::JobType {
    match name {
        "batch" => scheduler::JobType::Batch,
        "system" => scheduler::JobType::System,
        "sysbatch" => scheduler::JobType::Sysbatch,
        _ => scheduler::JobType::Service,
    }
}

fn plugin_config(config: &SchedulerConfiguration) -> scheduler::Config {
    let preemption = &config.preemption_config;
    scheduler::Config {
        algorithm: match config.scheduler_algorithm.as_str() {
            "spread" => scheduler::Algorithm::Spread,
            _ => scheduler::Algorithm::Binpack,
        },
        preempt_system: preemption.system_scheduler_enabled,
        preempt_sysbatch: preemption.sys_batch_scheduler_enabled,
        preempt_batch: preemption.batch_scheduler_enabled,
        preempt_service: preemption.service_scheduler_enabled,
        memory_oversubscription_enabled: config.memory_oversubscription_enabled,
    }
}

/// The plugin's failure record as Nomad's `AllocMetric`.
fn alloc_metric(failure: scheduler::Failure) -> AllocMetric {
    AllocMetric {
        nodes_evaluated: failure.nodes_evaluated,
        nodes_filtered: failure.nodes_filtered,
        nodes_in_pool: failure.nodes_in_pool,
        nodes_available: failure.nodes_available.into_iter().collect(),
        constraint_filtered: failure.constraint_filtered.into_iter().collect(),
        nodes_exhausted: failure.nodes_exhausted,
        dimension_exhausted: failure.dimension_exhausted.into_iter().collect(),
        ..AllocMetric::default()
    }
}

#[cfg(test)]
mod tests {
    use keel_api::node::{NodeCpuResources, NodeDiskResources, NodeMemoryResources, NodeResources};

    use super::*;

    fn node(id: &str, memory_mb: u64) -> Node {
        Node {
            id: id.into(),
            status: status::READY.into(),
            scheduling_eligibility: eligibility::ELIGIBLE.into(),
            node_resources: NodeResources {
                cpu: NodeCpuResources { cpu_shares: 4_000, total_cpu_cores: 2 },
                memory: NodeMemoryResources { memory_mb },
                disk: NodeDiskResources { disk_mb: 10_000 },
            },
            ..Node::default()
        }
    }

    fn alloc(id: &str, node_id: &str, memory_mb: u64) -> Allocation {
        Allocation {
            id: id.into(),
            node_id: node_id.into(),
            desired_status: desired_status::RUN.into(),
            client_status: client_status::PENDING.into(),
            allocated_resources: AllocatedResources { cpu_shares: 100, memory_mb, disk_mb: 0 },
            ..Allocation::default()
        }
    }

    /// The plan applier's check: a placement is kept only on a node that is
    /// still ready and eligible and still has room beside what runs there
    /// and what the plan put there before it.
    #[test]
    fn a_plan_keeps_only_what_still_fits_the_state() {
        let mut state = State::default();
        for node in [node("a", 1_000), node("down", 1_000), node("ineligible", 1_000)] {
            state.nodes.insert(node.id.clone(), node);
        }
        state.nodes.get_mut("down").expect("node").status = status::DOWN.into();
        state.nodes.get_mut("ineligible").expect("node").scheduling_eligibility = eligibility::INELIGIBLE.into();
        state.scheduling.allocs.insert("running".into(), alloc("running", "a", 600));
        let mut plan = Plan {
            placed: vec![
                alloc("fits", "a", 300),
                alloc("no-room-beside-the-first", "a", 300),
                alloc("on-a-down-node", "down", 10),
                alloc("on-an-ineligible-node", "ineligible", 10),
                alloc("on-no-node", "gone", 10),
            ],
            ..Plan::default()
        };
        assert_eq!(plan.keep_what_fits(&state, &mut used_by_node(&state)), 4);
        assert_eq!(plan.placed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["fits"]);
    }

    #[test]
    fn the_plans_of_one_batch_are_checked_against_each_other() {
        let mut state = State::default();
        state.nodes.insert("a".into(), node("a", 1_000));
        let mut used = used_by_node(&state);
        let mut first = Plan { placed: vec![alloc("first", "a", 600)], ..Plan::default() };
        let mut second = Plan { placed: vec![alloc("second", "a", 600)], ..Plan::default() };
        assert_eq!(first.keep_what_fits(&state, &mut used), 0);
        assert_eq!(second.keep_what_fits(&state, &mut used), 1, "the first plan took the room");
    }

    #[test]
    fn a_held_placement_shows_in_the_node_set_until_the_next_sync() {
        let mut worker = Worker::default();
        worker.nodes.upsert(plugin_node(&node("a", 1_000), Vec::new())).expect("a node");
        worker.hold(&[alloc("planned", "a", 600), alloc("on-no-node", "gone", 1)], 70);
        let held = worker.nodes.get("a").expect("the node");
        assert_eq!(held.allocations.len(), 1);
        assert_eq!((held.allocations[0].id.as_str(), held.allocations[0].priority), ("planned", 70));
        assert_eq!(worker.held, BTreeSet::from(["a".to_owned()]), "taken from the state at the next sync");
    }

    #[test]
    fn a_plans_outcome_settles_blocks_or_retries_its_evaluation() {
        let pending = Evaluation { id: "e".into(), status: eval_status::PENDING.into(), ..Evaluation::default() };
        let statuses = |evals: &[Evaluation]| evals.iter().map(|e| e.status.clone()).collect::<Vec<_>>();
        assert_eq!(statuses(&outcome(&pending, &mut Plan::default(), 0, 0, 1)), ["complete"]);

        let mut unplaced = Plan::default();
        unplaced.failed.insert("web".into(), AllocMetric { nodes_exhausted: 2, ..AllocMetric::default() });
        unplaced.queued.insert("web".into(), 3);
        let evals = outcome(&pending, &mut unplaced, 0, 0, 1);
        assert_eq!(statuses(&evals), ["complete", "blocked"]);
        assert_eq!((evals[0].blocked_eval.as_str(), evals[1].previous_eval.as_str()), (evals[1].id.as_str(), "e"));
        assert_eq!((evals[1].queued_allocations["web"], evals[0].failed_tg_allocs["web"].nodes_exhausted), (3, 2));
        let still_blocked = Evaluation { status: eval_status::BLOCKED.into(), ..pending.clone() };
        assert_eq!(statuses(&outcome(&still_blocked, &mut unplaced, 0, 0, 1)), ["blocked"], "no second blocked eval");

        let mut faulted = Plan { fault: Some("the plugin trapped".into()), ..Plan::default() };
        let evals = outcome(&pending, &mut faulted, 0, 0, 1);
        assert_eq!((evals[0].status.as_str(), evals[0].status_description.as_str()), ("blocked", "the plugin trapped"));

        let retried = outcome(&pending, &mut Plan::default(), 1, PLAN_ATTEMPTS - 1, 1);
        assert_eq!((retried[0].status.as_str(), retried.len()), ("pending", 1), "a refused plan is tried again");
        assert_eq!(statuses(&outcome(&pending, &mut Plan::default(), 1, PLAN_ATTEMPTS, 1)), ["failed"]);
    }

    #[test]
    fn a_stopped_or_missing_job_wants_nothing_of_what_runs() {
        let live = [Allocation { task_group: "old".into(), ..alloc("x", "a", 1) }];
        assert_eq!(wanted(None, &live), [("old".to_owned(), 0)]);
        let mut job = Job {
            id: "j".into(),
            task_groups: vec![keel_api::job::TaskGroup { name: "web".into(), count: Some(3), ..Default::default() }],
            ..Job::default()
        };
        assert_eq!(wanted(Some(&job), &live), [("old".to_owned(), 0), ("web".to_owned(), 3)]);
        job.stop = true;
        assert_eq!(wanted(Some(&job), &live), [("old".to_owned(), 0)]);
    }
}
