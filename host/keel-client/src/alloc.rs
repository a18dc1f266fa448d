//! One allocation on the client: its directory, one runner per task, and
//! the report of how they run that goes to the servers.
//!
//! The allocation's client status follows its tasks as Nomad's does:
//! `failed` if a task failed, else `running` if one runs, else `pending`
//! if one waits, else `complete`. A task that fails stops its siblings.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use keel_api::job::{AllocUpdate, Allocation, Job, client_status};
use keel_api::task::{TaskEvent, TaskState, event, state};
use tokio::sync::{mpsc, watch};

use crate::alloc_dir::AllocDir;
use crate::task::{self, TaskContext};

/// A running allocation, as the client's runtime holds it.
#[derive(Debug)]
pub(crate) struct AllocHandle {
    pub(crate) dir: AllocDir,
    stop: Arc<watch::Sender<Option<String>>>,
    done: watch::Receiver<bool>,
}

impl AllocHandle {
    /// Asks every task to stop, for `reason`.
    pub(crate) fn stop(&self, reason: &str) {
        ask_to_stop(&self.stop, reason);
    }

    /// Waits until every task has stopped.
    pub(crate) async fn stopped(&self) {
        let mut done = self.done.clone();
        // The runner holds the sender until it is done, then drops it.
        let _ = done.wait_for(|done| *done).await;
    }
}

/// Asks an allocation's tasks to stop, unless they were asked before.
fn ask_to_stop(stop: &watch::Sender<Option<String>>, reason: &str) {
    stop.send_if_modified(|stop| {
        let first = stop.is_none();
        if first {
            *stop = Some(reason.to_owned());
        }
        first
    });
}

/// What an allocation's tasks report, kept together so that each change
/// goes out with the whole allocation's state.
pub(crate) struct Report {
    alloc_id: String,
    states: Mutex<BTreeMap<String, TaskState>>,
    updates: mpsc::UnboundedSender<AllocUpdate>,
}

impl Report {
    /// Changes the state of `task` and sends the allocation's new state.
    pub(crate) fn change(&self, task: &str, change: impl FnOnce(&mut TaskState)) {
        let update = {
            let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
            change(states.entry(task.to_owned()).or_default());
            let (status, description) = client_status_of(&states);
            AllocUpdate {
                id: self.alloc_id.clone(),
                client_status: status.to_owned(),
                client_description: description.to_owned(),
                task_states: states.clone(),
            }
        };
        // The receiver goes only with the whole client.
        let _ = self.updates.send(update);
    }

    /// Adds `event` to `task`'s events.
    pub(crate) fn event(&self, task: &str, event: TaskEvent) {
        self.change(task, |state| state.push_event(event));
    }
}

/// Nomad's client status of an allocation with these task states, and its
/// description.
fn client_status_of(states: &BTreeMap<String, TaskState>) -> (&'static str, &'static str) {
    let any = |wanted: &str| states.values().any(|task| task.state == wanted);
    if states.values().any(|task| task.failed) {
        (client_status::FAILED, "Failed tasks")
    } else if any(state::RUNNING) {
        (client_status::RUNNING, "Tasks are running")
    } else if any(state::PENDING) || states.is_empty() {
        (client_status::PENDING, "No tasks have started")
    } else {
        (client_status::COMPLETE, "All tasks have completed")
    }
}

/// Starts `alloc` of `job` in its directory under `allocs`, going on from
/// the servers' copy of its task states (a client that restarted), or
/// says why it cannot.
pub(crate) fn start(
    alloc: &Allocation,
    job: &Job,
    allocs: &Path,
    raw_exec: bool,
    updates: mpsc::UnboundedSender<AllocUpdate>,
) -> Result<AllocHandle, String> {
    let dir = AllocDir::new(allocs, &alloc.id).ok_or_else(|| format!("no directory for the id {:?}", alloc.id))?;
    let Some(group) = job.task_groups.iter().find(|group| group.name == alloc.task_group).cloned() else {
        return Err(format!("job {:?} has no task group {:?}", job.id, alloc.task_group));
    };
    let seeded = alloc.task_states.iter().map(|(name, seen)| {
        let events = seen.events.clone();
        (
            name.clone(),
            TaskState { state: state::PENDING.to_owned(), restarts: seen.restarts, events, ..TaskState::default() },
        )
    });
    let report = Arc::new(Report { alloc_id: alloc.id.clone(), states: Mutex::new(seeded.collect()), updates });
    let (stop, stop_seen) = watch::channel(None);
    let stop = Arc::new(stop);
    let (finished, done) = watch::channel(false);
    let contexts: Vec<TaskContext> =
        group.tasks.iter().map(|task| TaskContext::new(alloc, job, &group, task, &dir, raw_exec)).collect();
    let (sibling_stop, built) = (Arc::clone(&stop), dir.clone());
    tokio::spawn(async move {
        let now = task::now_ns();
        for context in &contexts {
            report.change(context.name(), |state| {
                state.state = state::PENDING.to_owned();
                state.push_event(TaskEvent::new(event::RECEIVED, now, "Task received by client"));
            });
        }
        let setup = built.build(contexts.iter().map(TaskContext::name));
        let mut runners = tokio::task::JoinSet::new();
        for context in contexts {
            let (report, stop_seen, setup) =
                (Arc::clone(&report), stop_seen.clone(), setup.as_ref().err().map(ToString::to_string));
            runners.spawn(async move {
                let name = context.name().to_owned();
                let failed = task::run(context, setup, &report, stop_seen).await;
                (name, failed)
            });
        }
        while let Some(ended) = runners.join_next().await {
            if let Ok((name, true)) = ended {
                ask_to_stop(&sibling_stop, &format!("task {name:?} failed"));
            }
        }
        let _ = finished.send(true);
    });
    Ok(AllocHandle { dir, stop, done })
}

/// What a client reports of an allocation it cannot start: failed, with
/// the reason as its description.
pub(crate) fn failed_to_start(alloc: &Allocation, reason: &str) -> AllocUpdate {
    AllocUpdate {
        id: alloc.id.clone(),
        client_status: client_status::FAILED.to_owned(),
        client_description: format!("the client cannot run it: {reason}"),
        task_states: alloc.task_states.clone(),
    }
}

/// What a client that restarted reports of an allocation the servers
/// stopped while it was away: its tasks are gone, so it is complete.
pub(crate) fn finished_while_away(alloc: &Allocation) -> AllocUpdate {
    let now = task::now_ns();
    let task_states = alloc
        .task_states
        .iter()
        .map(|(name, seen)| {
            let finished_at = Some(keel_api::time::rfc3339_ms(now / 1_000_000));
            let mut task = TaskState { state: state::DEAD.to_owned(), finished_at, ..seen.clone() };
            task.push_event(TaskEvent::new(event::KILLED, now, "Task stopped while the client was away"));
            (name.clone(), task)
        })
        .collect();
    AllocUpdate {
        id: alloc.id.clone(),
        client_status: client_status::COMPLETE.to_owned(),
        client_description: "All tasks have completed".to_owned(),
        task_states,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: &str, failed: bool) -> TaskState {
        TaskState { state: state.into(), failed, ..TaskState::default() }
    }

    #[test]
    fn the_client_status_follows_the_tasks_as_nomads_does() {
        let of = |tasks: &[(&str, bool)]| {
            let states = tasks.iter().enumerate().map(|(i, (s, f))| (i.to_string(), task(s, *f))).collect();
            client_status_of(&states).0
        };
        assert_eq!(of(&[]), "pending");
        assert_eq!(of(&[("pending", false), ("running", false)]), "running");
        assert_eq!(of(&[("pending", false), ("dead", false)]), "pending");
        assert_eq!(of(&[("dead", false), ("dead", false)]), "complete");
        assert_eq!(of(&[("running", false), ("dead", true)]), "failed");
    }
}
