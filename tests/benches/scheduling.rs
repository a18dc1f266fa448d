//! `make bench`: placement throughput of one release server with the
//! default scheduler plugin, printed as one table.
//!
//! This bench process is 1,000 client nodes: it registers each over the RPC
//! port with the same node call a client agent makes, and heartbeats them;
//! it runs no tasks. Then it submits 1,000 jobs of count 10 as fast as the
//! API takes them from 8 threads, and waits until every evaluation is
//! settled: placements per second, the time from the last submit to the
//! last placement, an evaluation's create-to-settle time at p50/p99 (its
//! wait in the queue included), the mean time the leader spends on one
//! (`nomad.nomad.worker.invoke_scheduler`), and the scheduler plugin's share
//! of that (the sum of its `place` calls over the sum of processing times).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keel_cluster::{NodeCall, NodeClient};
use keel_tests::Agent;
use serde_json::{Value, json};

const BIND: &str = "127.0.0.210";
const NODES: usize = 1_000;
const JOBS: usize = 1_000;
const COUNT: u32 = 10;
const SUBMITTERS: usize = 8;

/// A simulated node's registration, as a client agent writes it.
fn node(index: usize) -> (String, String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let secret = uuid::Uuid::new_v4().to_string();
    let node = json!({
        "ID": id, "SecretID": secret, "Name": format!("sim-{index:04}"), "Datacenter": "dc1",
        "NodePool": "default", "HTTPAddr": format!("127.0.0.1:{}", 20_000 + index),
        "Attributes": {"kernel.name": "linux", "cpu.arch": "x86_64", "driver.raw_exec": "1"},
        "NodeResources": {"Cpu": {"CpuShares": 8_000, "TotalCpuCores": 4}, "Memory": {"MemoryMB": 16_384},
            "Disk": {"DiskMB": 100_000}},
        "Drivers": {"raw_exec": {"Detected": true, "Healthy": true}},
        "Status": "initializing", "SchedulingEligibility": "eligible"
    });
    (id, secret, node.to_string())
}

fn job(index: usize) -> String {
    json!({"Job": {"ID": format!("bench-{index:04}"), "Datacenters": ["dc1"], "TaskGroups": [{
        "Name": "web", "Count": COUNT, "Tasks": [{"Name": "server", "Driver": "raw_exec",
            "Config": {"command": "/bin/true"}, "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}})
    .to_string()
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    sorted[((sorted.len() as f64 * share) as usize).min(sorted.len() - 1)]
}

/// The count and sum (ms) of the samples of `name` whose labels hold
/// `label`, from `/v1/metrics`.
fn samples(agent: &Agent, name: &str, label: (&str, &str)) -> (f64, f64) {
    let metrics = agent.get("/v1/metrics").json();
    let all = metrics["Samples"].as_array().cloned().unwrap_or_default();
    let matching = all.iter().filter(|s| s["Name"] == name && s["Labels"][label.0] == label.1);
    matching.fold((0.0, 0.0), |(count, sum), s| {
        (count + s["Count"].as_f64().unwrap_or(0.0), sum + s["Sum"].as_f64().unwrap_or(0.0))
    })
}

fn main() {
    let agent = Agent::start(BIND, vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let rpc = format!("{BIND}:4647");
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let client = Arc::new(NodeClient::new(None));

    let registered = Instant::now();
    let nodes: Vec<(String, String, String)> = (0..NODES).map(node).collect();
    tokio.block_on(async {
        for (_, _, json) in &nodes {
            client.call(&rpc, NodeCall::Register { node_json: json.clone() }).await.expect("registers");
        }
    });
    let registration = registered.elapsed();
    // The simulated clients stay alive while the bench runs.
    let alive = Arc::new(AtomicBool::new(true));
    let heartbeats = {
        let (client, rpc, alive) = (Arc::clone(&client), rpc.clone(), Arc::clone(&alive));
        let ids: Vec<(String, String)> = nodes.iter().map(|(id, secret, _)| (id.clone(), secret.clone())).collect();
        tokio.spawn(async move {
            while alive.load(Ordering::Relaxed) {
                for (id, secret) in &ids {
                    let call = NodeCall::Heartbeat { id: id.clone(), secret: secret.clone() };
                    let _ = client.call(&rpc, call).await;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };

    let place = ("function", "place");
    let invoke = ("type", "service");
    let (_, base_place_ms) = samples(&agent, "keel.plugin.call", place);
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..SUBMITTERS {
            let (next, agent) = (Arc::clone(&next), &agent);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= JOBS {
                        break;
                    }
                    let reply = agent.request("PUT", "/v1/jobs", &[], job(index).as_bytes());
                    assert_eq!(reply.status, 200, "{}", reply.text());
                }
            });
        }
    });
    let submitted = started.elapsed();
    let evals = loop {
        let evals = agent.get("/v1/evaluations").json();
        let evals = evals.as_array().cloned().unwrap_or_default();
        if evals.len() >= JOBS && evals.iter().all(|eval| eval["Status"] != "pending") {
            break evals;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the evaluations did not settle in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    let settled = started.elapsed();
    alive.store(false, Ordering::Relaxed);
    heartbeats.abort();

    let placed = agent.get("/v1/allocations").json().as_array().map_or(0, Vec::len);
    let mut times: Vec<f64> = evals
        .iter()
        .filter_map(|eval| Some((eval["ModifyTime"].as_i64()? - eval["CreateTime"].as_i64()?) as f64 / 1e6))
        .collect();
    times.sort_by(f64::total_cmp);
    let (_, place_ms) = samples(&agent, "keel.plugin.call", place);
    let (evaluated, invoke_ms) = samples(&agent, "nomad.nomad.worker.invoke_scheduler", invoke);
    let place_share = (place_ms - base_place_ms) / invoke_ms.max(f64::EPSILON);
    let blocked = evals.iter().filter(|eval: &&Value| eval["Status"] == "blocked").count();
    let per_second = placed as f64 / settled.as_secs_f64();

    println!();
    println!("| scheduling, 1 server, {NODES} simulated nodes, {JOBS} jobs of count {COUNT} | value | target |");
    println!("|---|---|---|");
    println!("| register {NODES} nodes over the RPC port (one at a time) | {:.2} s | - |", registration.as_secs_f64());
    println!("| submit {JOBS} jobs ({SUBMITTERS} threads) | {:.2} s | - |", submitted.as_secs_f64());
    println!("| allocations placed | {placed} ({blocked} evaluations blocked) | {} |", JOBS * COUNT as usize);
    println!("| placements per second, first submit to last placement | {per_second:.0} | >= 3,300 |");
    println!("| last submit to last placement | {:.2} s | - |", (settled - submitted).as_secs_f64());
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!("| evaluation create to settle (queueing included) p50 / p99 | {p50:.1} / {p99:.1} ms | - |");
    println!("| evaluation processing, mean of {evaluated:.0} | {:.2} ms | - |", invoke_ms / evaluated.max(1.0));
    println!("| scheduler plugin's share of processing (its place calls) | {:.1} % | - |", place_share * 100.0);
}
