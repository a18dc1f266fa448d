//! Confirming leadership before a default read (Raft's read-index).
//!
//! A leader that was paused does not know it has been deposed until it hears
//! from the others, and until then it would answer reads from its old state.
//! So before a default (not `?stale`) read, the leader confirms with a
//! quorum that it still leads and waits until its state machine has applied
//! everything committed when it asked (openraft's `ensure_linearizable`).
//!
//! One round costs a heartbeat to every voter. Under load, reads share
//! rounds: a read is answered by the first round that *started after it
//! arrived* — an earlier round proves nothing about it — and one round runs
//! at a time, so 64 concurrent reads cost about two rounds, not 64.
//!
//! Rounds run under one fair lock that also holds the last round's result.
//! A read waits its turn for the lock; once it has it, either a round that
//! started after the read arrived has finished (its answer is the read's),
//! or the read runs the next round itself. Nothing depends on a waiter being
//! woken at the right moment, and a read whose future is dropped mid-round
//! (its client went away) only passes the lock on to the next.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keel_state::TypeConfig;
use openraft::Raft;
use tokio::sync::Mutex;

/// How a finished round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Round {
    /// The round's number; rounds are numbered in the order they start.
    id: u64,
    confirmed: bool,
}

/// Shares leadership confirmations between concurrent reads.
pub(crate) struct ReadIndex {
    /// The number the next round to start will get.
    next_round: AtomicU64,
    /// The last finished round, locked by the read that runs the next one.
    last: Mutex<Round>,
}

impl ReadIndex {
    pub(crate) fn new() -> Self {
        Self { next_round: AtomicU64::new(1), last: Mutex::new(Round { id: 0, confirmed: false }) }
    }

    /// Whether `round` — one confirmation, made only when this read needs a
    /// round of its own — found this server leading, with everything
    /// committed applied, at some moment after the call began.
    pub(crate) async fn confirm<F: Future<Output = bool>>(&self, round: impl FnOnce() -> F) -> bool {
        // Any round numbered from here on starts after this read arrived.
        let needed = self.next_round.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        if last.id >= needed {
            return last.confirmed;
        }
        let id = self.next_round.fetch_add(1, Ordering::AcqRel);
        let confirmed = round().await;
        *last = Round { id, confirmed };
        confirmed
    }
}

/// One round: `raft` confirms with a quorum that it leads and waits until
/// it has applied everything committed. A round that takes longer than
/// `timeout` counts as not confirmed: a leader that cannot hear from a
/// quorum within it may well have been deposed.
pub(crate) async fn round(raft: &Raft<TypeConfig>, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, raft.ensure_linearizable()).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "leadership not confirmed for a read");
            false
        }
        Err(_) => {
            tracing::debug!(timeout_ms = timeout.as_millis(), "leadership confirmation timed out");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::Notify;

    use super::*;

    /// A round that counts itself and ends when `release` is notified.
    async fn gated(rounds: &AtomicUsize, release: &Notify, answer: bool) -> bool {
        rounds.fetch_add(1, Ordering::SeqCst);
        release.notified().await;
        answer
    }

    #[tokio::test]
    async fn reads_that_arrive_during_a_round_share_the_next_one() {
        let (index, rounds, release) =
            (Arc::new(ReadIndex::new()), Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
        let read = |answer| {
            let (index, rounds, release) = (index.clone(), rounds.clone(), release.clone());
            tokio::spawn(async move { index.confirm(|| gated(&rounds, &release, answer)).await })
        };
        let first = read(true);
        while rounds.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // These arrive while the first round runs: it proves nothing about them.
        let later: Vec<_> = (0..16).map(|_| read(false)).collect();
        tokio::task::yield_now().await;
        release.notify_one();
        assert!(first.await.expect("the first read ends"), "the first read has its own round's answer");
        while rounds.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        for read in later {
            assert!(!read.await.expect("a later read ends"), "every later read has the second round's answer");
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 2, "sixteen waiting reads cost one round");
    }

    #[tokio::test]
    async fn a_read_dropped_mid_round_leaves_the_waiting_reads_a_round_to_run() {
        let (index, rounds) = (Arc::new(ReadIndex::new()), Arc::new(AtomicUsize::new(0)));
        let abandoned = {
            let (index, rounds) = (index.clone(), rounds.clone());
            let never = Notify::new();
            tokio::spawn(async move { index.confirm(|| gated(&rounds, &never, true)).await })
        };
        while rounds.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiting = {
            let index = index.clone();
            tokio::spawn(async move { index.confirm(|| async { true }).await })
        };
        tokio::task::yield_now().await;
        // Its client went away: the request's future is dropped mid-round.
        abandoned.abort();
        let answered = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(answered.expect("the waiting read is answered").expect("it ends"), "it ran a round of its own");
    }
}
