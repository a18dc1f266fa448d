//! The forwarding layer: which requests a follower relays to the leader,
//! and that the leader's answer comes back unchanged.

use axum::http::StatusCode;

use crate::testing::{Harness, TestBackend, assert_error};
use axum::http::Method;

use crate::routes::{Answer, find, table};
use crate::{FORWARDED_HEADER, Leadership, Limits, Scope};

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

#[tokio::test]
async fn without_a_leader_leader_routes_fail_at_once() {
    let harness = Harness::new();
    harness.backend.state().leadership = Leadership::Unknown;
    assert_error(
        harness.send("GET", "/v1/operator/autopilot/configuration").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "No cluster leader",
    );
    assert_error(
        harness.send_body("PUT", "/v1/operator/scheduler/configuration", "{}").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "No cluster leader",
    );
    assert_eq!(harness.send("GET", "/v1/agent/health").await.status, StatusCode::OK);
    assert!(harness.backend.state().forwarded.is_empty());
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
    assert!(agent_paths.iter().all(|path| path.starts_with("/v1/agent/") || path.starts_with("/v1/status/")));
    assert_eq!(agent_paths.len(), 12);
}
