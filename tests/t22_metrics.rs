//! `GET /v1/metrics` on a real agent: Nomad's JSON shape holding the metrics
//! operators read (Raft, autopilot, HTTP, gossip, runtime, plugins) with
//! plausible values; Prometheus's text format that a Prometheus parser
//! reads, when the agent enables it and only then; counters that go up with
//! traffic; and no right needed, as in Nomad.

use std::time::{Duration, Instant};

use keel_tests::Agent;
use keel_tests::cluster::api::Scheduling;
use serde_json::Value;

/// The agent config of the first test: Prometheus on, an autopilot round
/// every second so that its gauges show soon.
const CONFIG: &str = "telemetry { prometheus_metrics = true }\nserver { autopilot_interval = \"1s\" }\n";

/// The entries of `list` (`Gauges`, `Counters`, `Samples`) named `name`
/// whose labels include `labels`.
fn entries<'j>(metrics: &'j Value, list: &str, name: &str, labels: &[(&str, &str)]) -> Vec<&'j Value> {
    metrics[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {metrics}"))
        .iter()
        .filter(|entry| entry["Name"] == name && labels.iter().all(|(key, value)| entry["Labels"][key] == *value))
        .collect()
}

fn one<'j>(metrics: &'j Value, list: &str, name: &str, labels: &[(&str, &str)]) -> &'j Value {
    let found = entries(metrics, list, name, labels);
    assert_eq!(found.len(), 1, "one {name} {labels:?} in {list}: {found:?}\n{metrics}");
    found[0]
}

fn gauge(metrics: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    one(metrics, "Gauges", name, labels)["Value"].as_f64().expect("a number")
}

fn count(metrics: &Value, list: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    one(metrics, list, name, labels)["Count"].as_u64().expect("a count")
}

fn metrics(agent: &Agent) -> Value {
    let reply = agent.get("/v1/metrics");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Waits until the JSON metrics hold gauge `name`.
fn wait_for_gauge(agent: &Agent, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let json = metrics(agent);
        if !entries(&json, "Gauges", name, &[]).is_empty() {
            return json;
        }
        assert!(Instant::now() < deadline, "no {name}: {json}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn metrics_in_both_formats_name_what_operators_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("keel.hcl");
    std::fs::write(&config, CONFIG).expect("write the config");
    let agent = Agent::start_dev("127.0.0.171", &["--config", config.to_str().expect("utf-8")]);
    for _ in 0..5 {
        assert_eq!(agent.get("/v1/agent/health").status, 200);
    }
    Scheduling::SPREAD.write_acknowledged(&agent);

    let json = wait_for_gauge(&agent, "nomad.nomad.autopilot.healthy");
    let timestamp = json["Timestamp"].as_str().expect("a timestamp");
    assert!(timestamp.ends_with(" +0000 UTC") && timestamp.len() == 29, "Go's time format: {timestamp}");
    assert_eq!(json["Points"], serde_json::json!([]));
    assert_eq!(gauge(&json, "nomad.raft.state.leader", &[]), 1.0);
    assert_eq!(gauge(&json, "nomad.raft.state.follower", &[]), 0.0);
    assert!(gauge(&json, "nomad.raft.last_index", &[]) >= 2.0, "the configuration and the write");
    assert!(gauge(&json, "nomad.raft.applied_index", &[]) >= 2.0);
    assert_eq!(gauge(&json, "nomad.raft.leader.lastContact", &[]), 0.0, "the leader is its own contact");
    assert_eq!(gauge(&json, "nomad.nomad.autopilot.healthy", &[]), 1.0);
    assert_eq!(gauge(&json, "nomad.nomad.autopilot.failure_tolerance", &[]), 0.0, "one server tolerates none");
    assert_eq!(gauge(&json, "nomad.serf.members", &[("status", "alive")]), 1.0);
    assert_eq!(gauge(&json, "nomad.serf.members", &[("status", "failed")]), 0.0);
    let resident = gauge(&json, "nomad.runtime.resident_bytes", &[]);
    assert!((1e6..4e9).contains(&resident), "resident memory {resident}");
    assert!(gauge(&json, "nomad.runtime.num_threads", &[]) >= 2.0);
    assert!(gauge(&json, "nomad.runtime.open_files", &[]) >= 3.0);
    assert!(gauge(&json, "nomad.runtime.uptime_seconds", &[]) > 0.0);
    assert!(count(&json, "Counters", "nomad.raft.apply", &[]) >= 1);
    let commit = one(&json, "Samples", "nomad.raft.commitTime", &[]);
    assert!(commit["Max"].as_f64().expect("max") > 0.0 && commit["Min"].as_f64() <= commit["Max"].as_f64());
    let health = [("method", "GET"), ("route", "/v1/agent/health"), ("code", "200")];
    let health_requests = count(&json, "Samples", "nomad.http.request", &health);
    assert!(health_requests >= 5, "{health_requests} health requests");
    let put = [("method", "PUT"), ("route", "/v1/operator/scheduler/configuration"), ("code", "200")];
    assert_eq!(count(&json, "Samples", "nomad.http.request", &put), 1);
    assert!(count(&json, "Counters", "keel.plugin.calls", &[("kind", "autopilot")]) >= 1);
    assert_eq!(count(&json, "Counters", "keel.plugin.traps", &[("kind", "autopilot")]), 0);
    assert!(
        !entries(&json, "Samples", "keel.plugin.call", &[("kind", "autopilot"), ("function", "evaluate")]).is_empty()
    );

    agent.get("/v1/agent/health");
    let refused = agent.get("/v1/acl/policy/anything");
    let later = metrics(&agent);
    assert!(count(&later, "Samples", "nomad.http.request", &health) > health_requests, "the count went up");
    let code = refused.status.to_string();
    let by_pattern = [("method", "GET"), ("route", "/v1/acl/policy/{name}"), ("code", code.as_str())];
    assert_eq!(count(&later, "Samples", "nomad.http.request", &by_pattern), 1, "its own series, under the pattern");
    assert_eq!(count(&later, "Samples", "nomad.http.request", &health), health_requests + 1, "not counted as health");

    let reply = agent.get("/v1/metrics?format=prometheus");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = reply.text();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("it parses");
    let value = |metric: &str| {
        let sample = scrape.samples.iter().find(|sample| sample.metric == metric);
        match sample.map(|sample| &sample.value) {
            Some(
                prometheus_parse::Value::Counter(value)
                | prometheus_parse::Value::Gauge(value)
                | prometheus_parse::Value::Untyped(value),
            ) => *value,
            other => panic!("{metric}: {other:?} in\n{text}"),
        }
    };
    assert_eq!(value("nomad_raft_state_leader"), 1.0);
    let applied = value("nomad_raft_apply");
    assert!(applied >= 1.0, "{applied}");
    assert!(scrape.samples.iter().any(|sample| sample.metric == "nomad_http_request"
        && sample.labels.get("route") == Some("/v1/agent/health")
        && matches!(sample.value, prometheus_parse::Value::Summary(_))));

    Scheduling::BINPACK_OVERSUBSCRIBED.write_acknowledged(&agent);
    let text = agent.get("/v1/metrics?format=prometheus").text();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("it parses");
    let again = scrape.samples.iter().find(|sample| sample.metric == "nomad_raft_apply").map(|sample| &sample.value);
    assert!(matches!(again, Some(prometheus_parse::Value::Counter(value)) if *value > applied), "{again:?}");
}

#[test]
fn prometheus_is_refused_unless_enabled_and_no_token_is_needed() {
    let agent = Agent::start_dev("127.0.0.172", &["-acl-enabled"]);
    let reply = agent.get("/v1/metrics?format=prometheus");
    assert_eq!((reply.status, reply.text().trim()), (415, "Prometheus is not enabled"));
    let reply = agent.get("/v1/metrics?format=json");
    assert_eq!(reply.status, 200, "anonymous, with ACLs on: {}", reply.text());
    assert!(reply.json()["Gauges"].is_array());
    let reply = agent.request("POST", "/v1/metrics", &[], b"");
    assert_eq!(reply.status, 405, "{}", reply.text());
}
