//! Failover has a bound: over twenty SIGKILLs of the leader, a write sent
//! through a survivor is acknowledged within 3 s of the kill every time,
//! and while a leader is paused, writes through a follower resume within
//! 2 s of the pause.

use std::time::{Duration, Instant};

use keel_tests::cluster::api::Scheduling;
use keel_tests::cluster::{Cluster, LIVENESS};

const KILLS: usize = 20;
const KILL_BOUND: Duration = Duration::from_secs(3);
const PAUSES: usize = 3;
const PAUSE_BOUND: Duration = Duration::from_secs(2);

/// How long after `since` a write through `via` is first acknowledged. A
/// write sent while there is no leader is held and tried again at the next
/// one, so each try may take a while; the first acknowledgement counts.
fn first_write_after(cluster: &Cluster, via: usize, since: Instant, n: &mut u64) -> Duration {
    loop {
        *n += 1;
        if Scheduling::nth(*n).write(cluster.agent(via)).is_ok() {
            return since.elapsed();
        }
        assert!(since.elapsed() < LIVENESS, "no write through {via} was acknowledged");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spread(samples: &[Duration]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    format!("min {:?}, median {:?}, max {:?}", sorted[0], sorted[sorted.len() / 2], sorted[sorted.len() - 1])
}

#[test]
fn every_failover_after_a_leader_kill_takes_under_three_seconds() {
    let mut cluster = Cluster::builder(&["127.0.0.84", "127.0.0.85", "127.0.0.86"]).cleanup_dead_servers(false).start();
    let mut n = 0;
    let mut failovers = Vec::new();
    for _ in 0..KILLS {
        let leader = cluster.wait_formed(LIVENESS);
        let survivor = cluster.followers()[0];
        Scheduling::nth(n).write_acknowledged(cluster.agent(survivor));
        cluster.kill(leader);
        let took = first_write_after(&cluster, survivor, Instant::now(), &mut n);
        if took >= KILL_BOUND {
            // What the survivors said while it took so long.
            for server in cluster.running() {
                let log = cluster.agent(server).log();
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                println!("--- server {server} after killing {leader}:");
                tail.iter().rev().for_each(|line| println!("{line}"));
            }
        }
        failovers.push(took);
        cluster.restart(leader);
    }
    println!("failovers after {KILLS} leader kills: {}", spread(&failovers));
    let slow: Vec<(usize, Duration)> =
        failovers.iter().copied().enumerate().filter(|(_, took)| *took >= KILL_BOUND).collect();
    assert!(slow.is_empty(), "failovers of {KILL_BOUND:?} or more (kill, time): {slow:?}; {}", spread(&failovers));
}

#[test]
fn writes_resume_within_two_seconds_of_a_leader_pause() {
    let mut cluster = Cluster::builder(&["127.0.0.87", "127.0.0.88", "127.0.0.89"]).cleanup_dead_servers(false).start();
    let mut n = 0;
    let mut gaps = Vec::new();
    for _ in 0..PAUSES {
        let leader = cluster.wait_formed(LIVENESS);
        let follower = cluster.followers()[0];
        Scheduling::nth(n).write_acknowledged(cluster.agent(follower));
        cluster.pause(leader);
        gaps.push(first_write_after(&cluster, follower, Instant::now(), &mut n));
        cluster.resume(leader);
    }
    println!("write gaps after {PAUSES} leader pauses: {}", spread(&gaps));
    assert!(gaps.iter().all(|gap| *gap < PAUSE_BOUND), "a gap of {PAUSE_BOUND:?} or more: {}", spread(&gaps));
}
