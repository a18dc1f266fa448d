//! What the in-process cluster tests share: starting real servers on
//! loopback addresses, shutting every one of them down whether the test
//! passes or panics, and waiting for them to agree on a leader.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_cluster::{Bootstrap, ClusterError, RaftTuning, Server, ServerConfig};
use keel_state::{DataDir, ServerNode};

/// How long a test waits for something that must happen; generous, since
/// the machine may be busy with other tests.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Every server a test started, so that all of them are shut down whether
/// the test passes or panics.
#[derive(Default)]
pub struct Harness {
    started: Mutex<Vec<Arc<Server>>>,
}

/// Runs `story` on its own task and shuts down every server it started,
/// then passes on the story's panic, if any.
pub async fn run<F, Fut>(story: F)
where
    F: FnOnce(Arc<Harness>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let harness = Arc::new(Harness::default());
    let outcome = tokio::spawn(story(Arc::clone(&harness))).await;
    let started: Vec<Arc<Server>> = harness.started.lock().expect("harness lock").drain(..).collect();
    for server in started {
        server.shutdown().await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

fn config(data_dir: &DataDir, address: &str, raft: RaftTuning) -> ServerConfig {
    let rpc_address: SocketAddr = address.parse().expect("address");
    ServerConfig {
        raft_id: data_dir.node_id().expect("node id"),
        node_name: format!("server-{}", rpc_address.ip()),
        rpc_address,
        bootstrap: Bootstrap::Expect(3),
        raft,
        autopilot_defaults: AutopilotConfiguration::nomad_defaults(),
        scheduler_defaults: SchedulerConfiguration::nomad_defaults(),
        key: None,
    }
}

impl Harness {
    /// Starts a server on `data_dir` with Raft timings `raft`. A server shut
    /// down in this process lets go of the sled lock a moment after
    /// `shutdown`, so opening is retried for a while.
    pub async fn start(&self, data_dir: &DataDir, address: &str, raft: RaftTuning) -> Arc<Server> {
        let mut attempts = 0;
        let server = loop {
            match Server::start(config(data_dir, address, raft), data_dir).await {
                Ok(server) => break Arc::new(server),
                Err(ClusterError::Storage(_)) if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("server on {address} starts: {error}"),
            }
        };
        self.started.lock().expect("harness lock").push(Arc::clone(&server));
        server
    }

    /// Starts a server on each of `addresses`, forms them into one cluster
    /// and answers the servers and the leader they agree on.
    pub async fn form(
        &self,
        data_dirs: &[DataDir],
        addresses: [&str; 3],
        raft: RaftTuning,
    ) -> (Vec<Arc<Server>>, ServerNode) {
        let mut servers = Vec::new();
        for (data_dir, address) in data_dirs.iter().zip(addresses) {
            servers.push(self.start(data_dir, address, raft).await);
        }
        let all: Vec<&Server> = servers.iter().map(|server| &**server).collect();
        initialize(&all).await;
        let leader = agreed_leader(&all).await;
        (servers, leader)
    }
}

/// Opens a data directory in each temporary directory.
pub fn data_dirs(dirs: &[tempfile::TempDir]) -> Vec<DataDir> {
    dirs.iter().map(|dir| DataDir::open(dir.path()).expect("data dir")).collect()
}

/// Forms a new cluster of `servers`.
pub async fn initialize(servers: &[&Server]) {
    let members = servers.iter().map(|server| server.me().clone()).collect();
    servers[0].initialize(members).await.expect("the cluster initializes");
}

/// Waits until every server in `servers` names the same leader, and that
/// leader is one of them.
pub async fn agreed_leader(servers: &[&Server]) -> ServerNode {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let leaders: Vec<Option<ServerNode>> = servers.iter().map(|server| server.leader()).collect();
        if let Some(Some(leader)) = leaders.first()
            && leaders.iter().all(|other| other.as_ref() == Some(leader))
            && servers.iter().any(|server| server.me() == leader && server.is_leader())
        {
            return leader.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the servers never agreed on a leader: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
