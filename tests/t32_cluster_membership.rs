//! Who is in the cluster: gossip shows failed and departed servers,
//! autopilot removes dead ones only when told to, operators force members
//! out and remove peers, and followers hand leader-only requests, snapshot
//! restores included, to the leader.

use std::time::Duration;

use keel_tests::Agent;
use keel_tests::cluster::api::{self, Scheduling, Suffrage};
use keel_tests::cluster::{Cluster, LIVENESS};
use serde_json::Value;

/// How long a failed server is watched staying in the configuration: a few
/// autopilot rounds at the cluster's one-second interval.
const WATCHED: Duration = Duration::from_secs(5);

#[test]
fn a_killed_server_fails_in_gossip_and_dead_server_cleanup_removes_it_while_the_rest_keep_quorum() {
    let mut cluster = Cluster::start(&["127.0.0.131", "127.0.0.132", "127.0.0.133"]);
    let victim = cluster.followers()[0];
    cluster.kill(victim);
    cluster.wait_member_status_everywhere(victim, "failed");
    cluster.wait_removed_everywhere(victim);

    let writer = cluster.running()[0];
    let written = Scheduling::SPREAD;
    let index = written.write_acknowledged(cluster.agent(writer));
    cluster.wait_scheduling_everywhere(written, index);
}

#[test]
fn without_dead_server_cleanup_a_failed_server_stays_in_the_configuration() {
    let mut cluster =
        Cluster::builder(&["127.0.0.136", "127.0.0.137", "127.0.0.138"]).cleanup_dead_servers(false).start();
    let victim = cluster.followers()[0];
    cluster.kill(victim);
    cluster.wait_member_status_everywhere(victim, "failed");

    let leader = cluster.leader();
    let rounds_before = autopilot_calls(cluster.agent(leader));
    let address = cluster.raft_address(victim);
    // Autopilot may demote the failed voter; it must not remove it.
    cluster.hold_for(WATCHED, "the failed server in every running server's configuration", || {
        cluster.running().iter().all(|server| {
            matches!(api::suffrage_of(cluster.agent(*server), &address), Some(Suffrage::Voter | Suffrage::Nonvoter))
        })
    });
    let rounds = autopilot_calls(cluster.agent(leader)) - rounds_before;
    assert!(rounds >= 3, "autopilot ran while the failed server was watched, {rounds} times");
}

/// How often the autopilot plugin has been asked, as `/v1/agent/self` counts.
fn autopilot_calls(agent: &Agent) -> u64 {
    let report = agent.get("/v1/agent/self").json();
    let calls = &report["stats"]["keel"]["plugin.autopilot.calls"];
    calls.as_str().and_then(|calls| calls.parse().ok()).unwrap_or_else(|| panic!("no autopilot call count: {calls}"))
}

#[test]
fn force_leave_moves_a_failed_member_to_left() {
    let mut cluster = Cluster::start(&["127.0.0.141", "127.0.0.142", "127.0.0.143"]);
    let victim = cluster.followers()[0];
    cluster.kill(victim);
    cluster.wait_member_status_everywhere(victim, "failed");

    let operator = cluster.running()[0];
    let reply = cluster.agent(operator).put(&format!("/v1/agent/force-leave?node={}", cluster.node_name(victim)), "");
    assert_eq!(reply.status, 200, "{}", reply.text());
    cluster.wait_member_status_everywhere(victim, "left");
}

#[test]
fn a_gracefully_stopped_server_shows_as_left() {
    let mut cluster = Cluster::start(&["127.0.0.146", "127.0.0.147", "127.0.0.148"]);
    let leaving = cluster.followers()[0];
    cluster.stop(leaving);
    cluster.wait_member_status_everywhere(leaving, "left");
}

#[test]
fn dead_peers_are_removed_by_id_and_by_address() {
    // Five servers, so that three keep a quorum with two dead.
    let ips = ["127.0.0.151", "127.0.0.152", "127.0.0.153", "127.0.0.154", "127.0.0.155"];
    let mut cluster = Cluster::builder(&ips).cleanup_dead_servers(false).start();
    let followers = cluster.followers();
    let (by_id, by_address, operator) = (followers[0], followers[1], followers[2]);
    let id = api::raft_configuration(cluster.agent(operator))
        .expect("configuration")
        .into_iter()
        .find(|peer| peer.address == cluster.raft_address(by_id))
        .expect("the server is a peer")
        .id;
    // A server still alive in gossip would be added back by the leader at
    // once; peers are removed once they are known dead.
    for dead in [by_id, by_address] {
        cluster.kill(dead);
    }
    for dead in [by_id, by_address] {
        cluster.wait_member_status_everywhere(dead, "failed");
    }

    // Both at once: Raft takes one configuration change at a time, so the
    // second waits for the first instead of failing.
    let by_address_query = format!("address={}", cluster.raft_address(by_address));
    std::thread::scope(|scope| {
        scope.spawn(|| remove_peer(&cluster, operator, &format!("id={id}")));
        scope.spawn(|| remove_peer(&cluster, operator, &by_address_query));
    });
    cluster.wait_removed_everywhere(by_id);
    cluster.wait_removed_everywhere(by_address);

    let written = Scheduling::SPREAD;
    let index = written.write_acknowledged(cluster.agent(operator));
    cluster.wait_scheduling_everywhere(written, index);
}

fn remove_peer(cluster: &Cluster, through: usize, query: &str) {
    let reply = cluster.agent(through).delete(&format!("/v1/operator/raft/peer?{query}"));
    assert_eq!(reply.status, 200, "remove the peer with {query}: {}", reply.text());
}

#[test]
fn a_follower_forwards_writes_and_leader_only_reads_to_the_leader() {
    let cluster = Cluster::start(&["127.0.0.156", "127.0.0.157", "127.0.0.158"]);
    let (leader, follower) = (cluster.leader(), cluster.followers()[0]);

    let written = Scheduling::SPREAD;
    let index = written.write_acknowledged(cluster.agent(follower));
    assert_eq!(Scheduling::read_stale(cluster.agent(leader)), Some((written, index)), "the write is on the leader");

    // Only the leader knows how every server's replication goes; a
    // follower answering by itself would find the others out of contact.
    let health = |agent: &Agent| agent.get("/v1/operator/autopilot/health");
    cluster
        .wait_until(LIVENESS, "the leader to find the cluster healthy", || health(cluster.agent(leader)).status == 200);
    let relayed = health(cluster.agent(follower));
    assert_eq!(relayed.status, 200, "{}", relayed.text());
    let body = relayed.json();
    let leader_id = leader_raft_id(&cluster, leader);
    assert_eq!((&body["Healthy"], &body["Leader"]), (&Value::Bool(true), &Value::String(leader_id)));
}

fn leader_raft_id(cluster: &Cluster, leader: usize) -> String {
    let configuration = api::raft_configuration(cluster.agent(leader)).expect("configuration");
    configuration.into_iter().find(|peer| peer.leader).expect("a leader").id
}

#[test]
fn a_snapshot_restored_through_a_follower_is_restored_on_every_server() {
    let cluster = Cluster::start(&["127.0.0.161", "127.0.0.162", "127.0.0.163"]);
    let (leader, follower) = (cluster.leader(), cluster.followers()[0]);
    let saved = Scheduling::SPREAD;
    let saved_index = saved.write_acknowledged(cluster.agent(leader));
    let snapshot = cluster.agent(leader).get("/v1/operator/snapshot");
    assert_eq!(snapshot.status, 200, "{}", snapshot.text());

    let later = Scheduling::BINPACK_OVERSUBSCRIBED;
    let later_index = later.write_acknowledged(cluster.agent(leader));
    cluster.wait_scheduling_everywhere(later, later_index);

    let restored = cluster.agent(follower).put("/v1/operator/snapshot", &snapshot.body);
    assert_eq!(restored.status, 200, "{}", restored.text());
    cluster.wait_scheduling_everywhere(saved, saved_index);
}
