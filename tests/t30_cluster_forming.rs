//! Servers started with `--bootstrap-expect` find each other through
//! `--retry-join` and form exactly one cluster, whatever order they start
//! in; a server that comes later joins as a non-voter and autopilot makes
//! it a voter once it has been stable.

use std::collections::BTreeSet;
use std::time::Duration;

use keel_tests::cluster::api::{self, Scheduling, Suffrage};
use keel_tests::cluster::{Cluster, LIVENESS};

#[test]
fn three_servers_started_in_any_order_form_one_cluster() {
    let ips = ["127.0.0.101", "127.0.0.102", "127.0.0.103"];
    let cluster = Cluster::builder(&ips).start_order(&[2, 0, 1]).stagger(Duration::from_secs(2)).launch();
    assert_one_cluster(&cluster);
}

#[test]
fn five_servers_form_one_cluster() {
    let ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
    let cluster = Cluster::builder(&ips).start_order(&[3, 1, 4, 0, 2]).launch();
    assert_one_cluster(&cluster);
}

/// Every server shows the same configuration with all of them voting and
/// one leader; gossip on every server shows the same servers alive, by raft
/// ID, so no server formed a cluster of its own; and a write through any
/// server is read on all of them.
fn assert_one_cluster(cluster: &Cluster) {
    let leader = cluster.wait_formed(LIVENESS);
    let in_raft: BTreeSet<String> = api::raft_configuration(cluster.agent(leader))
        .expect("configuration")
        .into_iter()
        .map(|peer| peer.id)
        .collect();
    let alive_in_gossip = |server: usize| -> Option<BTreeSet<String>> {
        let members = api::members(cluster.agent(server))?;
        Some(members.into_iter().filter(|member| member.status == "alive").map(|member| member.raft_id).collect())
    };
    cluster.wait_until(LIVENESS, "gossip on every server to show the servers of the Raft configuration alive", || {
        cluster.running().into_iter().all(|server| alive_in_gossip(server).as_ref() == Some(&in_raft))
    });
    for server in cluster.running() {
        assert_eq!(cluster.leader_seen_by(server), Some(leader), "server {server} names the leader");
    }
    for (n, server) in (0..).zip(cluster.running()) {
        let written = Scheduling::nth(n);
        let index = written.write_acknowledged(cluster.agent(server));
        cluster.wait_scheduling_everywhere(written, index);
    }
}

#[test]
fn a_server_that_joins_later_is_added_as_a_nonvoter_and_promoted_after_stabilization() {
    let ips = ["127.0.0.106", "127.0.0.107", "127.0.0.108", "127.0.0.109"];
    let mut cluster = Cluster::builder(&ips).start_order(&[0, 1, 2]).start();
    // Autopilot waives the stabilization time (3 s here) while it has run
    // for less than that, as raft-autopilot does; a newcomer that arrives
    // in that window is promoted at once and never seen as a non-voter.
    std::thread::sleep(Duration::from_secs(4));
    let newcomer = 3;
    cluster.launch(newcomer);

    let address = cluster.raft_address(newcomer);
    let suffrage = || api::suffrage_of(cluster.agent(cluster.leader()), &address);
    cluster.wait_until(LIVENESS, "the leader to add the new server as a non-voter", || {
        suffrage() == Some(Suffrage::Nonvoter)
    });
    cluster
        .wait_until(LIVENESS, "autopilot to promote the new server to a voter", || suffrage() == Some(Suffrage::Voter));
    cluster.wait_formed(LIVENESS);
}
