//! The harness shared by Keel's integration tests.
//!
//! It finds what `make plugins` and `cargo build` produced (the plugin
//! components in `target/plugins/` and the `keel` binary), and runs real
//! `keel` processes: started with a temporary data directory, waited on
//! with generous timeouts, and killed when the test ends.

pub mod inputs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the workspace root").to_path_buf()
}

/// The bytes of a built default plugin, `target/plugins/<name>.wasm`.
pub fn plugin(name: &str) -> Vec<u8> {
    read_built(&workspace_root().join("target/plugins").join(format!("{name}.wasm")))
}

/// The bytes of a built test fixture, `target/plugins/fixtures/<name>.wasm`.
pub fn fixture(name: &str) -> Vec<u8> {
    read_built(&fixture_path(name))
}

pub fn fixture_path(name: &str) -> PathBuf {
    workspace_root().join("target/plugins/fixtures").join(format!("{name}.wasm"))
}

pub fn plugin_path(name: &str) -> PathBuf {
    workspace_root().join("target/plugins").join(format!("{name}.wasm"))
}

fn read_built(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (run `make plugins` first)", path.display()))
}

/// The `keel` binary cargo built next to this test executable.
pub fn keel_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> -> target/<profile>/keel
    let profile_dir = test_exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    let keel = profile_dir.join("keel");
    assert!(keel.is_file(), "{} is missing: build it with `cargo build -p keel`", keel.display());
    keel
}

/// Runs `keel ARGS...` to completion.
pub fn keel(args: &[&str]) -> Output {
    Command::new(keel_binary()).args(args).stdin(Stdio::null()).output().expect("keel runs")
}

/// A running `keel agent` process, killed when dropped.
pub struct Agent {
    child: Child,
    pub http: String,
    pub data_dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

impl Agent {
    /// Starts `keel agent --dev --bind BIND --data-dir <temporary> EXTRA...`
    /// and waits until `GET /v1/agent/health` answers 200. Each test binds
    /// its own loopback address (127.0.0.x), so tests can run in parallel.
    pub fn start_dev(bind: &str, extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        let stderr_path = data_dir.path().join("agent.log");
        let stderr = std::fs::File::create(&stderr_path).expect("agent log file");
        let data_dir_arg = data_dir.path().to_str().expect("utf-8 temp path").to_owned();
        let mut args = vec!["agent", "--dev", "--bind", bind, "--data-dir", data_dir_arg.as_str()];
        args.extend_from_slice(extra);
        let child = Command::new(keel_binary())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("keel agent starts");
        let mut agent = Self { child, http: format!("http://{bind}:4646"), data_dir, stderr_path };
        agent.wait_healthy(Duration::from_secs(60));
        agent
    }

    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("keel agent exited with {status} before it was healthy:\n{}", self.log());
            }
            if let Ok(response) = ureq::get(&format!("{}/v1/agent/health", self.http)).call()
                && response.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "keel agent not healthy after {timeout:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the agent wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends `signal` and waits (up to 30 s) for the process to exit.
    pub fn stop_with(mut self, signal: i32) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("pids fit in i32");
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "signal {signal} delivered");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on child") {
                return status;
            }
            assert!(Instant::now() < deadline, "keel agent ignored signal {signal}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
