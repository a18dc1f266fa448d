//! The threads guest calls run on: a fixed number of dedicated threads fed
//! by one bounded queue, so that a plugin running to its deadline holds one
//! of these threads and never a thread of the async runtime that carries
//! HTTP, Raft and gossip.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use crate::PluginError;

/// One unit of work: a whole guest call, instance checkout included.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A handle on the call threads. Clones share the threads, which stop once
/// every handle (the runtime's and every loaded plugin's) is gone.
#[derive(Clone)]
pub(crate) struct Pool {
    jobs: SyncSender<Job>,
    threads: usize,
}

impl Pool {
    /// Starts `threads` call threads behind a queue of `queue_max` waiting
    /// calls.
    pub(crate) fn start(threads: usize, queue_max: usize) -> Result<Self, PluginError> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(queue_max);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("keel-plugin-{index}"))
                .spawn(move || serve(&queue))
                .map_err(|e| PluginError::Engine(format!("spawn plugin call thread: {e}")))?;
        }
        Ok(Self { jobs, threads })
    }

    /// How many calls can run at once; also the most instances a plugin keeps.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Queues `job`, or refuses at once when the queue is full: a caller
    /// never waits for room.
    pub(crate) fn submit(&self, job: Job, plugin: &str) -> Result<(), PluginError> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(PluginError::Busy { plugin: plugin.to_owned() }),
            Err(TrySendError::Disconnected(_)) => Err(PluginError::PoolStopped),
        }
    }
}

/// One call thread: takes jobs until every sender is gone. A job that
/// panics (a host bug, not a guest trap, which comes back as an error) is
/// logged and the thread carries on; its caller sees the pool as stopped.
fn serve(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            Ok(job) => job,
            Err(mpsc::RecvError) => return,
        };
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a plugin call panicked in the host; its caller gets an error");
        }
    }
}
