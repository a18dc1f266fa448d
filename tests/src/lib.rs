//! The harness shared by Keel's integration tests.
//!
//! It finds what `make plugins` and `cargo build` produced (the plugin
//! components in `target/plugins/` and the `keel` binary), and runs real
//! `keel` processes: started with a temporary data directory, waited on
//! with generous timeouts, and killed when the test ends. On top of that
//! it carries clusters of servers (`cluster`), a load generator (`load`)
//! and a fault harness that checks a recorded history against a cluster
//! under kills and pauses (`fault`).

pub mod browser;
pub mod calls;
pub mod cluster;
pub mod fault;
pub mod fuzz;
pub mod inputs;
pub mod large_state;
pub mod load;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use ureq::RequestExt as _;

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

/// The fenced blocks of language `lang` in the README section `heading`
/// (`### Name`), each as its lines: for the tests that run the README's
/// examples verbatim.
pub fn readme_blocks(heading: &str, lang: &str) -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md is readable");
    let section = readme.split(&format!("\n{heading}\n")).nth(1).expect("the README has the section");
    let section = section.split("\n### ").next().unwrap_or_default();
    let fence = format!("```{lang}\n");
    section
        .split(&fence)
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().lines().map(str::to_owned).collect())
        .collect()
}

/// Runs `keel ARGS...` to completion.
pub fn keel(args: &[&str]) -> Output {
    Command::new(keel_binary()).args(args).stdin(Stdio::null()).output().expect("keel runs")
}

/// A running `keel agent` process, killed when dropped.
pub struct Agent {
    child: Child,
    pub http: String,
    bind: String,
    extra: Vec<String>,
    data_dir: Option<tempfile::TempDir>,
    stderr_path: PathBuf,
    client: ureq::Agent,
}

/// An agent that has exited, with its data directory kept for a restart.
pub struct Stopped {
    pub status: ExitStatus,
    bind: String,
    extra: Vec<String>,
    data_dir: tempfile::TempDir,
}

impl Stopped {
    /// Starts the agent again with the same address, flags and data directory.
    pub fn restart(self) -> Agent {
        Agent::spawn(&self.bind, self.data_dir, self.extra).healthy()
    }
}

/// Polls `probe` every 200 ms until it finds something and answers it;
/// panics naming `what` when `within` passes first.
pub fn poll_until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The live processes (zombies left out) whose environment holds `entry`
/// (`NOMAD_JOB_ID=web`): the tasks a client runs, found from outside.
pub fn processes_with_env(entry: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let pids = entries.flatten().filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok());
    pids.filter(|pid| {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
        let has = environ.split(|byte| *byte == 0).any(|var| var == entry.as_bytes());
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        has && !zombie
    })
    .collect()
}

/// An HTTP reply: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {}", self.text()))
    }
}

impl Agent {
    /// Starts `keel agent --dev --bind BIND --data-dir <temporary> EXTRA...`
    /// and waits until `GET /v1/agent/health` answers 200. Each test binds
    /// its own loopback address (127.0.0.x), so tests can run in parallel.
    pub fn start_dev(bind: &str, extra: &[&str]) -> Self {
        let mut args = vec!["--dev".to_owned()];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        Self::start(bind, args)
    }

    /// Starts a client agent of the servers at `servers` with the `raw_exec`
    /// driver enabled and `more_config` (both in a config file in the data
    /// dir), and `extra` flags.
    pub fn start_client(bind: &str, servers: &str, more_config: &str, extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        let config = data_dir.path().join("client.hcl");
        let text = format!("plugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\n{more_config}\n");
        std::fs::write(&config, text).expect("config");
        let mut args: Vec<String> = ["--client", "--servers", servers, "--config"].map(str::to_owned).to_vec();
        args.push(config.to_str().expect("utf-8 temp path").to_owned());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        Self::spawn(bind, data_dir, args).healthy()
    }

    /// Starts `keel agent --bind BIND --data-dir <temporary> ARGS...` and
    /// waits until it is healthy.
    pub fn start(bind: &str, args: Vec<String>) -> Self {
        Self::launch(bind, args).healthy()
    }

    /// Starts `keel agent --bind BIND --data-dir <temporary> ARGS...` without
    /// waiting: for servers that become healthy only once enough of them run
    /// to elect a leader.
    pub fn launch(bind: &str, args: Vec<String>) -> Self {
        Self::spawn(bind, tempfile::tempdir().expect("temporary data dir"), args)
    }

    fn spawn(bind: &str, data_dir: tempfile::TempDir, extra: Vec<String>) -> Self {
        let stderr_path = data_dir.path().join("agent.log");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&stderr_path).expect("agent log file");
        let data_dir_arg = data_dir.path().to_str().expect("utf-8 temp path").to_owned();
        let child = Command::new(keel_binary())
            .args(["agent", "--bind", bind, "--data-dir", data_dir_arg.as_str()])
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("keel agent starts");
        let client = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self {
            child,
            http: format!("http://{bind}:4646"),
            bind: bind.to_owned(),
            extra,
            data_dir: Some(data_dir),
            stderr_path,
            client,
        }
    }

    fn healthy(mut self) -> Self {
        self.wait_healthy(Duration::from_secs(60));
        self
    }

    /// Waits until `GET /v1/agent/health` answers 200; panics with the log
    /// when the agent exits first or `timeout` passes.
    pub fn wait_healthy(&mut self, timeout: Duration) {
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
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The agent's data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_ref().expect("a running agent has its data dir").path()
    }

    /// Everything the agent wrote to standard error so far.
    pub fn log(&self) -> String {
        // Lossy: a log with one stray byte must still show its lines.
        std::fs::read(&self.stderr_path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    }

    /// Sends `method PATH` with `body` (and `headers`) and returns the reply,
    /// whatever its status.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.try_request(method, path, headers, body, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// Sends `raw` bytes on a fresh connection to the agent's HTTP port and
    /// returns what comes back until the server closes the connection (or
    /// resets it after answering); silence for `timeout` is an error.
    pub fn raw_exchange(&self, raw: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(self.http.trim_start_matches("http://"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(raw)?;
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return Ok(received),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return Ok(received),
                Err(error) => return Err(error),
            }
        }
    }

    /// Like [`Agent::request`], but a request that cannot be sent or is not
    /// answered within `timeout` is an error instead of a panic: for agents
    /// that may be stopped, paused or without a leader.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Reply, ureq::Error> {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.http));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.to_vec()).expect("a valid request");
        let mut response = request.with_agent(&self.client).configure().timeout_global(Some(timeout)).run()?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = response.body_mut().with_config().limit(1 << 30).read_to_vec()?;
        Ok(Reply { status, headers, body })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], &[])
    }

    pub fn put(&self, path: &str, body: impl AsRef<[u8]>) -> Reply {
        self.request("PUT", path, &[], body.as_ref())
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, &[], &[])
    }

    /// Sends `signal` without waiting for its effect (`SIGSTOP`, `SIGCONT`).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pids fit in i32");
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "signal {signal} delivered");
    }

    /// Sends `signal` and waits (up to 30 s) for the process to exit.
    pub fn stop_with(self, signal: i32) -> ExitStatus {
        self.halt(signal).status
    }

    /// Sends `signal`, waits for the exit, and keeps the data directory so
    /// the agent can be restarted on it.
    pub fn halt(mut self, signal: i32) -> Stopped {
        self.signal(signal);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait on child") {
                break status;
            }
            assert!(Instant::now() < deadline, "keel agent ignored signal {signal}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        };
        Stopped {
            status,
            bind: self.bind.clone(),
            extra: std::mem::take(&mut self.extra),
            data_dir: self.data_dir.take().expect("a running agent has its data dir"),
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
