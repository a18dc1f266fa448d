//! The nemesis: on a schedule it kills (`SIGKILL`, then a restart on the
//! same data directory) or pauses (`SIGSTOP`, then `SIGCONT`) a leader or a
//! follower, one server at a time so that a majority always runs, and
//! records when each fault began and ended.

use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;

use super::history::Clock;
use crate::cluster::Cluster;

/// How long the nemesis looks for a leader before it picks its victim
/// without knowing which server leads.
const LEADER_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    KillLeader,
    KillFollower,
    PauseLeader,
    PauseFollower,
}

impl FaultKind {
    pub const ALL: [Self; 4] = [Self::KillLeader, Self::KillFollower, Self::PauseLeader, Self::PauseFollower];

    pub fn name(self) -> &'static str {
        match self {
            Self::KillLeader => "kill-leader",
            Self::KillFollower => "kill-follower",
            Self::PauseLeader => "pause-leader",
            Self::PauseFollower => "pause-follower",
        }
    }

    fn on_leader(self) -> bool {
        matches!(self, Self::KillLeader | Self::PauseLeader)
    }
}

/// One fault: which, on which server, from `began` until `healed`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub server: usize,
    /// Whether the victim was the leader every running server named; when
    /// no leader was agreed on, a leader fault falls on a random server.
    pub leader_known: bool,
    pub began: Duration,
    pub healed: Duration,
}

/// Injects a fault every `every` (held for `hold`, then healed) until
/// `until` on `clock`, and answers the faults in order.
pub fn run(cluster: &mut Cluster, clock: Clock, until: Duration, every: Duration, hold: Duration) -> Vec<Fault> {
    let mut rng = rand::thread_rng();
    let mut faults = Vec::new();
    let mut next = clock.now() + every;
    while next + hold < until {
        std::thread::sleep(next.saturating_sub(clock.now()));
        let kind = *FaultKind::ALL.choose(&mut rng).expect("four kinds");
        faults.push(inject(cluster, clock, kind, hold, &mut rng));
        next = (next + every).max(clock.now() + Duration::from_secs(1));
    }
    faults
}

fn inject(cluster: &mut Cluster, clock: Clock, kind: FaultKind, hold: Duration, rng: &mut impl Rng) -> Fault {
    let leader = agreed_leader(cluster);
    let running = cluster.running();
    let (server, leader_known) = match (leader, kind.on_leader()) {
        (Some(leader), true) => (leader, true),
        (Some(leader), false) => {
            let followers: Vec<usize> = running.iter().copied().filter(|server| *server != leader).collect();
            (*followers.choose(rng).expect("a running cluster of three has followers"), true)
        }
        (None, _) => (*running.choose(rng).expect("a majority runs"), false),
    };
    let began = clock.now();
    let kill = matches!(kind, FaultKind::KillLeader | FaultKind::KillFollower);
    if kill {
        cluster.kill(server);
    } else {
        cluster.pause(server);
    }
    std::thread::sleep(hold);
    if kill {
        cluster.restart(server);
    } else {
        cluster.resume(server);
    }
    Fault { kind, server, leader_known, began, healed: clock.now() }
}

/// The leader every running server names, if they agree within
/// [`LEADER_WAIT`].
fn agreed_leader(cluster: &Cluster) -> Option<usize> {
    let deadline = std::time::Instant::now() + LEADER_WAIT;
    loop {
        let running = cluster.running();
        let seen: Vec<Option<usize>> = running.iter().map(|server| cluster.leader_seen_by(*server)).collect();
        if let Some(Some(leader)) = seen.first()
            && seen.iter().all(|other| *other == Some(*leader))
            && running.contains(leader)
        {
            return Some(*leader);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
