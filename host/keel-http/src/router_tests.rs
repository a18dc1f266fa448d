//! Tests of the router as a whole: the ACL table, tokens, `?pretty`,
//! unknown paths, body limits, timeouts and hostile input, across every route.

use std::time::Duration;

use axum::http::StatusCode;

use axum::http::Method;

use crate::routes::{Answer, table};
use crate::testing::{Harness, Stalled, TestBackend, assert_error};
use crate::{Capability, Leadership, Limits};

/// The table's methods and paths, each with the right it needs and who
/// answers it, one line per endpoint. The snapshot file holds the "ACL
/// Required" column of the reference documents; `KEEL_BLESS=1` rewrites it.
fn table_text() -> String {
    let mut text = String::new();
    for route in table::<TestBackend>() {
        match &route.answer {
            Answer::Any(_) => text.push_str(&format!("ANY {} (missing name)\n", route.path)),
            Answer::Methods { endpoints, .. } => {
                for e in endpoints {
                    text.push_str(&format!("{} {} {:?} {:?}\n", e.method, route.path, e.capability, e.scope));
                }
            }
        }
    }
    text
}

#[test]
fn the_route_table_is_the_reference_table() {
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/snapshots/routes.txt");
    if std::env::var_os("KEEL_BLESS").is_some() {
        std::fs::write(&snapshot, table_text()).expect("write the route snapshot");
    }
    let expected = std::fs::read_to_string(&snapshot).expect("read the route snapshot");
    assert_eq!(table_text(), expected);
}

/// A request for `path` (a table pattern) that passes every endpoint's
/// query checks and so reaches the ACL check.
fn sample_uri(path: &str) -> String {
    let path = path.replace("{name}", "ops").replace("{accessor}", "accessor-1");
    let logs = if path.starts_with("/v1/client/fs/logs/") { "&task=web&type=stdout" } else { "" };
    format!("{path}?address=127.0.0.2:4648&node=keel-2.global{logs}")
}

#[tokio::test]
async fn every_route_asks_for_its_capability_before_acting() {
    let harness = Harness::new();
    for (method, path, need) in endpoints() {
        let uri = sample_uri(path);
        let reply = harness.request(method.as_str(), &uri, &[("X-Nomad-Token", "no-rights")], "{}").await;
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

/// Every (method, path pattern, right) the table serves.
fn endpoints() -> Vec<(Method, &'static str, Capability)> {
    let mut all = Vec::new();
    for route in table::<TestBackend>() {
        if let Answer::Methods { endpoints, .. } = &route.answer {
            all.extend(endpoints.iter().map(|e| (e.method.clone(), route.path, e.capability)));
        }
    }
    all
}

/// Every method the router is sent, standard and not.
const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"];

#[tokio::test]
async fn the_router_serves_exactly_the_table() {
    let harness = Harness::new();
    for route in table::<TestBackend>() {
        for &method in METHODS {
            let uri = sample_uri(route.path);
            let reply = harness.request(method, &uri, &[("X-Nomad-Token", "no-rights")], "{}").await;
            let (served, wrong_method) = match &route.answer {
                Answer::Any(_) => {
                    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {uri}");
                    continue;
                }
                Answer::Methods { endpoints, wrong_method } => {
                    (endpoints.iter().find(|e| e.method.as_str() == method), *wrong_method)
                }
            };
            match served {
                // A served method was checked for its right, and was not
                // answered as a wrong method.
                Some(endpoint) => {
                    assert_eq!(harness.backend.last_auth().map(|(_, need)| need), Some(endpoint.capability));
                    assert_ne!(reply.text(), "Invalid method", "{method} {uri}");
                }
                None => {
                    assert_eq!(reply.status, wrong_method, "{method} {uri}");
                    assert_eq!(reply.text(), if method == "HEAD" { "" } else { "Invalid method" }, "{method} {uri}");
                }
            }
            harness.backend.state().last_auth = None;
        }
    }
    for uri in ["/v1/operator/raft", "/v1/acl/policy/ops/extra", "/v1/agent/members/", "/v1/unknown"] {
        for &method in METHODS {
            let reply = harness.send(method, uri).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert_eq!(harness.backend.last_auth(), None, "{method} {uri}: no right is checked off the table");
        }
    }
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
async fn the_right_is_asked_with_the_requests_method_path_and_namespace() {
    let harness = Harness::new();
    let asked = |method: &str, path: &str, namespace: &str| Some([method, path, namespace].map(str::to_owned));
    let reply = harness.request("PUT", "/v1/operator/scheduler/configuration?namespace=ops", &[], "{}").await;
    assert_ne!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(harness.backend.state().last_request, asked("PUT", "/v1/operator/scheduler/configuration", "ops"));
    harness.request("GET", "/v1/operator/raft/configuration?namespace=", &[], "").await;
    assert_eq!(harness.backend.state().last_request, asked("GET", "/v1/operator/raft/configuration", "default"));
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
        ("GET", "/uix"),
        ("GET", "/v1"),
        ("GET", "/v1/agent/health/"),
        ("GET", "/v1/operator/raft"),
        ("DELETE", "/v1/volumes"),
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
    for (method, path, _) in endpoints() {
        let path = path.replace("{name}", "ops").replace("{accessor}", "accessor-1");
        for query in queries {
            for body in bodies {
                let reply = harness.send_body(method.as_str(), &format!("{path}{query}"), body.to_vec()).await;
                // A panic would fail the test before this; a 5xx would mean an
                // input slipped past the parsing into the backend.
                assert!(!reply.status.is_server_error(), "{method} {path}{query}: {:?}", reply.body);
            }
        }
    }
}

/// Every route that decodes a JSON body, a body it accepts, and the prefix
/// of its parse errors.
const JSON_ROUTES: &[(&str, &str, &str, &str)] = &[
    ("PUT", "/v1/operator/autopilot/configuration", "{}", "Error parsing autopilot config: "),
    ("PUT", "/v1/operator/scheduler/configuration", "{}", "Error parsing scheduler config: "),
    ("POST", "/v1/operator/scheduler/configuration", "{}", "Error parsing scheduler config: "),
    ("PUT", "/v1/acl/policy/ops", r#"{"Name": "ops", "Rules": "x"}"#, "Error parsing ACL policy: "),
    ("PUT", "/v1/acl/token", "{}", "Error parsing ACL token: "),
    ("POST", "/v1/acl/token/accessor-1", r#"{"AccessorID": "accessor-1"}"#, "Error parsing ACL token: "),
    ("PUT", "/v1/acl/bootstrap", "{}", "failed to decode request body: "),
];

#[tokio::test]
async fn json_bodies_must_be_objects_and_a_refused_one_changes_nothing() {
    let harness = Harness::new();
    let index_before = harness.backend.state().index;
    for &(method, uri, _, prefix) in JSON_ROUTES {
        for (body, kind) in [("[]", "array"), ("[true, \"0s\"]", "array")] {
            let reply = harness.send_body(method, uri, body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {uri} {body}: {}", reply.text());
            let expected = format!("{prefix}json: cannot unmarshal {kind} into Go value of type ");
            assert!(reply.text().starts_with(&expected), "{method} {uri} {body}: {}", reply.text());
        }
        for body in ["null", "true", "\"{}\"", "7"] {
            let reply = harness.send_body(method, uri, body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {uri} {body}: {}", reply.text());
        }
    }
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", "[]").await;
    let message = "Error parsing scheduler config: json: cannot unmarshal array into Go value of type \
                   structs.SchedulerConfiguration";
    assert_error(reply, StatusCode::BAD_REQUEST, message);
    let nested = r#"{"SchedulerAlgorithm": "spread", "PreemptionConfig": [false, false, false, false]}"#;
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", nested).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "a struct inside a body is an object too");
    assert_eq!(harness.backend.state().index, index_before, "no refused body was written");
    let scheduler = harness.send("GET", "/v1/operator/scheduler/configuration").await.json();
    assert_eq!(scheduler["SchedulerConfig"]["SchedulerAlgorithm"], "binpack");
    let autopilot = harness.send("GET", "/v1/operator/autopilot/configuration").await.json();
    assert_eq!(autopilot["CleanupDeadServers"], true);
    assert_eq!(autopilot["LastContactThreshold"], "200ms");
}

#[tokio::test]
async fn deeply_nested_bodies_are_refused_before_decoding() {
    let harness = Harness::new();
    let index_before = harness.backend.state().index;
    let deep = format!("{}{{}}{}", "{\"Unknown\":".repeat(50_000), "}".repeat(50_000));
    for &(method, uri, _, prefix) in JSON_ROUTES {
        let reply = harness.send_body(method, uri, deep.clone()).await;
        assert_error(reply, StatusCode::BAD_REQUEST, &format!("{prefix}json: exceeded max depth of 64"));
    }
    let arrays = format!("{{\"SchedulerAlgorithm\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", arrays).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(harness.backend.state().index, index_before, "no refused body was written");
    let shallow = format!("{{\"SchedulerAlgorithm\": \"spread\", \"X\": {}1{}}}", "[".repeat(60), "]".repeat(60));
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", shallow).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn durations_beyond_gos_range_are_refused() {
    let harness = Harness::new();
    let index_before = harness.backend.state().index;
    for ttl in ["\"5000000h\"", "\"9223372036854775808ns\"", "9223372036854775808"] {
        let body = format!(r#"{{"LastContactThreshold": {ttl}, "CleanupDeadServers": false}}"#);
        let reply = harness.send_body("PUT", "/v1/operator/autopilot/configuration", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{ttl}: {}", reply.text());
        assert!(reply.text().starts_with("Error parsing autopilot config: "), "{}", reply.text());
        let body = format!(r#"{{"Name": "ci", "Type": "client", "Policies": ["ops"], "ExpirationTTL": {ttl}}}"#);
        let reply = harness.send_body("PUT", "/v1/acl/token", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{ttl}: {}", reply.text());
        assert!(reply.text().contains("ExpirationTTL"), "{}", reply.text());
    }
    assert_eq!(harness.backend.state().index, index_before, "no refused body was written");
    let autopilot = harness.send("GET", "/v1/operator/autopilot/configuration").await.json();
    assert_eq!(autopilot["LastContactThreshold"], "200ms");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_arrives() {
    let harness = Harness::new();
    let index_before = harness.backend.state().index;
    let cases = [
        ("PUT", "/v1/operator/scheduler/configuration", 2 * 1024 * 1024, 1024 * 1024),
        ("PUT", "/v1/acl/token", 2 * 1024 * 1024, 1024 * 1024),
        ("PUT", "/v1/operator/license", 2 * 1024 * 1024, 1024 * 1024),
        ("PUT", "/v1/operator/snapshot", 600 * 1024 * 1024, keel_api::limits::SNAPSHOT_UPLOAD_MAX_BYTES),
    ];
    for (method, uri, declared, limit) in cases {
        let body = axum::body::Body::new(Stalled { declared_bytes: Some(declared) });
        // The body never comes, so only an answer from the declared length
        // finishes in time.
        let reply = tokio::time::timeout(Duration::from_secs(5), harness.send_body(method, uri, body))
            .await
            .unwrap_or_else(|_| panic!("{method} {uri}: no answer while the body was awaited"));
        assert_error(
            reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request body is larger than the limit of {limit} bytes"),
        );
    }
    assert_eq!(harness.backend.state().index, index_before);
}

#[tokio::test]
async fn a_relay_refuses_a_declared_length_over_the_limit_before_buffering() {
    let harness = Harness::new();
    harness.backend.state().leadership = Leadership::Elsewhere;
    let body = axum::body::Body::new(Stalled { declared_bytes: Some(2 * 1024 * 1024) });
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        harness.send_body("PUT", "/v1/operator/scheduler/configuration", body),
    )
    .await
    .expect("an answer without the body");
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(harness.backend.state().forwarded.is_empty(), "nothing was relayed");
}

#[tokio::test]
async fn a_body_that_stops_arriving_times_out_with_408() {
    let limits = Limits { body_idle_timeout_ms: 100, ..Limits::default() };
    let harness = Harness::with(TestBackend::new(), limits);
    let index_before = harness.backend.state().index;
    for (uri, declared_bytes) in [("/v1/operator/autopilot/configuration", Some(10)), ("/v1/operator/snapshot", None)] {
        let body = axum::body::Body::new(Stalled { declared_bytes });
        let reply = tokio::time::timeout(Duration::from_secs(5), harness.send_body("PUT", uri, body))
            .await
            .unwrap_or_else(|_| panic!("{uri}: a stalled body held the request"));
        assert_error(reply, StatusCode::REQUEST_TIMEOUT, "Request body stalled: nothing arrived for 100 ms");
    }
    harness.backend.state().leadership = Leadership::Elsewhere;
    let body = axum::body::Body::new(Stalled { declared_bytes: None });
    let reply = harness.send_body("PUT", "/v1/operator/scheduler/configuration", body).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "a relay times out too");
    assert!(harness.backend.state().forwarded.is_empty());
    assert_eq!(harness.backend.state().index, index_before);
}
