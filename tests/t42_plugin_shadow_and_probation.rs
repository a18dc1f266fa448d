//! What a plugin may do before and after it enforces: a shadow is asked
//! the same questions as the active plugin and only compared; a plugin on
//! probation that faults is rolled back by the leader on every server; and
//! an enterprise feature is switched on and off by the plugins a running
//! cluster has installed.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keel_tests::calls::{call, digest, ok};
use keel_tests::cluster::Cluster;
use keel_tests::fault::bootstrap;
use keel_tests::{Agent, fixture, keel, plugin};
use serde_json::{Value, json};

const LIVENESS: Duration = Duration::from_secs(60);
const SCHEDULER: &str = "/v1/operator/scheduler/configuration";
const HEALTH: &str = "/v1/operator/autopilot/health";

fn install(agent: &Agent, kind: &str, token: &str, component: &[u8], extra: Value) -> Value {
    let mut body = json!({"Component": STANDARD.encode(component)});
    body.as_object_mut().expect("an object").extend(extra.as_object().expect("an object").clone());
    ok(call(agent, "PUT", &format!("/v1/operator/plugin/{kind}"), token, &body.to_string())).json()
}

/// One kind's plugin as `server` reports it on `/v1/agent/plugins`.
fn agent_plugin(cluster: &Cluster, server: usize, kind: &str, token: &str) -> Option<Value> {
    let reply = call(cluster.agent(server), "GET", "/v1/agent/plugins", token, "");
    (reply.status == 200).then(|| reply.json())?.as_array()?.iter().find(|p| p["Kind"] == kind).cloned()
}

/// One kind's entry in `GET /v1/operator/plugins`, read through `server`.
fn listed(cluster: &Cluster, server: usize, kind: &str, token: &str) -> Value {
    let plugins = ok(call(cluster.agent(server), "GET", "/v1/operator/plugins", token, "")).json();
    plugins.as_array().and_then(|all| all.iter().find(|p| p["Kind"] == kind).cloned()).expect("every kind is listed")
}

fn client_write(cluster: &Cluster, server: usize, token: &str) -> u16 {
    let body = json!({"SchedulerAlgorithm": "spread"}).to_string();
    call(cluster.agent(server), "PUT", SCHEDULER, token, &body).status
}

/// A client token whose policy grants operator writes.
fn operator_writer(cluster: &Cluster, management: &str) -> String {
    let leader = cluster.agent(cluster.wait_for_leader(LIVENESS));
    let policy = json!({"Name": "ops", "Rules": "operator { policy = \"write\" }"}).to_string();
    ok(call(leader, "PUT", "/v1/acl/policy/ops", management, &policy));
    let token = json!({"Name": "ops", "Type": "client", "Policies": ["ops"]}).to_string();
    let created = ok(call(leader, "PUT", "/v1/acl/token", management, &token)).json();
    created["SecretID"].as_str().expect("a secret").to_owned()
}

#[test]
fn a_shadow_acl_plugin_is_compared_and_counted_never_enforced_until_promoted() {
    let cluster = Cluster::builder(&["127.0.0.71", "127.0.0.72", "127.0.0.73"]).acl_enabled(true).launch();
    let management = bootstrap(&cluster);
    let client = operator_writer(&cluster, &management);
    let follower = cluster.followers()[0];
    let shadow = fixture("acl-never-write");

    let installed = install(cluster.agent(follower), "acl", &management, &shadow, json!({"Mode": "shadow"}));
    assert_eq!((installed["Mode"].as_str(), installed["Digest"].as_str()), (Some("shadow"), Some(&*digest(&shadow))));
    let entry = listed(&cluster, follower, "acl", &management);
    assert_eq!(entry["Source"], "server", "a shadow alone changes nothing that enforces: {entry}");
    assert_eq!(entry["Shadow"]["Digest"], digest(&shadow), "{entry}");
    cluster.wait_until(LIVENESS, "every server to load the shadow", || {
        cluster.running().into_iter().all(|server| {
            agent_plugin(&cluster, server, "acl", &management)
                .is_some_and(|acl| acl["Shadow"]["Digest"] == digest(&shadow) && acl["Name"] == "acl-nomad")
        })
    });

    // The active plugin allows the write; the shadow would not have.
    for server in cluster.running() {
        assert_eq!(client_write(&cluster, server, &client), 200, "through server {server}");
    }
    let leader = cluster.wait_for_leader(LIVENESS);
    let disagreements = cluster.wait_for(LIVENESS, "the leader to record the disagreement", || {
        let acl = agent_plugin(&cluster, leader, "acl", &management)?;
        (acl["Shadow"]["Disagreements"].as_u64()? >= 1).then(|| acl["Shadow"].clone())
    });
    let last = &disagreements["RecentDisagreements"][0];
    assert_eq!((last["Active"].as_str(), last["Shadow"].as_str()), (Some("true"), Some("false")), "{disagreements}");
    assert!(
        last["Input"].as_str().is_some_and(|input| input.contains("[ops]") && input.contains("Operator")),
        "{last}"
    );
    assert_eq!(disagreements["Faults"], 0, "{disagreements}");

    let status = ok(call(cluster.agent(follower), "GET", "/v1/operator/plugin/acl", &management, ""));
    assert!(!status.text().contains(&client) && !status.text().contains(&management), "no secret in the status");
    let servers = status.json()["Servers"].as_array().cloned().expect("servers");
    assert_eq!(servers.len(), 3);
    assert!(servers.iter().all(|s| s["Active"]["Shadow"]["Digest"] == digest(&shadow)), "{servers:?}");
    let shown = keel(&["plugin", "status", "acl", "--address", &cluster.agent(follower).http, "--token", &management]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("Disagreements") && shown.contains("[ops]"), "{shown}");

    let promoted =
        keel(&["plugin", "promote", "acl", "--address", &cluster.agent(follower).http, "--token", &management]);
    assert!(promoted.status.success(), "{promoted:?}");
    for server in cluster.running() {
        assert_eq!(client_write(&cluster, server, &client), 403, "the promoted plugin enforces through {server}");
    }
    let entry = listed(&cluster, follower, "acl", &management);
    assert_eq!((entry["Source"].as_str(), entry["Shadow"].is_null()), (Some("installed"), true), "{entry}");
    assert_eq!(entry["Digest"], digest(&shadow));
    assert_eq!(client_write(&cluster, leader, &management), 200, "management still writes");
}

#[test]
fn a_plugin_that_faults_on_probation_is_rolled_back_on_every_server() {
    let cluster = Cluster::builder(&["127.0.0.74", "127.0.0.75", "127.0.0.76"])
        .config("plugin_probation {\n  time = \"5m\"\n  faults = 2\n}\n")
        .start();
    let follower = cluster.followers()[0];
    let faulty = fixture("autopilot-faults-later");
    // It answers the install's smoke case, then traps on every other call.
    let installed = install(cluster.agent(follower), "autopilot", "", &faulty, json!({"Settings": {"answers": "1"}}));
    let install_index = installed["Index"].as_u64().expect("an index");

    let entry = cluster.wait_for(LIVENESS, "the leader to roll the faulting plugin back", || {
        let entry = listed(&cluster, follower, "autopilot", "");
        entry["RolledBack"].is_object().then_some(entry)
    });
    let rollback = &entry["RolledBack"];
    assert_eq!(rollback["Digest"], digest(&faulty), "{entry}");
    assert!(rollback["Index"].as_u64().is_some_and(|index| index > install_index), "{entry}");
    assert!(rollback["Reason"].as_str().is_some_and(|r| r.contains("faults on the leader")), "{entry}");
    assert_eq!(entry["Source"], "server", "back to each server's own plugin: {entry}");
    assert_eq!(entry["History"][0]["Digest"], digest(&faulty), "kept for an operator's rollback: {entry}");
    cluster.wait_until(LIVENESS, "every server to run its own autopilot plugin again", || {
        cluster.running().into_iter().all(|server| {
            agent_plugin(&cluster, server, "autopilot", "").is_some_and(|p| p["Name"] == "autopilot-default")
        })
    });
    cluster.hold_for(Duration::from_secs(3), "the rolled back plugin to stay out", || {
        listed(&cluster, follower, "autopilot", "")["Source"] == "server"
    });
    let leader = cluster.wait_for_leader(LIVENESS);
    let health = ok(call(cluster.agent(leader), "GET", HEALTH, "", "")).json();
    assert_eq!(health["Healthy"], true, "{health}");
}

#[test]
fn redundancy_zones_come_with_the_plugins_and_the_license_and_go_with_them() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let issuer = dir.path().join("issuer");
    let issuer_arg = issuer.to_str().expect("a utf-8 path");
    assert!(keel(&["license", "keygen", "--out", issuer_arg]).status.success());
    let public_key = std::fs::read_to_string(dir.path().join("issuer.pub")).expect("keygen wrote issuer.pub");
    let key_file = dir.path().join("issuer.key");
    let license = keel(&[
        "license",
        "sign",
        "--key",
        key_file.to_str().expect("a utf-8 path"),
        "--customer",
        "acme",
        "--expires",
        "720h",
        "--feature",
        "Redundancy Zones",
        "--license-id",
        "lic-zones",
    ]);
    assert!(license.status.success(), "{license:?}");
    let license = String::from_utf8(license.stdout).expect("a text license");

    let ips = ["127.0.0.81", "127.0.0.82", "127.0.0.83"];
    let mut builder = Cluster::builder(&ips);
    for server in 0..ips.len() {
        builder = builder.server_config(server, &format!("server {{\n  redundancy_zone = \"zone-{server}\"\n}}\n"));
    }
    let cluster = builder.start();
    let follower = cluster.agent(cluster.followers()[0]);
    let zones = || {
        let leader = cluster.agent(cluster.wait_for_leader(LIVENESS));
        let health = ok(call(leader, "GET", HEALTH, "", "")).json();
        let zones = health["RedundancyZones"].as_object().map(|zones| zones.keys().cloned().collect::<Vec<_>>());
        (health["Healthy"] == true, zones.unwrap_or_default())
    };
    assert_eq!(zones(), (true, vec![]), "no zones without the feature");

    let settings = json!({"Settings": {"public_key": public_key.trim()}});
    install(follower, "license", "", &plugin("license-ed25519"), settings);
    ok(call(follower, "PUT", "/v1/operator/license", "", license.trim()));
    let settings = json!({"Settings": {"enable_redundancy_zones": "true"}});
    install(follower, "autopilot", "", &plugin("autopilot-default"), settings);
    let expected: Vec<String> = (0..ips.len()).map(|server| format!("zone-{server}")).collect();
    cluster.wait_until(LIVENESS, "the health report to show the zones", || zones() == (true, expected.clone()));

    // Without the plugin that trusts the issuer, the license grants nothing.
    ok(call(follower, "DELETE", "/v1/operator/plugin/license", "", ""));
    cluster.wait_until(LIVENESS, "the zones to disappear", || zones() == (true, vec![]));
    for server in cluster.running() {
        assert_eq!(cluster.agent(server).request("GET", "/v1/agent/health", &[], b"").status, 200);
    }
}
