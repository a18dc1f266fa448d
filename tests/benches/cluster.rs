//! `make bench`: a three-server Keel cluster next to a three-member etcd
//! cluster, both on loopback, measured the same way and printed as one
//! table.
//!
//! Per cluster: durable writes per second and their p50/p99 at 1, 16 and 64
//! keep-alive clients (`keel_tests::load`), sent to the leader and to a
//! follower, which hands them to the leader; then repeated failovers, each
//! killing the leader with SIGKILL and timing the first write a survivor
//! accepts. For Keel also how long gossip takes to mark a killed server
//! failed, and how long a fourth server takes from its start to a vote.
//!
//! The clusters run one after the other, never together, and share the
//! machine's cores with this process, which generates the load.
//! `KEEL_BENCH_ONLY=keel` or `KEEL_BENCH_ONLY=etcd` runs one side alone.

#[path = "cluster/etcd.rs"]
mod etcd;
#[path = "cluster/keel.rs"]
mod keel;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keel_tests::load::{self, Answer, Report, Request};
use tokio::task::JoinSet;

/// How long each load row runs.
const RUN: Duration = Duration::from_secs(4);
const CLIENTS: [usize; 3] = [1, 16, 64];
/// Leader kills per cluster.
const KILLS: usize = 20;
/// How often a write to a survivor is tried after a kill, each try on its
/// own connection, so a try stuck on the dead leader delays no other.
const WRITE_TRY_INTERVAL: Duration = Duration::from_millis(50);
const WRITE_TRY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a wait for a change in a cluster looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The limit of every wait for something that must happen in a live cluster.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(90);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the measurements need from a cluster under test. `Sync`, as a kill
/// is watched from two threads at once.
trait Cluster: Sync {
    /// The member count; members are numbered from 0.
    fn size(&self) -> usize;
    /// The HTTP address of `member`, whether it runs or not.
    fn address(&self, member: usize) -> SocketAddr;
    /// The durable write every measurement sends.
    fn write(&self) -> Request;
    /// The current leader, as the running members report it.
    fn leader(&self) -> Option<usize>;
    /// Kills `member` with SIGKILL; its data stays for the restart.
    fn kill(&mut self, member: usize);
    /// Restarts a killed member on its data and waits until it is back in the
    /// cluster.
    fn restart(&mut self, member: usize);
    /// Waits until the cluster, seen from `survivor`, marks the killed member
    /// failed and answers how long after `killed_at` that was; `None` at once
    /// when the cluster has no such notion.
    fn time_to_mark_failed(&self, _killed: usize, _survivor: usize, _killed_at: Instant) -> Option<Duration> {
        None
    }
}

/// Where a load is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Receiver {
    Leader,
    Follower,
}

/// Everything measured on one cluster.
struct Measured {
    writes: Vec<(Receiver, usize, Report)>,
    failovers: Vec<Duration>,
    marked_failed: Vec<Duration>,
    join_to_voter: Option<Duration>,
    /// Keel only: leader-scoped reads on the leader, default (linearizable)
    /// and `?stale`, by connections.
    reads: Vec<(&'static str, usize, Report)>,
}

impl Measured {
    fn writes(&self, receiver: Receiver, clients: usize) -> Option<&Report> {
        self.writes.iter().find(|(r, c, _)| *r == receiver && *c == clients).map(|(_, _, report)| report)
    }
}

fn main() {
    let only = std::env::var("KEEL_BENCH_ONLY").ok();
    let runs = |side: &str| only.as_deref().is_none_or(|only| only == side);
    assert!(
        only.as_deref().is_none_or(|only| only == "keel" || only == "etcd"),
        "KEEL_BENCH_ONLY is `keel` or `etcd`, not {only:?}"
    );
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let load_before = load_average();

    let keel = runs("keel").then(|| {
        let mut cluster = keel::Keel::start();
        let mut measured = measure(&mut cluster, &tokio, "keel");
        measured.reads = measure_reads(&cluster, &tokio);
        eprintln!("keel: a fourth server joins");
        measured.join_to_voter = Some(cluster.join_fourth());
        measured
    });
    let etcd = runs("etcd").then(|| measure(&mut etcd::Etcd::start(), &tokio, "etcd"));
    print_table(keel.as_ref(), etcd.as_ref(), &load_before);
}

/// Write loads to the leader and a follower, then failovers.
fn measure(cluster: &mut impl Cluster, tokio: &tokio::runtime::Runtime, name: &str) -> Measured {
    let mut writes = Vec::new();
    for receiver in [Receiver::Leader, Receiver::Follower] {
        for clients in CLIENTS {
            let leader = wait_for_leader(cluster);
            let member = match receiver {
                Receiver::Leader => leader,
                Receiver::Follower => (leader + 1) % cluster.size(),
            };
            eprintln!("{name}: writes to member {member} at {clients} clients");
            let report = tokio.block_on(load::run(cluster.address(member), &cluster.write(), clients, RUN));
            writes.push((receiver, clients, report));
        }
    }
    let mut failovers = Vec::new();
    let mut marked_failed = Vec::new();
    for kill in 1..=KILLS {
        let leader = wait_for_leader(cluster);
        let survivor = (leader + 1) % cluster.size();
        eprintln!("{name}: kill {kill} of {KILLS}, the leader, member {leader}");
        let write = cluster.write();
        let killed_at = Instant::now();
        cluster.kill(leader);
        let watched: &_ = cluster;
        let (failover, failed) = std::thread::scope(|scope| {
            let failed = scope.spawn(|| watched.time_to_mark_failed(leader, survivor, killed_at));
            let failover = tokio.block_on(first_write(watched.address(survivor), &write, killed_at));
            (failover, failed.join().expect("the failure watch does not panic"))
        });
        failovers.push(failover);
        marked_failed.extend(failed);
        cluster.restart(leader);
    }
    Measured { writes, failovers, marked_failed, join_to_voter: None, reads: Vec::new() }
}

/// The scheduler configuration read on the leader at 1 and 64 connections,
/// confirmed with a quorum first (the default) and from local state.
fn measure_reads(cluster: &impl Cluster, tokio: &tokio::runtime::Runtime) -> Vec<(&'static str, usize, Report)> {
    let mut reads = Vec::new();
    for (what, path) in
        [("default", "/v1/operator/scheduler/configuration"), ("?stale", "/v1/operator/scheduler/configuration?stale")]
    {
        for connections in [1, 64] {
            let leader = wait_for_leader(cluster);
            eprintln!("keel: {what} reads on the leader at {connections} connections");
            let report = tokio.block_on(load::run(cluster.address(leader), &Request::get(path), connections, RUN));
            reads.push((what, connections, report));
        }
    }
    reads
}

/// Tries the write on `address` every `WRITE_TRY_INTERVAL` until one try
/// succeeds, and returns the time from `killed_at` to that success.
async fn first_write(address: SocketAddr, write: &Request, killed_at: Instant) -> Duration {
    let mut tries = JoinSet::new();
    let mut ticks = tokio::time::interval(WRITE_TRY_INTERVAL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                assert!(
                    killed_at.elapsed() < LIVENESS_TIMEOUT,
                    "no write to {address} succeeded within {LIVENESS_TIMEOUT:?} of killing the leader"
                );
                let write = write.clone();
                tries.spawn(async move {
                    load::send(address, &write, WRITE_TRY_TIMEOUT).await.is_ok_and(|answer| answer.is_success())
                });
            }
            Some(done) = tries.join_next() => {
                if done.expect("a write try does not panic") {
                    return killed_at.elapsed();
                }
            }
        }
    }
}

fn wait_for_leader(cluster: &impl Cluster) -> usize {
    wait_until("the cluster to have a leader", || cluster.leader())
}

/// Calls `check` every `POLL_INTERVAL` until it returns a value; panics
/// naming `what` did not happen within `LIVENESS_TIMEOUT`.
fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + LIVENESS_TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {LIVENESS_TIMEOUT:?} for {what}, in vain");
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Sends one request from synchronous code and returns the answer, whatever
/// its status.
fn call(address: SocketAddr, request: &Request) -> io::Result<Answer> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(load::send(
        address,
        request,
        PROBE_TIMEOUT,
    ))
}

/// The JSON body of a 2xx answer to `request`, if there was one.
fn call_json(address: SocketAddr, request: &Request) -> Option<serde_json::Value> {
    call(address, request).ok().filter(Answer::is_success).and_then(|answer| answer.json())
}

fn print_table(keel: Option<&Measured>, etcd: Option<&Measured>, load_before: &str) {
    println!();
    println!("| measure | Keel | etcd | target | result |");
    println!("| --- | ---: | ---: | --- | --- |");
    for (receiver, what) in [(Receiver::Leader, "leader"), (Receiver::Follower, "follower")] {
        for clients in CLIENTS {
            let keel_writes = keel.and_then(|m| m.writes(receiver, clients));
            let etcd_writes = etcd.and_then(|m| m.writes(receiver, clients));
            let (target, result) = match clients {
                64 => ("≥ 2× etcd's writes/s, p99 no worse", writes_result(keel_writes, etcd_writes)),
                _ => ("", String::new()),
            };
            println!(
                "| durable writes to the {what}, {clients} client{} | {} | {} | {target} | {result} |",
                if clients == 1 { "" } else { "s" },
                show_load(keel_writes),
                show_load(etcd_writes),
            );
        }
    }
    for (what, connections, report) in keel.map_or(&[][..], |m| &m.reads[..]) {
        let (target, result) = match (*what, *connections) {
            ("default", 64) => {
                let stale = keel.and_then(|m| m.reads.iter().find(|(w, c, _)| *w == "?stale" && *c == 64));
                let ratio = stale.map(|(_, _, stale)| report.requests_per_s / stale.requests_per_s);
                ("≥ 80% of ?stale reads/s", ratio.map_or_else(String::new, |r| format!("{:.0}% of ?stale", r * 100.0)))
            }
            _ => ("", String::new()),
        };
        println!(
            "| {what} reads of the scheduler configuration on the leader, {connections} connection{} | {} | n/a | {target} | {result} |",
            if *connections == 1 { "" } else { "s" },
            show_load(Some(report)),
        );
    }
    let keel_failovers = keel.map(|m| Spread::of(&m.failovers));
    let etcd_failovers = etcd.map(|m| Spread::of(&m.failovers));
    println!(
        "| failover: leader SIGKILLed → first write accepted by a survivor ({KILLS} kills; min / median / max) | {} | {} | median ≤ 1.5 s, max ≤ 3 s, no worse than etcd | {} |",
        Spread::show(keel_failovers),
        Spread::show(etcd_failovers),
        failover_result(keel_failovers, etcd_failovers),
    );
    let marked_failed = keel.map(|m| Spread::of(&m.marked_failed));
    println!(
        "| gossip: server SIGKILLed → `failed` in members ({KILLS} kills; min / median / max) | {} | n/a | ≤ 10 s | {} |",
        Spread::show(marked_failed),
        verdict(marked_failed.map(|spread| spread.max <= Duration::from_secs(10))),
    );
    println!(
        "| 4th server started with --retry-join → `Voter: true` | {} | n/a | none: it joins as a non-voter and autopilot promotes it after ServerStabilizationTime (10 s by default) | |",
        keel.and_then(|m| m.join_to_voter).map_or_else(|| "-".to_owned(), |d| format!("{d:.2?}")),
    );
    println!();
    println!("Notes: {} Load average before the run: {load_before}.", machine_notes());
}

fn show_load(report: Option<&Report>) -> String {
    report.map_or_else(
        || "-".to_owned(),
        |report| {
            let [requests_per_s, p50, p99, errors] = report.cells();
            format!("{requests_per_s}/s, p50 {p50}, p99 {p99}, {errors} errors")
        },
    )
}

fn writes_result(keel: Option<&Report>, etcd: Option<&Report>) -> String {
    let (Some(keel), Some(etcd)) = (keel, etcd) else { return "not run".to_owned() };
    let p99_no_worse = matches!((keel.p99, etcd.p99), (Some(keel), Some(etcd)) if keel <= etcd);
    verdict(Some(keel.requests_per_s >= 2.0 * etcd.requests_per_s && p99_no_worse))
}

fn failover_result(keel: Option<Spread>, etcd: Option<Spread>) -> String {
    let Some(keel) = keel else { return "not run".to_owned() };
    let absolute = keel.median <= Duration::from_millis(1500) && keel.max <= Duration::from_secs(3);
    match etcd {
        Some(etcd) => verdict(Some(absolute && keel.median <= etcd.median && keel.max <= etcd.max)),
        None => format!("{} (etcd not run)", verdict(Some(absolute))),
    }
}

fn verdict(met: Option<bool>) -> String {
    match met {
        Some(true) => "met".to_owned(),
        Some(false) => "**miss**".to_owned(),
        None => "not run".to_owned(),
    }
}

/// The minimum, median and maximum of some durations.
#[derive(Clone, Copy)]
struct Spread {
    min: Duration,
    median: Duration,
    max: Duration,
}

impl Spread {
    fn of(samples: &[Duration]) -> Self {
        assert!(!samples.is_empty(), "a spread of no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Self { min: sorted[0], median: sorted[sorted.len() / 2], max: sorted[sorted.len() - 1] }
    }

    fn show(spread: Option<Self>) -> String {
        spread.map_or_else(|| "-".to_owned(), |s| format!("{:.2?} / {:.2?} / {:.2?}", s.min, s.median, s.max))
    }
}

/// The machine the numbers come from, in one line.
fn machine_notes() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
    format!(
        "{cores} cores ({cpu}), {memory_gib:.1} GiB memory; data directories on {} in the system temp directory; {}; \
         every member and the load generator share these cores; {} s per load row.",
        temp_filesystem(),
        etcd::version(),
        RUN.as_secs()
    )
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews
/// every number here.
fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let averages: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    if averages.len() == 3 { averages.join(", ") } else { "unknown".to_owned() }
}

/// The file system type the system temp directory lives on.
fn temp_filesystem() -> String {
    let temp = std::env::temp_dir();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount_point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            temp.starts_with(mount_point).then(|| (mount_point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "an unknown file system".to_owned(), |(_, kind)| kind)
}
