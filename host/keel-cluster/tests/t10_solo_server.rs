//! A single real Raft server on sled in a temporary directory: bootstrap,
//! writes, check-and-set, membership and restart.

use std::time::Duration;

use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_cluster::{Bootstrap, ClusterError, RaftTuning, Server, ServerConfig};
use keel_state::{Command, DataDir, Outcome};

fn config(data_dir: &DataDir) -> ServerConfig {
    ServerConfig {
        raft_id: data_dir.node_id().expect("node id"),
        node_name: "solo".to_owned(),
        rpc_address: "127.0.0.57:4647".parse().expect("address"),
        bootstrap: Bootstrap::Solo,
        raft: RaftTuning::default(),
        autopilot_defaults: AutopilotConfiguration::nomad_defaults(),
        scheduler_defaults: SchedulerConfiguration::nomad_defaults(),
        key: None,
    }
}

/// Starts a server on `data_dir`. Raft's storage tasks of a server shut down
/// in this process let go of the sled lock a moment after `shutdown`, so
/// opening is retried for a while.
async fn start(data_dir: &DataDir) -> Server {
    let mut attempts = 0;
    let server = loop {
        match Server::start(config(data_dir), data_dir).await {
            Ok(server) => break server,
            Err(ClusterError::Storage(_)) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("server starts: {error}"),
        }
    };
    assert!(server.wait_ready(Duration::from_secs(30)).await.is_some(), "a solo server elects itself");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solo_server_bootstraps_writes_and_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = DataDir::open(dir.path()).expect("data dir");
    let server = start(&data_dir).await;
    let has_defaults = server.view().read(|state| state.scheduler.is_some() && state.autopilot.is_some());
    assert!(has_defaults, "a ready server has the leader's default configurations");
    let defaults_index = server.view().read(|state| state.scheduler.as_ref().map(|c| c.create_index));
    assert!(defaults_index.is_some_and(|index| index > 0), "CreateIndex is a real raft index");

    let spread = SchedulerConfiguration { scheduler_algorithm: "spread".into(), ..SchedulerConfiguration::default() };
    let lost = server
        .write(Command::SetSchedulerConfig { config: spread.clone(), cas: Some(999) })
        .await
        .expect("a losing cas is still applied");
    assert_eq!(lost.outcome, Outcome::Cas(false));
    let won =
        server.write(Command::SetSchedulerConfig { config: spread, cas: defaults_index }).await.expect("write applies");
    assert_eq!(won.outcome, Outcome::Cas(true));
    assert!(won.index > lost.index);

    let (peers, _) = server.configuration();
    assert_eq!(peers.len(), 1);
    assert!(peers[0].voter && peers[0].leader);
    let only = peers[0].node.id.clone();
    let refused = server.remove_peer(|node| node.id == only, "the only voter").await;
    assert!(matches!(refused, Err(ClusterError::Refused(_))), "{refused:?}");
    let unknown = server.remove_peer(|node| node.address == "10.1.1.1:4647", "address \"10.1.1.1:4647\"").await;
    assert!(
        matches!(&unknown, Err(ClusterError::PeerNotFound(m)) if m == "address \"10.1.1.1:4647\" was not found in the Raft configuration"),
        "{unknown:?}"
    );
    server.shutdown().await;
    drop(server);

    let server = start(&data_dir).await;
    let algorithm = server.view().read(|state| state.scheduler.as_ref().map(|c| c.scheduler_algorithm.clone()));
    assert_eq!(algorithm.as_deref(), Some("spread"), "the write survives a restart");
    let next =
        server.write(Command::SetLicense { blob: "x".into() }).await.expect("the restarted server leads and writes");
    assert!(next.index > won.index);
    server.shutdown().await;
}
