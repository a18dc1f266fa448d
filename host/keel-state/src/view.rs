//! The in-memory copy of the applied state that the rest of the server reads.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use openraft::{LogId, StoredMembership};
use tokio::sync::watch;

use crate::{ServerNode, State};

/// The applied state together with the position it describes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    pub(crate) state: State,
    pub(crate) applied: Option<LogId<u64>>,
    pub(crate) membership: StoredMembership<u64, ServerNode>,
}

/// A cheap, clonable read handle on the applied state.
///
/// Reads take a `std` read lock for the duration of the closure and never
/// touch the disk, so HTTP handlers can call them at any rate. Do not hold
/// anything from inside a read across an `.await`: copy out what is needed.
///
/// The state, the applied log id and the membership are always seen
/// together: a reader never sees data from one index with the position of
/// another. What a reader sees has already been handed to sled.
#[derive(Clone)]
pub struct StateView {
    shared: Arc<Shared>,
}

struct Shared {
    current: RwLock<Applied>,
    /// The applied index, for tasks that wait for an index to be reached.
    applied_index: watch::Sender<u64>,
}

impl StateView {
    pub(crate) fn new(applied: Applied) -> StateView {
        let index = applied.applied.map_or(0, |id| id.index);
        let (applied_index, _) = watch::channel(index);
        StateView { shared: Arc::new(Shared { current: RwLock::new(applied), applied_index }) }
    }

    /// Runs `f` on the current state and returns what it returns.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock_read().state)
    }

    /// Runs `f` on the current state and the log id it was applied up to,
    /// seen together.
    pub fn read_at<R>(&self, f: impl FnOnce(&State, Option<LogId<u64>>) -> R) -> R {
        let current = self.lock_read();
        f(&current.state, current.applied)
    }

    /// The log id of the last applied entry, `None` before the first.
    pub fn applied(&self) -> Option<LogId<u64>> {
        self.lock_read().applied
    }

    /// The index of the last applied entry, 0 before the first. It is
    /// published just after the state changes, so it may trail
    /// [`StateView::applied`] for a moment, never lead it.
    pub fn applied_index(&self) -> u64 {
        *self.shared.applied_index.borrow()
    }

    /// The last applied Raft membership.
    pub fn membership(&self) -> StoredMembership<u64, ServerNode> {
        self.lock_read().membership.clone()
    }

    /// A receiver that sees every new applied index.
    pub fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.shared.applied_index.subscribe()
    }

    /// Waits until entry `index` has been applied, for at most `timeout`.
    /// Returns whether it was.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> bool {
        let mut applied = self.subscribe_applied();
        let reached = tokio::time::timeout(timeout, applied.wait_for(|&applied| applied >= index)).await;
        // The sender lives as long as `self`, so `wait_for` cannot fail.
        matches!(reached, Ok(Ok(_)))
    }

    /// A blocking query: reads `f`, which answers a value and its index,
    /// until that index differs from `index` or `wait` has passed, and
    /// answers the last read. An `index` of 0 answers at once.
    pub async fn block<T>(&self, index: u64, wait: Duration, f: impl Fn(&State) -> (T, u64)) -> (T, u64) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut applied = self.subscribe_applied();
        loop {
            applied.borrow_and_update();
            let (value, at) = self.read(&f);
            if index == 0 || at != index {
                return (value, at);
            }
            // The sender lives as long as `self`, so only the deadline ends the wait.
            if tokio::time::timeout_at(deadline, applied.changed()).await.is_err() {
                return (value, at);
            }
        }
    }

    /// A consistent copy-out of the whole applied position, for snapshots.
    pub(crate) fn with_applied<R>(&self, f: impl FnOnce(&Applied) -> R) -> R {
        f(&self.lock_read())
    }

    /// Changes the applied state under the write lock, then publishes the
    /// new applied index if `f` succeeded. `f` writes the change to sled
    /// while the lock is held, so no reader ever sees a state newer than
    /// what sled was given.
    pub(crate) fn update<T, E>(&self, f: impl FnOnce(&mut Applied) -> Result<T, E>) -> Result<T, E> {
        let mut current = self.lock_write();
        let result = f(&mut current)?;
        let index = current.applied.map_or(0, |id| id.index);
        drop(current);
        self.shared.applied_index.send_if_modified(|published| {
            let changed = *published != index;
            *published = index;
            changed
        });
        Ok(result)
    }

    fn lock_read(&self) -> RwLockReadGuard<'_, Applied> {
        self.shared.current.read().expect("the state lock is poisoned only if applying panicked, which is fatal")
    }

    fn lock_write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.shared.current.write().expect("the state lock is poisoned only if applying panicked, which is fatal")
    }
}
