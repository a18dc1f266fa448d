//! A three-server cluster through failures: a killed leader is replaced
//! without losing an acknowledged write, a paused follower causes no
//! election and catches up, a restarted follower catches up from its data
//! directory, a leader resumed after a pause does not answer from its old
//! state, a request sent as the leader dies is held until the next one is
//! elected, and without a quorum leader-only requests fail once the hold
//! runs out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use keel_tests::cluster::api::{self, Scheduling};
use keel_tests::cluster::{Cluster, LIVENESS};

/// Longer than the election timeout (at most 2 s), so that a follower that
/// is gone this long would have caused an election if its absence could.
const PAUSE: Duration = Duration::from_secs(6);

/// How long a leader is paused: several election timeouts, and shorter
/// than gossip's failure detection (about 5 s), after which autopilot would
/// remove the paused server.
const LEADER_PAUSE: Duration = Duration::from_secs(3);

#[test]
fn a_killed_leader_is_replaced_and_no_acknowledged_write_is_lost() {
    let mut cluster = Cluster::start(&["127.0.0.111", "127.0.0.112", "127.0.0.113"]);
    let old_leader = cluster.leader();
    // The writer's server stays up; it forwards to whichever server leads.
    let writer = cluster.followers()[0];
    let mut acknowledged: Vec<(Scheduling, u64)> = Vec::new();
    let mut next = 0..;
    for n in next.by_ref().take(10) {
        let written = Scheduling::nth(n);
        acknowledged.push((written, written.write_acknowledged(cluster.agent(writer))));
    }

    cluster.kill(old_leader);
    // Writes sent during the election may fail; only acknowledged ones count.
    let before_kill = acknowledged.len();
    cluster.wait_until(LIVENESS, "ten writes to be acknowledged after the leader was killed", || {
        let written = Scheduling::nth(next.next().expect("endless"));
        if let Ok(index) = written.write(cluster.agent(writer)) {
            acknowledged.push((written, index));
        }
        acknowledged.len() >= before_kill + 10
    });

    cluster.restart(old_leader);
    let (last, last_index) = *acknowledged.last().expect("writes were acknowledged");
    cluster.wait_scheduling_everywhere(last, last_index);
    let indexes: Vec<u64> = acknowledged.iter().map(|(_, index)| *index).collect();
    assert!(
        indexes.windows(2).all(|pair| pair[0] < pair[1]),
        "each acknowledged write has a higher index than the one before: {indexes:?}"
    );
}

#[test]
fn a_paused_follower_causes_no_election_and_catches_up() {
    let mut cluster = Cluster::start(&["127.0.0.116", "127.0.0.117", "127.0.0.118"]);
    let leader = cluster.leader();
    let paused = cluster.followers()[0];
    cluster.pause(paused);

    let written = Scheduling::SPREAD;
    let index = written.write_acknowledged(cluster.agent(leader));
    cluster.hold_for(PAUSE, "the same leader on the other servers while one is paused", || {
        cluster.running().iter().all(|server| cluster.leader_seen_by(*server) == Some(leader))
    });

    cluster.resume(paused);
    cluster.wait_until(LIVENESS, "the resumed follower to read the write made while it was paused", || {
        Scheduling::read_stale(cluster.agent(paused)) == Some((written, index))
    });
}

#[test]
fn a_restarted_follower_catches_up_from_its_data_dir_and_votes_again() {
    let mut cluster = Cluster::start(&["127.0.0.121", "127.0.0.122", "127.0.0.123"]);
    let follower = cluster.followers()[0];
    let raft_id = |cluster: &Cluster| {
        let configuration = api::raft_configuration(cluster.agent(cluster.leader())).expect("configuration");
        configuration.into_iter().find(|peer| peer.address == cluster.raft_address(follower)).map(|peer| peer.id)
    };
    let id_before = raft_id(&cluster);
    cluster.stop(follower);

    let written = Scheduling::BINPACK_OVERSUBSCRIBED;
    let index = written.write_acknowledged(cluster.agent(cluster.leader()));
    cluster.restart(follower);
    cluster.wait_until(LIVENESS, "the restarted follower to read the write made while it was down", || {
        Scheduling::read_stale(cluster.agent(follower)) == Some((written, index))
    });
    cluster.wait_formed(LIVENESS);
    assert_eq!(raft_id(&cluster), id_before, "the follower came back under the raft ID in its data dir");
}

#[test]
fn without_a_leader_leader_only_requests_fail_once_the_hold_runs_out() {
    let mut cluster = Cluster::start(&["127.0.0.126", "127.0.0.127", "127.0.0.128"]);
    let survivor = cluster.followers()[0];
    let others: Vec<usize> = cluster.running().into_iter().filter(|server| *server != survivor).collect();
    for other in &others {
        cluster.kill(*other);
    }
    // By the time gossip has declared them failed, many election timeouts
    // have passed without a quorum.
    for other in &others {
        cluster.wait_member_status_everywhere(*other, "failed");
    }

    // Each is held for the hold time (5 s) in case a leader is elected.
    let agent = cluster.agent(survivor);
    let read = api::call(agent, "GET", "/v1/operator/raft/configuration", &[]);
    let body = br#"{"SchedulerAlgorithm": "spread"}"#;
    let write = api::call(agent, "PUT", "/v1/operator/scheduler/configuration", body);
    for (request, reply) in [("leader-only read", read), ("write", write)] {
        let reply = reply.unwrap_or_else(|| panic!("{request}: no answer within {:?}", api::CALL_TIMEOUT));
        assert_eq!((reply.status, reply.text().as_str()), (500, "No cluster leader"), "{request}");
    }
    // The survivor no longer names its dead leader.
    assert_eq!(agent.get("/v1/status/leader").json(), serde_json::json!(""));
    let stale = agent.get("/v1/operator/raft/configuration?stale");
    assert_eq!(stale.status, 200);
    assert_eq!(stale.header("x-nomad-knownleader"), Some("false"));
}

#[test]
fn a_leader_resumed_after_a_pause_does_not_answer_a_default_read_from_its_old_state() {
    let mut cluster = Cluster::start(&["127.0.0.181", "127.0.0.182", "127.0.0.183"]);
    let old_leader = cluster.leader();
    Scheduling::nth(0).write_acknowledged(cluster.agent(old_leader));
    cluster.pause(old_leader);
    let new_leader = cluster.leader();
    let newer = Scheduling::nth(1);
    let index = newer.write_acknowledged(cluster.agent(new_leader));

    // The kernel takes the connection and the request while the old leader
    // is stopped; it reads them the moment it resumes, before it has heard
    // of the new term.
    let mut socket = TcpStream::connect((cluster.ip(old_leader), 4646)).expect("connect to the paused leader");
    socket.set_read_timeout(Some(api::CALL_TIMEOUT)).expect("a read timeout");
    let request = "GET /v1/operator/scheduler/configuration HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";
    socket.write_all(request.as_bytes()).expect("send the read");
    cluster.resume(old_leader);
    let mut reply = String::new();
    socket.read_to_string(&mut reply).expect("an answer from the resumed leader");

    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP answer");
    if head.starts_with("HTTP/1.1 200") {
        let config: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        let modify_index = config["SchedulerConfig"]["ModifyIndex"].as_u64().expect("a ModifyIndex");
        assert!(modify_index >= index, "a 200 shows the write acknowledged at {index}, not {modify_index}: {body}");
        assert_eq!(config["SchedulerConfig"]["SchedulerAlgorithm"], newer.algorithm, "{body}");
    } else {
        assert!(head.starts_with("HTTP/1.1 500"), "the old leader refuses rather than answer: {reply}");
    }
}

#[test]
fn a_peer_removal_sent_through_a_follower_as_the_leader_dies_is_held_and_succeeds() {
    let mut cluster = Cluster::start(&["127.0.0.186", "127.0.0.187", "127.0.0.188"]);
    let leader = cluster.leader();
    let follower = cluster.followers()[0];
    // Relaying a write leaves the follower a pooled connection to the leader,
    // which the leader's death breaks.
    Scheduling::nth(0).write_acknowledged(cluster.agent(follower));
    let dead = cluster.raft_address(leader);
    cluster.kill(leader);

    let reply = api::call(cluster.agent(follower), "DELETE", &format!("/v1/operator/raft/peer?address={dead}"), &[])
        .expect("an answer within the call timeout");
    assert_eq!(reply.status, 200, "held across the election, then served: {}", reply.text());
    cluster.wait_removed_everywhere(leader);
}

#[test]
fn a_paused_leader_is_replaced_once_and_its_successor_keeps_leading_when_it_resumes() {
    let mut cluster = Cluster::start(&["127.0.0.191", "127.0.0.192", "127.0.0.193"]);
    for round in 0..3 {
        let paused = cluster.leader();
        cluster.pause(paused);
        // Shorter than gossip's failure detection, so that autopilot does
        // not remove the paused server meanwhile.
        let mut seen: Vec<usize> = Vec::new();
        let until = Instant::now() + LEADER_PAUSE;
        while Instant::now() < until {
            for server in cluster.running() {
                if let Some(leader) = cluster.leader_seen_by(server).filter(|leader| *leader != paused)
                    && seen.last() != Some(&leader)
                {
                    seen.push(leader);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(seen.len(), 1, "round {round}: one new leader while {paused} was paused, not {seen:?}");
        let successor = seen[0];
        cluster.resume(paused);
        // The resumed server may name itself until it hears of the new term;
        // the others must never see their leader deposed.
        let what = format!("round {round}: {successor} to keep leading after {paused} resumed");
        cluster.hold_for(LEADER_PAUSE, &what, || {
            let others = cluster.running().into_iter().filter(|server| *server != paused);
            others.into_iter().all(|server| cluster.leader_seen_by(server) == Some(successor))
        });
        cluster.wait_until(LIVENESS, "every server to follow the successor", || {
            cluster.running().iter().all(|server| cluster.leader_seen_by(*server) == Some(successor))
        });
    }
}
