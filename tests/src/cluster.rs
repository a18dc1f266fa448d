//! A cluster of real `keel agent --server` processes on loopback.
//!
//! Each server binds its own address (HTTP :4646, RPC :4647, gossip :4648),
//! finds the others with `--retry-join` and bootstraps with
//! `--bootstrap-expect`, exactly as on separate machines. All servers read
//! one HCL file that makes autopilot quick (a round every second, promotion
//! after 3 s), so membership changes show within seconds. Servers are
//! named by their index; the cluster kills every process it started when it
//! is dropped, also when a test panics.

pub mod api;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::{Agent, Stopped};
use api::{RaftServer, Scheduling, Suffrage};

/// How long a cluster gets to reach a state it should reach by itself
/// (an election, a rejoin, a promotion). Generous: the machine may be busy.
pub const LIVENESS: Duration = Duration::from_secs(60);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// The RPC port, which Raft addresses carry.
const RPC_PORT: u16 = 4647;

/// How many lines of each server's log a failed wait shows.
const LOG_LINES_SHOWN: usize = 20;

/// What to start: the servers' addresses, which of them start at first and
/// in which order, and the autopilot settings they share.
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    ips: Vec<String>,
    start_order: Vec<usize>,
    stagger: Duration,
    cleanup_dead_servers: bool,
    acl_enabled: bool,
    encrypt: Option<String>,
    raft: Option<(u32, u64, u64)>,
    /// Plugins loaded instead of the embedded defaults, by kind (`acl`, ...).
    plugins: Vec<(String, std::path::PathBuf)>,
    /// More configuration every server reads.
    config: String,
    /// Configuration only one server reads, by server.
    server_config: BTreeMap<usize, String>,
}

impl ClusterBuilder {
    /// The servers started at first, in this order (indexes into the
    /// addresses); the default is all of them in address order. Servers left
    /// out can be started later with [`Cluster::launch`]. The first ones
    /// expect exactly this many servers to bootstrap.
    pub fn start_order(mut self, order: &[usize]) -> Self {
        self.start_order = order.to_vec();
        self
    }

    /// How long to wait between starting one server and the next.
    pub fn stagger(mut self, delay: Duration) -> Self {
        self.stagger = delay;
        self
    }

    /// Whether autopilot removes failed servers (on by default, as in Nomad).
    pub fn cleanup_dead_servers(mut self, cleanup: bool) -> Self {
        self.cleanup_dead_servers = cleanup;
        self
    }

    /// Whether ACLs are enforced (off by default). With ACLs on, the waits
    /// that read the Raft configuration or members need a token, so such a
    /// cluster is started with [`ClusterBuilder::launch`].
    pub fn acl_enabled(mut self, enabled: bool) -> Self {
        self.acl_enabled = enabled;
        self
    }

    /// The cluster key every server holds (`server { encrypt = KEY }`).
    pub fn encrypt(mut self, key: &str) -> Self {
        self.encrypt = Some(key.to_owned());
        self
    }

    /// Raft tuning every server reads (`server { raft_multiplier = ..,
    /// raft_snapshot_threshold = .., raft_trailing_logs = .. }`).
    pub fn raft(mut self, multiplier: u32, snapshot_threshold: u64, trailing_logs: u64) -> Self {
        self.raft = Some((multiplier, snapshot_threshold, trailing_logs));
        self
    }

    /// Loads the component at `path` as every server's `kind` plugin.
    pub fn plugin(mut self, kind: &str, path: &std::path::Path) -> Self {
        self.plugins.push((kind.to_owned(), path.to_path_buf()));
        self
    }

    /// Appends `text` to the configuration every server reads.
    pub fn config(mut self, text: &str) -> Self {
        self.config.push_str(text);
        self
    }

    /// Configuration that only `server` reads, after the shared file.
    pub fn server_config(mut self, server: usize, text: &str) -> Self {
        self.server_config.entry(server).or_default().push_str(text);
        self
    }

    /// Starts the servers and returns without waiting for them.
    pub fn launch(self) -> Cluster {
        let config = tempfile::tempdir().expect("a temporary config dir");
        let mut settings = format!(
            "server {{\n  autopilot_interval = \"1s\"\n{}}}\n\
             autopilot {{\n  cleanup_dead_servers = {}\n  server_stabilization_time = \"3s\"\n  \
             last_contact_threshold = \"2s\"\n}}\n\
             acl {{ enabled = {} }}\n",
            self.encrypt.map(|key| format!("  encrypt = \"{key}\"\n")).unwrap_or_default()
                + &self.raft.map(raft_settings).unwrap_or_default(),
            self.cleanup_dead_servers,
            self.acl_enabled
        );
        for (kind, path) in &self.plugins {
            settings.push_str(&format!("plugin {kind:?} {{ path = {:?} }}\n", path.display().to_string()));
        }
        settings.push_str(&self.config);
        std::fs::write(config.path().join("cluster.hcl"), settings).expect("write the cluster config");
        for (server, text) in &self.server_config {
            std::fs::write(config.path().join(format!("server-{server}.hcl")), text).expect("write a server's config");
        }
        let mut cluster = Cluster {
            servers: self.ips.iter().map(|_| Slot::Absent).collect(),
            ips: self.ips,
            bootstrap_expect: self.start_order.len(),
            join: self.start_order.clone(),
            config,
        };
        for (position, server) in self.start_order.iter().enumerate() {
            if position > 0 {
                std::thread::sleep(self.stagger);
            }
            cluster.launch(*server);
        }
        cluster
    }

    /// Starts the servers and waits until they have formed one cluster
    /// with every one of them a voter.
    pub fn start(self) -> Cluster {
        let cluster = self.launch();
        cluster.wait_formed(LIVENESS);
        cluster
    }
}

/// The `server` block lines of a Raft tuning.
fn raft_settings((multiplier, snapshot_threshold, trailing_logs): (u32, u64, u64)) -> String {
    format!(
        "  raft_multiplier = {multiplier}\n  raft_snapshot_threshold = {snapshot_threshold}\n  \
         raft_trailing_logs = {trailing_logs}\n"
    )
}

/// Where one server of the cluster is in its life.
enum Slot {
    /// Not started yet.
    Absent,
    Running(Agent),
    /// Stopped with `SIGSTOP`.
    Paused(Agent),
    /// Exited; its data directory is kept for a restart.
    Down(Stopped),
}

/// Servers on loopback addresses, addressed by index.
pub struct Cluster {
    ips: Vec<String>,
    servers: Vec<Slot>,
    bootstrap_expect: usize,
    /// The servers every server joins through.
    join: Vec<usize>,
    /// Holds the shared config file.
    config: tempfile::TempDir,
}

impl Cluster {
    /// A cluster of servers on `ips`, to be started with
    /// [`ClusterBuilder::start`] or [`ClusterBuilder::launch`].
    pub fn builder(ips: &[&str]) -> ClusterBuilder {
        ClusterBuilder {
            ips: ips.iter().map(|ip| (*ip).to_owned()).collect(),
            start_order: (0..ips.len()).collect(),
            stagger: Duration::ZERO,
            cleanup_dead_servers: true,
            acl_enabled: false,
            encrypt: None,
            raft: None,
            plugins: Vec::new(),
            config: String::new(),
            server_config: BTreeMap::new(),
        }
    }

    /// Starts every server on `ips` at once and waits until they have formed
    /// one cluster.
    pub fn start(ips: &[&str]) -> Self {
        Self::builder(ips).start()
    }

    /// Starts server `server`, which has not run yet, without waiting for it.
    pub fn launch(&mut self, server: usize) {
        assert!(matches!(self.servers[server], Slot::Absent), "server {server} has been started before");
        let config = self.config.path().join("cluster.hcl");
        let mut args = vec![
            "--server".to_owned(),
            "--bootstrap-expect".to_owned(),
            self.bootstrap_expect.to_string(),
            "--node".to_owned(),
            self.node_name(server),
            "--config".to_owned(),
            config.to_str().expect("a utf-8 temporary path").to_owned(),
        ];
        let own = self.config.path().join(format!("server-{server}.hcl"));
        if own.exists() {
            args.extend(["--config".to_owned(), own.to_str().expect("a utf-8 temporary path").to_owned()]);
        }
        for other in &self.join {
            args.extend(["--retry-join".to_owned(), self.ips[*other].clone()]);
        }
        self.servers[server] = Slot::Running(Agent::launch(&self.ips[server], args));
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    pub fn ip(&self, server: usize) -> &str {
        &self.ips[server]
    }

    /// The server's Raft address, `ip:4647`.
    pub fn raft_address(&self, server: usize) -> String {
        format!("{}:{RPC_PORT}", self.ips[server])
    }

    pub fn node_name(&self, server: usize) -> String {
        format!("server{server}")
    }

    /// The server's gossip member name, `<node>.<region>`.
    pub fn member_name(&self, server: usize) -> String {
        format!("{}.global", self.node_name(server))
    }

    /// The index of the server with Raft address `address`.
    pub fn server_at(&self, address: &str) -> Option<usize> {
        (0..self.len()).find(|server| self.raft_address(*server) == address)
    }

    /// The running server `server`; panics when it is not running.
    pub fn agent(&self, server: usize) -> &Agent {
        match &self.servers[server] {
            Slot::Running(agent) => agent,
            _ => panic!("server {server} is not running"),
        }
    }

    /// The servers running now (not paused, not stopped), by index.
    pub fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|server| matches!(self.servers[*server], Slot::Running(_))).collect()
    }

    /// The leader every running server knows, waiting for one up to
    /// [`LIVENESS`].
    pub fn leader(&self) -> usize {
        self.wait_for_leader(LIVENESS)
    }

    /// The running servers other than the leader.
    pub fn followers(&self) -> Vec<usize> {
        let leader = self.leader();
        self.running().into_iter().filter(|server| *server != leader).collect()
    }

    /// The leader server `server` names in `/v1/status/leader`, if it names
    /// one of this cluster's servers.
    pub fn leader_seen_by(&self, server: usize) -> Option<usize> {
        self.server_at(&api::leader_address(self.agent(server))?)
    }

    /// Waits until every running server names the same running leader.
    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        self.wait_for(timeout, "every running server to know the same running leader", || {
            let running = self.running();
            let seen: BTreeSet<Option<usize>> = running.iter().map(|server| self.leader_seen_by(*server)).collect();
            match seen.into_iter().collect::<Vec<_>>()[..] {
                [Some(leader)] if running.contains(&leader) => Some(leader),
                _ => None,
            }
        })
    }

    /// Waits until every running server shows the same Raft configuration:
    /// exactly the running servers, all voters, one of them the leader, and
    /// until gossip has told every running server of every other one (a
    /// server killed before the others heard of it is never shown as
    /// failed). Answers the leader.
    pub fn wait_formed(&self, timeout: Duration) -> usize {
        let running = self.running();
        let expected: BTreeSet<String> = running.iter().map(|server| self.raft_address(*server)).collect();
        self.wait_for(timeout, &format!("servers {running:?} to form one cluster, all voters"), || {
            let first = api::raft_configuration(self.agent(running[0]))?;
            let addresses: BTreeSet<String> = first.iter().map(|peer| peer.address.clone()).collect();
            let leaders: Vec<&RaftServer> = first.iter().filter(|peer| peer.leader).collect();
            let agreed = addresses == expected
                && first.iter().all(|peer| peer.voter)
                && leaders.len() == 1
                && running[1..]
                    .iter()
                    .all(|server| api::raft_configuration(self.agent(*server)).as_ref() == Some(&first))
                && running.iter().all(|member| {
                    let name = self.member_name(*member);
                    running
                        .iter()
                        .all(|server| api::member_status(self.agent(*server), &name).as_deref() == Some("alive"))
                });
            agreed.then(|| self.server_at(&leaders[0].address)).flatten()
        })
    }

    /// Waits until every running server has applied the scheduler
    /// configuration `expected` with `ModifyIndex` `modify_index`.
    pub fn wait_scheduling_everywhere(&self, expected: Scheduling, modify_index: u64) {
        let what = format!("every running server to read {expected:?} at index {modify_index}");
        self.wait_until(LIVENESS, &what, || {
            self.running()
                .iter()
                .all(|server| Scheduling::read_stale(self.agent(*server)) == Some((expected, modify_index)))
        });
    }

    /// Waits until every running server shows server `member` with gossip
    /// status `status` (`alive`, `left`, `failed`).
    pub fn wait_member_status_everywhere(&self, member: usize, status: &str) {
        let name = self.member_name(member);
        self.wait_until(LIVENESS, &format!("every running server to show {name} as {status}"), || {
            self.running()
                .iter()
                .all(|server| api::member_status(self.agent(*server), &name).as_deref() == Some(status))
        });
    }

    /// Waits until server `removed` is in no running server's Raft
    /// configuration.
    pub fn wait_removed_everywhere(&self, removed: usize) {
        let address = self.raft_address(removed);
        self.wait_until(LIVENESS, &format!("{address} to leave every running server's Raft configuration"), || {
            self.running()
                .iter()
                .all(|server| api::suffrage_of(self.agent(*server), &address) == Some(Suffrage::Absent))
        });
    }

    /// Checks `condition` again and again for `duration`; panics naming
    /// `what` the first time it does not hold.
    pub fn hold_for(&self, duration: Duration, what: &str, mut condition: impl FnMut() -> bool) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            assert!(condition(), "{what} stopped holding\n{}", self.log_tails());
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `condition` holds; panics naming `what` (with the tail of
    /// every running server's log) when `timeout` passes first.
    pub fn wait_until(&self, timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
        self.wait_for(timeout, what, || condition().then_some(()));
    }

    /// Waits until `probe` finds something and answers it; panics naming
    /// `what` when `timeout` passes first.
    pub fn wait_for<T>(&self, timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = probe() {
                return found;
            }
            if Instant::now() >= deadline {
                panic!("waited {timeout:?} for {what}, in vain\n{}", self.log_tails());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Kills server `server` with `SIGKILL`, keeping its data directory.
    pub fn kill(&mut self, server: usize) {
        self.halt(server, libc::SIGKILL);
    }

    /// Stops server `server` gracefully (`SIGTERM`), keeping its data
    /// directory.
    pub fn stop(&mut self, server: usize) {
        self.halt(server, libc::SIGTERM);
    }

    fn halt(&mut self, server: usize, signal: i32) {
        let Slot::Running(agent) = std::mem::replace(&mut self.servers[server], Slot::Absent) else {
            panic!("server {server} is not running");
        };
        self.servers[server] = Slot::Down(agent.halt(signal));
    }

    /// Freezes server `server` with `SIGSTOP`.
    pub fn pause(&mut self, server: usize) {
        let Slot::Running(agent) = std::mem::replace(&mut self.servers[server], Slot::Absent) else {
            panic!("server {server} is not running");
        };
        agent.signal(libc::SIGSTOP);
        self.servers[server] = Slot::Paused(agent);
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&mut self, server: usize) {
        let Slot::Paused(agent) = std::mem::replace(&mut self.servers[server], Slot::Absent) else {
            panic!("server {server} is not paused");
        };
        agent.signal(libc::SIGCONT);
        self.servers[server] = Slot::Running(agent);
    }

    /// Starts a stopped or killed server again on its data directory and
    /// waits until it knows a leader.
    pub fn restart(&mut self, server: usize) {
        let Slot::Down(stopped) = std::mem::replace(&mut self.servers[server], Slot::Absent) else {
            panic!("server {server} is not stopped");
        };
        self.servers[server] = Slot::Running(stopped.restart());
    }

    /// The last lines each running or paused server logged.
    fn log_tails(&self) -> String {
        let mut tails = String::new();
        for (server, slot) in self.servers.iter().enumerate() {
            if let Slot::Running(agent) | Slot::Paused(agent) = slot {
                let log = agent.log();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(LOG_LINES_SHOWN)..].join("\n");
                tails.push_str(&format!("--- server {server} ({}), last log lines:\n{tail}\n", self.ips[server]));
            }
        }
        tails
    }
}
