//! Three real Raft servers in one process moving large things over the RPC
//! port: a restored state of many MiB, committed in pieces on every server,
//! and a forwarded body of several MiB relayed through a follower. (A
//! restore near the limit, and a server catching up on it by snapshot, is
//! `tests/t34_cluster_restore_near_the_limit.rs`, with real processes.)

mod harness;
#[path = "../../../tests/src/large_state.rs"]
mod large_state;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use harness::{Harness, PATIENCE, data_dirs, run};
use keel_api::limits::{RAFT_ENTRY_MAX_BYTES, RESTORE_UNPACK_MAX_BYTES};
use keel_cluster::{ClusterError, Forwarded, ForwardedReply, Forwarder, RaftTuning, Server};
use keel_state::{Command, DataDir, State};

/// Raft timings for three servers sharing two cores in one process, as
/// `raft_multiplier` is meant for: at the commit entry each of them parses
/// and writes the whole restored state at once, and their one sled log each
/// takes the whole state's write before the next flush, which at the
/// default multiplier outlasts a heartbeat here.
const TUNING: RaftTuning = RaftTuning { multiplier: 10, snapshot_threshold: 64, trailing_logs: 0 };

/// Starts three servers on `addresses`, forms the cluster and answers the
/// servers and the leader's position among them.
async fn cluster(harness: &Harness, data_dirs: &[DataDir], addresses: [&str; 3]) -> (Vec<Arc<Server>>, usize) {
    let (servers, leader) = harness.form(data_dirs, addresses, TUNING).await;
    let position = servers.iter().position(|server| *server.me() == leader).expect("the leader is a server");
    (servers, position)
}

/// A state whose JSON is at least `bytes` and at most a policy more: ACL
/// policies with long rules, read back through serde as a server reads a
/// restore.
fn state_of(bytes: usize) -> State {
    let state = large_state::grow(State::default(), bytes);
    serde_json::from_slice(&serde_json::to_vec(&state).expect("json")).expect("a state reads back")
}

/// Waits until `server` holds `expected`.
async fn wait_for_state(server: &Server, expected: &State) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !server.view().read(|state| state == expected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never reached the expected state: {:?}",
            server.me().address,
            server.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Builds a state of `bytes` of JSON on a blocking thread, as a server
/// decodes an archive, so that the servers' heartbeats go on meanwhile.
async fn large_state(bytes: usize) -> State {
    let restored = tokio::task::spawn_blocking(move || state_of(bytes)).await.expect("the state is built");
    let restored_bytes = serde_json::to_vec(&restored).expect("json").len();
    assert!(restored_bytes >= bytes && restored_bytes <= bytes + (1 << 20), "{restored_bytes} for {bytes}");
    restored
}

/// A restore of 8 MiB, which as one entry never reached the followers
/// (the leader lost its lease resending it), commits in pieces and every
/// server holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_many_mib_commits_in_pieces_on_every_server() {
    run(|harness| async move {
        let addresses = ["127.0.0.81:4647", "127.0.0.82:4647", "127.0.0.83:4647"];
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let data_dirs = data_dirs(&dirs);
        let (servers, leader) = cluster(&harness, &data_dirs, addresses).await;
        let restored = large_state(usize::try_from(RESTORE_UNPACK_MAX_BYTES / 8).expect("fits") - (1 << 20)).await;
        servers[leader].restore(restored.clone()).await.expect("the restore commits");
        for server in &servers {
            wait_for_state(server, &restored).await;
        }
    })
    .await;
}

/// Answers every forwarded request with its own body reversed.
struct Reverse;

impl Forwarder for Reverse {
    fn serve(&self, request: Forwarded) -> Pin<Box<dyn Future<Output = ForwardedReply> + Send>> {
        Box::pin(async move {
            let mut body = request.body;
            body.reverse();
            ForwardedReply { status: 200, headers: vec![("x-uri".into(), request.uri)], body }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_body_of_several_mib_round_trips_and_an_oversized_entry_is_refused() {
    run(|harness| async move {
        let addresses = ["127.0.0.74:4647", "127.0.0.75:4647", "127.0.0.76:4647"];
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let data_dirs = data_dirs(&dirs);
        let (servers, leader) = cluster(&harness, &data_dirs, addresses).await;
        for server in &servers {
            server.set_forwarder(Arc::new(Reverse));
        }

        let body: Vec<u8> = (0..(6 << 20) + 7).map(|i: usize| (i * 7 % 251) as u8).collect();
        let request = Forwarded {
            method: "PUT".into(),
            uri: "/v1/operator/snapshot".into(),
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: body.clone(),
        };
        let follower = &servers[(leader + 1) % 3];
        let reply = follower.forward(request, Duration::from_secs(60)).await.expect("the leader answers");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers, vec![("x-uri".to_owned(), "/v1/operator/snapshot".to_owned())]);
        let mut expected = body;
        expected.reverse();
        assert!(reply.body == expected, "the body came back changed ({} bytes)", reply.body.len());

        let too_large = state_of(RAFT_ENTRY_MAX_BYTES + 1);
        let error = servers[leader].write(Command::Restore { state: Box::new(too_large) }).await.expect_err("refused");
        assert!(matches!(&error, ClusterError::Refused(message) if message.contains("exceeds the limit")), "{error}");
        assert!(servers[leader].view().read(|state| state.acl.policies.is_empty()), "nothing was applied");
    })
    .await;
}
