//! The Keel side: three `keel agent --server` processes from the release
//! binary on loopback that find each other with `--retry-join` and bootstrap
//! once all three are there (`--bootstrap-expect 3`). HTTP is on :4646, Raft
//! RPC on :4647 and gossip on :4648 of each server's own address.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keel_tests::cluster::api::{self, Suffrage};
use keel_tests::load::Request;
use keel_tests::{Agent, Stopped};

use super::{Cluster, LIVENESS_TIMEOUT, wait_until};

/// The three servers, then the fourth that joins at the end.
const IPS: [&str; 4] = ["127.0.0.201", "127.0.0.202", "127.0.0.203", "127.0.0.204"];
const SERVERS: usize = 3;
const RPC_PORT: u16 = 4647;
const SCHEDULER_CONFIGURATION: &str = r#"{"SchedulerAlgorithm":"binpack","PreemptionConfig":{"SystemSchedulerEnabled":true,"BatchSchedulerEnabled":false,"ServiceSchedulerEnabled":false,"SysBatchSchedulerEnabled":false}}"#;

/// A three-server Keel cluster, stopped when dropped. A server is either
/// running or killed with its data directory kept.
pub struct Keel {
    running: Vec<Option<Agent>>,
    killed: Vec<Option<Stopped>>,
}

impl Keel {
    /// Starts the three servers and waits until each sees all three alive
    /// and voting.
    pub fn start() -> Self {
        let mut running: Vec<Option<Agent>> =
            (0..SERVERS).map(|server| Some(Agent::launch(IPS[server], arguments(server)))).collect();
        for agent in running.iter_mut().flatten() {
            agent.wait_healthy(LIVENESS_TIMEOUT);
        }
        let cluster = Self { running, killed: (0..SERVERS).map(|_| None).collect() };
        for server in 0..SERVERS {
            cluster.wait_until_in_cluster(server);
        }
        cluster
    }

    /// Starts a fourth server and returns the time from its start until it is
    /// a voter in the Raft configuration; stops it again.
    pub fn join_fourth(&self) -> Duration {
        let observer = self.running_servers().next().expect("a running server");
        let started = Instant::now();
        let _fourth = Agent::launch(IPS[SERVERS], arguments(SERVERS));
        wait_until("the fourth server to become a voter", || {
            (api::suffrage_of(self.agent(observer), &raft_address(SERVERS)) == Some(Suffrage::Voter)).then_some(())
        });
        started.elapsed()
    }

    fn running_servers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..SERVERS).filter(|server| self.running[*server].is_some())
    }

    fn agent(&self, server: usize) -> &Agent {
        self.running[server].as_ref().expect("only a running server is asked")
    }

    /// Waits until every other running server sees `server` alive in gossip
    /// and voting in Raft.
    fn wait_until_in_cluster(&self, server: usize) {
        let what = format!("{} to be alive in members and a voter, as every other server sees it", node(server));
        wait_until(&what, || {
            self.running_servers()
                .filter(|observer| *observer != server)
                .all(|observer| {
                    let observer = self.agent(observer);
                    api::member_status(observer, &member_name(server)).as_deref() == Some("alive")
                        && api::suffrage_of(observer, &raft_address(server)) == Some(Suffrage::Voter)
                })
                .then_some(())
        });
    }
}

impl Cluster for Keel {
    fn size(&self) -> usize {
        SERVERS
    }

    fn address(&self, member: usize) -> SocketAddr {
        address(member)
    }

    fn write(&self) -> Request {
        Request::put("/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION)
    }

    /// The leader every running server names: a server restarted a moment
    /// ago may still name the leader of an older term.
    fn leader(&self) -> Option<usize> {
        let mut named = self.running_servers().map(|server| api::leader_address(self.agent(server)));
        let leader = named.next()??;
        if !named.all(|other| other.as_ref() == Some(&leader)) {
            return None;
        }
        self.running_servers().find(|server| raft_address(*server) == leader)
    }

    fn kill(&mut self, member: usize) {
        let agent = self.running[member].take().expect("only a running server is killed");
        self.killed[member] = Some(agent.halt(libc::SIGKILL));
    }

    fn restart(&mut self, member: usize) {
        let stopped = self.killed[member].take().expect("only a killed server is restarted");
        self.running[member] = Some(stopped.restart());
        self.wait_until_in_cluster(member);
    }

    /// Polls `GET /v1/agent/members` on the survivor until the killed server's
    /// status is `failed`.
    fn time_to_mark_failed(&self, killed: usize, survivor: usize, killed_at: Instant) -> Option<Duration> {
        let what = format!("{} to mark the killed {} failed", node(survivor), node(killed));
        wait_until(&what, || {
            let status = api::member_status(self.agent(survivor), &member_name(killed));
            (status.as_deref() == Some("failed")).then(|| killed_at.elapsed())
        })
        .into()
    }
}

/// `keel agent` flags of server `server` (0-based), after `--bind` and
/// `--data-dir`.
fn arguments(server: usize) -> Vec<String> {
    let mut arguments: Vec<String> =
        ["--server", "--bootstrap-expect", "3", "--node", &node(server)].into_iter().map(str::to_owned).collect();
    for ip in &IPS[..SERVERS] {
        arguments.extend(["--retry-join".to_owned(), (*ip).to_owned()]);
    }
    arguments
}

fn node(server: usize) -> String {
    format!("k{}", server + 1)
}

/// The name gossip knows the server by, `<node>.<region>`.
fn member_name(server: usize) -> String {
    format!("{}.global", node(server))
}

fn address(server: usize) -> SocketAddr {
    format!("{}:4646", IPS[server]).parse().expect("IPS holds IP addresses")
}

/// The server's Raft address, `ip:4647`, as the Raft configuration and
/// `/v1/status/leader` show it.
fn raft_address(server: usize) -> String {
    format!("{}:{RPC_PORT}", IPS[server])
}
