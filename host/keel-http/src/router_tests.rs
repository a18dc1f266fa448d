//! Tests of the router as a whole: the ACL table, tokens, `?pretty`,
//! unknown paths, body limits and hostile input, across every route.

use axum::http::StatusCode;

use crate::testing::{Harness, assert_error};
use crate::{Capability, ROUTES};

/// The "ACL Required" column of the reference documents, with a request
/// for each row that passes query parsing and so reaches the ACL check.
const REFERENCE: &[(&str, &str, Capability)] = &[
    ("GET", "/v1/operator/raft/configuration", Capability::Management),
    ("DELETE", "/v1/operator/raft/peer?id=id-2", Capability::Management),
    ("GET", "/v1/operator/autopilot/configuration", Capability::OperatorRead),
    ("PUT", "/v1/operator/autopilot/configuration", Capability::OperatorWrite),
    ("GET", "/v1/operator/autopilot/health", Capability::OperatorRead),
    ("GET", "/v1/operator/scheduler/configuration", Capability::OperatorRead),
    ("PUT", "/v1/operator/scheduler/configuration", Capability::OperatorWrite),
    ("POST", "/v1/operator/scheduler/configuration", Capability::OperatorWrite),
    ("GET", "/v1/operator/license", Capability::OperatorRead),
    ("PUT", "/v1/operator/license", Capability::OperatorWrite),
    ("GET", "/v1/operator/snapshot", Capability::Management),
    ("PUT", "/v1/operator/snapshot", Capability::Management),
    ("GET", "/v1/agent/members", Capability::NodeRead),
    ("GET", "/v1/agent/self", Capability::AgentRead),
    ("GET", "/v1/agent/servers", Capability::AgentRead),
    ("PUT", "/v1/agent/servers?address=1.2.3.4:4647", Capability::AgentWrite),
    ("POST", "/v1/agent/servers?address=1.2.3.4:4647", Capability::AgentWrite),
    ("PUT", "/v1/agent/join?address=127.0.0.2:4648", Capability::None),
    ("POST", "/v1/agent/join?address=127.0.0.2:4648", Capability::None),
    ("PUT", "/v1/agent/force-leave?node=keel-2.global", Capability::AgentWrite),
    ("POST", "/v1/agent/force-leave?node=keel-2.global", Capability::AgentWrite),
    ("GET", "/v1/agent/health", Capability::None),
    ("GET", "/v1/status/leader", Capability::None),
    ("GET", "/v1/status/peers", Capability::None),
    ("PUT", "/v1/acl/bootstrap", Capability::None),
    ("POST", "/v1/acl/bootstrap", Capability::None),
    ("GET", "/v1/acl/policies", Capability::Authenticated),
    ("GET", "/v1/acl/policy/ops", Capability::Authenticated),
    ("PUT", "/v1/acl/policy/ops", Capability::Management),
    ("POST", "/v1/acl/policy/ops", Capability::Management),
    ("DELETE", "/v1/acl/policy/ops", Capability::Management),
    ("GET", "/v1/acl/tokens", Capability::Management),
    ("PUT", "/v1/acl/token", Capability::Management),
    ("POST", "/v1/acl/token", Capability::Management),
    ("GET", "/v1/acl/token/self", Capability::Authenticated),
    ("GET", "/v1/acl/token/accessor-1", Capability::Authenticated),
    ("PUT", "/v1/acl/token/accessor-1", Capability::Management),
    ("POST", "/v1/acl/token/accessor-1", Capability::Management),
    ("DELETE", "/v1/acl/token/accessor-1", Capability::Management),
];

/// The route a reference URI is served by: no query, and the ACL paths'
/// last segment as the router names it.
fn path(uri: &str) -> String {
    let path = uri.split('?').next().unwrap_or(uri);
    match path.rsplit_once('/') {
        Some(("/v1/acl/policy", _)) => "/v1/acl/policy/{name}".to_owned(),
        Some(("/v1/acl/token", last)) if last != "self" => "/v1/acl/token/{accessor}".to_owned(),
        _ => path.to_owned(),
    }
}

#[test]
fn the_route_table_is_the_reference_table() {
    let table: Vec<_> = ROUTES.iter().map(|r| (r.method, r.path.to_owned(), r.capability)).collect();
    let reference: Vec<_> = REFERENCE.iter().map(|&(method, uri, need)| (method, path(uri), need)).collect();
    assert_eq!(table, reference);
}

#[tokio::test]
async fn every_route_asks_for_its_capability_before_acting() {
    let harness = Harness::new();
    for &(method, uri, need) in REFERENCE {
        let reply = harness.request(method, uri, &[("X-Nomad-Token", "no-rights")], "{}").await;
        assert_eq!(harness.backend.last_auth(), Some((Some("no-rights".into()), need)), "{method} {uri}");
        if need == Capability::None {
            assert_ne!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
        } else {
            assert_error(reply, StatusCode::FORBIDDEN, "Permission denied");
        }
    }
    let state = harness.backend.state();
    assert!(state.removed.is_empty() && state.force_left.is_empty() && state.license_writes.is_empty());
    assert_eq!((state.restored.as_ref(), state.autopilot.modify_index, state.scheduler.modify_index), (None, 4, 5));
    assert_eq!(state.servers, ["127.0.0.2:4647", "127.0.0.1:4647"]);
}

#[tokio::test]
async fn the_token_comes_from_headers_only() {
    let harness = Harness::new();
    let uri = "/v1/operator/raft/configuration";
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers<'_>, &str, Option<&str>); 6] = [
        (&[("X-Nomad-Token", "secret-1")], "", Some("secret-1")),
        (&[("Authorization", "Bearer secret-2")], "", Some("secret-2")),
        (&[("X-Nomad-Token", "secret-1"), ("Authorization", "Bearer secret-2")], "", Some("secret-1")),
        (&[("Authorization", "Basic c2VjcmV0")], "", None),
        (&[], "?token=secret-3", None),
        (&[], "?X-Nomad-Token=secret-3", None),
    ];
    for (headers, query, expected) in cases {
        let reply = harness.request("GET", &format!("{uri}{query}"), headers, "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(harness.backend.last_auth(), Some((expected.map(str::to_owned), Capability::Management)));
    }
    let reply = harness.request("GET", uri, &[("Authorization", "Bearer no-rights")], "").await;
    assert_error(reply, StatusCode::FORBIDDEN, "Permission denied");
    let reply = harness.request("GET", uri, &[("X-Nomad-Token", "unknown")], "").await;
    assert_error(reply, StatusCode::FORBIDDEN, "ACL token not found");
}

#[tokio::test]
async fn pretty_indents_every_json_reply() {
    let harness = Harness::new();
    let reply = harness.send("GET", "/v1/status/peers?pretty").await;
    assert_eq!(reply.text(), "[\n    \"127.0.0.1:4647\",\n    \"127.0.0.2:4647\"\n]\n");
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration?pretty=1", "{}").await;
    assert_eq!(reply.text(), "{\n    \"Updated\": false,\n    \"Index\": 13\n}\n");
    let reply = harness.send("GET", "/v1/agent/health?type=server&pretty=true").await;
    assert_eq!(reply.text(), "{\n    \"server\": {\n        \"ok\": true,\n        \"message\": \"ok\"\n    }\n}\n");
    let reply = harness.send_body("PUT", "/v1/operator/autopilot/configuration?pretty=0", "{}").await;
    assert_eq!(reply.text(), "true");
    let reply = harness.send("GET", "/v1/status/leader?pretty=").await;
    assert_eq!(reply.text(), "\"127.0.0.1:4647\"\n");
}

#[tokio::test]
async fn unknown_paths_are_go_404s() {
    let harness = Harness::new();
    for (method, uri) in [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/v1/agent/health/"),
        ("GET", "/v1/operator/raft"),
        ("DELETE", "/v1/jobs"),
        ("PUT", "/v1/acl/roles"),
        ("HEAD", "/v2/status/leader"),
    ] {
        let reply = harness.send(method, uri).await;
        let body = if method == "HEAD" { "" } else { "404 page not found" };
        assert_eq!(
            (reply.status, reply.content_type(), reply.text()),
            (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", body),
            "{method} {uri}"
        );
    }
}

#[tokio::test]
async fn json_and_license_bodies_are_bounded_at_one_mib() {
    let harness = Harness::new();
    let too_big = vec![b' '; 1024 * 1024 + 1];
    let message = "Request body is larger than the limit of 1048576 bytes";
    for (method, uri) in [
        ("PUT", "/v1/operator/autopilot/configuration"),
        ("POST", "/v1/operator/scheduler/configuration"),
        ("PUT", "/v1/operator/license"),
    ] {
        let reply = harness.send_body(method, uri, too_big.clone()).await;
        assert_error(reply, StatusCode::PAYLOAD_TOO_LARGE, message);
    }
    let mut padded = vec![b' '; 1024 * 1024 - 2];
    padded.extend_from_slice(b"{}");
    let reply = harness.send_body("PUT", "/v1/operator/autopilot/configuration", padded).await;
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, "true"));
}

#[tokio::test]
async fn odd_inputs_never_panic() {
    let harness = Harness::new();
    let queries = [
        "?%ff%fe=%ff&stale=%00",
        "?cas=99999999999999999999999999&index=-1&wait=9999999999999999h",
        "?region=&dc=&pretty=%ff&type=%ff",
        "?id=%ff&address=%ff&node=%ff",
        "?&&&==&=x&x==",
        "?stale&stale=no&prune=%20true&force=t%00",
    ];
    let bodies: [&[u8]; 5] = [b"", b"\xff\xfe\x00", b"null", b"{\"LastContactThreshold\": \"-1s\"}", b"[[[[[[[[[["];
    for route in ROUTES {
        let path = route.path.replace("{name}", "ops").replace("{accessor}", "accessor-1");
        for query in queries {
            for body in bodies {
                let reply = harness.send_body(route.method, &format!("{path}{query}"), body.to_vec()).await;
                // A panic would fail the test before this; a 5xx would mean an
                // input slipped past the parsing into the backend.
                assert!(!reply.status.is_server_error(), "{} {path}{query}: {:?}", route.method, reply.body);
            }
        }
    }
}
