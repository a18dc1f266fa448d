//! The `keel` operator CLI against one real agent, as a user runs it: the
//! commands change what the HTTP API shows, print what it holds, and fail
//! with a non-zero exit and one `keel: <reason>` line on standard error.
//!
//! Each test binds its own loopback address (127.0.0.41 to .48); nothing
//! ever listens on 127.0.0.49.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keel_tests::{Agent, keel_binary};
use serde_json::Value;

/// Where no agent runs.
const NOBODY: &str = "http://127.0.0.49:4646";

/// The variables that name an agent or a token; every run starts without
/// them, so the caller's shell cannot change what a test sees.
const CLIENT_VARIABLES: [&str; 4] = ["KEEL_ADDR", "NOMAD_ADDR", "KEEL_TOKEN", "NOMAD_TOKEN"];

/// How one `keel` process ended.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `keel ARGS...` with `env` set and the client variables otherwise unset.
fn keel(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(keel_binary());
    for variable in CLIENT_VARIABLES {
        command.env_remove(variable);
    }
    let output = command.args(args).envs(env.iter().copied()).stdin(Stdio::null()).output().expect("keel runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `keel ARGS... --address ADDRESS`.
fn keel_at(address: &str, args: &[&str]) -> Run {
    keel(&[args, &["--address", address]].concat(), &[])
}

impl Run {
    /// The output of a command that worked.
    fn succeeded(self) -> String {
        assert_eq!(self.code, Some(0), "the command failed: {self:?}");
        self.stdout
    }

    /// The one line a command that failed printed: exit code 1, nothing on
    /// standard output, `keel: <reason>` on standard error.
    fn failed(self) -> String {
        assert_eq!(self.code, Some(1), "the command did not fail as an error: {self:?}");
        assert_eq!(self.stdout, "", "a failure prints nothing on stdout");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "a failure is one line: {:?}", self.stderr);
        assert!(lines[0].starts_with("keel: "), "{:?}", self.stderr);
        lines[0].to_owned()
    }
}

/// The `key = value` lines of human output.
fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// The cells of the table row that has `cell` in it.
fn row_with<'a>(text: &'a str, cell: &str) -> Vec<&'a str> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.contains(&cell))
        .unwrap_or_else(|| panic!("no row with {cell:?} in:\n{text}"))
}

/// `GET path` on `agent`, which must answer 200 with JSON.
fn api(agent: &Agent, path: &str) -> Value {
    let reply = agent.get(path);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
    reply.json()
}

fn scheduler_config(agent: &Agent) -> Value {
    api(agent, "/v1/operator/scheduler/configuration")["SchedulerConfig"].clone()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn raft_peers_show_the_single_server_and_an_unknown_peer_is_not_removed() {
    let agent = Agent::start_dev("127.0.0.41", &["--node", "alpha"]);

    let peers = keel_at(&agent.http, &["operator", "raft", "list-peers"]).succeeded();
    assert!(peers.starts_with("Node "), "a header row comes first:\n{peers}");
    let server = row_with(&peers, "127.0.0.41:4647");
    assert_eq!(server[0], "alpha.global", "{peers}");
    assert_eq!(server[3..], ["leader", "true", "3"], "the server leads and votes:\n{peers}");

    let json = keel_at(&agent.http, &["operator", "raft", "list-peers", "--json"]).succeeded();
    let printed: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("--json is not JSON ({e}):\n{json}"));
    assert_eq!(printed, api(&agent, "/v1/operator/raft/configuration"), "--json prints the API's reply");

    let refusal =
        keel_at(&agent.http, &["operator", "raft", "remove-peer", "--peer-address", "10.9.9.9:4647"]).failed();
    assert!(refusal.contains("10.9.9.9:4647"), "{refusal}");
    let after = keel_at(&agent.http, &["operator", "raft", "list-peers", "--json"]).succeeded();
    assert_eq!(serde_json::from_str::<Value>(&after).expect("JSON"), printed, "the configuration is unchanged");
}

#[test]
fn the_scheduler_algorithm_is_set_and_a_bad_one_changes_nothing() {
    let agent = Agent::start_dev("127.0.0.42", &[]);

    let updated = keel_at(&agent.http, &["operator", "scheduler", "set-config", "--scheduler-algorithm", "spread"]);
    assert_eq!(updated.succeeded(), "Scheduler configuration updated!\n");
    let shown = fields(&keel_at(&agent.http, &["operator", "scheduler", "get-config"]).succeeded());
    assert_eq!(shown["Scheduler Algorithm"], "spread", "{shown:?}");
    let stored = scheduler_config(&agent);
    assert_eq!(stored["SchedulerAlgorithm"], "spread", "the API agrees");

    let refusal =
        keel_at(&agent.http, &["operator", "scheduler", "set-config", "--scheduler-algorithm", "random"]).failed();
    assert!(refusal.contains("400") && refusal.contains("invalid scheduler algorithm"), "{refusal}");
    assert_eq!(scheduler_config(&agent), stored, "the refused change left the configuration as it was");
    let shown = fields(&keel_at(&agent.http, &["operator", "scheduler", "get-config"]).succeeded());
    assert_eq!(shown["Scheduler Algorithm"], "spread");
}

#[test]
fn autopilot_settings_are_set_and_the_server_is_healthy() {
    let agent = Agent::start_dev("127.0.0.43", &["--node", "gamma"]);

    let set = ["operator", "autopilot", "set-config", "--max-trailing-logs", "99", "--last-contact-threshold", "1s"];
    assert_eq!(keel_at(&agent.http, &set).succeeded(), "Configuration updated!\n");
    let shown = fields(&keel_at(&agent.http, &["operator", "autopilot", "get-config"]).succeeded());
    assert_eq!((shown["MaxTrailingLogs"].as_str(), shown["LastContactThreshold"].as_str()), ("99", "1s"), "{shown:?}");
    assert_eq!(shown["ServerStabilizationTime"], "10s", "settings not given keep their value");
    let stored = api(&agent, "/v1/operator/autopilot/configuration");
    assert_eq!((&stored["MaxTrailingLogs"], &stored["LastContactThreshold"]), (&Value::from(99), &Value::from("1s")));

    // A server that just started may take a moment to be judged healthy.
    let deadline = Instant::now() + Duration::from_secs(15);
    let health = loop {
        let run = keel_at(&agent.http, &["operator", "autopilot", "health"]);
        if run.code != Some(2) || Instant::now() > deadline {
            break run.succeeded();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(fields(&health)["Healthy"], "true", "{health}");
    let latency = health.lines().find(|line| line.starts_with("Plugin autopilot-default")).unwrap_or_default();
    assert!(latency.contains(" calls, p50 ") && latency.contains("µs"), "the plugin's latency line: {health}");
    let server = row_with(&health, "127.0.0.43:4647");
    assert_eq!(server[1..4], ["gamma.global", "127.0.0.43:4647", "alive"], "{health}");
}

#[test]
fn a_snapshot_saved_inspected_and_restored_brings_the_old_configuration_back() {
    let agent = Agent::start_dev("127.0.0.44", &[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("backup.snap");
    let before = scheduler_config(&agent);

    let saved = keel_at(&agent.http, &["operator", "snapshot", "save", path_arg(&file)]).succeeded();
    assert_eq!(saved, format!("State file written to {}\n", file.display()));
    keel_at(&agent.http, &["operator", "scheduler", "set-config", "--scheduler-algorithm", "spread"]).succeeded();
    let changed = scheduler_config(&agent);
    assert_eq!(changed["SchedulerAlgorithm"], "spread");

    // Inspecting reads only the file; the agent's address is not needed.
    let inspected = fields(&keel(&["operator", "snapshot", "inspect", path_arg(&file)], &[]).succeeded());
    let index: u64 = inspected["Index"].parse().unwrap_or_else(|e| panic!("Index ({e}): {inspected:?}"));
    assert!(index > 0, "{inspected:?}");
    let change_index = changed["ModifyIndex"].as_u64().expect("a modify index");
    assert!(index < change_index, "the snapshot ({index}) predates the change ({change_index})");
    assert_eq!(inspected["Version"], keel_state::archive::FORMAT_VERSION.to_string());
    let json = keel(&["operator", "snapshot", "inspect", path_arg(&file), "--json"], &[]).succeeded();
    let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("--json is not JSON ({e}):\n{json}"));
    assert_eq!(
        (json["Index"].as_u64(), json["Version"].as_u64()),
        (Some(index), Some(u64::from(keel_state::archive::FORMAT_VERSION))),
        "{json}"
    );
    assert_eq!(json["Membership"][0]["Address"], "127.0.0.44:4647", "{json}");

    let restored = keel_at(&agent.http, &["operator", "snapshot", "restore", path_arg(&file)]).succeeded();
    assert_eq!(restored, "Snapshot Restored\n");
    assert_eq!(scheduler_config(&agent), before, "the restore brought the saved configuration back");

    let garbage = dir.path().join("garbage.snap");
    std::fs::write(&garbage, b"this is not a snapshot at all").expect("write");
    let refusal = keel_at(&agent.http, &["operator", "snapshot", "restore", path_arg(&garbage)]).failed();
    assert!(refusal.contains("400 Bad Request: invalid snapshot"), "{refusal}");
    assert!(keel(&["operator", "snapshot", "inspect", path_arg(&garbage)], &[]).failed().contains("garbage.snap"));
    assert_eq!(scheduler_config(&agent), before, "the refused archive changed nothing");
}

#[test]
fn a_license_signed_with_the_trusted_key_is_installed_and_a_forged_one_is_refused() {
    // Declared first so that it outlives the agent reading the config file.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let issuer = dir.path().join("issuer");
    let generated = keel(&["license", "keygen", "--out", path_arg(&issuer)], &[]).succeeded();
    let public_key = std::fs::read_to_string(dir.path().join("issuer.pub")).expect("keygen wrote issuer.pub");
    let public_key = public_key.trim();
    assert!(generated.contains(&format!("public_key = \"{public_key}\"")), "{generated}");
    let config = dir.path().join("agent.hcl");
    std::fs::write(&config, format!("plugin \"license\" {{\n  config {{ public_key = \"{public_key}\" }}\n}}\n"))
        .expect("write the config file");
    let agent = Agent::start_dev("127.0.0.45", &["--config", path_arg(&config)]);
    assert_eq!(keel_at(&agent.http, &["operator", "license", "get"]).succeeded(), "No license installed\n");

    let sign = |key: &Path, license_id: &str| {
        let args = ["license", "sign", "--key", path_arg(key), "--customer", "acme", "--expires", "720h"];
        let args = [&args[..], &["--feature", "Redundancy Zones", "--license-id", license_id]].concat();
        let document = keel(&args, &[]).succeeded();
        let file = dir.path().join(format!("{license_id}.license"));
        std::fs::write(&file, document.trim()).expect("write the license");
        file
    };
    let license = sign(&dir.path().join("issuer.key"), "lic-acme");
    let installed = keel_at(&agent.http, &["operator", "license", "put", path_arg(&license)]).succeeded();
    assert!(installed.starts_with("Successfully applied license (index "), "{installed}");
    let shown = keel_at(&agent.http, &["operator", "license", "get"]).succeeded();
    let shown_fields = fields(&shown);
    assert_eq!((shown_fields["Customer ID"].as_str(), shown_fields["License ID"].as_str()), ("acme", "lic-acme"));
    assert!(shown.contains("\nLicensed Features:\n\tRedundancy Zones\n"), "{shown}");

    let other = dir.path().join("other");
    keel(&["license", "keygen", "--out", path_arg(&other)], &[]).succeeded();
    let forged = sign(&dir.path().join("other.key"), "lic-forged");
    let refusal = keel_at(&agent.http, &["operator", "license", "put", path_arg(&forged)]).failed();
    assert!(refusal.contains("bad signature"), "{refusal}");
    let still = fields(&keel_at(&agent.http, &["operator", "license", "get"]).succeeded());
    assert_eq!(still["License ID"], "lic-acme", "the refused license left the installed one");
}

#[test]
fn members_and_status_name_the_node_and_the_leader_wherever_the_address_comes_from() {
    let agent = Agent::start_dev("127.0.0.46", &["--node", "delta"]);

    let members = keel_at(&agent.http, &["server", "members"]).succeeded();
    let member = row_with(&members, "delta.global");
    assert_eq!(member[1..5], ["127.0.0.46", "4648", "alive", "true"], "alive and leading:\n{members}");

    let status = fields(&keel_at(&agent.http, &["status"]).succeeded());
    assert_eq!(status["Leader"], "127.0.0.46:4647", "{status:?}");
    assert_eq!(status["Agent"], format!("delta ({})", agent.http), "{status:?}");

    // The flag is absent: KEEL_ADDR is read first, then NOMAD_ADDR.
    let from_env = |env: &[(&str, &str)]| fields(&keel(&["status"], env).succeeded())["Agent"].clone();
    let answered = format!("delta ({})", agent.http);
    assert_eq!(from_env(&[("KEEL_ADDR", &agent.http)]), answered);
    assert_eq!(from_env(&[("NOMAD_ADDR", &agent.http)]), answered);
    assert_eq!(from_env(&[("KEEL_ADDR", &agent.http), ("NOMAD_ADDR", NOBODY)]), answered, "KEEL_ADDR wins");
    let flag_wins = keel(&["status", "--address", NOBODY], &[("KEEL_ADDR", &agent.http)]).failed();
    assert!(flag_wins.contains("127.0.0.49:4646"), "the flag wins over the environment: {flag_wins}");
}

#[test]
fn without_an_agent_every_command_fails_with_one_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("never.snap");
    let commands: [&[&str]; 6] = [
        &["status"],
        &["server", "members"],
        &["operator", "raft", "list-peers"],
        &["operator", "scheduler", "set-config", "--scheduler-algorithm", "spread"],
        &["operator", "autopilot", "health"],
        &["operator", "snapshot", "save", path_arg(&file)],
    ];
    for command in commands {
        let reason = keel_at(NOBODY, command).failed();
        assert!(reason.contains("127.0.0.49:4646"), "{command:?}: {reason}");
    }
    assert!(!file.exists(), "a failed save writes no file");
    assert!(!dir.path().join("never.snap.tmp").exists(), "nor a partial one");

    let tls = keel_at("https://127.0.0.49:4646", &["status"]).failed();
    assert!(tls.contains("plain http:// only"), "{tls}");
}
