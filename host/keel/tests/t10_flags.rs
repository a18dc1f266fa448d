//! The `keel` binary refuses what it does not understand, naming it. This
//! test also makes `cargo test` build the binary that `tests/` runs.

use std::process::{Command, Output};

fn keel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel")).args(args).output().expect("keel runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_names_the_contract() {
    let output = keel(&["version"]);
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("keel:plugin@0.1.0")
            && printed.contains("keel:plugin@0.2.0")
            && printed.contains("keel:plugin@0.3.0"),
        "{printed}"
    );
}

#[test]
fn an_unknown_flag_is_named() {
    let output = keel(&["agent", "--dev", "--bootstrap-expected", "3"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--bootstrap-expected"), "{}", stderr(&output));
}

#[test]
fn an_unknown_config_key_is_named_with_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("agent.hcl");
    std::fs::write(&file, "server {\n  enabled = true\n  bootstrap_expectation = 3\n}\n").expect("write config");
    let output = keel(&["agent", "--config", file.to_str().expect("utf-8 path"), "--data-dir", "unused"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("unknown field `bootstrap_expectation`"), "{message}");
    assert!(message.contains("agent.hcl"), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
}
