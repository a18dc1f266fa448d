//! One real `keel agent` process, used over HTTP: state survives restarts
//! and `kill -9`, snapshots restore, bad archives and licenses are refused
//! with nothing changed.

use base64::Engine as _;
use keel_tests::inputs::{LICENSE_ISSUER_SECRET, license_document, license_settings};
use keel_tests::{Agent, Reply};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn scheduler(agent: &Agent) -> Value {
    let reply = agent.get("/v1/operator/scheduler/configuration");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["SchedulerConfig"].clone()
}

fn set_scheduler(agent: &Agent, algorithm: &str) -> u64 {
    let body = json!({"SchedulerAlgorithm": algorithm, "PreemptionConfig": {"SystemSchedulerEnabled": true}});
    let reply = agent.put("/v1/operator/scheduler/configuration", body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["Index"].as_u64().expect("an index")
}

fn autopilot(agent: &Agent) -> Value {
    let reply = agent.get("/v1/operator/autopilot/configuration");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

#[test]
fn restart_keeps_state() {
    let agent = Agent::start_dev("127.0.0.31", &[]);
    let index = set_scheduler(&agent, "spread");
    let before = scheduler(&agent);
    assert_eq!(before["ModifyIndex"], index);

    let stopped = agent.halt(libc::SIGTERM);
    assert!(stopped.status.success(), "clean exit");
    let agent = stopped.restart();
    assert_eq!(scheduler(&agent), before, "the scheduler configuration survives a restart");
}

#[test]
fn kill_9_after_acknowledged_writes_keeps_them() {
    let agent = Agent::start_dev("127.0.0.32", &[]);
    let mut acknowledged = Vec::new();
    for trailing in 1..=25u64 {
        let body = json!({"CleanupDeadServers": true, "LastContactThreshold": "200ms", "MaxTrailingLogs": trailing,
            "ServerStabilizationTime": "10s"});
        let reply = agent.put("/v1/operator/autopilot/configuration", body.to_string());
        assert_eq!((reply.status, reply.text().as_str()), (200, "true"));
        acknowledged.push(trailing);
    }
    let agent = agent.halt(libc::SIGKILL).restart();
    let config = autopilot(&agent);
    assert_eq!(config["MaxTrailingLogs"], *acknowledged.last().expect("writes were made"));
    assert_eq!(config["LastContactThreshold"], "200ms");
}

#[test]
fn snapshot_restore_brings_the_old_state_back_also_after_a_restart() {
    let agent = Agent::start_dev("127.0.0.33", &[]);
    set_scheduler(&agent, "spread");
    let saved_scheduler = scheduler(&agent);

    let snapshot = agent.get("/v1/operator/snapshot");
    assert_eq!(snapshot.status, 200, "{}", snapshot.text());
    assert_eq!(snapshot.header("content-type"), Some("application/x-gzip"));
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&snapshot.body));
    assert_eq!(snapshot.header("digest"), Some(format!("sha-256={digest}").as_str()));

    set_scheduler(&agent, "binpack");
    assert_eq!(scheduler(&agent)["SchedulerAlgorithm"], "binpack");

    let restored = agent.put("/v1/operator/snapshot", &snapshot.body);
    assert_eq!(restored.status, 200, "{}", restored.text());
    assert_eq!(scheduler(&agent), saved_scheduler, "the restore brought the old configuration back");

    let agent = agent.halt(libc::SIGTERM).restart();
    assert_eq!(scheduler(&agent), saved_scheduler, "the restored state survives a restart");
}

#[test]
fn bad_archives_are_refused_and_change_nothing() {
    let agent = Agent::start_dev("127.0.0.34", &[]);
    set_scheduler(&agent, "spread");
    let good = agent.get("/v1/operator/snapshot").body;
    set_scheduler(&agent, "binpack");
    let state_before = (scheduler(&agent), autopilot(&agent));

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let newer = newer_format_archive(&good);
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("random bytes", b"this is not a snapshot at all".to_vec(), "invalid snapshot"),
        ("truncated", good[..good.len() / 2].to_vec(), "invalid snapshot"),
        ("tampered", flipped, "invalid snapshot"),
        ("newer format", newer, "newer"),
        ("empty", Vec::new(), ""),
    ];
    for (case, body, reason) in cases {
        let reply = agent.put("/v1/operator/snapshot", &body);
        assert_eq!(reply.status, 400, "{case}: {}", reply.text());
        assert!(reply.text().contains(reason), "{case}: {}", reply.text());
        assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"), "{case}");
    }
    assert_eq!((scheduler(&agent), autopilot(&agent)), state_before, "no refused archive changed anything");
}

/// `archive` rewritten to claim the next format version, with hashes that
/// match, so only the version check can refuse it.
fn newer_format_archive(archive: &[u8]) -> Vec<u8> {
    let (mut meta, state) = keel_state::archive::read(archive, 1 << 30).expect("the saved archive is valid");
    meta.version = keel_state::archive::FORMAT_VERSION + 1;
    keel_state::archive::write(&meta, &state)
}

/// Starts a dev agent whose license plugin trusts the test issuer's key,
/// with the config file's directory, which must outlive the agent.
fn licensed_agent(bind: &str) -> (Agent, tempfile::TempDir) {
    let config_dir = tempfile::tempdir().expect("config dir");
    let config = config_dir.path().join("agent.hcl");
    let public_key = &license_settings()[0].1;
    std::fs::write(&config, format!("plugin \"license\" {{\n  config {{ public_key = \"{public_key}\" }}\n}}\n"))
        .expect("write config");
    (Agent::start_dev(bind, &["--config", config.to_str().expect("utf-8 path")]), config_dir)
}

#[test]
fn licenses_are_validated_by_the_plugin() {
    let (agent, _config_dir) = licensed_agent("127.0.0.35");
    let redacted = &agent.get("/v1/agent/self").json()["config"]["Plugins"]["license"]["Config"]["public_key"];
    assert_eq!(redacted, "<redacted>", "plugin settings are not shown");
    assert_eq!(agent.get("/v1/operator/license").status, 204, "no license installed yet");

    let valid = license_document("lic-valid", &[], &LICENSE_ISSUER_SECRET);
    let put = agent.put("/v1/operator/license", &valid);
    assert_eq!(put.status, 200, "{}", put.text());
    assert!(put.json()["Index"].as_u64().is_some_and(|index| index > 0));

    let shown = agent.get("/v1/operator/license");
    assert_eq!(shown.status, 200);
    let license = &shown.json()["License"];
    assert_eq!(license["LicenseID"], "lic-valid");
    assert_eq!(license["Product"], "nomad");
    assert_eq!(license["Features"], json!(["Automated Upgrades", "Redundancy Zones", "Read Scalability"]));
    assert_eq!(license["ExpirationTime"], "2028-01-01T00:00:00Z");

    let expired = license_document(
        "lic-expired",
        &[("ExpirationTime", json!("2026-06-01T00:00:00Z")), ("TerminationTime", json!("2099-01-01T00:00:00Z"))],
        &LICENSE_ISSUER_SECRET,
    );
    let forged = license_document("lic-forged", &[], &[9; 32]);
    let other_product = license_document("lic-consul", &[("Product", json!("consul"))], &LICENSE_ISSUER_SECRET);
    let refusals = [
        (expired, "expired"),
        (forged, "bad signature"),
        (other_product, "wrong product"),
        ("not a license".to_owned(), "not a license"),
    ];
    for (blob, reason) in refusals {
        let reply: Reply = agent.put("/v1/operator/license", &blob);
        assert_eq!(reply.status, 400, "{reason}: {}", reply.text());
        assert!(reply.text().contains(reason), "{reason}: {}", reply.text());
    }
    let still = agent.get("/v1/operator/license").json();
    assert_eq!(still["License"]["LicenseID"], "lic-valid", "refused licenses leave the installed one");

    let agent = agent.halt(libc::SIGTERM).restart();
    assert_eq!(agent.get("/v1/operator/license").json()["License"]["LicenseID"], "lic-valid");
}

#[test]
fn a_license_that_expires_turns_features_off_and_the_server_keeps_serving() {
    let (agent, _config_dir) = licensed_agent("127.0.0.37");
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as i64;
    let expires = keel_api::time::rfc3339_ms(now_ms + 2_000);
    let short = license_document(
        "lic-short",
        &[("ExpirationTime", json!(expires)), ("TerminationTime", json!("2099-01-01T00:00:00Z"))],
        &LICENSE_ISSUER_SECRET,
    );
    let put = agent.put("/v1/operator/license", &short);
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(agent.get("/v1/operator/license").json()["License"]["Features"].as_array().map(Vec::len), Some(3));

    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let after = agent.get("/v1/operator/license");
    assert_eq!(after.status, 200, "the expired license is still shown: {}", after.text());
    let after = after.json();
    assert_eq!(after["License"]["LicenseID"], "lic-short");
    assert_eq!(after["License"]["Features"], json!([]), "an expired license grants nothing");
    assert!(after["Warning"].as_str().is_some_and(|w| w.contains("expired")), "{after}");
    assert_eq!(agent.get("/v1/agent/health").status, 200, "the server keeps running");
    assert_eq!(agent.get("/v1/operator/scheduler/configuration").status, 200);
}

#[test]
fn a_single_server_describes_itself_truthfully() {
    let agent = Agent::start_dev("127.0.0.36", &["--node", "solo"]);

    let configuration = agent.get("/v1/operator/raft/configuration");
    assert_eq!(configuration.status, 200);
    let servers = configuration.json()["Servers"].clone();
    assert_eq!(servers.as_array().map(Vec::len), Some(1));
    assert_eq!(servers[0]["Address"], "127.0.0.36:4647");
    assert_eq!(servers[0]["Node"], "solo.global");
    assert_eq!((servers[0]["Leader"].clone(), servers[0]["Voter"].clone()), (json!(true), json!(true)));

    assert_eq!(agent.get("/v1/status/leader").json(), json!("127.0.0.36:4647"));
    assert_eq!(agent.get("/v1/status/peers").json(), json!(["127.0.0.36:4647"]));

    let members = agent.get("/v1/agent/members").json();
    assert_eq!(members["ServerName"], "solo");
    assert_eq!(members["Members"][0]["Name"], "solo.global");
    assert_eq!(members["Members"][0]["Status"], "alive");
    assert_eq!(members["Members"][0]["Tags"]["port"], "4647");

    let health = agent.get("/v1/operator/autopilot/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    assert_eq!(health["Healthy"], true);
    assert_eq!(health["FailureTolerance"], 0);
    assert_eq!(health["Servers"][0]["Leader"], true);

    let removal = agent.delete(&format!("/v1/operator/raft/peer?id={}", servers[0]["ID"].as_str().expect("an id")));
    assert_eq!(removal.status, 400, "the only voter cannot be removed: {}", removal.text());
    let unknown = agent.delete("/v1/operator/raft/peer?address=10.0.0.9:4647");
    assert!(unknown.text().contains("10.0.0.9:4647"), "{}", unknown.text());

    let me = agent.get("/v1/agent/self").json();
    assert_eq!(me["config"]["NodeName"], "solo");
    assert_eq!(me["stats"]["raft"]["state"], "Leader");
    assert_eq!(me["member"]["Name"], "solo.global");
}

#[test]
fn invalid_bodies_are_refused_and_change_nothing() {
    let agent = Agent::start_dev("127.0.0.38", &[]);
    set_scheduler(&agent, "spread");
    let state_before = (scheduler(&agent), autopilot(&agent));

    let deep = format!("{}{{}}{}", "{\"Unknown\":".repeat(50_000), "}".repeat(50_000));
    let cases: [(&str, String, &str); 7] = [
        (
            "/v1/operator/scheduler/configuration",
            "[]".into(),
            "Error parsing scheduler config: json: cannot unmarshal array into Go value of type \
             structs.SchedulerConfiguration",
        ),
        (
            "/v1/operator/autopilot/configuration",
            "[]".into(),
            "Error parsing autopilot config: json: cannot unmarshal array into Go value of type \
             api.AutopilotConfiguration",
        ),
        (
            "/v1/operator/scheduler/configuration",
            deep.clone(),
            "Error parsing scheduler config: json: exceeded max depth of 64",
        ),
        (
            "/v1/operator/autopilot/configuration",
            deep,
            "Error parsing autopilot config: json: exceeded max depth of 64",
        ),
        (
            "/v1/operator/autopilot/configuration",
            r#"{"LastContactThreshold": "5000000h"}"#.into(),
            "Error parsing autopilot config: time: invalid duration \"5000000h\"",
        ),
        (
            "/v1/operator/autopilot/configuration",
            r#"{"ServerStabilizationTime": "9223372036854775808ns"}"#.into(),
            "Error parsing autopilot config: time: invalid duration \"9223372036854775808ns\"",
        ),
        (
            "/v1/operator/scheduler/configuration",
            r#"{"SchedulerAlgorithm": "spread", "PreemptionConfig": [true, true, true, true]}"#.into(),
            "Error parsing scheduler config: invalid type: sequence, expected struct PreemptionConfig",
        ),
    ];
    for (path, body, message) in cases {
        let reply = agent.put(path, &body);
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert!(reply.text().starts_with(message), "{path}: {}", reply.text());
    }
    assert_eq!((scheduler(&agent), autopilot(&agent)), state_before, "no refused body changed anything");
}

#[test]
fn declared_lengths_over_the_limit_and_slow_heads_get_an_answer() {
    let agent = Agent::start_dev("127.0.0.39", &[]);
    let state_before = (scheduler(&agent), autopilot(&agent));
    let timeout = std::time::Duration::from_secs(30);
    for (path, declared_bytes) in
        [("/v1/operator/scheduler/configuration", 2u64 << 20), ("/v1/operator/snapshot", 600u64 << 20)]
    {
        // The head declares the body; the body never comes.
        let head = format!("PUT {path} HTTP/1.1\r\nHost: keel\r\nContent-Length: {declared_bytes}\r\n\r\n");
        let answer = agent.raw_exchange(head.as_bytes(), timeout).expect("an answer before the body");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains("Request body is larger than the limit"), "{path}: {answer}");
    }

    // Half a request line: the server closes the connection instead of
    // waiting for the rest.
    let cut_off = agent.raw_exchange(b"GET /v1/agent/health HTTP/1.1\r\nHost: ke", std::time::Duration::from_secs(60));
    assert!(cut_off.is_ok(), "the connection was not closed: {cut_off:?}");

    let reply = agent.put("/v1/agent/force-leave?node=no-such-node", "");
    assert_eq!((reply.status, reply.text()), (200, String::new()), "Serf answers success for an unknown node");
    let members = agent.get("/v1/agent/members").json();
    assert_eq!(members["Members"].as_array().map(Vec::len), Some(1), "{members}");
    assert_eq!(members["Members"][0]["Status"], "alive");
    assert_eq!((scheduler(&agent), autopilot(&agent)), state_before, "nothing changed");
}
