//! One task of an allocation: started with its driver, watched until it
//! exits, restarted as its group's restart policy says, and stopped with
//! its kill signal, then killed once its `kill_timeout` has passed. Every
//! step is a Nomad task event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keel_api::job::{Allocation, Job, Task, TaskGroup};
use keel_api::task::{RestartPolicy, TaskEvent, event, state};
use tokio::sync::watch;

use crate::alloc::Report;
use crate::alloc_dir::{AllocDir, LogKind};
use crate::raw_exec::{self, Exit, Process, Spec};
use crate::restarts::{Next, Restarts};

/// The driver this client has.
const RAW_EXEC: &str = "raw_exec";

/// Unix nanoseconds now.
pub(crate) fn now_ns() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

fn rfc3339_now() -> Option<String> {
    Some(keel_api::time::rfc3339_ms(now_ns() / 1_000_000))
}

/// Everything a task's runner needs.
#[derive(Debug)]
pub(crate) struct TaskContext {
    task: Task,
    batch: bool,
    policy: RestartPolicy,
    dir: AllocDir,
    env: BTreeMap<String, String>,
    raw_exec: bool,
}

impl TaskContext {
    pub(crate) fn new(
        alloc: &Allocation,
        job: &Job,
        group: &TaskGroup,
        task: &Task,
        dir: &AllocDir,
        raw_exec: bool,
    ) -> Self {
        let path = |path: std::path::PathBuf| path.display().to_string();
        let mut env = BTreeMap::from([
            ("NOMAD_ALLOC_DIR".to_owned(), path(dir.shared())),
            ("NOMAD_TASK_DIR".to_owned(), path(dir.task_local(&task.name))),
            ("NOMAD_SECRETS_DIR".to_owned(), path(dir.task_dir(&task.name).join("secrets"))),
            ("NOMAD_ALLOC_ID".to_owned(), alloc.id.clone()),
            ("NOMAD_ALLOC_NAME".to_owned(), alloc.name.clone()),
            ("NOMAD_ALLOC_INDEX".to_owned(), alloc.index().unwrap_or_default().to_string()),
            ("NOMAD_TASK_NAME".to_owned(), task.name.clone()),
            ("NOMAD_GROUP_NAME".to_owned(), group.name.clone()),
            ("NOMAD_JOB_ID".to_owned(), job.id.clone()),
            ("NOMAD_JOB_NAME".to_owned(), job.name.clone()),
            ("NOMAD_NAMESPACE".to_owned(), job.namespace.clone()),
            ("NOMAD_REGION".to_owned(), job.region.clone()),
            ("NOMAD_CPU_LIMIT".to_owned(), task.resources.cpu().to_string()),
            ("NOMAD_MEMORY_LIMIT".to_owned(), task.resources.memory_mb().to_string()),
        ]);
        let own: Vec<(String, String)> =
            task.env.iter().map(|(k, v)| (k.clone(), raw_exec::interpolate(v, &env))).collect();
        env.extend(own);
        let batch = matches!(job.job_type.as_str(), "batch" | "sysbatch");
        Self { task: task.clone(), batch, policy: group.restart_policy.clone(), dir: dir.clone(), env, raw_exec }
    }

    pub(crate) fn name(&self) -> &str {
        &self.task.name
    }

    /// What the driver runs, or why the task cannot run here.
    fn spec(&self) -> Result<Spec, String> {
        if self.task.driver != RAW_EXEC {
            return Err(format!("driver {:?} is not available on this client", self.task.driver));
        }
        if !self.raw_exec {
            return Err("the raw_exec driver is not enabled on this client".to_owned());
        }
        let (command, args) = raw_exec::command_of(&self.task.config, &self.env)?;
        Ok(Spec {
            command,
            args,
            env: self.env.clone(),
            dir: self.dir.task_dir(&self.task.name),
            stdout: self.dir.log(&self.task.name, LogKind::Stdout),
            stderr: self.dir.log(&self.task.name, LogKind::Stderr),
        })
    }

    fn kill_timeout(&self) -> Duration {
        Duration::from_nanos(self.task.kill_timeout.unwrap_or(keel_api::job::DEFAULT_KILL_TIMEOUT_NS))
    }
}

/// Runs the task until it is done, has failed or is stopped; answers
/// whether it failed. `setup` is why its directory could not be built.
pub(crate) async fn run(
    context: TaskContext,
    setup: Option<String>,
    report: &Report,
    mut stop: watch::Receiver<Option<String>>,
) -> bool {
    let name = context.name().to_owned();
    report.event(&name, TaskEvent::new(event::TASK_SETUP, now_ns(), "Building Task Directory"));
    let spec = match setup
        .map_or_else(|| context.spec(), |error| Err(format!("failed to build the task directory: {error}")))
    {
        Ok(spec) => spec,
        Err(error) => return fail(report, &name, event::DRIVER_FAILURE, error),
    };
    let mut restarts = Restarts::new(context.policy.clone(), context.batch, Instant::now());
    loop {
        let mut process = match Process::start(&spec) {
            Ok(process) => process,
            Err(error) => {
                return fail(
                    report,
                    &name,
                    event::DRIVER_FAILURE,
                    format!("failed to start {:?}: {error}", spec.command),
                );
            }
        };
        report.change(&name, |task| {
            task.state = state::RUNNING.to_owned();
            task.started_at = rfc3339_now();
            task.push_event(TaskEvent::new(event::STARTED, now_ns(), "Task started by client"));
        });
        let exit = tokio::select! {
            exit = process.wait() => exit,
            reason = stopped(&mut stop) => {
                kill(&context, &mut process, report, &reason).await;
                return false;
            }
        };
        report.event(&name, terminated(exit));
        match restarts.next(exit.successful(), Instant::now()) {
            Next::Done => {
                dead(report, &name, false);
                return false;
            }
            Next::Fail { reason } => return fail(report, &name, event::NOT_RESTARTING, reason),
            Next::Restart { delay, reason } => {
                report.change(&name, |task| {
                    task.state = state::PENDING.to_owned();
                    task.restarts += 1;
                    task.last_restart = rfc3339_now();
                    let message = format!("Task restarting in {}", keel_api::duration::format(delay));
                    let start_delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
                    task.push_event(TaskEvent {
                        restart_reason: reason,
                        start_delay,
                        ..TaskEvent::new(event::RESTARTING, now_ns(), message)
                    });
                });
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stopped(&mut stop) => {
                        dead(report, &name, false);
                        return false;
                    }
                }
            }
        }
    }
}

/// Waits until the task is asked to stop; answers why.
async fn stopped(stop: &mut watch::Receiver<Option<String>>) -> String {
    let reason = stop.wait_for(Option::is_some).await.ok().map(|reason| reason.clone().unwrap_or_default());
    match reason {
        Some(reason) => reason,
        // The allocation's runner holds the sender as long as tasks run.
        None => std::future::pending().await,
    }
}

/// The kill signal, then `SIGKILL` once the kill timeout has passed.
async fn kill(context: &TaskContext, process: &mut Process, report: &Report, reason: &str) {
    let name = context.name();
    let timeout = context.kill_timeout();
    let signal = raw_exec::signal_number(&context.task.kill_signal).unwrap_or(libc::SIGINT);
    let message =
        format!("Sent interrupt. Waiting {} before force killing ({reason})", keel_api::duration::format(timeout));
    let kill_timeout = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
    report.event(name, TaskEvent { kill_timeout, ..TaskEvent::new(event::KILLING, now_ns(), message) });
    process.signal_group(signal);
    let exit = match tokio::time::timeout(timeout, process.wait()).await {
        Ok(exit) => exit,
        Err(_) => {
            process.signal_group(libc::SIGKILL);
            process.wait().await
        }
    };
    report.event(name, terminated(exit));
    report.event(name, TaskEvent::new(event::KILLED, now_ns(), "Task successfully killed"));
    dead(report, name, false);
}

/// Nomad's `Terminated` event: the exit code and the signal, if one.
fn terminated(exit: Exit) -> TaskEvent {
    let code = exit.code.unwrap_or(-1);
    let message = match exit.signal {
        Some(signal) => format!("Exit Code: {code}, Signal: {signal}"),
        None => format!("Exit Code: {code}"),
    };
    TaskEvent {
        exit_code: code,
        signal: exit.signal.unwrap_or(0),
        ..TaskEvent::new(event::TERMINATED, now_ns(), message)
    }
}

fn dead(report: &Report, name: &str, failed: bool) {
    report.change(name, |task| {
        task.state = state::DEAD.to_owned();
        task.failed = failed;
        task.finished_at = rfc3339_now();
    });
}

/// The task failed for good: an event of `event_type` that says `why`.
fn fail(report: &Report, name: &str, event_type: &str, why: String) -> bool {
    let driver_error = if event_type == event::DRIVER_FAILURE { why.clone() } else { String::new() };
    report.event(name, TaskEvent { fails_task: true, driver_error, ..TaskEvent::new(event_type, now_ns(), why) });
    dead(report, name, true);
    true
}
