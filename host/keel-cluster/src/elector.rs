//! When a server campaigns: elections with a pre-vote.
//!
//! openraft campaigns as soon as a follower's election timer runs out. A
//! follower that was paused (SIGSTOP, a long stall) finds its timer expired
//! the moment it runs again, before it reads the leader's heartbeats queued
//! on its socket, and its campaign — with a higher term — deposes a leader
//! that was healthy all along. So openraft's own timer is switched off, and
//! this task decides instead: after a random silence of one to two maximum
//! election timeouts, it first asks the other voters whether they still
//! hear from a leader (a pre-vote, as in hashicorp/raft and etcd), and
//! starts a real election only when a majority no longer does. A voter
//! also refuses a pre-vote to a server whose log is behind its own, as it
//! would refuse it the real vote: a server that cannot win must not raise
//! the term, or it keeps deposing the candidate that can (seen as failovers
//! of 17 s and more, with a lagging follower campaigning every round). The
//! real vote that follows is openraft's, with all of its checks.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keel_state::{LogStore, TypeConfig};
use openraft::storage::RaftLogStorage as _;
use openraft::{LogId, Raft, ServerState};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::RpcClient;
use crate::rpc::{RpcRequest, RpcResponse};

/// When this server last heard from a leader (an append it accepted), as
/// the RPC listener records it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeaderContact(Arc<Mutex<Option<Instant>>>);

impl LeaderContact {
    pub(crate) fn heard_now(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// How long ago a leader was last heard from; `None` if never.
    pub(crate) fn silence(&self) -> Option<Duration> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).map(|at| at.elapsed())
    }
}

/// The timings the elector works with, from Raft's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// openraft's maximum election timeout: a voter that heard from a
    /// leader within it refuses a pre-vote, as openraft's lease refuses a
    /// vote.
    pub(crate) lease: Duration,
    /// How often the elector looks.
    pub(crate) tick: Duration,
}

impl Timing {
    /// How long one peer has to answer a pre-vote: a quarter of the lease,
    /// so a whole pre-vote stays well inside one election timeout.
    fn pre_vote_timeout(self) -> Duration {
        (self.lease / 4).max(Duration::from_millis(50))
    }

    /// A fresh random silence in `[lease, 2 * lease)` after which to
    /// campaign, so that two followers rarely start together.
    fn campaign_after(self) -> Duration {
        let spread = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX).max(1);
        self.lease + Duration::from_millis(uuid::Uuid::new_v4().as_u64_pair().1 % spread)
    }
}

/// Whether this server would support a campaign now: it does not lead and
/// has not heard from a leader within the lease. A leader counts as leading
/// while a quorum acknowledged it within the lease, and also before its
/// first acknowledgement: a just-elected leader that granted pre-votes
/// would let a slow follower depose it before it ever served a write.
pub(crate) fn hears_no_leader(raft: &Raft<TypeConfig>, contact: &LeaderContact, timing: Timing) -> bool {
    let leading = {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        metrics.state == ServerState::Leader
            && metrics.millis_since_quorum_ack.is_none_or(|ms| u128::from(ms) < timing.lease.as_millis())
    };
    !leading && contact.silence().is_none_or(|silence| silence >= timing.lease)
}

/// Whether this server grants a pre-vote to a candidate whose last log id
/// is `candidate`: it hears no leader, and the candidate's log is at least
/// as up to date as its own (Raft's rule for the real vote).
pub(crate) async fn grants_pre_vote(
    raft: &Raft<TypeConfig>,
    contact: &LeaderContact,
    timing: Timing,
    log: &LogStore,
    candidate: Option<LogId<u64>>,
) -> bool {
    hears_no_leader(raft, contact, timing) && candidate >= last_log_id(log).await
}

/// The id of the last entry in this server's log; `None` for an empty log
/// or one that cannot be read (which grants nothing it should not: any
/// candidate's log is at least as new as none).
async fn last_log_id(log: &LogStore) -> Option<LogId<u64>> {
    log.clone().get_log_state().await.ok().and_then(|state| state.last_log_id)
}

/// Runs until the task is aborted.
pub(crate) async fn run(
    raft: Raft<TypeConfig>,
    me: u64,
    contact: LeaderContact,
    client: Arc<RpcClient>,
    timing: Timing,
    log: LogStore,
) {
    let started = Instant::now();
    let mut campaign_after = timing.campaign_after();
    let mut last_attempt: Option<Instant> = None;
    loop {
        tokio::time::sleep(timing.tick).await;
        let (state, voters) = {
            let metrics = raft.metrics();
            let metrics = metrics.borrow();
            let voters: BTreeSet<u64> = metrics.membership_config.membership().voter_ids().collect();
            (metrics.state, voters)
        };
        if state == ServerState::Leader || !voters.contains(&me) {
            continue;
        }
        if voters.len() == 1 {
            // The only voter has nobody to wait for or to ask.
            if state != ServerState::Candidate && raft.trigger().elect().await.is_err() {
                return;
            }
            continue;
        }
        // Silence counts from the last word of a leader, or from start-up
        // or the last attempt when there was none since.
        let since_leader = contact.silence().unwrap_or_else(|| started.elapsed());
        let since_attempt = last_attempt.map_or(Duration::MAX, |at| at.elapsed());
        if since_leader.min(since_attempt) < campaign_after {
            continue;
        }
        last_attempt = Some(Instant::now());
        campaign_after = timing.campaign_after();
        if !majority_agrees(&raft, me, &voters, &client, (timing, last_log_id(&log).await)).await {
            tracing::debug!("pre-vote: a majority still hears from a leader; not campaigning");
            continue;
        }
        // The pre-vote took time, during which another server may have won
        // an election and been heard from: campaigning now, with a higher
        // term, would depose it. Look once more.
        if !hears_no_leader(&raft, &contact, timing) {
            tracing::debug!("a leader was heard during the pre-vote; not campaigning");
            continue;
        }
        tracing::info!("no word from a leader; campaigning");
        if let Err(error) = raft.trigger().elect().await {
            tracing::debug!(%error, "elector stops with raft");
            return;
        }
    }
}

/// Asks the other voters for a pre-vote, side by side, and answers as soon
/// as a majority (this server's own vote included) has granted it or can no
/// longer grant it. Each peer has [`Timing::pre_vote_timeout`] to answer, so
/// a paused or dead voter costs at most that, and nothing when the others
/// already make a majority.
async fn majority_agrees(
    raft: &Raft<TypeConfig>,
    me: u64,
    voters: &BTreeSet<u64>,
    client: &Arc<RpcClient>,
    (timing, last_log): (Timing, Option<LogId<u64>>),
) -> bool {
    let addresses: Vec<String> = {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        voters
            .iter()
            .filter(|id| **id != me)
            .filter_map(|id| membership.get_node(id))
            .map(|n| n.address.clone())
            .collect()
    };
    let mut asks = JoinSet::new();
    for address in addresses {
        let client = Arc::clone(client);
        asks.spawn(async move {
            let ask = RpcRequest::PreVote { last_log };
            let answer = client.call(&address, &ask, &[], timing.pre_vote_timeout()).await;
            matches!(answer, Ok((RpcResponse::PreVote(true), _)))
        });
    }
    let needed = voters.len() / 2 + 1;
    let mut granted = 1;
    let mut unanswered = asks.len();
    while granted < needed && granted + unanswered >= needed {
        let Some(answer) = asks.join_next().await else { break };
        unanswered -= 1;
        granted += usize::from(answer.unwrap_or(false));
    }
    // Dropping the set aborts the asks still waiting.
    granted >= needed
}
