//! Three real Raft servers in one process, each on its own loopback address
//! with the default RPC port, talking over TCP: forming a cluster,
//! replicating writes, losing the leader, and a follower catching up after
//! a restart, from the log or, when the log has moved on, from a snapshot.

mod harness;

use std::time::Duration;

use harness::{PATIENCE, agreed_leader, data_dirs, initialize, run};
use keel_api::operator::SchedulerConfiguration;
use keel_cluster::{RaftTuning, Server};
use keel_state::{Command, Outcome, ServerNode};

fn the_leader<'a>(servers: &[&'a Server], leader: &ServerNode) -> &'a Server {
    servers.iter().find(|server| server.me() == leader).expect("the leader is one of the servers")
}

/// Sets the scheduler algorithm through `leader`, answering the index.
async fn set_algorithm(leader: &Server, algorithm: &str) -> u64 {
    let config = SchedulerConfiguration { scheduler_algorithm: algorithm.into(), ..SchedulerConfiguration::default() };
    let applied = leader.write(Command::SetSchedulerConfig { config, cas: None }).await.expect("the leader writes");
    assert_eq!(applied.outcome, Outcome::Applied);
    applied.index
}

/// Waits until `server` has applied `index` and shows `algorithm`.
async fn wait_for_algorithm(server: &Server, algorithm: &str, index: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let shown = server.view().read(|state| state.scheduler.as_ref().map(|c| c.scheduler_algorithm.clone()));
        if shown.as_deref() == Some(algorithm) && server.status().applied_index >= index {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never applied {algorithm:?} at {index}: shows {shown:?}, {:?}",
            server.me().address,
            server.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_replicate_and_survive_the_loss_of_the_leader() {
    run(|harness| async move {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let data_dirs = data_dirs(&dirs);
        let a = harness.start(&data_dirs[0], "127.0.0.51:4647", RaftTuning::default()).await;
        let b = harness.start(&data_dirs[1], "127.0.0.52:4647", RaftTuning::default()).await;
        let c = harness.start(&data_dirs[2], "127.0.0.53:4647", RaftTuning::default()).await;
        let all = [&*a, &*b, &*c];
        assert!(all.iter().all(|server| server.leader().is_none()), "nobody bootstraps alone");

        initialize(&all).await;
        let leader = agreed_leader(&all).await;
        let (peers, _) = the_leader(&all, &leader).configuration();
        assert_eq!(peers.len(), 3);
        assert!(peers.iter().all(|peer| peer.voter));

        let mut index = 0;
        for algorithm in ["spread", "binpack", "spread"] {
            index = set_algorithm(the_leader(&all, &leader), algorithm).await;
        }
        for server in all {
            wait_for_algorithm(server, "spread", index).await;
        }

        the_leader(&all, &leader).shutdown().await;
        let survivors: Vec<&Server> = all.iter().copied().filter(|server| server.me() != &leader).collect();
        let new_leader = agreed_leader(&survivors).await;
        assert_ne!(new_leader, leader, "a survivor takes over");
        let index = set_algorithm(the_leader(&survivors, &new_leader), "binpack").await;
        for server in survivors {
            wait_for_algorithm(server, "binpack", index).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_catches_up() {
    run(|harness| async move {
        let addresses = ["127.0.0.54:4647", "127.0.0.55:4647", "127.0.0.56:4647"];
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let data_dirs = data_dirs(&dirs);
        let (servers, leader) = harness.form(&data_dirs, addresses, RaftTuning::default()).await;
        let all: Vec<&Server> = servers.iter().map(|server| &**server).collect();
        let before = set_algorithm(the_leader(&all, &leader), "spread").await;
        for server in &all {
            wait_for_algorithm(server, "spread", before).await;
        }

        let follower = all.iter().position(|server| server.me() != &leader).expect("a follower");
        all[follower].shutdown().await;
        let mut index = before;
        for algorithm in ["binpack", "spread", "binpack"] {
            index = set_algorithm(the_leader(&all, &leader), algorithm).await;
        }

        let restarted = harness.start(&data_dirs[follower], addresses[follower], RaftTuning::default()).await;
        wait_for_algorithm(&restarted, "binpack", index).await;
        assert_eq!(restarted.leader().as_ref(), Some(&leader), "the restarted follower follows the same leader");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_log_catches_up_from_a_snapshot() {
    // Snapshots every 16 entries, keeping 4 behind: a follower that misses
    // 60 writes can only be brought back by sending it a snapshot.
    let tuning = RaftTuning { snapshot_threshold: 16, trailing_logs: 4, ..RaftTuning::default() };
    run(move |harness| async move {
        let addresses = ["127.0.0.24:4647", "127.0.0.25:4647", "127.0.0.26:4647"];
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let data_dirs = data_dirs(&dirs);
        let (servers, leader) = harness.form(&data_dirs, addresses, tuning).await;
        let all: Vec<&Server> = servers.iter().map(|server| &**server).collect();
        let follower = all.iter().position(|server| server.me() != &leader).expect("a follower");
        let left_behind_at = all[follower].status().last_log_index;
        all[follower].shutdown().await;

        let mut index = 0;
        for round in 0..60 {
            index = set_algorithm(the_leader(&all, &leader), if round % 2 == 0 { "binpack" } else { "spread" }).await;
        }
        // The leader purges its log behind a snapshot a moment after
        // building it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while the_leader(&all, &leader).status().purged_index <= left_behind_at {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the leader kept what the follower lacks in its log: {:?}, follower at {left_behind_at}",
                the_leader(&all, &leader).status()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let restarted = harness.start(&data_dirs[follower], addresses[follower], tuning).await;
        wait_for_algorithm(&restarted, "spread", index).await;
        assert!(restarted.status().last_snapshot_index > left_behind_at, "{:?}", restarted.status());
    })
    .await;
}
