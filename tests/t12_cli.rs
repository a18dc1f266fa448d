//! The `keel` binary: `version`, `plugin check | test | build`, and a dev
//! agent that serves its health endpoint and stops cleanly on SIGINT and
//! SIGTERM.

use keel_tests::{Agent, fixture_path, keel, plugin_path};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_names_the_plugin_contract() {
    let output = keel(&["version"]);
    assert!(output.status.success());
    let printed = stdout(&output);
    assert!(printed.contains("plugin contracts keel:plugin@0.1.0, keel:plugin@0.2.0, keel:plugin@0.3.0"), "{printed}");
}

#[test]
fn plugin_check_accepts_every_default_plugin() {
    for kind in keel_plugins::Kind::ALL {
        let path = plugin_path(kind.default_plugin());
        let output = keel(&["plugin", "check", path.to_str().expect("utf-8 path")]);
        assert!(output.status.success(), "{}: {}", kind, stderr(&output));
        let printed = stdout(&output);
        assert!(printed.contains(&format!("world:    {}", kind.world())), "{printed}");
        assert!(printed.contains(&format!("name:     {}", kind.default_plugin())), "{printed}");
        assert!(printed.contains("version:  "), "{printed}");
        assert!(printed.contains("contract: keel:plugin@0.3.0"), "{printed}");
    }
    // The tree's 0.1.0 plugin is named as one.
    let old = fixture_path("acl-never-write");
    let output = keel(&["plugin", "check", old.to_str().expect("utf-8 path")]);
    assert!(stdout(&output).contains("contract: keel:plugin@0.1.0"), "{}{}", stdout(&output), stderr(&output));
}

#[test]
fn plugin_check_names_what_is_wrong() {
    let cases = [
        (fixture_path("wrong-world"), "exports no plugin world"),
        (fixture_path("forbidden-import"), "fixture:forbidden-import/sockets"),
        (keel_tests::workspace_root().join("Cargo.toml"), "not a WebAssembly component"),
    ];
    for (path, expected) in cases {
        let output = keel(&["plugin", "check", path.to_str().expect("utf-8 path")]);
        assert!(!output.status.success(), "{} accepted", path.display());
        assert!(stderr(&output).contains(expected), "{}: {}", path.display(), stderr(&output));
        assert!(stdout(&output).is_empty());
    }
    let path = plugin_path("acl-nomad");
    let output = keel(&["plugin", "check", path.to_str().expect("utf-8 path"), "--config", "colour=blue"]);
    assert!(!output.status.success(), "an unknown setting is refused");
    assert!(stderr(&output).contains("colour"), "{}", stderr(&output));
}

/// `keel plugin test` prints every conformance case of the kind with its
/// outcome; a plugin that traps fails each case, and the command fails.
#[test]
fn plugin_test_reports_each_conformance_case() {
    for kind in keel_plugins::Kind::ALL {
        let path = plugin_path(kind.default_plugin());
        let output = keel(&["plugin", "test", path.to_str().expect("utf-8 path")]);
        let printed = stdout(&output);
        assert!(output.status.success(), "{kind}: {printed}{}", stderr(&output));
        let cases = printed.lines().filter(|line| line.starts_with("ok    ")).count();
        assert!(cases >= 1 && !printed.contains("FAIL"), "{printed}");
        assert!(printed.contains(&format!("{cases} of {cases} cases passed")), "{printed}");
    }
    let panics = fixture_path("panic");
    let output = keel(&["plugin", "test", panics.to_str().expect("utf-8 path")]);
    assert!(!output.status.success(), "a trapping plugin passed");
    let printed = stdout(&output);
    assert!(printed.contains("FAIL  a round over five healthy voters reports each server once: "), "{printed}");
    assert!(!printed.contains("ok    "), "{printed}");
    assert!(stderr(&output).contains("keel: 5 of 5 cases failed"), "{}", stderr(&output));
}

/// `keel plugin test --license FILE` adds the positive license cases: the
/// default validator passes them when it trusts the license's key, and
/// fails exactly them when it trusts no key (it then refuses everything).
#[test]
fn plugin_test_with_a_genuine_license_runs_the_positive_cases() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let license = dir.path().join("license.txt");
    std::fs::write(&license, keel_tests::inputs::license_blob("lic-cli").0).expect("written");
    let component = plugin_path("license-ed25519");
    let (component, license) = (component.to_str().expect("utf-8"), license.to_str().expect("utf-8"));
    let key = keel_tests::inputs::license_settings().remove(0).1;
    let trusting = keel(&["plugin", "test", component, "--config", &format!("public_key={key}"), "--license", license]);
    let printed = stdout(&trusting);
    assert!(trusting.status.success(), "{printed}{}", stderr(&trusting));
    assert!(printed.contains("ok    a genuine license is refused once it has expired"), "{printed}");
    assert!(printed.contains("5 of 5 cases passed"), "{printed}");
    let refusing = keel(&["plugin", "test", component, "--license", license]);
    assert!(!refusing.status.success());
    assert!(stdout(&refusing).contains("FAIL  a genuine license is valid and grants its features: "));
    assert!(stderr(&refusing).contains("keel: 3 of 5 cases failed"), "{}", stderr(&refusing));
}

/// `keel plugin build` names what is not a plugin crate: a directory
/// without a manifest, and a workspace. (Builds themselves are in
/// `t14_plugin_author`.)
#[test]
fn plugin_build_refuses_what_is_not_a_plugin_crate() {
    let empty = tempfile::tempdir().expect("a temp dir");
    let cases = [
        (empty.path().to_path_buf(), "Cargo.toml"),
        (keel_tests::workspace_root(), "is a workspace, not a plugin crate"),
    ];
    for (dir, expected) in cases {
        let output = keel(&["plugin", "build", dir.to_str().expect("utf-8 path")]);
        assert!(!output.status.success(), "{} built", dir.display());
        assert!(stderr(&output).contains(expected), "{}: {}", dir.display(), stderr(&output));
    }
}

#[test]
fn dev_agent_serves_health_and_stops_on_sigterm() {
    let agent = Agent::start_dev("127.0.0.21", &[]);
    let mut response = ureq::get(&format!("{}/v1/agent/health", agent.http)).call().expect("health answers");
    assert_eq!(response.status(), 200);
    let text = response.body_mut().read_to_string().expect("body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json body");
    assert_eq!(body["server"]["ok"], true);
    assert_eq!(body["client"]["ok"], true);
    let status = agent.stop_with(libc::SIGTERM);
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

#[test]
fn dev_agent_stops_on_sigint() {
    let agent = Agent::start_dev("127.0.0.22", &[]);
    let log_before = agent.log();
    assert!(log_before.contains("acl=acl-nomad"), "{log_before}");
    let status = agent.stop_with(libc::SIGINT);
    assert!(status.success(), "clean exit on SIGINT: {status}");
}

#[test]
fn dev_agent_refuses_a_bad_plugin_override() {
    let wrong = fixture_path("wrong-world");
    let output = keel(&["agent", "--dev", "--bind", "127.0.0.23", "--plugin", &format!("acl={}", wrong.display())]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("acl-policy"), "{}", stderr(&output));
}

/// The agent's configuration as `/v1/agent/self` reports it, without the
/// data directory, which is a new temporary one per start.
fn reported_config(agent: &Agent) -> serde_json::Value {
    let mut config = agent.get("/v1/agent/self").json()["config"].take();
    config.as_object_mut().expect("config is an object").remove("DataDir");
    config
}

#[test]
fn a_config_directory_of_hcl1_and_json_files_reaches_agent_self() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let hcl = "name = \"from-dir\"\nregion = \"eu\"\nports { http = 4646  rpc = 5647  serf = 5648 }\n\
               server { enabled = true, bootstrap_expect = 1 }\nplugin \"license\" { config { public_key = \"WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\" } }\n";
    std::fs::write(dir.path().join("10-agent.hcl"), hcl).expect("write");
    std::fs::write(dir.path().join("20-site.json"), r#"{"datacenter": "fra1", "server": [{"raft_multiplier": 2}]}"#)
        .expect("write");
    let agent = Agent::start("127.0.0.25", vec!["--config".into(), dir.path().to_str().expect("utf-8").into()]);
    let config = reported_config(&agent);
    assert_eq!(config["NodeName"], "from-dir");
    assert_eq!((&config["Region"], &config["Datacenter"]), (&"eu".into(), &"fra1".into()));
    assert_eq!(config["Ports"], serde_json::json!({ "HTTP": 4646, "RPC": 5647, "Serf": 5648 }));
    assert_eq!(config["Server"]["RaftMultiplier"], 2, "the later file's block merged into the first's");
    assert_eq!(config["Server"]["BootstrapExpect"], 1);
    assert_eq!(config["Files"].as_array().map(Vec::len), Some(2), "{}", config["Files"]);
    assert_eq!(config["Plugins"]["license"]["Config"]["public_key"], "<redacted>");
}

#[test]
fn nomad_flag_spelling_starts_the_same_agent() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let file = dir.path().join("agent.hcl");
    std::fs::write(&file, "autopilot { min_quorum = 1  server_stabilization_time = \"5s\" }\n").expect("write");
    let file = file.to_str().expect("utf-8").to_owned();
    let words = |list: &[&str]| list.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>();
    let keel_spelling = words(&[
        "--server",
        "--bootstrap-expect",
        "1",
        "--node",
        "n1",
        "--region",
        "eu",
        "--dc=fra1",
        "--config",
        &file,
    ]);
    let nomad_spelling = words(&[
        "-server",
        "-bootstrap-expect=1",
        "-node=n1",
        "-region",
        "eu",
        "-dc",
        "fra1",
        &format!("-config={file}"),
    ]);
    let agent = Agent::start("127.0.0.24", keel_spelling);
    let expected = reported_config(&agent);
    assert!(agent.stop_with(libc::SIGTERM).success());
    let agent = Agent::start("127.0.0.24", nomad_spelling);
    assert_eq!(reported_config(&agent), expected);
    assert_eq!((&expected["NodeName"], &expected["Datacenter"]), (&"n1".into(), &"fra1".into()));
    assert_eq!(expected["Autopilot"]["ServerStabilizationTime"], "5s");
    assert!(agent.stop_with(libc::SIGTERM).success());
}

#[test]
fn agent_help_names_both_spellings() {
    let output = keel(&["agent", "--help"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("Nomad's spelling works too: -dev, -server"), "{}", stdout(&output));
}
