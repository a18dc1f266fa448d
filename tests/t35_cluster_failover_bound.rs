//! Failover has a bound: over twenty SIGKILLs of the leader, a write sent
//! through a survivor is acknowledged within 3 s of the kill every time,
//! and while a leader is paused, writes through a follower resume within
//! 2 s of the pause, and default reads queued on it meanwhile are never
//! answered from its old state.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keel_tests::cluster::api::Scheduling;
use keel_tests::cluster::{Cluster, LIVENESS};
use serde_json::{Value, json};

const KILLS: usize = 20;
const KILL_BOUND: Duration = Duration::from_secs(3);
const PAUSES: usize = 3;
const PAUSE_BOUND: Duration = Duration::from_secs(2);
const QUEUED_READ_ROUNDS: usize = 6;
/// How long a leader is paused while reads queue on it.
const LEADER_PAUSE: Duration = Duration::from_secs(3);
/// Far above the 5 s a request is held for across an election.
const READ_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

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

/// Writes through the agent at `http` until `stop`, keeping the highest
/// index acknowledged in `acknowledged`.
fn write_steadily(http: &str, stop: &AtomicBool, acknowledged: &AtomicU64) {
    let agent = ureq::Agent::new_with_defaults();
    let url = format!("{http}/v1/operator/scheduler/configuration");
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = json!({"SchedulerAlgorithm": if n.is_multiple_of(2) { "spread" } else { "binpack" }});
        if let Ok(mut reply) = agent.put(&url).send(body.to_string())
            && let Ok(text) = reply.body_mut().read_to_string()
            && let Some(index) = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["Index"].as_u64())
        {
            acknowledged.fetch_max(index, Ordering::Relaxed);
        }
    }
}

/// Sends a default read of the scheduler configuration to `ip` on a new
/// connection and returns the connection, to read the answer from later.
fn queue_read(ip: &str) -> TcpStream {
    let mut socket = TcpStream::connect((ip, 4646)).expect("connect");
    socket.set_read_timeout(Some(READ_ANSWER_TIMEOUT)).expect("a read timeout");
    let request = "GET /v1/operator/scheduler/configuration HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";
    socket.write_all(request.as_bytes()).expect("send a read");
    socket
}

/// The `ModifyIndex` a queued read was answered with, or `None` for a
/// refusal (no leader, or not the leader any more).
fn answered_index(mut socket: TcpStream) -> Option<u64> {
    let mut reply = String::new();
    socket.read_to_string(&mut reply).expect("an answer from the resumed leader");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP answer");
    if !head.starts_with("HTTP/1.1 200") {
        assert!(head.starts_with("HTTP/1.1 500"), "a refusal is a 500: {reply}");
        return None;
    }
    let config: Value = serde_json::from_str(body).expect("a JSON body");
    Some(config["SchedulerConfig"]["ModifyIndex"].as_u64().expect("a ModifyIndex"))
}

/// Default reads queued on a leader while it is paused, with writes going on
/// through another server all along, are answered after it resumes with a
/// refusal or with every write acknowledged before they were sent: never
/// from the old leader's state.
#[test]
fn reads_queued_on_a_paused_leader_under_writes_are_never_stale() {
    let mut cluster = Cluster::builder(&["127.0.0.95", "127.0.0.96", "127.0.0.97"]).cleanup_dead_servers(false).start();
    for round in 0..QUEUED_READ_ROUNDS {
        let leader = cluster.wait_formed(LIVENESS);
        let writer = cluster.agent(cluster.followers()[0]).http.clone();
        let (stop, acknowledged) = (AtomicBool::new(false), AtomicU64::new(0));
        let queued = std::thread::scope(|scope| {
            scope.spawn(|| write_steadily(&writer, &stop, &acknowledged));
            std::thread::sleep(Duration::from_millis(500));
            cluster.pause(leader);
            let mut queued = Vec::new();
            let paused = Instant::now();
            while paused.elapsed() < LEADER_PAUSE {
                queued.push((acknowledged.load(Ordering::Relaxed), queue_read(cluster.ip(leader))));
                std::thread::sleep(Duration::from_millis(200));
            }
            cluster.resume(leader);
            let answered: Vec<(u64, Option<u64>)> =
                queued.into_iter().map(|(before, socket)| (before, answered_index(socket))).collect();
            stop.store(true, Ordering::Relaxed);
            answered
        });
        for (before, index) in queued {
            assert!(index.is_none_or(|index| index >= before), "round {round}: a 200 at {index:?} after {before}");
        }
    }
}
