//! A plugin that runs every call to its deadline must not cost the cluster
//! its leader: guest calls run on the plugin runtime's own threads, so the
//! threads that carry Raft heartbeats, gossip and HTTP stay free; and more
//! calls than the plugin's queue holds are refused at once with a 503.
//! Servers bind 127.0.0.251 to 127.0.0.254.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keel_tests::cluster::Cluster;
use keel_tests::{Agent, Reply};
use serde_json::{Value, json};

/// How long the cluster is kept under load.
const LOAD_FOR: Duration = Duration::from_secs(30);
/// How many requests are in flight at once.
const CLIENTS: usize = 32;
/// Generous: the machine is busy, and the point is that the answer comes.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// A request that waits for the plugin's answer; far above what the
/// deadline and the queue allow.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn call(agent: &Agent, method: &str, path: &str, secret: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = secret.map(|s| ("X-Nomad-Token", s)).into_iter().collect();
    let reply = agent.request(method, path, &headers, body.as_bytes());
    assert!(reply.status == 200, "{method} {path}: {} {}", reply.status, reply.text());
    reply
}

fn secret(token: &Value) -> String {
    token["SecretID"].as_str().expect("a secret").to_owned()
}

/// The Raft term `agent` is in, from `/v1/agent/self`.
fn term(agent: &Agent, management: &str) -> u64 {
    let stats = call(agent, "GET", "/v1/agent/self", Some(management), "").json();
    stats["stats"]["raft"]["term"].as_str().and_then(|term| term.parse().ok()).expect("a raft term")
}

#[test]
fn an_acl_plugin_at_its_deadline_does_not_cost_the_leader_in_a_cluster() {
    let fixture = keel_tests::fixture_path("endless-loop");
    let cluster = Cluster::builder(&["127.0.0.251", "127.0.0.252", "127.0.0.253"])
        .acl_enabled(true)
        .plugin("acl", &fixture)
        .launch();
    let leader = cluster.leader();
    let management = secret(&call(cluster.agent(leader), "POST", "/v1/acl/bootstrap", None, "").json());
    let policy = json!({"Name": "ops", "Rules": "operator { policy = \"read\" }"}).to_string();
    call(cluster.agent(leader), "PUT", "/v1/acl/policy/ops", Some(&management), &policy);
    let token = json!({"Name": "ops", "Type": "client", "Policies": ["ops"]}).to_string();
    let client = secret(&call(cluster.agent(leader), "POST", "/v1/acl/token", Some(&management), &token).json());
    let term_before = term(cluster.agent(leader), &management);

    let stop = AtomicBool::new(false);
    let (denied, other) = (AtomicU64::new(0), AtomicU64::new(0));
    let servers = cluster.running();
    std::thread::scope(|scope| {
        for client_index in 0..CLIENTS {
            let agent = cluster.agent(servers[client_index % servers.len()]);
            let (stop, denied, other, client) = (&stop, &denied, &other, client.as_str());
            scope.spawn(move || {
                let headers = [("X-Nomad-Token", client)];
                while !stop.load(Ordering::Relaxed) {
                    let path = "/v1/operator/scheduler/configuration";
                    match agent.try_request("GET", path, &headers, &[], REQUEST_TIMEOUT) {
                        // A plugin that never answers denies, as any ACL fault does.
                        Ok(reply) if reply.status == 403 => denied.fetch_add(1, Ordering::Relaxed),
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        let started = Instant::now();
        while started.elapsed() < LOAD_FOR {
            for server in &servers {
                let asked = Instant::now();
                let health = cluster.agent(*server).try_request("GET", "/v1/agent/health", &[], &[], HEALTH_TIMEOUT);
                let status = health.as_ref().map(|reply| reply.status);
                if status.as_ref().ok() != Some(&200) {
                    stop.store(true, Ordering::Relaxed);
                }
                assert_eq!(status.ok(), Some(200), "server {server} health after {:?} under load", asked.elapsed());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        stop.store(true, Ordering::Relaxed);
    });

    let (denied, other) = (denied.load(Ordering::Relaxed), other.load(Ordering::Relaxed));
    assert!(denied >= CLIENTS as u64, "every client was answered, and denied: {denied} denied");
    assert_eq!(other, 0, "no request was allowed, failed otherwise or went unanswered");
    for server in &servers {
        assert_eq!(cluster.leader_seen_by(*server), Some(leader), "server {server} still follows the same leader");
    }
    assert_eq!(term(cluster.agent(leader), &management), term_before, "no election happened under load");
}

/// More concurrent checks than the call threads and their queue hold (2
/// threads and 256 waiting calls on a 2-core machine; the endless loop keeps
/// each call for the whole 50 ms ACL deadline) must not wait: the overflow
/// is answered 503 at once, the rest are denied, and nothing is allowed.
#[test]
fn acl_checks_beyond_the_plugin_queue_are_refused_with_503() {
    const REQUESTS: usize = 600;
    let fixture = keel_tests::fixture_path("endless-loop");
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("acl.hcl");
    std::fs::write(&config, "acl { enabled = true }\n").expect("config");
    let plugin = format!("acl={}", fixture.display());
    let agent = Agent::start_dev("127.0.0.254", &["--config", config.to_str().expect("utf-8"), "--plugin", &plugin]);
    let management = secret(&call(&agent, "POST", "/v1/acl/bootstrap", None, "").json());
    let policy = json!({"Name": "ops", "Rules": "operator { policy = \"read\" }"}).to_string();
    call(&agent, "PUT", "/v1/acl/policy/ops", Some(&management), &policy);
    let token = json!({"Name": "ops", "Type": "client", "Policies": ["ops"]}).to_string();
    let client = secret(&call(&agent, "POST", "/v1/acl/token", Some(&management), &token).json());

    let start = std::sync::Barrier::new(REQUESTS);
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (agent, start, client) = (&agent, &start, client.as_str());
                scope.spawn(move || {
                    start.wait();
                    let path = "/v1/operator/scheduler/configuration";
                    let reply = agent
                        .try_request("GET", path, &[("X-Nomad-Token", client)], &[], REQUEST_TIMEOUT)
                        .expect("every request is answered");
                    (reply.status, reply.text())
                })
            })
            .collect();
        requests.into_iter().map(|request| request.join().expect("the request thread ends")).collect()
    });
    let busy: Vec<_> = answers.iter().filter(|(status, _)| *status == 503).collect();
    let denied = answers.iter().filter(|(status, _)| *status == 403).count();
    assert_eq!(
        busy.len() + denied,
        REQUESTS,
        "only 503 and 403: {:?}",
        answers.iter().find(|(s, _)| ![403, 503].contains(s))
    );
    assert!(!busy.is_empty(), "the queue overflowed: {denied} denied and none refused");
    assert!(denied > 0, "the calls the queue took were answered");
    assert_eq!(busy[0].1, "the ACL plugin is busy; try again");
    let stats = call(&agent, "GET", "/v1/agent/self", Some(&management), "").json();
    let refused: usize =
        stats["stats"]["keel"]["plugin.acl.busy"].as_str().and_then(|n| n.parse().ok()).expect("a busy count");
    assert_eq!(refused, busy.len(), "each refusal is counted");
}
