//! Confirming leadership before a default read (Raft's read-index).
//!
//! A leader that was paused does not know it has been deposed until it hears
//! from the others, and until then it would answer reads from its old state.
//! So before a default (not `?stale`) read, the leader confirms with a
//! quorum that it still leads and waits until its state machine has applied
//! everything committed when it asked (openraft's `ensure_linearizable`).
//!
//! One round costs a heartbeat to every voter. Under load, reads share
//! rounds: a read waits for the first round that *started after it
//! arrived* — an earlier round proves nothing about it — and at most one
//! round runs at a time, so 64 concurrent reads cost about two rounds, not
//! 64.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keel_state::TypeConfig;
use openraft::Raft;
use tokio::sync::{Mutex, watch};

/// How a finished round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Round {
    /// The round's number; rounds are numbered in the order they start.
    id: u64,
    confirmed: bool,
}

/// Shares leadership confirmations between concurrent reads.
pub(crate) struct ReadIndex {
    raft: Raft<TypeConfig>,
    /// The number the next round to start will get.
    next_round: AtomicU64,
    /// Held by the read that runs the current round.
    running: Mutex<()>,
    finished: watch::Sender<Round>,
    /// How long a round may take before it counts as not confirmed: a leader
    /// that cannot hear from a quorum within it may well have been deposed.
    round_timeout: Duration,
}

impl ReadIndex {
    pub(crate) fn new(raft: Raft<TypeConfig>, round_timeout: Duration) -> Self {
        let (finished, _) = watch::channel(Round { id: 0, confirmed: false });
        Self { raft, next_round: AtomicU64::new(1), running: Mutex::new(()), finished, round_timeout }
    }

    /// Whether this server still led, with everything committed applied, at
    /// some moment after the call began.
    pub(crate) async fn confirm(&self) -> bool {
        // Any round numbered from here on starts after this read arrived.
        let needed = self.next_round.load(Ordering::Acquire);
        let mut finished = self.finished.subscribe();
        loop {
            let last = *finished.borrow_and_update();
            if last.id >= needed {
                return last.confirmed;
            }
            match self.running.try_lock() {
                Ok(_running) => {
                    let id = self.next_round.fetch_add(1, Ordering::AcqRel);
                    let confirmed = self.run_round().await;
                    self.finished.send_replace(Round { id, confirmed });
                }
                // Another read runs a round; its end may or may not be late
                // enough for this one, so look again when it finishes.
                Err(_) => {
                    if finished.changed().await.is_err() {
                        return false;
                    }
                }
            }
        }
    }

    async fn run_round(&self) -> bool {
        match tokio::time::timeout(self.round_timeout, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => true,
            Ok(Err(error)) => {
                tracing::debug!(%error, "leadership not confirmed for a read");
                false
            }
            Err(_) => {
                tracing::debug!(timeout_ms = self.round_timeout.as_millis(), "leadership confirmation timed out");
                false
            }
        }
    }
}
