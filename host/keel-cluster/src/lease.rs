//! The leader's lease: when a default read may skip its quorum round.
//!
//! A follower that accepted an AppendEntries from the leader refuses to vote
//! for anyone else (openraft's leader lease) and refuses pre-votes (the
//! elector) for one maximum election timeout after it received it, so no
//! other leader can be elected in that time. The leader records, per
//! follower, when it *sent* each AppendEntries that was accepted, under
//! which vote; while a quorum (itself included) accepted one sent within
//! the lease, under the vote it still holds, no other server can have been
//! elected, and its own applied state, which holds every write it
//! acknowledged, is as new as any acknowledged write. Such a read needs no
//! round. The lease used is half of the followers' refusal time, so that
//! clocks running at slightly different rates and the time a request spends
//! on the wire only make it safer; heartbeats every 100 ms renew it.
//!
//! A leader that was paused finds its lease long expired when it resumes
//! (the monotonic clock runs on while a process is stopped) and falls back
//! to the quorum round, which tells it that it was deposed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use openraft::Vote;

/// The AppendEntries each follower accepted last, by node id.
#[derive(Debug)]
pub(crate) struct Leases {
    accepted: Mutex<HashMap<u64, Accepted>>,
    duration: Duration,
}

/// When an accepted AppendEntries was sent, and under which vote.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    vote: Vote<u64>,
    sent: Instant,
}

impl Leases {
    /// Leases that last half of `refusal`, the time a follower refuses
    /// other candidates after hearing from its leader.
    pub(crate) fn new(refusal: Duration) -> Self {
        Self { accepted: Mutex::new(HashMap::new()), duration: refusal / 2 }
    }

    /// Records that `peer` accepted an AppendEntries sent at `sent` under
    /// `vote`. An answer to an older request never shortens the lease.
    pub(crate) fn accepted(&self, peer: u64, vote: Vote<u64>, sent: Instant) {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = accepted.entry(peer).or_insert(Accepted { vote, sent });
        if entry.vote != vote || entry.sent < sent {
            *entry = Accepted { vote, sent };
        }
    }

    /// Whether `me`, leading under `vote` with `voters` (one configuration,
    /// not a joint one), holds the lease at `now`.
    pub(crate) fn holds(&self, me: u64, vote: Vote<u64>, voters: &BTreeSet<u64>, now: Instant) -> bool {
        let accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        let current = |peer: &u64| {
            accepted.get(peer).is_some_and(|a| a.vote == vote && now.saturating_duration_since(a.sent) < self.duration)
        };
        let confirmed = voters.iter().filter(|peer| **peer == me || current(peer)).count();
        voters.contains(&me) && confirmed > voters.len() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSAL: Duration = Duration::from_millis(600);

    fn vote(term: u64) -> Vote<u64> {
        Vote::new_committed(term, 1)
    }

    #[test]
    fn a_quorum_of_fresh_acceptances_under_the_current_vote_holds_the_lease() {
        let leases = Leases::new(REFUSAL);
        let voters = BTreeSet::from([1, 2, 3]);
        let start = Instant::now();
        assert!(!leases.holds(1, vote(5), &voters, start), "alone it is no quorum");
        leases.accepted(2, vote(5), start);
        assert!(leases.holds(1, vote(5), &voters, start + Duration::from_millis(299)));
        assert!(!leases.holds(1, vote(5), &voters, start + Duration::from_millis(300)), "half the refusal time");
        assert!(!leases.holds(1, vote(6), &voters, start), "an acceptance under another vote counts for nothing");
        assert!(!leases.holds(4, vote(5), &voters, start), "a server that is not a voter holds no lease");
    }

    #[test]
    fn a_late_answer_to_an_old_request_does_not_shorten_the_lease() {
        let leases = Leases::new(REFUSAL);
        let voters = BTreeSet::from([1, 2, 3]);
        let start = Instant::now();
        leases.accepted(3, vote(5), start + Duration::from_millis(200));
        leases.accepted(3, vote(5), start);
        assert!(leases.holds(1, vote(5), &voters, start + Duration::from_millis(450)));
    }

    #[test]
    fn five_voters_need_two_fresh_followers() {
        let leases = Leases::new(REFUSAL);
        let voters = BTreeSet::from([1, 2, 3, 4, 5]);
        let now = Instant::now();
        leases.accepted(2, vote(5), now);
        assert!(!leases.holds(1, vote(5), &voters, now));
        leases.accepted(5, vote(5), now);
        assert!(leases.holds(1, vote(5), &voters, now));
    }
}
