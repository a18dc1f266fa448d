//! Gossip between real UDP sockets on loopback: joining, a graceful leave,
//! a silent death, and force-leave.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use keel_cluster::gossip::{Gossip, GossipConfig, MemberStatus};

const WAIT: Duration = Duration::from_secs(30);

async fn start(ip: &str, name: &str) -> Gossip {
    let bind: SocketAddr = format!("{ip}:4648").parse().expect("an address");
    let tags = BTreeMap::from([("role".to_owned(), "nomad".to_owned()), ("id".to_owned(), format!("id-{name}"))]);
    Gossip::start(GossipConfig { bind, name: name.to_owned(), tags }).await.expect("bind the gossip port")
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
