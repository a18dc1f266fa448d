//! Shadow plugins: a candidate that gets the same inputs as the active
//! plugin of its kind. Its answers are compared with the active one's and
//! recorded, never used; its faults are counted and never reach the caller.
//!
//! A comparison runs on a task of its own ([`Shadow::compare`]), so the
//! request that triggered it is answered without waiting for the shadow.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::active::Active;

/// How many disagreements a shadow keeps, newest first.
pub const RECENT_DISAGREEMENTS: usize = 20;

/// A candidate plugin and what comparing it with the active one found.
pub struct Shadow<P> {
    pub plugin: Active<P>,
    pub record: Comparisons,
}

impl<P: Send + Sync + 'static> Shadow<P> {
    /// Asks the shadow, on a task of its own, the question the active
    /// plugin answered with `active`, and records whether the two agree.
    /// `input` summarizes the question for the record; it must hold no
    /// secret. An `Err` from `ask` is the shadow's fault, counted apart.
    pub fn compare<T, F, Fut>(self: Arc<Self>, input: String, active: T, ask: F)
    where
        T: PartialEq + Debug + Send + 'static,
        F: FnOnce(Arc<Self>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, String>> + Send + 'static,
    {
        tokio::spawn(async move {
            let answer = ask(Arc::clone(&self)).await;
            self.record.record(input, &active, answer);
        });
    }
}

/// One input on which the shadow and the active plugin answered differently
/// (or the shadow failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// Unix milliseconds.
    pub at_ms: u64,
    pub input: String,
    pub active: String,
    pub shadow: String,
}

/// The counts of a shadow's comparisons and its last disagreements.
#[derive(Default)]
pub struct Comparisons {
    agreements: AtomicU64,
    disagreements: AtomicU64,
    faults: AtomicU64,
    recent: Mutex<VecDeque<Disagreement>>,
}

/// What [`Comparisons`] holds at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComparisonSnapshot {
    pub agreements: u64,
    pub disagreements: u64,
    /// Comparisons the shadow could not answer (a trap, a timeout, an error).
    pub faults: u64,
    /// Newest first, at most [`RECENT_DISAGREEMENTS`].
    pub recent: Vec<Disagreement>,
}

impl Comparisons {
    /// Records one comparison of the active answer with the shadow's.
    pub fn record<T: PartialEq + Debug>(&self, input: String, active: &T, shadow: Result<T, String>) {
        let shadow = match shadow {
            Ok(answer) if answer == *active => {
                self.agreements.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(answer) => {
                self.disagreements.fetch_add(1, Ordering::Relaxed);
                format!("{answer:?}")
            }
            Err(error) => {
                self.faults.fetch_add(1, Ordering::Relaxed);
                format!("failed: {error}")
            }
        };
        let at_ms = crate::now_ms();
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.push_front(Disagreement { at_ms, input, active: format!("{active:?}"), shadow });
        recent.truncate(RECENT_DISAGREEMENTS);
    }

    pub fn snapshot(&self) -> ComparisonSnapshot {
        ComparisonSnapshot {
            agreements: self.agreements.load(Ordering::Relaxed),
            disagreements: self.disagreements.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            recent: self.recent.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreements_are_counted_and_disagreements_and_faults_kept_newest_first() {
        let record = Comparisons::default();
        record.record("same".into(), &true, Ok(true));
        record.record("differs".into(), &true, Ok(false));
        record.record("fails".into(), &true, Err("trap".into()));
        let snapshot = record.snapshot();
        assert_eq!((snapshot.agreements, snapshot.disagreements, snapshot.faults), (1, 1, 1));
        let inputs: Vec<&str> = snapshot.recent.iter().map(|d| d.input.as_str()).collect();
        assert_eq!(inputs, ["fails", "differs"]);
        assert_eq!((snapshot.recent[1].active.as_str(), snapshot.recent[1].shadow.as_str()), ("true", "false"));
        assert_eq!(snapshot.recent[0].shadow, "failed: trap");
    }

    #[test]
    fn only_the_last_twenty_disagreements_are_kept() {
        let record = Comparisons::default();
        for n in 0..25 {
            record.record(format!("input {n}"), &0, Ok(n + 1));
        }
        let snapshot = record.snapshot();
        assert_eq!(snapshot.disagreements, 25);
        assert_eq!(snapshot.recent.len(), RECENT_DISAGREEMENTS);
        assert_eq!(snapshot.recent[0].input, "input 24");
    }
}
