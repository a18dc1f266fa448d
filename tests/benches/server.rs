//! `make bench`: one `keel agent --dev` process measured from this one over
//! loopback, printed as one table.
//!
//! The load generator is this bench process: N keep-alive HTTP/1.1
//! connections, each sending its next request as soon as the last answer
//! arrived, for a fixed time. It shares the machine's cores with the agent,
//! so at high connection counts the numbers are a floor.

#[path = "http_load.rs"]
mod http_load;

use std::time::{Duration, Instant};

use http_load::{get, load, median, put};
use keel_tests::Agent;

const BIND: &str = "127.0.0.90";

/// One measured load.
struct Row {
    what: String,
    connections: usize,
    requests_per_s: f64,
    p50: Duration,
    p99: Duration,
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
    let loads: [(&str, Vec<u8>, &str); 4] = [
        ("GET /v1/agent/health", get(BIND, "/v1/agent/health", ""), ">= 50,000/s, p99 <= 5 ms at 64"),
        (
            "GET /v1/operator/raft/configuration",
            get(BIND, "/v1/operator/raft/configuration", ""),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "GET /v1/operator/scheduler/configuration",
            get(BIND, "/v1/operator/scheduler/configuration", ""),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "PUT /v1/operator/scheduler/configuration",
            put(BIND, "/v1/operator/scheduler/configuration", scheduler_body),
            ">= 2,000/s at 64",
        ),
    ];
    let mut rows = Vec::new();
    for (what, request, target) in loads {
        for connections in [1, 64] {
            let (requests_per_s, p50, p99) = tokio.block_on(load(BIND, request.clone(), connections, "200"));
            rows.push(Row { what: what.to_owned(), connections, requests_per_s, p50, p99, target });
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
    println!("| load | conns | req/s | p50 | p99 | target |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2?} | {:.2?} | {} |",
            row.what, row.connections, row.requests_per_s, row.p50, row.p99, row.target
        );
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
