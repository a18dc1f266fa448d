//! The `keel` binary: `version`, `plugin check`, and a dev agent that
//! serves its health endpoint and stops cleanly on SIGINT and SIGTERM.

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
    assert!(stdout(&output).contains("keel:plugin@0.1.0"), "{}", stdout(&output));
}

#[test]
fn plugin_check_accepts_every_default_plugin() {
    for kind in keel_plugins::Kind::ALL {
        let path = plugin_path(kind.default_plugin());
        let output = keel(&["plugin", "check", path.to_str().expect("utf-8 path")]);
        assert!(output.status.success(), "{}: {}", kind, stderr(&output));
        let printed = stdout(&output);
        assert!(printed.contains(&format!("world:   {}", kind.world())), "{printed}");
        assert!(printed.contains(&format!("name:    {}", kind.default_plugin())), "{printed}");
        assert!(printed.contains("version: "), "{printed}");
    }
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
