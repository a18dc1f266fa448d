//! The etcd side: three members on loopback from the `etcd` binary of
//! Debian's `etcd-server` package (`make bench` installs it), written through
//! etcd's HTTP/JSON gateway. Each member keeps one temporary data directory
//! across its kills and restarts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keel_tests::load::Request;

use super::{Cluster, call_json, wait_until};

const IPS: [&str; 3] = ["127.0.0.211", "127.0.0.212", "127.0.0.213"];
const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

/// A running three-member etcd cluster, stopped when dropped.
pub struct Etcd {
    members: Vec<Member>,
    /// Each member's id as its status reports it, by member number.
    ids: Vec<String>,
    _data: tempfile::TempDir,
}

impl Etcd {
    /// Starts the three members and waits until each is healthy.
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("temporary directory for etcd");
        let mut members: Vec<Member> = IPS
            .iter()
            .enumerate()
            .map(|(number, ip)| Member {
                name: member_name(number),
                ip,
                data_dir: data.path().join(member_name(number)),
                log: data.path().join(format!("{}.log", member_name(number))),
                child: None,
            })
            .collect();
        for member in &mut members {
            member.spawn();
        }
        for member in &mut members {
            member.wait_healthy();
        }
        let ids = members
            .iter()
            .map(|member| {
                let status = member.status().unwrap_or_else(|| panic!("no status from etcd member {}", member.name));
                status["header"]["member_id"].as_str().expect("a member id in the status").to_owned()
            })
            .collect();
        Self { members, ids, _data: data }
    }
}

impl Cluster for Etcd {
    fn size(&self) -> usize {
        self.members.len()
    }

    fn address(&self, member: usize) -> SocketAddr {
        self.members[member].address()
    }

    fn write(&self) -> Request {
        let body = serde_json::json!({
            "key": STANDARD.encode("keel-bench"),
            "value": STANDARD.encode("durable"),
        });
        Request::post("/v3/kv/put", body.to_string()).header("Content-Type", "application/json")
    }

    fn leader(&self) -> Option<usize> {
        let running = self.members.iter().filter(|member| member.child.is_some());
        let leader_id =
            running.filter_map(Member::status).find_map(|status| status["leader"].as_str().map(str::to_owned))?;
        let leader = self.ids.iter().position(|id| *id == leader_id)?;
        self.members[leader].child.is_some().then_some(leader)
    }

    fn kill(&mut self, member: usize) {
        self.members[member].kill();
    }

    fn restart(&mut self, member: usize) {
        self.members[member].spawn();
        self.members[member].wait_healthy();
    }
}

/// One etcd process and where it keeps its data and log.
struct Member {
    name: String,
    ip: &'static str,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Member {
    /// Starts the process. With a data directory from an earlier run, etcd
    /// ignores the `--initial-*` flags and rejoins as the member it was.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("etcd log file");
        let client_url = format!("http://{}:{CLIENT_PORT}", self.ip);
        let peer_url = format!("http://{}:{PEER_PORT}", self.ip);
        let initial_cluster: Vec<String> = IPS
            .iter()
            .enumerate()
            .map(|(number, ip)| format!("{}=http://{ip}:{PEER_PORT}", member_name(number)))
            .collect();
        let child = Command::new("etcd")
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &initial_cluster.join(",")])
            .args(["--initial-cluster-state", "new", "--initial-cluster-token", "keel-bench"])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start etcd: {e} (`make bench` installs Debian's etcd-server)"));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn address(&self) -> SocketAddr {
        format!("{}:{CLIENT_PORT}", self.ip).parse().expect("IPS holds IP addresses")
    }

    /// `POST /v3/maintenance/status`: the member's id and the leader's.
    fn status(&self) -> Option<serde_json::Value> {
        call_json(self.address(), &Request::post("/v3/maintenance/status", "{}"))
    }

    /// Waits until `GET /health` says the member is healthy: it runs, knows a
    /// leader and answers a read through Raft.
    fn wait_healthy(&mut self) {
        let what = format!("etcd member {} to be healthy", self.name);
        wait_until(&what, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("etcd member {} exited with {status}:\n{log}", self.name);
            }
            let health = call_json(self.address(), &Request::get("/health"))?;
            (health["health"] == "true").then_some(())
        });
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

fn member_name(number: usize) -> String {
    format!("e{}", number + 1)
}

/// The installed etcd's version, for the notes under the table.
pub fn version() -> String {
    Command::new("etcd")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| {
            text.lines().next().and_then(|line| line.strip_prefix("etcd Version:")).map(str::trim).map(str::to_owned)
        })
        .map_or_else(|| "etcd not installed".to_owned(), |version| format!("etcd {version}"))
}
