//! ACLs on a real `keel agent`: bootstrap, policy and token CRUD with Nomad's
//! shapes, enforcement on every endpoint, secrets that never leak, ACL state
//! across restarts and snapshot restores, a custom ACL plugin, and the CLI.
//! Agents bind 127.0.0.60 to 127.0.0.79.

use std::path::Path;
use std::time::Duration;

use keel_tests::cluster::Cluster;
use keel_tests::{Agent, Reply, keel};
use serde_json::{Value, json};

/// Starts a dev agent with ACLs on and tokens allowed to expire after one
/// second, plus `extra` flags. The config directory must outlive the agent.
fn acl_agent(bind: &str, extra: &[&str]) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    let config = dir.path().join("acl.hcl");
    std::fs::write(&config, "acl {\n  enabled = true\n  token_min_expiration_ttl = \"1s\"\n}\n").expect("config");
    let mut args = vec!["--config", config.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    (Agent::start_dev(bind, &args), dir)
}

/// Sends a request with `secret` as `X-Nomad-Token` (none when `None`).
fn call(agent: &Agent, method: &str, path: &str, secret: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = secret.map(|s| ("X-Nomad-Token", s)).into_iter().collect();
    agent.request(method, path, &headers, body.as_bytes())
}

fn ok(reply: Reply) -> Reply {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
}

/// Bootstraps ACLs and returns the management token.
fn bootstrap(agent: &Agent) -> Value {
    ok(call(agent, "POST", "/v1/acl/bootstrap", None, "")).json()
}

fn secret(token: &Value) -> String {
    token["SecretID"].as_str().expect("a secret").to_owned()
}

fn put_policy(agent: &Agent, management: &str, name: &str, rules: &str) -> Reply {
    let body = json!({"Name": name, "Description": format!("{name} rules"), "Rules": rules}).to_string();
    call(agent, "PUT", &format!("/v1/acl/policy/{name}"), Some(management), &body)
}

fn create_token(agent: &Agent, management: &str, body: Value) -> Value {
    ok(call(agent, "POST", "/v1/acl/token", Some(management), &body.to_string())).json()
}

fn client_token(agent: &Agent, management: &str, name: &str, policies: &[&str]) -> Value {
    create_token(agent, management, json!({"Name": name, "Type": "client", "Policies": policies}))
}

/// What a route needs, as the reference's "ACL Required" column says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Nothing,
    Management,
    Operator,
    Agent,
    Node,
}

/// Every non-ACL endpoint, with a request that passes query parsing and
/// changes nothing lasting when it is allowed (bodies that do not parse
/// are refused after the ACL check).
const ENDPOINTS: &[(&str, &str, Need)] = &[
    ("GET", "/v1/operator/raft/configuration", Need::Management),
    ("DELETE", "/v1/operator/raft/peer?id=no-such-peer", Need::Management),
    ("GET", "/v1/operator/autopilot/configuration", Need::Operator),
    ("PUT", "/v1/operator/autopilot/configuration", Need::Operator),
    ("GET", "/v1/operator/autopilot/health", Need::Operator),
    ("GET", "/v1/operator/scheduler/configuration", Need::Operator),
    ("PUT", "/v1/operator/scheduler/configuration", Need::Operator),
    ("POST", "/v1/operator/scheduler/configuration", Need::Operator),
    ("GET", "/v1/operator/license", Need::Operator),
    ("PUT", "/v1/operator/license", Need::Operator),
    ("GET", "/v1/operator/snapshot", Need::Management),
    ("PUT", "/v1/operator/snapshot", Need::Management),
    ("GET", "/v1/agent/members", Need::Node),
    ("GET", "/v1/agent/self", Need::Agent),
    ("GET", "/v1/agent/servers", Need::Agent),
    ("PUT", "/v1/agent/servers?address=127.0.0.60:4647", Need::Agent),
    ("POST", "/v1/agent/servers?address=127.0.0.60:4647", Need::Agent),
    ("PUT", "/v1/agent/join?address=127.0.0.60:4648", Need::Nothing),
    ("POST", "/v1/agent/join?address=127.0.0.60:4648", Need::Nothing),
    ("PUT", "/v1/agent/force-leave?node=no-such-node", Need::Agent),
    ("POST", "/v1/agent/force-leave?node=no-such-node", Need::Agent),
    ("GET", "/v1/agent/health", Need::Nothing),
    ("GET", "/v1/status/leader", Need::Nothing),
    ("GET", "/v1/status/peers", Need::Nothing),
];

#[test]
fn every_endpoint_answers_each_kind_of_token_as_its_right_says() {
    let (agent, _config) = acl_agent("127.0.0.60", &[]);
    let management = secret(&bootstrap(&agent));
    let everything = r#"operator { policy = "write" }
agent { policy = "write" }
node { policy = "write" }"#;
    ok(put_policy(&agent, &management, "everything", everything));
    let denied = r#"operator { policy = "deny" }
agent { policy = "deny" }
node { policy = "deny" }"#;
    ok(put_policy(&agent, &management, "denied", denied));
    ok(put_policy(&agent, &management, "elsewhere", r#"namespace "default" { policy = "write" }"#));
    let capable = secret(&client_token(&agent, &management, "capable", &["everything"]));
    let incapable = secret(&client_token(&agent, &management, "incapable", &["elsewhere"]));
    let deny = secret(&client_token(&agent, &management, "deny-wins", &["everything", "denied"]));
    let expiring = json!({"Name": "short", "Type": "client", "Policies": ["everything"], "ExpirationTTL": "1s"});
    let expired = secret(&create_token(&agent, &management, expiring));
    std::thread::sleep(Duration::from_millis(1_500));

    let unknown = "00000000-0000-4000-8000-000000000000";
    let cases: [(&str, Option<&str>); 7] = [
        ("no token", None),
        ("unknown token", Some(unknown)),
        ("expired token", Some(&expired)),
        ("client token with the right", Some(&capable)),
        ("client token without it", Some(&incapable)),
        ("client token whose policy denies", Some(&deny)),
        ("management token", Some(&management)),
    ];
    for &(method, path, need) in ENDPOINTS {
        for (who, token) in cases {
            let body = if method == "GET" { "" } else { "not json" };
            let reply = call(&agent, method, path, token, body);
            let expected = match (who, need) {
                (_, Need::Nothing) | ("management token", _) => None,
                ("unknown token", _) => Some("ACL token not found"),
                ("expired token", _) => Some("ACL token expired"),
                ("client token with the right", Need::Operator | Need::Agent | Need::Node) => None,
                _ => Some("Permission denied"),
            };
            match expected {
                Some(message) => {
                    assert_eq!((reply.status, reply.text().as_str()), (403, message), "{who}: {method} {path}");
                }
                None => assert_ne!(reply.status, 403, "{who}: {method} {path}: {}", reply.text()),
            }
        }
    }

    // The anonymous token has the rights of the policy named "anonymous".
    let scheduler = "/v1/operator/scheduler/configuration";
    assert_eq!(call(&agent, "GET", scheduler, None, "").status, 403);
    ok(put_policy(&agent, &management, "anonymous", r#"operator { policy = "read" }"#));
    ok(call(&agent, "GET", scheduler, None, ""));
    assert_eq!(call(&agent, "PUT", scheduler, None, "{}").status, 403);
}

#[test]
fn unread_bodies_are_read_so_answers_arrive_and_the_connection_stays_open() {
    let (agent, _config) = acl_agent("127.0.0.69", &[]);
    let management = secret(&bootstrap(&agent));
    let scheduler = "/v1/operator/scheduler/configuration";
    let before = ok(call(&agent, "GET", scheduler, Some(&management), "")).json()["SchedulerConfig"].clone();
    // The whole body is sent before the refusal is read, as clients do; a
    // server that answers without reading it resets the connection, and the
    // client loses the answer. So does an endpoint that takes no body and
    // is sent one. The later requests on the same connection show each body
    // was read to its end.
    let body = format!(r#"{{"SchedulerAlgorithm":"spread","Padding":"{}"}}"#, "x".repeat(200 * 1024));
    let raw = format!(
        "PUT /v1/operator/scheduler/configuration HTTP/1.1\r\nHost: keel\r\nContent-Length: {}\r\n\r\n{body}\
         GET /v1/agent/health HTTP/1.1\r\nHost: keel\r\nContent-Length: 8\r\n\r\nnot json\
         GET /v1/agent/health HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = agent.raw_exchange(raw.as_bytes(), std::time::Duration::from_secs(30)).expect("both answers");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("Permission denied"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 3, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "the health checks on the same connection: {answer}");
    let after = ok(call(&agent, "GET", scheduler, Some(&management), "")).json()["SchedulerConfig"].clone();
    assert_eq!(after, before, "nothing changed");
}

#[test]
fn bootstrap_works_once_and_again_only_through_the_reset_file() {
    let (agent, _config) = acl_agent("127.0.0.61", &[]);
    let first = call(&agent, "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(first.status, 200, "{}", first.text());
    let token = first.json();
    assert_eq!(
        (token["Name"].as_str(), token["Type"].as_str(), &token["Global"]),
        (Some("Bootstrap Token"), Some("management"), &json!(true))
    );
    assert_eq!(token["Policies"], Value::Null);
    let index = token["CreateIndex"].as_u64().expect("an index");
    assert_eq!(first.header("X-Nomad-Index"), Some(index.to_string().as_str()));

    let again = call(&agent, "PUT", "/v1/acl/bootstrap", None, "");
    assert_eq!((again.status, again.text()), (400, format!("ACL bootstrap already done (reset index: {index})")));

    let reset_file = agent.data_dir().join("acl-bootstrap-reset");
    std::fs::write(&reset_file, "1\n").expect("reset file");
    let wrong = call(&agent, "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(
        (wrong.status, wrong.text()),
        (400, format!("Invalid bootstrap reset index (specified 1, reset index: {index})"))
    );
    std::fs::write(&reset_file, format!("{index}\n")).expect("reset file");
    let chosen = "6d1ab4cb-7d1c-4c77-9c0c-6d6c8b1c7e11";
    let reset = ok(call(&agent, "POST", "/v1/acl/bootstrap", None, &json!({"BootstrapSecret": chosen}).to_string()));
    let second = reset.json();
    assert_eq!(second["SecretID"], chosen);
    let second_index = second["CreateIndex"].as_u64().expect("an index");
    assert!(second_index > index);
    ok(call(&agent, "GET", "/v1/acl/token/self", Some(chosen), ""));
    ok(call(&agent, "GET", "/v1/acl/token/self", Some(&secret(&token)), ""));

    let stale_reset = call(&agent, "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(
        (stale_reset.status, stale_reset.text()),
        (400, format!("Invalid bootstrap reset index (specified {index}, reset index: {second_index})"))
    );
    let bad_secret = call(&agent, "POST", "/v1/acl/bootstrap", None, r#"{"BootstrapSecret": "short"}"#);
    assert_eq!(bad_secret.status, 400);
}

#[test]
fn with_acls_off_the_acl_endpoints_say_so_and_nothing_needs_a_token() {
    let agent = Agent::start_dev("127.0.0.62", &[]);
    for (method, path) in [
        ("POST", "/v1/acl/bootstrap"),
        ("GET", "/v1/acl/policies"),
        ("GET", "/v1/acl/policy/ops"),
        ("GET", "/v1/acl/tokens"),
        ("GET", "/v1/acl/token/self"),
        ("DELETE", "/v1/acl/token/x"),
    ] {
        let reply = call(&agent, method, path, Some("anything"), "");
        assert_eq!((reply.status, reply.text().as_str()), (400, "ACL support disabled"), "{method} {path}");
    }
    ok(call(&agent, "GET", "/v1/operator/raft/configuration", None, ""));
}

#[test]
fn policies_and_tokens_have_nomads_shapes_and_lifecycle() {
    let (agent, _config) = acl_agent("127.0.0.63", &[]);
    let management = secret(&bootstrap(&agent));
    let rules = r#"operator { policy = "read" }"#;

    let written = ok(put_policy(&agent, &management, "ops", rules));
    assert!(written.body.is_empty());
    let index: u64 = written.header("X-Nomad-Index").expect("index").parse().expect("a number");
    let policy = ok(call(&agent, "GET", "/v1/acl/policy/ops", Some(&management), "")).json();
    assert_eq!(
        policy,
        json!({"Name": "ops", "Description": "ops rules", "Rules": rules, "CreateIndex": index, "ModifyIndex": index})
    );
    let listed = ok(call(&agent, "GET", "/v1/acl/policies", Some(&management), "")).json();
    assert_eq!(
        listed,
        json!([{"Name": "ops", "Description": "ops rules", "CreateIndex": index, "ModifyIndex": index}])
    );

    let invalid = put_policy(&agent, &management, "broken", r#"operator { policy = "admin" }"#);
    assert_eq!(invalid.status, 400);
    assert!(invalid.text().starts_with("policy 0 invalid: 1 error occurred:"), "{}", invalid.text());
    assert!(
        invalid.text().contains("failed to parse rules:") && invalid.text().contains("admin"),
        "{}",
        invalid.text()
    );
    let mismatch = call(&agent, "PUT", "/v1/acl/policy/other", Some(&management), &json!({"Name": "ops"}).to_string());
    assert_eq!((mismatch.status, mismatch.text().as_str()), (400, "ACL policy name does not match request path"));
    assert_eq!(call(&agent, "GET", "/v1/acl/policy/missing", Some(&management), "").status, 404);

    let token = client_token(&agent, &management, "reader", &["ops"]);
    let fields: Vec<&str> = token.as_object().expect("an object").keys().map(String::as_str).collect();
    for field in
        ["AccessorID", "SecretID", "Name", "Type", "Policies", "Global", "CreateTime", "CreateIndex", "ModifyIndex"]
    {
        assert!(fields.contains(&field), "{field} in {token}");
    }
    assert_eq!((token["Type"].as_str(), &token["Policies"]), (Some("client"), &json!(["ops"])));
    let reader = secret(&token);
    let accessor = token["AccessorID"].as_str().expect("accessor").to_owned();
    let missing = create_token_reply(&agent, &management, json!({"Type": "client"}));
    assert_eq!(missing.text(), "token 0 invalid: 1 error occurred:\n\t* client token missing policies\n\n");

    // A client token reads itself and the policies it holds, nothing else.
    assert_eq!(ok(call(&agent, "GET", "/v1/acl/token/self", Some(&reader), "")).json()["AccessorID"], accessor);
    ok(call(&agent, "GET", &format!("/v1/acl/token/{accessor}"), Some(&reader), ""));
    ok(call(&agent, "GET", "/v1/acl/policy/ops", Some(&reader), ""));
    let own_list = ok(call(&agent, "GET", "/v1/acl/policies", Some(&reader), "")).json();
    assert_eq!(own_list.as_array().map(Vec::len), Some(1));
    ok(put_policy(&agent, &management, "dev", rules));
    assert_eq!(call(&agent, "GET", "/v1/acl/policy/dev", Some(&reader), "").status, 403);
    assert_eq!(ok(call(&agent, "GET", "/v1/acl/policies", Some(&reader), "")).json().as_array().map(Vec::len), Some(1));
    assert_eq!(call(&agent, "GET", "/v1/acl/tokens", Some(&reader), "").status, 403);
    assert_eq!(call(&agent, "POST", "/v1/acl/token", Some(&reader), "{}").status, 403);
    let other = client_token(&agent, &management, "other", &["dev"]);
    let other_path = format!("/v1/acl/token/{}", other["AccessorID"].as_str().expect("accessor"));
    assert_eq!(call(&agent, "GET", &other_path, Some(&reader), "").status, 403);

    // The compiled rules follow the policy and the token as they change.
    let scheduler = "/v1/operator/scheduler/configuration";
    ok(call(&agent, "GET", scheduler, Some(&reader), ""));
    ok(put_policy(&agent, &management, "ops", r#"operator { policy = "deny" }"#));
    assert_eq!(call(&agent, "GET", scheduler, Some(&reader), "").status, 403, "the policy change applies at once");
    let update = json!({"AccessorID": accessor, "Name": "reader", "Type": "client", "Policies": ["dev"]});
    let updated =
        ok(call(&agent, "POST", &format!("/v1/acl/token/{accessor}"), Some(&management), &update.to_string())).json();
    assert_eq!((updated["SecretID"].as_str(), &updated["Policies"]), (Some(reader.as_str()), &json!(["dev"])));
    ok(call(&agent, "GET", scheduler, Some(&reader), ""));

    let listing = ok(call(&agent, "GET", "/v1/acl/tokens", Some(&management), "")).json();
    assert_eq!(listing.as_array().map(Vec::len), Some(3));
    assert!(listing.as_array().into_iter().flatten().all(|stub| stub.get("SecretID").is_none()), "{listing}");

    ok(call(&agent, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&management), ""));
    let gone = call(&agent, "GET", scheduler, Some(&reader), "");
    assert_eq!((gone.status, gone.text().as_str()), (403, "ACL token not found"));
    let again = call(&agent, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&management), "");
    assert_eq!((again.status, again.text()), (400, format!("Cannot delete nonexistent tokens: {accessor}")));
    ok(call(&agent, "DELETE", "/v1/acl/policy/dev", Some(&management), ""));
    assert_eq!(call(&agent, "GET", "/v1/acl/policy/dev", Some(&management), "").status, 404);
}

fn create_token_reply(agent: &Agent, management: &str, body: Value) -> Reply {
    let reply = call(agent, "POST", "/v1/acl/token", Some(management), &body.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    reply
}

#[test]
fn secrets_stay_out_of_logs_listings_self_and_query_strings() {
    let (agent, _config) = acl_agent("127.0.0.64", &[]);
    let management = secret(&bootstrap(&agent));
    ok(put_policy(&agent, &management, "ops", r#"operator { policy = "read" }"#));
    let client = secret(&client_token(&agent, &management, "reader", &["ops"]));
    let scheduler = "/v1/operator/scheduler/configuration";

    ok(agent.request("GET", scheduler, &[("Authorization", &format!("Bearer {client}"))], b""));
    let in_query = call(&agent, "GET", &format!("{scheduler}?token={client}"), None, "");
    assert_eq!(in_query.status, 403, "a token in the query string is not read");
    assert_eq!(call(&agent, "GET", &format!("/v1/agent/self?X-Nomad-Token={management}"), None, "").status, 403);
    assert_eq!(call(&agent, "PUT", scheduler, Some(&client), "{}").status, 403);
    assert_eq!(call(&agent, "GET", scheduler, Some(&format!("{client}x")), "").status, 403);

    let self_report = ok(call(&agent, "GET", "/v1/agent/self", Some(&management), "")).text();
    let listing = ok(call(&agent, "GET", "/v1/acl/tokens", Some(&management), "")).text();
    let log = agent.log();
    for secret in [&management, &client] {
        assert!(!self_report.contains(secret.as_str()), "a secret in /v1/agent/self");
        assert!(!listing.contains(secret.as_str()), "a secret in the token listing");
        assert!(!log.contains(secret.as_str()), "a secret in the agent log:\n{log}");
    }
    assert!(log.contains("acl bootstrapped"), "the log is captured:\n{log}");
}

#[test]
fn acl_state_survives_restarts_and_a_snapshot_restore() {
    let (agent, _config) = acl_agent("127.0.0.65", &[]);
    let management = secret(&bootstrap(&agent));
    ok(put_policy(&agent, &management, "ops", r#"operator { policy = "read" }"#));
    let kept = secret(&client_token(&agent, &management, "kept", &["ops"]));
    let scheduler = "/v1/operator/scheduler/configuration";
    ok(call(&agent, "GET", scheduler, Some(&kept), ""));
    // A clean restart and a kill -9: the server comes back as leader from
    // its log and state machine, with the ACL records as they were.
    let agent = agent.halt(libc::SIGTERM).restart();
    ok(call(&agent, "GET", scheduler, Some(&kept), ""));
    let agent = agent.halt(libc::SIGKILL).restart();
    ok(call(&agent, "GET", scheduler, Some(&kept), ""));
    let again = call(&agent, "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(again.status, 400, "the bootstrap marker survives");

    let snapshot = ok(call(&agent, "GET", "/v1/operator/snapshot", Some(&management), ""));
    let accessor_of =
        |secret: &str| ok(call(&agent, "GET", "/v1/acl/token/self", Some(secret), "")).json()["AccessorID"].clone();
    let kept_accessor = accessor_of(&kept);
    ok(call(
        &agent,
        "DELETE",
        &format!("/v1/acl/token/{}", kept_accessor.as_str().expect("accessor")),
        Some(&management),
        "",
    ));
    ok(call(&agent, "DELETE", "/v1/acl/policy/ops", Some(&management), ""));
    let later = secret(&client_token(&agent, &management, "later", &["ops"]));
    assert_eq!(call(&agent, "GET", scheduler, Some(&kept), "").status, 403);

    let restored = agent.request("PUT", "/v1/operator/snapshot", &[("X-Nomad-Token", &management)], &snapshot.body);
    assert_eq!(restored.status, 200, "{}", restored.text());
    ok(call(&agent, "GET", scheduler, Some(&kept), ""));
    assert_eq!(accessor_of(&kept), kept_accessor);
    let unknown = call(&agent, "GET", scheduler, Some(&later), "");
    assert_eq!((unknown.status, unknown.text().as_str()), (403, "ACL token not found"));
    let agent = agent.halt(libc::SIGTERM).restart();
    ok(call(&agent, "GET", scheduler, Some(&kept), ""));
}

#[test]
fn a_custom_acl_plugin_decides_for_client_tokens_and_management_keeps_working() {
    let fixture = keel_tests::fixture_path("acl-never-write");
    let plugin = format!("acl={}", fixture.display());
    let (custom, _config) = acl_agent("127.0.0.66", &["--plugin", &plugin]);
    let (default, _default_config) = acl_agent("127.0.0.67", &[]);
    let scheduler = "/v1/operator/scheduler/configuration";
    let body = json!({"SchedulerAlgorithm": "spread"}).to_string();
    for (agent, write_status) in [(&custom, 403), (&default, 200)] {
        let management = secret(&bootstrap(agent));
        ok(put_policy(agent, &management, "writer", r#"operator { policy = "write" }"#));
        let writer = secret(&client_token(agent, &management, "writer", &["writer"]));
        ok(call(agent, "GET", scheduler, Some(&writer), ""));
        assert_eq!(call(agent, "PUT", scheduler, Some(&writer), &body).status, write_status, "{}", agent.http);
        ok(call(agent, "PUT", scheduler, Some(&management), &body));
    }
    let management = secret(&bootstrap_again_refused(&custom));
    let refused = put_policy(&custom, &management, "namespaced", r#"namespace "x" { policy = "read" }"#);
    assert_eq!(refused.status, 400);
    assert!(refused.text().contains("no agent, node or operator block"), "{}", refused.text());
}

/// The management token of an agent bootstrapped before: a new one from
/// the reset file, proving the bootstrap marker holds.
fn bootstrap_again_refused(agent: &Agent) -> Value {
    let refused = call(agent, "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(refused.status, 400);
    let index = refused.text().rsplit(": ").next().and_then(|n| n.trim_end_matches(')').parse::<u64>().ok());
    std::fs::write(agent.data_dir().join("acl-bootstrap-reset"), index.expect("a reset index").to_string())
        .expect("reset file");
    bootstrap(agent)
}

#[test]
fn the_cli_manages_policies_and_tokens() {
    let (agent, dir) = acl_agent("127.0.0.68", &[]);
    let address = agent.http.clone();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--address", address.as_str()]);
        let output = keel(&all);
        assert!(output.status.success(), "keel {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let bootstrap: Value = serde_json::from_str(&run(&["acl", "bootstrap", "--json"])).expect("JSON");
    let management = secret(&bootstrap);
    let token = ["--token", management.as_str()];
    let rules = write_file(dir.path(), "ops.hcl", r#"operator { policy = "read" }"#);
    let applied =
        run(&[&["acl", "policy", "apply", "ops", rules.as_str(), "--description", "read ops"][..], &token].concat());
    assert_eq!(applied.trim(), r#"Successfully wrote "ops" ACL policy!"#);
    assert!(run(&[&["acl", "policy", "list"][..], &token].concat()).contains("read ops"));
    assert!(run(&[&["acl", "policy", "info", "ops"][..], &token].concat()).contains(r#"operator { policy = "read" }"#));

    let created = run(&[&["acl", "token", "create", "--name", "ci", "--policy", "ops", "--json"][..], &token].concat());
    let created: Value = serde_json::from_str(&created).expect("JSON");
    let accessor = created["AccessorID"].as_str().expect("accessor").to_owned();
    let client = secret(&created);
    let listed = run(&[&["acl", "token", "list"][..], &token].concat());
    assert!(listed.contains(&accessor) && !listed.contains(&client), "{listed}");
    assert!(run(&[&["acl", "token", "info", accessor.as_str()][..], &token].concat()).contains(&client));
    assert!(run(&["acl", "token", "self", "--token", client.as_str()]).contains(&accessor));
    assert!(run(&[&["acl", "token", "delete", accessor.as_str()][..], &token].concat()).contains("deleted"));
    assert!(run(&[&["acl", "policy", "delete", "ops"][..], &token].concat()).contains("deleted"));

    let denied = keel(&["acl", "token", "list", "--address", address.as_str()]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("403"), "{}", String::from_utf8_lossy(&denied.stderr));
}

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn acl_state_survives_a_leader_change_in_a_cluster() {
    let mut cluster = Cluster::builder(&["127.0.0.176", "127.0.0.177", "127.0.0.178"]).acl_enabled(true).launch();
    let leader = cluster.leader();
    let follower = cluster.followers()[0];
    let management = secret(&bootstrap(cluster.agent(follower)));
    ok(put_policy(cluster.agent(follower), &management, "ops", "operator { policy = \"read\" }"));
    let client = client_token(cluster.agent(follower), &management, "ops-reader", &["ops"]);
    let client_secret = secret(&client);
    let scheduler = "/v1/operator/scheduler/configuration";
    ok(call(cluster.agent(follower), "GET", scheduler, Some(&client_secret), ""));

    cluster.kill(leader);
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader, "a survivor took over");
    for server in cluster.running() {
        let agent = cluster.agent(server);
        ok(call(agent, "GET", scheduler, Some(&client_secret), ""));
        let write = call(agent, "PUT", scheduler, Some(&client_secret), r#"{"SchedulerAlgorithm":"spread"}"#);
        assert_eq!(write.status, 403, "operator read does not grant writes: {}", write.text());
        ok(call(agent, "PUT", scheduler, Some(&management), r#"{"SchedulerAlgorithm":"spread"}"#));
        let own = ok(call(agent, "GET", "/v1/acl/token/self", Some(&client_secret), "")).json();
        assert_eq!(own["AccessorID"], client["AccessorID"]);
    }
    let again = call(cluster.agent(new_leader), "POST", "/v1/acl/bootstrap", None, "");
    assert_eq!(again.status, 400, "the new leader knows bootstrap is done: {}", again.text());
}
