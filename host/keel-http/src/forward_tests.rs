//! The forwarding layer: which requests a follower relays to the leader,
//! and that the leader's answer comes back unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};

use crate::routes::{Answer, find, table};
use crate::testing::{Harness, TestBackend, assert_error};
use crate::{ApiError, FORWARDED_HEADER, Leadership, Limits, RelayError, Scope};

fn follower() -> Harness {
    let harness = Harness::new();
    harness.backend.state().leadership = Leadership::Elsewhere;
    harness
}

#[tokio::test]
async fn a_write_on_a_follower_is_relayed_with_its_body_and_token() {
    let harness = follower();
    let body = r#"{"SchedulerAlgorithm":"spread"}"#;
    let reply = harness
        .request("PUT", "/v1/operator/scheduler/configuration?cas=5", &[("x-nomad-token", "secret")], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-nomad-index"), Some("99"));
    assert_eq!(reply.text(), r#"{"From":"the leader"}"#);

    let state = harness.backend.state();
    let [forwarded] = state.forwarded.as_slice() else { panic!("one request relayed, got {}", state.forwarded.len()) };
    assert_eq!(forwarded.method(), "PUT");
    assert_eq!(forwarded.uri(), "/v1/operator/scheduler/configuration?cas=5");
    assert_eq!(forwarded.headers()["x-nomad-token"], "secret");
    assert_eq!(forwarded.headers()[FORWARDED_HEADER], "1");
    assert_eq!(forwarded.body(), body.as_bytes());
    // The follower did not write anything itself.
    assert_eq!(state.scheduler.modify_index, 5);
}

#[tokio::test]
async fn a_read_on_a_follower_is_relayed_unless_stale() {
    let harness = follower();
    let relayed = harness.send("GET", "/v1/operator/raft/configuration").await;
    assert_eq!(relayed.text(), r#"{"From":"the leader"}"#);
    let local = harness.send("GET", "/v1/operator/raft/configuration?stale").await;
    assert_eq!(local.status, StatusCode::OK);
    assert!(local.json()["Servers"].is_array(), "served from the follower's own state");
    let local = harness.send("GET", "/v1/operator/scheduler/configuration?stale=true").await;
    assert!(local.json()["SchedulerConfig"].is_object());
    assert_eq!(harness.backend.state().forwarded.len(), 1);
}

#[tokio::test]
async fn agent_and_status_routes_are_answered_by_the_agent_itself() {
    let harness = follower();
    for uri in ["/v1/agent/members", "/v1/agent/self", "/v1/agent/health", "/v1/status/leader", "/v1/status/peers"] {
        let reply = harness.send("GET", uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
    }
    assert!(harness.backend.state().forwarded.is_empty());
}

/// A harness whose leader-only requests are held for `hold_ms`.
fn holding(hold_ms: u64) -> Harness {
    Harness::with(TestBackend::new(), Limits { leader_hold_ms: hold_ms, ..Limits::default() })
}

fn undelivered() -> RelayError {
    RelayError { error: ApiError::internal("rpc error: could not reach the leader: refused"), maybe_delivered: false }
}

fn maybe_delivered() -> RelayError {
    RelayError { error: ApiError::internal("rpc error: could not reach the leader: early eof"), maybe_delivered: true }
}

#[tokio::test]
async fn without_a_leader_leader_routes_fail_once_the_hold_runs_out() {
    let harness = holding(300);
    harness.backend.state().leadership = Leadership::Unknown;
    let started = Instant::now();
    assert_error(
        harness.send("GET", "/v1/operator/autopilot/configuration").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "No cluster leader",
    );
    assert!(started.elapsed() >= Duration::from_millis(200), "held for the hold time: {:?}", started.elapsed());
    assert_error(
        harness.send_body("PUT", "/v1/operator/scheduler/configuration", "{}").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "No cluster leader",
    );
    assert_eq!(harness.backend.state().scheduler.modify_index, 5, "nothing written");
    let started = Instant::now();
    assert_eq!(harness.send("GET", "/v1/agent/health").await.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(200), "agent routes are not held");
    assert!(harness.backend.state().forwarded.is_empty());
}

#[tokio::test]
async fn a_request_held_without_a_leader_is_served_once_one_is_known() {
    for (elected, relayed) in [(Leadership::Elsewhere, 1), (Leadership::Here, 0)] {
        let harness = holding(5_000);
        harness.backend.state().leadership = Leadership::Unknown;
        let backend = Arc::clone(&harness.backend);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            backend.state().leadership = elected;
        });
        let reply = harness
            .send_body("PUT", "/v1/operator/scheduler/configuration", r#"{"SchedulerAlgorithm":"spread"}"#)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{elected:?}: {}", reply.text());
        assert_eq!(harness.backend.state().forwarded.len(), relayed, "{elected:?}");
    }
}

#[tokio::test]
async fn a_write_the_leader_never_received_is_tried_again() {
    let harness = holding(5_000);
    harness.backend.state().leadership = Leadership::Elsewhere;
    harness.backend.state().relay_failures.extend([undelivered(), undelivered()]);
    let body = r#"{"SchedulerAlgorithm":"spread"}"#;
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", body).await;
    assert_eq!(reply.text(), r#"{"From":"the leader"}"#);
    let state = harness.backend.state();
    assert_eq!(state.forwarded.len(), 3, "two refused tries, then the leader");
    assert!(state.forwarded.iter().all(|request| request.body() == body.as_bytes()), "the same body every time");
}

#[tokio::test]
async fn a_write_the_leader_may_have_received_is_not_sent_twice_but_a_read_is() {
    let harness = holding(5_000);
    harness.backend.state().leadership = Leadership::Elsewhere;
    harness.backend.state().relay_failures.push_back(maybe_delivered());
    assert_error(
        harness.send_body("PUT", "/v1/operator/scheduler/configuration", "{}").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "rpc error: could not reach the leader: early eof",
    );
    assert_eq!(harness.backend.state().forwarded.len(), 1);

    harness.backend.state().relay_failures.push_back(maybe_delivered());
    let reply = harness.send("GET", "/v1/operator/raft/configuration").await;
    assert_eq!(reply.text(), r#"{"From":"the leader"}"#);
    assert_eq!(harness.backend.state().forwarded.len(), 3);
}

#[tokio::test]
async fn a_relay_that_keeps_failing_gives_up_after_the_hold() {
    let harness = holding(400);
    harness.backend.state().leadership = Leadership::Elsewhere;
    harness.backend.state().relay_failures.extend((0..100).map(|_| undelivered()));
    let started = Instant::now();
    assert_error(
        harness.send("GET", "/v1/operator/raft/configuration").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "rpc error: could not reach the leader: refused",
    );
    let held = started.elapsed();
    assert!(held >= Duration::from_millis(300) && held < Duration::from_secs(3), "held {held:?}");
    let tries = harness.backend.state().forwarded.len();
    assert!((2..=5).contains(&tries), "tried every 100 ms while held: {tries}");
}

#[tokio::test]
async fn a_relayed_request_is_never_relayed_again() {
    let harness = follower();
    let reply = harness.request("GET", "/v1/operator/raft/configuration", &[(FORWARDED_HEADER, "1")], "").await;
    assert!(reply.json()["Servers"].is_array());
    assert!(harness.backend.state().forwarded.is_empty());
}

#[tokio::test]
async fn a_relayed_body_keeps_the_route_limit() {
    let harness =
        Harness::with(TestBackend::new(), Limits { body_max_bytes: 8, snapshot_max_bytes: 32, ..Limits::default() });
    harness.backend.state().leadership = Leadership::Elsewhere;
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", "0123456789").await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let reply = harness.send_body("PUT", "/v1/operator/snapshot", "0123456789").await;
    assert_eq!(reply.status, StatusCode::OK, "a snapshot may be larger than a JSON body");
    assert_eq!(harness.backend.state().forwarded.len(), 1);
}

#[test]
fn every_endpoint_is_found_by_its_own_method_and_path() {
    let table = table::<TestBackend>();
    let mut agent_paths = Vec::new();
    for route in &table {
        if let Answer::Methods { endpoints, .. } = &route.answer {
            for endpoint in endpoints {
                let found = find(&table, route.path, &endpoint.method).expect("a table endpoint is found");
                assert!(std::ptr::eq(found, endpoint));
                if endpoint.scope == Scope::Agent {
                    agent_paths.push(route.path);
                }
            }
        }
    }
    assert!(find(&table, "/v1/operator/raft/configuration/extra", &Method::GET).is_none());
    assert!(find(&table, "/v1/operator/raft/configuration", &Method::PATCH).is_none());
    let agent_path = |path: &&str| {
        path.starts_with("/v1/agent/")
            || path.starts_with("/v1/status/")
            || path.starts_with("/v1/client/")
            || *path == "/v1/metrics"
            || *path == "/"
            || path.starts_with("/ui")
    };
    assert!(agent_paths.iter().all(agent_path), "{agent_paths:?}");
    assert_eq!(agent_paths.len(), 19);
}
