//! `make bench`: one `keel agent --dev` process measured from this one over
//! loopback, printed as one table.
//!
//! The load generator is this bench process: N keep-alive HTTP/1.1
//! connections, each sending its next request as soon as the last answer
//! arrived, for a fixed time. It shares the machine's cores with the agent,
//! so at high connection counts the numbers are a floor.

use std::time::{Duration, Instant};

use keel_tests::Agent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIND: &str = "127.0.0.90";
const RUN: Duration = Duration::from_secs(4);

/// One measured load.
struct Row {
    what: String,
    connections: usize,
    requests_per_s: f64,
    p50: Duration,
    p99: Duration,
    target: &'static str,
}

/// Sends `request` over `connections` keep-alive connections for `RUN` and
/// returns throughput and latency percentiles. Any answer but `ok_status` fails the bench.
async fn load(request: Vec<u8>, connections: usize, ok_status: &'static str) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + RUN;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect((BIND, 4646)).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut buffer = vec![0u8; 64 * 1024];
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    stream.write_all(&request).await.expect("send");
                    let status = read_response(&mut stream, &mut buffer).await;
                    assert_eq!(status, ok_status, "unexpected status");
                    samples.push(started.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("worker"));
    }
    samples.sort_unstable();
    let rate = samples.len() as f64 / RUN.as_secs_f64();
    (rate, samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns its status code.
async fn read_response(stream: &mut TcpStream, buffer: &mut [u8]) -> String {
    let mut filled = 0;
    loop {
        let read = stream.read(&mut buffer[filled..]).await.expect("read");
        assert!(read > 0, "connection closed");
        filled += read;
        let Some(head_end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = std::str::from_utf8(&buffer[..head_end]).expect("ascii head");
        let status = head[9..12].to_owned();
        let length: usize = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .map_or(0, |v| v.parse().expect("length"));
        while filled < head_end + 4 + length {
            let read = stream.read(&mut buffer[filled..]).await.expect("read body");
            assert!(read > 0, "connection closed in body");
            filled += read;
        }
        return status;
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {BIND}\r\n\r\n").into_bytes()
}

fn put(path: &str, body: &str) -> Vec<u8> {
    format!("PUT {path} HTTP/1.1\r\nHost: {BIND}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
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
        ("GET /v1/agent/health", get("/v1/agent/health"), ">= 50,000/s, p99 <= 5 ms at 64"),
        (
            "GET /v1/operator/raft/configuration",
            get("/v1/operator/raft/configuration"),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "GET /v1/operator/scheduler/configuration",
            get("/v1/operator/scheduler/configuration"),
            ">= 50,000/s, p99 <= 5 ms at 64",
        ),
        (
            "PUT /v1/operator/scheduler/configuration",
            put("/v1/operator/scheduler/configuration", scheduler_body),
            ">= 2,000/s at 64",
        ),
    ];
    let mut rows = Vec::new();
    for (what, request, target) in loads {
        for connections in [1, 64] {
            let (requests_per_s, p50, p99) = tokio.block_on(load(request.clone(), connections, "200"));
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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}
