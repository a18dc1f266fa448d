//! A cluster with a key (`server { encrypt = KEY }`, the key from `keel
//! operator keygen`): its servers form and serve as usual, while a server
//! with another key, or with none, can neither join gossip nor take part in
//! Raft, and a connection to the RPC port that cannot prove the key is
//! closed before any request is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use keel_tests::cluster::api::{self, Scheduling};
use keel_tests::cluster::{Cluster, LIVENESS};
use keel_tests::{Agent, keel};

/// How long the strangers are given to get in: more than a retry-join
/// round and several gossip probe periods.
const WATCHED: Duration = Duration::from_secs(6);

fn keygen() -> String {
    let output = keel(&["operator", "keygen"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key}");
    key
}

#[test]
fn servers_without_the_cluster_key_stay_out_of_gossip_and_raft() {
    let key = keygen();
    let cluster = Cluster::builder(&["127.0.0.231", "127.0.0.232", "127.0.0.233"]).encrypt(&key).start();
    let written = Scheduling::SPREAD;
    let index = written.write_acknowledged(cluster.agent(cluster.followers()[0]));
    cluster.wait_scheduling_everywhere(written, index);

    let join = cluster.ip(0).to_owned();
    let other_key = keygen();
    let strangers: Vec<Agent> = [("127.0.0.234", Some(other_key.as_str())), ("127.0.0.235", None)]
        .into_iter()
        .map(|(ip, key)| {
            let mut args = ["--server", "--bootstrap-expect", "3", "--node", ip, "--retry-join", join.as_str()]
                .map(str::to_owned)
                .to_vec();
            if let Some(key) = key {
                args.extend(["--encrypt".to_owned(), key.to_owned()]);
            }
            Agent::launch(ip, args)
        })
        .collect();

    let members = |server: usize| api::members(cluster.agent(server)).map(|members| members.len());
    cluster.hold_for(WATCHED, "three members and three voters on every server", || {
        cluster.running().into_iter().all(|server| {
            members(server) == Some(3) && api::raft_configuration(cluster.agent(server)).map(|c| c.len()) == Some(3)
        })
    });
    for stranger in &strangers {
        let seen = api::members(stranger).expect("the stranger answers");
        assert_eq!(seen.len(), 1, "a stranger knows only itself: {seen:?}");
    }

    // The RPC port answers a client without the key with its header and
    // key byte, then closes: nothing the client sends after is read. The
    // header is "KEEL" and the protocol version (4) as a big-endian u32.
    let mut socket = TcpStream::connect((cluster.ip(0), 4647)).expect("connect to the rpc port");
    socket.set_read_timeout(Some(LIVENESS)).expect("a read timeout");
    socket.write_all(b"KEEL\0\0\0\x04\0").expect("header and no key");
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).expect("the server closes the connection");
    assert_eq!(answer, b"KEEL\0\0\0\x04\x01", "the server says it requires a key, then hangs up");

    let written = Scheduling::BINPACK_OVERSUBSCRIBED;
    let index = written.write_acknowledged(cluster.agent(cluster.leader()));
    cluster.wait_scheduling_everywhere(written, index);
}

#[test]
fn a_malformed_cluster_key_is_refused_at_start_naming_the_setting() {
    let output = keel(&["agent", "--dev", "--bind", "127.0.0.236", "--encrypt", "c2hvcnQ="]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.encrypt: the key is 5 bytes; it must be 32"), "{stderr}");
}
