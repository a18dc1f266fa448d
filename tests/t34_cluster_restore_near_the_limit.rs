//! A restore close to the restore limit on three real servers: an archive
//! whose state unpacks to within a few MiB of `RESTORE_UNPACK_MAX_BYTES`
//! passes verification, so it must also replicate. Every server then holds
//! it, and a server that joins afterwards gets it whole, as an
//! InstallSnapshot of many chunks.

use std::time::Duration;

use keel_api::limits::RESTORE_UNPACK_MAX_BYTES;
use keel_state::State;
use keel_tests::Agent;
use keel_tests::cluster::{Cluster, LIVENESS};
use keel_tests::large_state::grow;
use serde_json::Value;

/// Raft timings for three servers sharing two cores, as `raft_multiplier`
/// is meant for: at the commit entry each of them parses and writes the
/// whole restored state at once. A snapshot every 64 entries, keeping no
/// log behind it: the restore's pieces alone make the leader purge its log.
const MULTIPLIER: u32 = 10;
const SNAPSHOT_THRESHOLD: u64 = 64;

/// The server started only after the restore.
const NEWCOMER: usize = 3;

/// How long the restore may take to be acknowledged, and each server to
/// hold it: a debug build on a busy machine moves such a state slowly.
const RESTORE_PATIENCE: Duration = Duration::from_secs(180);

/// The state inside an archive.
fn state_in(archive: &[u8]) -> State {
    let (_, state) = keel_state::archive::read(archive, RESTORE_UNPACK_MAX_BYTES).expect("a valid archive");
    serde_json::from_slice(&state).expect("the archive's state reads")
}

/// The ACL policies `agent` holds, read from its own snapshot (`?stale`).
fn policies_on(agent: &Agent) -> Option<usize> {
    let reply = agent.try_request("GET", "/v1/operator/snapshot?stale", &[], b"", Duration::from_secs(60)).ok()?;
    (reply.status == 200).then(|| state_in(&reply.body).acl.policies.len())
}

fn raft_stat(agent: &Agent, name: &str) -> u64 {
    let reply = agent.get("/v1/agent/self");
    let value: Value = reply.json()["stats"]["raft"][name].clone();
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("raft {name}: {}", reply.text()))
}

#[test]
fn a_restore_near_the_limit_replicates_and_reaches_a_new_server_by_snapshot() {
    let mut cluster = Cluster::builder(&["127.0.0.166", "127.0.0.167", "127.0.0.168", "127.0.0.169"])
        .start_order(&[0, 1, 2])
        .raft(MULTIPLIER, SNAPSHOT_THRESHOLD, 0)
        .start();
    let leader = cluster.leader();
    let saved = cluster.agent(leader).get("/v1/operator/snapshot");
    assert_eq!(saved.status, 200, "{}", saved.text());
    let (meta, _) = keel_state::archive::read(&saved.body, RESTORE_UNPACK_MAX_BYTES).expect("the saved archive");
    let limit = usize::try_from(RESTORE_UNPACK_MAX_BYTES).expect("fits");
    let restored = grow(state_in(&saved.body), limit - (2 << 20));
    let state_json = serde_json::to_vec(&restored).expect("json");
    assert!(state_json.len() > limit - (2 << 20) && state_json.len() < limit, "{} bytes", state_json.len());
    let archive = keel_state::archive::write(&meta, &state_json);

    let reply = cluster
        .agent(leader)
        .try_request("PUT", "/v1/operator/snapshot", &[], &archive, RESTORE_PATIENCE)
        .unwrap_or_else(|error| panic!("PUT /v1/operator/snapshot: {error}\n{}", cluster.agent(leader).log()));
    assert_eq!(reply.status, 200, "the restore is acknowledged: {}", reply.text());
    let policies = restored.acl.policies.len();
    for server in cluster.running() {
        cluster.wait_until(RESTORE_PATIENCE, "every server holds the restored state", || {
            policies_on(cluster.agent(server)) == Some(policies)
        });
    }

    // A server that joins now finds the leader's log purged up to its last
    // snapshot: the only way to the state is InstallSnapshot.
    let leader = cluster.wait_for_leader(LIVENESS);
    assert!(raft_stat(cluster.agent(leader), "last_snapshot_index") > 0, "the leader has taken a snapshot");
    cluster.launch(NEWCOMER);
    cluster.wait_until(RESTORE_PATIENCE, "the new server holds the restored state", || {
        policies_on(cluster.agent(NEWCOMER)) == Some(policies)
    });
    let log = cluster.agent(NEWCOMER).log();
    assert!(log.contains("installed a snapshot sent by the leader"), "no snapshot was installed:\n{log}");
}
