//! Gossip between real UDP sockets on loopback: joining, a graceful leave,
//! a silent death, force-leave, and a cluster key that keeps others out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use keel_cluster::ClusterKey;
use keel_cluster::gossip::{Gossip, GossipConfig, MemberStatus};

const WAIT: Duration = Duration::from_secs(30);

async fn start(ip: &str, name: &str) -> Gossip {
    start_with_key(ip, name, None).await
}

async fn start_with_key(ip: &str, name: &str, key: Option<ClusterKey>) -> Gossip {
    let bind: SocketAddr = format!("{ip}:4648").parse().expect("an address");
    let tags = BTreeMap::from([("role".to_owned(), "nomad".to_owned()), ("id".to_owned(), format!("id-{name}"))]);
    Gossip::start(GossipConfig { bind, name: name.to_owned(), tags, key }).await.expect("bind the gossip port")
}

/// Waits until `gossip` shows `name` with `status` (`None`: not at all).
async fn wait_for(gossip: &Gossip, name: &str, status: Option<MemberStatus>) {
    let mut members = gossip.subscribe();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let seen = members.borrow_and_update().iter().find(|m| m.name == name).map(|m| m.status);
            if seen == status {
                return;
            }
            members.changed().await.expect("gossip runs");
        }
    })
    .await;
    assert!(found.is_ok(), "{name} never became {status:?}; members: {:?}", gossip.members());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_leave_fail_and_are_forced_out() {
    let a = start("127.0.0.50", "a.global").await;
    let b = start("127.0.0.58", "b.global").await;
    let c = start("127.0.0.59", "c.global").await;

    // b and c join through a; everyone learns of everyone, tags included.
    assert_eq!(b.join(&["127.0.0.50:4648".parse().expect("address")]).await, [Ok(())]);
    assert_eq!(c.join(&["127.0.0.50:4648".parse().expect("address")]).await, [Ok(())]);
    wait_for(&b, "c.global", Some(MemberStatus::Alive)).await;
    wait_for(&c, "b.global", Some(MemberStatus::Alive)).await;
    let seen_by_a = a.members();
    let names: Vec<&str> = seen_by_a.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a.global", "b.global", "c.global"]);
    assert_eq!(seen_by_a[2].tags["id"], "id-c.global");

    // Nobody answers at an unused address, and an agent cannot join itself.
    let outcomes =
        a.join(&["127.0.0.50:4648".parse().expect("address"), "127.0.0.49:4648".parse().expect("address")]).await;
    assert!(outcomes.iter().all(Result::is_err), "{outcomes:?}");

    // Force-leave refuses a member that is alive.
    assert!(a.force_leave("b.global", false).await.is_err());
    assert!(a.force_leave("nobody.global", false).await.is_err());

    // A graceful leave shows as left; a silent stop as failed.
    c.leave().await;
    wait_for(&a, "c.global", Some(MemberStatus::Left)).await;
    wait_for(&b, "c.global", Some(MemberStatus::Left)).await;
    b.stop().await;
    wait_for(&a, "b.global", Some(MemberStatus::Failed)).await;

    // Force-leave moves the failed member to left; prune forgets it.
    a.force_leave("b.global", false).await.expect("b has failed");
    wait_for(&a, "b.global", Some(MemberStatus::Left)).await;
    a.force_leave("b.global", true).await.expect("b is known");
    wait_for(&a, "b.global", None).await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_holding_the_cluster_key_join() {
    let key = ClusterKey::generate();
    let a = start_with_key("127.0.0.221", "a.global", Some(key.clone())).await;
    let b = start_with_key("127.0.0.222", "b.global", Some(key)).await;
    let stranger = start_with_key("127.0.0.223", "stranger.global", Some(ClusterKey::generate())).await;
    let open = start("127.0.0.224", "open.global").await;

    let a_address: SocketAddr = "127.0.0.221:4648".parse().expect("address");
    assert_eq!(b.join(&[a_address]).await, [Ok(())]);
    wait_for(&a, "b.global", Some(MemberStatus::Alive)).await;
    let refused = [stranger.join(&[a_address]).await, open.join(&[a_address]).await];
    assert!(refused.iter().flatten().all(Result::is_err), "{refused:?}");
    // And the other way round: a keyed member cannot join them either.
    let stranger_address: SocketAddr = "127.0.0.223:4648".parse().expect("address");
    assert!(b.join(&[stranger_address]).await.iter().all(Result::is_err));
    for keyed in [&a, &b] {
        let names: Vec<String> = keyed.members().iter().map(|m| m.name.clone()).collect();
        assert_eq!(names, ["a.global", "b.global"], "no stranger among the keyed members");
    }
    assert_eq!(stranger.members().len(), 1, "the stranger knows only itself: {:?}", stranger.members());
    assert_eq!(open.members().len(), 1, "a member without a key knows only itself: {:?}", open.members());
    for gossip in [a, b, stranger, open] {
        gossip.stop().await;
    }
}
