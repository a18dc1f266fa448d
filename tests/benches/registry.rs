//! `make bench`, plugin registry part: how long an install takes to be
//! enforced by every server of three, and what installs cost the writes in
//! flight. A release three-server cluster on 127.0.0.206-208.
//!
//! - Activation: ten installs through a follower, alternating two ACL
//!   plugins; for each, the PUT's own time and the time from its reply until
//!   every server's `/v1/agent/plugins` reports the new digest (polled).
//! - Writes in flight: scheduler configuration writes from four threads
//!   for the same time without and with ten installs; writes/s and
//!   failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keel_tests::cluster::Cluster;
use keel_tests::{Agent, fixture, plugin};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const SERVERS: [&str; 3] = ["127.0.0.206", "127.0.0.207", "127.0.0.208"];
const INSTALLS: usize = 10;
const WRITERS: usize = 4;
const SCHEDULER: &str = "/v1/operator/scheduler/configuration";

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The ACL digest `agent` reports active.
fn active_acl(agent: &Agent) -> Option<String> {
    let plugins = agent.get("/v1/agent/plugins").json();
    let acl = plugins.as_array()?.iter().find(|p| p["Kind"] == "acl")?;
    acl["Digest"].as_str().map(str::to_owned)
}

/// Installs `component` through `via`; returns the PUT's time and the time
/// from its reply until every server reports it.
fn install_and_wait(cluster: &Cluster, via: usize, component: &[u8]) -> (Duration, Duration) {
    let body = json!({"Component": STANDARD.encode(component)}).to_string();
    let wanted = digest(component);
    let started = Instant::now();
    let reply = cluster.agent(via).put("/v1/operator/plugin/acl", body);
    assert_eq!(reply.status, 200, "install: {}", reply.text());
    let answered = Instant::now();
    loop {
        if (0..SERVERS.len()).all(|s| active_acl(cluster.agent(s)).as_deref() == Some(wanted.as_str())) {
            return (answered - started, answered.elapsed());
        }
        assert!(answered.elapsed() < Duration::from_secs(30), "the install never reached every server");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Scheduler writes from [`WRITERS`] threads while `during` runs, through
/// the leader: (writes per second, failed writes).
fn writes_while(cluster: &Cluster, during: impl FnOnce()) -> (f64, u64) {
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let http = cluster.agent(leader).http.clone();
    let (stop, done, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (stop, done, failed, http) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&failed), http.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let algorithm = if (n + writer as u64).is_multiple_of(2) { "spread" } else { "binpack" };
                    let body = json!({"SchedulerAlgorithm": algorithm}).to_string();
                    match agent.put(&format!("{http}{SCHEDULER}")).send(body) {
                        Ok(reply) if reply.status() == 200 => done.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    during();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("a writer thread");
    }
    (done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(), failed.load(Ordering::Relaxed))
}

fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1_000.0)
}

fn main() {
    let cluster = Cluster::builder(&SERVERS).start();
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = (0..SERVERS.len()).find(|&s| s != leader).expect("a follower");
    let components = [fixture("acl-never-write"), plugin("acl-nomad")];

    let mut puts = Vec::new();
    let mut spreads = Vec::new();
    for n in 0..INSTALLS {
        let (put, spread) = install_and_wait(&cluster, follower, &components[n % 2]);
        puts.push(put);
        spreads.push(spread);
    }
    let installing = || {
        for n in 0..INSTALLS {
            install_and_wait(&cluster, follower, &components[n % 2]);
        }
    };
    let mut install_time = Duration::ZERO;
    let (with_installs, failed_with) = writes_while(&cluster, || {
        let started = Instant::now();
        installing();
        install_time = started.elapsed();
    });
    let (without, failed_without) = writes_while(&cluster, || std::thread::sleep(install_time));

    let median = |samples: &[Duration]| keel_tests::load::median(samples.to_vec());
    let max = |samples: &[Duration]| samples.iter().copied().max().unwrap_or_default();
    println!("\nPlugin registry, three release servers ({INSTALLS} ACL installs through a follower)\n");
    println!("| measure | median | max |");
    println!("| --- | --- | --- |");
    println!("| PUT /v1/operator/plugin/acl answered | {} | {} |", millis(median(&puts)), millis(max(&puts)));
    println!("| reply to every server enforcing it | {} | {} |", millis(median(&spreads)), millis(max(&spreads)));
    println!();
    println!("| scheduler writes, {WRITERS} threads | writes/s | failed |");
    println!("| --- | --- | --- |");
    println!("| without installs | {without:.0} | {failed_without} |");
    println!("| during {INSTALLS} installs | {with_installs:.0} | {failed_with} |");
}
