//! A plugin author outside the repository, from the README: its
//! walk-through run verbatim (`keel plugin new` of a business-hours ACL
//! plugin, its native tests, `keel plugin build`, `keel plugin test`, an
//! agent that runs it) and a decision that changes when the write window
//! closes; its SDK example built as a crate of its own; then every other
//! kind's starting point built the same way, and the same sources moved and
//! built again to the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_plugins::Kind;
use keel_tests::{Agent, keel, keel_binary, readme_blocks};

/// The walk-through's agent; the README's commands talk to it through `NOMAD_ADDR`.
const BIND: &str = "127.0.0.26";
/// The agent of the other kinds' test.
const OTHER_BIND: &str = "127.0.0.27";

/// How long after the agent starts the write window closes: room for the
/// setup requests, however slow the machine.
const WINDOW_LEFT: Duration = Duration::from_secs(20);

/// A shell as a user at a terminal has it: `keel` on the `PATH`, cargo with
/// nothing of the cargo that runs this test, `cd` remembered between lines.
struct Shell {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Shell {
    fn new(dir: &Path) -> Self {
        Shell { dir: dir.to_path_buf(), env: Vec::new() }
    }

    /// Runs one README line; its output. `cd` changes the shell's directory.
    fn run(&mut self, line: &str) -> String {
        if let Some(dir) = line.strip_prefix("cd ") {
            self.dir = self.dir.join(dir.split('#').next().unwrap_or_default().trim());
            return String::new();
        }
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(line).current_dir(&self.dir).envs(self.env.iter().map(|(k, v)| (k, v)));
        run(user_env(&mut sh))
    }
}

/// `command` with `keel` first on the `PATH` and no `CARGO_*` variable of the
/// cargo that runs this test.
fn user_env(command: &mut Command) -> &mut Command {
    let bin = keel_binary().parent().expect("the binary's directory").to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).expect("a PATH");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CARGO_") && name != "CARGO_HOME" {
            command.env_remove(name);
        }
    }
    command.env("PATH", path)
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?}: {printed}");
    printed
}

fn cargo(dir: &Path) -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    user_env(&mut cargo).current_dir(dir);
    cargo
}

fn keel_in(args: &[&str]) -> String {
    let output = keel(args);
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "keel {args:?}: {printed}");
    printed
}

/// The value of `field = value` in a `keel` key/value printout.
fn field(printed: &str, field: &str) -> String {
    let line = printed.lines().find(|line| line.starts_with(field)).unwrap_or_else(|| panic!("{field}: {printed}"));
    line.rsplit(' ').next().expect("a value").to_owned()
}

/// `HH:MM:SS` (UTC) of a time in ms since the epoch.
fn clock(ms: u128) -> String {
    let seconds = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after the epoch")
}

/// Runs the README's first block in `home`, the agent line with this test's
/// address and a write window from an hour ago until [`WINDOW_LEFT`] from
/// now; the agent, the plugin crate's directory and when the window closes
/// (since the epoch).
fn walk_through(home: &Path) -> (Agent, PathBuf, Duration) {
    let blocks = readme_blocks("### From zero to a loaded plugin, outside this repository", "sh");
    let mut shell = Shell::new(home);
    let (agent_line, steps) = blocks[0].split_last().expect("a walk-through");
    for line in steps {
        let printed = shell.run(line);
        if line.starts_with("keel plugin test") {
            assert!(printed.contains("contract: keel:plugin@0.3.0") && printed.contains("cases passed"), "{printed}");
        }
    }
    let args = agent_line.strip_prefix("keel agent ").expect("the last line starts the agent");
    let closes = now() + WINDOW_LEFT;
    let window = format!("{}-{}", clock((closes - Duration::from_secs(3600)).as_millis()), clock(closes.as_millis()));
    let args: Vec<String> = args
        .replace("acl=target/", &format!("acl={}/target/", shell.dir.display()))
        .replace("acl.write_hours=09:00-17:00", &format!("acl.write_hours={window}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (Agent::start(BIND, args), shell.dir, closes)
}

/// The README's second block against the agent: the management token's
/// secret and the client token's.
fn give_a_token(dir: &Path) -> (String, String) {
    let blocks = readme_blocks("### From zero to a loaded plugin, outside this repository", "sh");
    let mut shell = Shell::new(dir);
    shell.env.push(("NOMAD_ADDR".into(), format!("http://{BIND}:4646")));
    let (mut management, mut client) = (String::new(), String::new());
    for line in &blocks[1] {
        if line.starts_with("export NOMAD_TOKEN=") {
            shell.env.push(("NOMAD_TOKEN".into(), management.clone()));
            continue;
        }
        let printed = shell.run(line);
        if line.starts_with("keel acl bootstrap") {
            management = field(&printed, "Secret ID");
        } else if line.starts_with("keel acl token create") {
            client = field(&printed, "Secret ID");
        }
    }
    (management, client)
}

#[test]
fn the_readme_walk_through_runs_and_writes_stop_when_the_window_closes() {
    let home = tempfile::tempdir().expect("a temp dir outside the workspace");
    let (agent, dir, closes) = walk_through(home.path());
    let (management, token) = give_a_token(&dir);
    let plugins = agent.request("GET", "/v1/agent/plugins", &[("X-Nomad-Token", &management)], b"").json();
    let acl = plugins.as_array().expect("a list").iter().find(|p| p["Kind"] == "acl").expect("an acl entry").clone();
    assert_eq!((acl["Name"].as_str(), acl["Contract"].as_str()), (Some("business-hours"), Some("keel:plugin@0.3.0")));
    assert_eq!(acl["Source"], "configured", "{plugins}");

    let as_token = [("X-Nomad-Token", token.as_str())];
    let body = br#"{"SchedulerAlgorithm": "spread"}"#;
    let write = || agent.request("PUT", "/v1/operator/scheduler/configuration", &as_token, body).status;
    let read = || agent.request("GET", "/v1/operator/scheduler/configuration", &as_token, b"").status;
    assert_eq!(write(), 200, "a write inside the window");
    assert_eq!(read(), 200);
    assert!(now() < closes, "the setup outlasted the window; raise WINDOW_LEFT");
    std::thread::sleep(closes - now() + Duration::from_millis(500));
    // The allow above was kept until the window closed, and not a moment longer.
    assert_eq!(write(), 403, "a write after the window closed");
    assert_eq!(read(), 200, "reads last");

    // The SDK example of "Writing one", verbatim, is a plugin crate too.
    let example = home.path().join("read-only");
    std::fs::create_dir(&example).expect("a directory");
    run(Command::new("cp")
        .arg("-r")
        .args(["src", "vendor", "Cargo.toml", "Cargo.lock"])
        .arg(&example)
        .current_dir(&dir));
    let rust = readme_blocks("### Writing one", "rust").remove(0);
    std::fs::write(example.join("src/lib.rs"), rust.join("\n")).expect("written");
    let built = run(cargo(&example).args(["build", "--target-dir"]).arg(dir.join("target")));
    assert!(built.contains("Finished"), "{built}");
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
fn build(dir: &Path, target_dir: &Path, out: &Path, kind: Kind) -> PathBuf {
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
    let target = home.path().join("target");
    let mut built = Vec::new();
    for kind in [Kind::Autopilot, Kind::Scheduler, Kind::License] {
        let name = format!("my-{kind}");
        let dir = home.path().join(&name);
        let printed = keel_in(&["plugin", "new", "--kind", kind.name(), &name, dir.to_str().expect("utf-8")]);
        assert!(printed.contains("keel plugin build"), "{printed}");
        assert!(dir.join("vendor/keel-sdk/src/lib.rs").is_file() && dir.join("vendor/wit/plugin.wit").is_file());
        let tested = run(cargo(&dir).arg("test").arg("--target-dir").arg(&target));
        assert!(tested.contains("test result: ok."), "{tested}");
        let component = build(&dir, &target, &home.path().join(format!("{name}.wasm")), kind);
        built.push((kind, name, dir, component));
    }
    // The same sources moved and built again, cold: the paths differ, the bytes do not.
    let (kind, name, dir, component) = &built[1];
    let moved = home.path().join("moved");
    std::fs::create_dir(&moved).expect("a directory");
    run(Command::new("cp").arg("-r").arg(dir).arg(&moved));
    let again = build(&moved.join(name), &moved.join("target"), &moved.join("again.wasm"), *kind);
    assert!(std::fs::read(component).expect("built") == std::fs::read(again).expect("built"), "two builds differ");
    let agent = Agent::start_dev(OTHER_BIND, &["--plugin", &format!("{kind}={}", component.display())]);
    let plugins = agent.get("/v1/agent/plugins").json();
    let entry =
        plugins.as_array().expect("a list").iter().find(|p| p["Kind"] == "scheduler").expect("an entry").clone();
    assert_eq!(entry["Name"], name.as_str(), "{plugins}");
    assert_eq!(entry["Source"], "configured", "{plugins}");
}
