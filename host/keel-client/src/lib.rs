//! The client agent's runtime: it runs the allocations the servers place
//! on its node and reports how their tasks run.
//!
//! [`Runtime::sync`] is given the node's allocations, each with its job,
//! as the servers have them: an allocation wanted running that the client
//! does not run yet is started in its directory under
//! `<data_dir>/alloc/<id>` ([`alloc_dir`]), its tasks run by the
//! `raw_exec` driver ([`raw_exec`]) and restarted under their group's
//! restart policy ([`restarts`]); one the servers stop has its tasks
//! stopped (kill signal, then `SIGKILL` after `kill_timeout`). Every
//! change of a task's state goes out on the runtime's update channel as
//! the allocation's whole [`AllocUpdate`], for the agent to send to the
//! servers. Logs stay readable ([`Runtime::logs`]) until the servers
//! forget the allocation.
//!
//! Tasks die with the agent; a runtime that starts kills what a previous
//! one left behind, and the allocations still wanted are started again.
//!
//! It depends on `keel-api`'s wire types only: it knows nothing of Raft,
//! HTTP or plugins, and the agent carries its calls to the servers.

pub mod alloc_dir;
pub mod raw_exec;
pub mod restarts;

mod alloc;
mod task;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use keel_api::job::{AllocUpdate, Allocation, PlacedAlloc, desired_status};
use tokio::sync::mpsc;

use crate::alloc::AllocHandle;
use crate::alloc_dir::{AllocDir, LogKind};

/// Why logs could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// This client has no such allocation.
    UnknownAlloc(String),
    /// The allocation has no such task.
    UnknownTask(String),
    /// The log could not be read.
    Unreadable(String),
}

/// The allocations this client runs.
pub struct Runtime {
    node_id: String,
    allocs: PathBuf,
    raw_exec: bool,
    running: Mutex<HashMap<String, AllocHandle>>,
    /// The namespace of each allocation the servers placed here.
    namespaces: Mutex<HashMap<String, String>>,
    updates: mpsc::UnboundedSender<AllocUpdate>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("allocs", &self.allocs).field("raw_exec", &self.raw_exec).finish()
    }
}

impl Runtime {
    /// The runtime of the client of node `node_id` with data dir `data_dir`, and the channel
    /// its allocation updates come out of. Kills the tasks a previous
    /// runtime over the same data dir left behind.
    pub fn new(data_dir: &Path, node_id: &str, raw_exec: bool) -> (Arc<Self>, mpsc::UnboundedReceiver<AllocUpdate>) {
        let allocs = data_dir.join("alloc");
        let killed = raw_exec::kill_leftovers(&allocs);
        if killed > 0 {
            tracing::warn!(killed, "killed tasks a previous run of this client left behind");
        }
        let (updates, received) = mpsc::unbounded_channel();
        let running = Mutex::new(HashMap::new());
        let node_id = node_id.to_owned();
        (Arc::new(Self { node_id, allocs, raw_exec, running, namespaces: Mutex::default(), updates }), received)
    }

    /// The node this client runs allocations for.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, AllocHandle>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings what runs in line with `placed`, the node's allocations as
    /// the servers have them.
    pub fn sync(&self, placed: Vec<PlacedAlloc>) {
        let mut running = self.running();
        let known: BTreeSet<String> = placed.iter().map(|placed| placed.alloc.id.clone()).collect();
        let namespaces = placed.iter().map(|placed| (placed.alloc.id.clone(), placed.alloc.namespace.clone()));
        *self.namespaces.lock().unwrap_or_else(PoisonError::into_inner) = namespaces.collect();
        for PlacedAlloc { alloc, job } in placed {
            let wanted = alloc.desired_status == desired_status::RUN && job.is_some();
            match (running.get(&alloc.id), job) {
                (Some(handle), _) if !wanted => handle.stop(&stop_reason(&alloc)),
                (Some(_), _) => {}
                (None, Some(job)) if wanted && !alloc.is_finished() => {
                    tracing::info!(alloc = %alloc.id, "starting an allocation");
                    match alloc::start(&alloc, &job, &self.allocs, self.raw_exec, self.updates.clone()) {
                        Ok(handle) => {
                            running.insert(alloc.id.clone(), handle);
                        }
                        Err(reason) => {
                            tracing::warn!(alloc = %alloc.id, "an allocation this client cannot run: {reason}");
                            let _ = self.updates.send(alloc::failed_to_start(&alloc, &reason));
                        }
                    }
                }
                (None, _) if !wanted && !alloc.is_finished() && !alloc.client_status.is_empty() => {
                    let _ = self.updates.send(alloc::finished_while_away(&alloc));
                }
                (None, _) => {}
            }
        }
        let forgotten: Vec<String> = running.keys().filter(|id| !known.contains(*id)).cloned().collect();
        for id in forgotten {
            let Some(handle) = running.remove(&id) else { continue };
            handle.stop("the servers forgot the allocation");
            tokio::spawn(async move {
                handle.stopped().await;
                if let Err(error) = handle.dir.destroy() {
                    tracing::warn!(alloc = %id, "could not remove the allocation's directory: {error}");
                }
            });
        }
    }

    /// The log of `kind` of `task` in allocation `alloc_id` of `namespace`,
    /// from the start. An allocation of another namespace is unknown here.
    pub fn logs(&self, alloc_id: &str, namespace: &str, task: &str, kind: LogKind) -> Result<Vec<u8>, LogError> {
        let placed_here = self.namespaces.lock().unwrap_or_else(PoisonError::into_inner).get(alloc_id).cloned();
        let dir = AllocDir::new(&self.allocs, alloc_id)
            .filter(|dir| dir.exists() && placed_here.as_deref() == Some(namespace))
            .ok_or_else(|| LogError::UnknownAlloc(alloc_id.to_owned()))?;
        if task.contains('/') || !dir.task_dir(task).is_dir() {
            return Err(LogError::UnknownTask(task.to_owned()));
        }
        match std::fs::read(dir.log(task, kind)) {
            Ok(bytes) => Ok(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(LogError::Unreadable(error.to_string())),
        }
    }

    /// Whether the servers placed allocation `alloc_id` on this client.
    pub fn has(&self, alloc_id: &str) -> bool {
        self.namespaces.lock().unwrap_or_else(PoisonError::into_inner).contains_key(alloc_id)
    }
}

fn stop_reason(alloc: &Allocation) -> String {
    match alloc.desired_description.as_str() {
        "" => "the allocation was stopped".to_owned(),
        description => description.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use keel_api::job::{Job, client_status};

    use super::*;

    #[tokio::test]
    async fn an_allocation_the_client_cannot_start_is_reported_failed_with_the_reason() {
        let data_dir = tempfile::tempdir().expect("a data dir");
        let (runtime, mut updates) = Runtime::new(data_dir.path(), "node", true);
        let alloc = Allocation {
            id: "a1".into(),
            task_group: "missing".into(),
            desired_status: desired_status::RUN.into(),
            client_status: client_status::PENDING.into(),
            ..Allocation::default()
        };
        let job = Job { id: "web".into(), ..Job::default() };
        runtime.sync(vec![PlacedAlloc { alloc, job: Some(job) }]);
        let update = updates.try_recv().expect("an update");
        assert_eq!((update.id.as_str(), update.client_status.as_str()), ("a1", client_status::FAILED));
        assert!(update.client_description.contains("job \"web\" has no task group \"missing\""), "{update:?}");
        assert!(runtime.running().is_empty(), "nothing runs");
    }
}
