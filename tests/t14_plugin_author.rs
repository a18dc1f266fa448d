//! A plugin author outside the repository: `keel plugin new` for every
//! kind, the new crate's own native tests, `keel plugin build` (which tests
//! the component; the same sources built elsewhere give the same bytes),
//! and an agent that runs the result.

use std::path::Path;
use std::process::Command;

use keel_plugins::Kind;
use keel_tests::{Agent, keel};

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?}: {printed}");
    printed
}

/// Cargo as a user runs it: nothing of the cargo that runs this test.
fn cargo(dir: &Path) -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CARGO_") && name != "CARGO_HOME" {
            cargo.env_remove(name);
        }
    }
    cargo.current_dir(dir);
    cargo
}

fn keel_in(args: &[&str]) -> String {
    let output = keel(args);
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "keel {args:?}: {printed}");
    printed
}

/// The settings each kind's starting point needs to load.
fn settings(kind: Kind) -> Vec<String> {
    match kind {
        // The public key of the license template's own tests (seed [7; 32]).
        Kind::License => {
            let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
            vec!["--config".into(), format!("public_key={}", hex::encode(key.as_bytes()))]
        }
        _ => Vec::new(),
    }
}

/// `keel plugin build` of `dir` into `target_dir`, the component written
/// to `out`; checks what it printed and returns `out`.
fn build(dir: &Path, target_dir: &Path, out: &Path, kind: Kind) -> std::path::PathBuf {
    let mut args: Vec<String> = vec!["plugin".into(), "build".into(), dir.display().to_string()];
    args.extend(["--target-dir".into(), target_dir.display().to_string(), "--out".into(), out.display().to_string()]);
    args.extend(settings(kind));
    let printed = keel_in(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(printed.contains("cases passed") && printed.contains(&format!("--plugin {kind}=")), "{printed}");
    out.to_path_buf()
}

#[test]
fn a_new_plugin_of_every_kind_tests_builds_and_loads_outside_the_repository() {
    let home = tempfile::tempdir().expect("a temp dir outside the workspace");
    let (native, guest) = (home.path().join("native-target"), home.path().join("guest-target"));
    let mut built = Vec::new();
    for kind in Kind::ALL {
        let name = format!("my-{kind}");
        let dir = home.path().join(&name);
        let printed = keel_in(&["plugin", "new", "--kind", kind.name(), &name, dir.to_str().expect("utf-8")]);
        assert!(printed.contains("keel plugin build"), "{printed}");
        assert!(dir.join("vendor/keel-sdk/src/lib.rs").is_file() && dir.join("vendor/wit/plugin.wit").is_file());
        let tested = run(cargo(&dir).arg("test").arg("--target-dir").arg(&native));
        assert!(tested.contains("test result: ok."), "{tested}");
        let component = build(&dir, &guest, &home.path().join(format!("{name}.wasm")), kind);
        built.push((kind, name, dir, component));
    }
    // The same sources moved and built again, cold: the paths differ, the bytes do not.
    let (_, acl_name, acl_dir, acl) = &built[0];
    let moved = home.path().join("moved");
    std::fs::create_dir(&moved).expect("a directory");
    run(Command::new("cp").arg("-r").arg(acl_dir).arg(&moved));
    let moved_crate = moved.join(acl_name);
    let again = build(&moved_crate, &moved.join("target"), &moved.join("again.wasm"), Kind::Acl);
    assert!(std::fs::read(acl).expect("built") == std::fs::read(again).expect("built"), "two builds differ");
    let agent = Agent::start_dev("127.0.0.26", &["--plugin", &format!("acl={}", acl.display())]);
    let plugins = agent.get("/v1/agent/plugins").json();
    let entry = plugins.as_array().expect("a list").iter().find(|p| p["Kind"] == "acl").expect("an acl entry").clone();
    assert_eq!(entry["Name"], acl_name.as_str(), "{plugins}");
    assert_eq!(entry["Source"], "configured", "{plugins}");
}
