//! `make bench`: one `keel agent --dev` process measured from this one over
//! loopback, printed as one table.
//!
//! The load generator is this bench process (`keel_tests::load`): N
//! keep-alive HTTP/1.1 connections, each sending its next request as soon as
//! the last answer arrived, for a fixed time. It shares the machine's cores
//! with the agent, so at high connection counts the numbers are a floor.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keel_tests::Agent;
use keel_tests::load::{self, Report, Request};

const BIND: &str = "127.0.0.90";
const RUN: Duration = Duration::from_secs(4);

/// One measured load.
struct Row {
    what: &'static str,
    connections: usize,
    report: Report,
    target: &'static str,
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn main() {
    // Start once to fill the plugin compile cache, then time a warm start.
    let first = Agent::start_dev(BIND, &[]);
    let stopped = first.halt(libc::SIGTERM);
    let started = Instant::now();
    let agent = stopped.restart();
    let start_to_healthy = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss_kib = rss_kib(agent.pid());

    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let scheduler_body = r#"{"SchedulerAlgorithm":"spread","PreemptionConfig":{"SystemSchedulerEnabled":true}}"#;
    let loads: [(&str, Request, &str); 4] = [
        ("GET /v1/agent/health", Request::get("/v1/agent/health"), ">= 50,000/s, p99 <= 5 ms at 64"),
        (
            "GET /v1/operator/raft/configuration",
            Request::get("/v1/operator/raft/configuration"),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "GET /v1/operator/scheduler/configuration",
            Request::get("/v1/operator/scheduler/configuration"),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "PUT /v1/operator/scheduler/configuration",
            Request::put("/v1/operator/scheduler/configuration", scheduler_body),
            ">= 2,000/s at 64",
        ),
    ];
    let address: SocketAddr = format!("{BIND}:4646").parse().expect("BIND is an IP address");
    let mut rows = Vec::new();
    for (what, request, target) in loads {
        for connections in [1, 64] {
            let report = tokio.block_on(load::run(address, &request, connections, RUN));
            rows.push(Row { what, connections, report, target });
        }
    }

    let saves: Vec<(Duration, usize)> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let reply = agent.get("/v1/operator/snapshot");
            assert_eq!(reply.status, 200);
            (started.elapsed(), reply.body.len())
        })
        .collect();
    let archive = agent.get("/v1/operator/snapshot").body;
    let restores: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let reply = agent.put("/v1/operator/snapshot", &archive);
            assert_eq!(reply.status, 200, "{}", reply.text());
            started.elapsed()
        })
        .collect();

    println!();
    println!("| load | conns | req/s | p50 | p99 | errors | target |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for Row { what, connections, report, target } in &rows {
        let [requests_per_s, p50, p99, errors] = report.cells();
        println!("| {what} | {connections} | {requests_per_s} | {p50} | {p99} | {errors} | {target} |");
    }
    println!();
    println!("| measure | value | target |");
    println!("| --- | ---: | --- |");
    println!("| snapshot save (median of 5) | {:.2?} | |", median(saves.iter().map(|(d, _)| *d).collect()));
    println!("| snapshot restore (median of 5) | {:.2?} | |", median(restores));
    println!("| snapshot archive size | {} bytes | |", saves[0].1);
    println!("| idle resident memory, keel agent --dev | {:.1} MiB | <= 40 MB |", idle_rss_kib as f64 / 1024.0);
    println!("| process start to first healthy answer (cache warm) | {start_to_healthy:.2?} | <= 300 ms |");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}
