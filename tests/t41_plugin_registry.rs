//! The plugin registry as cluster state: a plugin installed through any
//! server enforces on every server from one Raft index, survives a server
//! that was down, rolls back, is undone by restoring an older snapshot, and
//! every refused install names its reason and changes nothing.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keel_tests::calls::{call, digest, ok};
use keel_tests::cluster::Cluster;
use keel_tests::fault::bootstrap;
use keel_tests::{Agent, Reply, fixture, fixture_path, keel, plugin};
use serde_json::{Value, json};

const LIVENESS: Duration = Duration::from_secs(60);
const SCHEDULER: &str = "/v1/operator/scheduler/configuration";

fn install_body(component: &[u8], extra: Value) -> String {
    let mut body = json!({"Component": STANDARD.encode(component)});
    body.as_object_mut().expect("an object").extend(extra.as_object().expect("an object").clone());
    body.to_string()
}

/// The ACL plugin each running server reports active: (digest, index).
fn acl_everywhere(cluster: &Cluster, token: &str) -> Vec<(String, u64)> {
    cluster
        .running()
        .into_iter()
        .filter_map(|server| {
            let reply = call(cluster.agent(server), "GET", "/v1/agent/plugins", token, "");
            let plugins = (reply.status == 200).then(|| reply.json())?;
            let acl = plugins.as_array()?.iter().find(|p| p["Kind"] == "acl")?.clone();
            Some((acl["Digest"].as_str()?.to_owned(), acl["ActiveIndex"].as_u64()?))
        })
        .collect()
}

fn wait_acl_everywhere(cluster: &Cluster, token: &str, expected: &(String, u64)) {
    let count = cluster.running().len();
    cluster.wait_until(LIVENESS, "every server to report the ACL plugin", || {
        let seen = acl_everywhere(cluster, token);
        seen.len() == count && seen.iter().all(|reported| reported == expected)
    });
}

/// Whether `server` itself refuses a client token's agent write: agent
/// routes are decided by the server that receives them, never forwarded.
fn refuses_agent_write(cluster: &Cluster, server: usize, client: &str) -> bool {
    let path = "/v1/agent/servers?address=127.0.0.1:4647";
    call(cluster.agent(server), "PUT", path, client, "").status == 403
}

/// The status a client token's scheduler write gets through `server`
/// (decided by the leader, to which a follower relays it).
fn client_write(cluster: &Cluster, server: usize, client: &str) -> u16 {
    let body = json!({"SchedulerAlgorithm": "spread"}).to_string();
    call(cluster.agent(server), "PUT", SCHEDULER, client, &body).status
}

#[test]
fn an_installed_acl_plugin_enforces_on_every_server_rolls_back_and_follows_restores() {
    // A snapshot every 10 entries with no trailing log: a server that was
    // down for a few dozen entries can only catch up by InstallSnapshot.
    let mut cluster =
        Cluster::builder(&["127.0.0.51", "127.0.0.52", "127.0.0.53"]).acl_enabled(true).raft(1, 10, 0).launch();
    let management = bootstrap(&cluster);
    let leader = cluster.wait_for_leader(LIVENESS);
    let rules =
        json!({"Name": "writer", "Rules": "operator { policy = \"write\" }\nagent { policy = \"write\" }"}).to_string();
    ok(call(cluster.agent(leader), "PUT", "/v1/acl/policy/writer", &management, &rules));
    let token = json!({"Name": "writer", "Type": "client", "Policies": ["writer"]}).to_string();
    let client = ok(call(cluster.agent(leader), "POST", "/v1/acl/token", &management, &token)).json()["SecretID"]
        .as_str()
        .expect("a secret")
        .to_owned();
    for server in 0..3 {
        cluster.wait_until(LIVENESS, "the client token to write", || client_write(&cluster, server, &client) == 200);
    }
    let before_install =
        cluster.agent(leader).request("GET", "/v1/operator/snapshot", &[("X-Nomad-Token", &management)], b"");
    assert_eq!(before_install.status, 200);
    let embedded = acl_everywhere(&cluster, &management)[0].clone();

    // The third server is down while the plugin is installed through a follower.
    let down = (0..3).find(|&s| s != leader).expect("a follower");
    cluster.stop(down);
    let follower = (0..3).find(|&s| s != leader && s != down).expect("another follower");
    let never_write = fixture("acl-never-write");
    let installed = ok(call(
        cluster.agent(follower),
        "PUT",
        "/v1/operator/plugin/acl",
        &management,
        &install_body(&never_write, json!({})),
    ))
    .json();
    assert_eq!(installed["Digest"], digest(&never_write));
    assert_eq!(installed["Name"], "fixture-acl-never-write");
    let index = installed["Index"].as_u64().expect("an index");
    let active = (digest(&never_write), index);
    wait_acl_everywhere(&cluster, &management, &active);
    for server in cluster.running() {
        assert_eq!(client_write(&cluster, server, &client), 403, "server {server} still lets the client write");
        assert!(refuses_agent_write(&cluster, server, &client), "server {server} does not enforce the plugin itself");
        let binpack = json!({"SchedulerAlgorithm": "binpack"}).to_string();
        ok(call(cluster.agent(server), "PUT", SCHEDULER, &management, &binpack));
    }

    // Enough entries for the leader to snapshot and drop its log; then the
    // server that was down catches up from a snapshot and enforces the same
    // plugin.
    for n in 0..30_u32 {
        let algorithm = if n.is_multiple_of(2) { "spread" } else { "binpack" };
        let body = json!({"SchedulerAlgorithm": algorithm}).to_string();
        ok(call(cluster.agent(follower), "PUT", SCHEDULER, &management, &body));
    }
    cluster.restart(down);
    wait_acl_everywhere(&cluster, &management, &active);
    assert!(refuses_agent_write(&cluster, down, &client));
    let log = cluster.agent(down).log();
    assert!(log.contains("installed a snapshot sent by the leader"), "no snapshot was installed:\n{log}");

    // A server killed with SIGKILL comes back enforcing it from the start.
    cluster.kill(follower);
    cluster.restart(follower);
    wait_acl_everywhere(&cluster, &management, &active);
    assert!(refuses_agent_write(&cluster, follower, &client));

    let status = ok(call(cluster.agent(down), "GET", "/v1/operator/plugin/acl", &management, "")).json();
    assert_eq!((status["Source"].clone(), status["Digest"].clone()), (json!("installed"), json!(active.0)), "{status}");
    let servers = status["Servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 3, "{status}");
    assert!(
        servers.iter().all(|s| s["Active"]["Digest"] == active.0 && s["Active"]["ActiveIndex"] == index),
        "{status}"
    );

    // The CLI lists and shows it.
    let address = cluster.agent(leader).http.clone();
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--address", &address, "--token", &management]);
        let output = keel(&all);
        assert!(output.status.success(), "keel {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let listed = cli(&["plugin", "list"]);
    assert!(listed.contains("fixture-acl-never-write") && listed.contains(&active.0[..12]), "{listed}");
    let shown = cli(&["plugin", "status", "acl"]);
    for server in 0..3 {
        assert!(shown.contains(&cluster.node_name(server)), "{shown}");
    }

    // Rollback: each server's own plugin again, everywhere.
    let rolled = cli(&["plugin", "rollback", "acl"]);
    let rollback_index: u64 = rolled.trim().rsplit(' ').next().and_then(|n| n.parse().ok()).expect(&rolled);
    wait_acl_everywhere(&cluster, &management, &(embedded.0.clone(), rollback_index));
    for server in 0..3 {
        assert!(!refuses_agent_write(&cluster, server, &client), "server {server} still refuses");
        assert_eq!(client_write(&cluster, server, &client), 200);
    }
    let listing = ok(call(cluster.agent(leader), "GET", "/v1/operator/plugins", &management, "")).json();
    let acl = &listing.as_array().expect("entries")[0];
    assert_eq!((acl["Kind"].clone(), acl["Source"].clone()), (json!("acl"), json!("server")), "{listing}");
    assert_eq!(acl["History"][0]["Digest"], active.0, "{listing}");

    // Installed again, then undone by restoring the snapshot from before.
    ok(call(
        cluster.agent(leader),
        "PUT",
        "/v1/operator/plugin/acl",
        &management,
        &install_body(&never_write, json!({})),
    ));
    cluster.wait_until(LIVENESS, "the client to be refused again", || client_write(&cluster, leader, &client) == 403);
    let restored = cluster.agent(leader).request(
        "PUT",
        "/v1/operator/snapshot",
        &[("X-Nomad-Token", &management)],
        &before_install.body,
    );
    assert_eq!(restored.status, 200, "{}", restored.text());
    cluster.wait_until(LIVENESS, "the restored state's plugin on every server", || {
        (0..3).all(|server| !refuses_agent_write(&cluster, server, &client))
    });
    assert!(acl_everywhere(&cluster, &management).iter().all(|(digest, _)| *digest == embedded.0));
}

/// A dev agent trusting one key, with a copy of `component` and its
/// signature in a scratch directory.
struct Trusting {
    agent: Agent,
    dir: tempfile::TempDir,
    signatures: std::cell::Cell<usize>,
}

fn trusting_agent(bind: &str) -> Trusting {
    let dir = tempfile::tempdir().expect("a scratch dir");
    let prefix = dir.path().join("signer");
    let output = keel(&["plugin", "keygen", "--out", prefix.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let public = std::fs::read_to_string(dir.path().join("signer.pub")).expect("the public key");
    let config = dir.path().join("trust.hcl");
    std::fs::write(&config, format!("plugin_trust {{\n  keys = [\"{}\"]\n}}\n", public.trim())).expect("config");
    let agent = Agent::start_dev(bind, &["--config", config.to_str().expect("utf-8")]);
    Trusting { agent, dir, signatures: std::cell::Cell::new(0) }
}

impl Trusting {
    /// Signs `component` as a `kind` plugin with the trusted key, through the CLI.
    fn sign(&self, kind: &str, component: &[u8]) -> String {
        let file = self.dir.path().join(format!("{kind}-{}-{}.wasm", &digest(component)[..16], self.signed()));
        std::fs::write(&file, component).expect("component copy");
        let key = self.dir.path().join("signer.key");
        let output = keel(&["plugin", "sign", "--key", path(&key), "--kind", kind, path(&file)]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let signature = std::fs::read_to_string(format!("{}.sig", file.display())).expect("the signature");
        signature.trim().to_owned()
    }

    /// A number for each signature made, so that no two share a file.
    fn signed(&self) -> usize {
        self.signatures.set(self.signatures.get() + 1);
        self.signatures.get()
    }

    fn install(&self, kind: &str, body: String) -> Reply {
        self.agent.put(&format!("/v1/operator/plugin/{kind}"), body)
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn refused_installs_name_their_reason_and_change_nothing() {
    let trusting = trusting_agent("127.0.0.54");
    let acl_nomad = plugin("acl-nomad");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let by_stranger = {
        use ed25519_dalek::Signer as _;
        let message = format!("keel-plugin-v1\nacl\n{}", digest(&acl_nomad));
        STANDARD.encode(stranger.sign(message.as_bytes()).to_bytes())
    };
    let mut tampered = acl_nomad.clone();
    *tampered.last_mut().expect("bytes") ^= 1;
    let not_a_component = b"not a component".to_vec();
    let license = plugin("license-ed25519");
    let panics = fixture("panic");
    let forbidden = std::fs::read(fixture_path("forbidden-import")).expect("fixture");
    let cases: Vec<(&str, String, &str)> = vec![
        ("acl", json!({"Component": "%%%"}).to_string(), "Component is not valid base64"),
        ("acl", install_body(&acl_nomad, json!({})), "not signed"),
        ("acl", install_body(&acl_nomad, json!({"Signature": by_stranger})), "not by a trusted key"),
        (
            "acl",
            install_body(&tampered, json!({"Signature": trusting.sign("acl", &acl_nomad)})),
            "not by a trusted key",
        ),
        ("widget", install_body(&acl_nomad, json!({})), "unknown plugin kind \"widget\""),
        (
            "acl",
            install_body(&not_a_component, json!({"Signature": trusting.sign("acl", &not_a_component)})),
            "not a WebAssembly component",
        ),
        ("acl", install_body(&license, json!({"Signature": trusting.sign("acl", &license)})), "acl-policy"),
        (
            "license",
            install_body(&forbidden, json!({"Signature": trusting.sign("license", &forbidden)})),
            "forbidden-import/sockets",
        ),
        (
            "acl",
            install_body(
                &acl_nomad,
                json!({"Signature": trusting.sign("acl", &acl_nomad), "Settings": {"colour": "blue"}}),
            ),
            "colour",
        ),
        (
            "autopilot",
            install_body(&panics, json!({"Signature": trusting.sign("autopilot", &panics)})),
            "conformance smoke case",
        ),
        (
            "acl",
            install_body(&acl_nomad, json!({"Signature": trusting.sign("acl", &acl_nomad), "Mode": "sideways"})),
            "Mode must be",
        ),
        (
            "acl",
            install_body(&acl_nomad, json!({"Signature": trusting.sign("acl", &acl_nomad), "Bogus": 1})),
            "Error parsing plugin install",
        ),
    ];
    let before = trusting.agent.get("/v1/operator/plugins").json();
    for (kind, body, reason) in cases {
        let reply = trusting.install(kind, body);
        assert_eq!(reply.status, 400, "{kind} {reason}: {}", reply.text());
        assert!(reply.text().contains(reason), "expected {reason:?}: {}", reply.text());
    }
    assert_eq!(trusting.agent.get("/v1/operator/plugins").json(), before, "a refusal changed the registry");
    let own = trusting.agent.get("/v1/agent/plugins").json();
    assert!(own.as_array().expect("plugins").iter().all(|p| p["Source"] == "embedded"), "{own}");

    // Signed by the trusted key, through the CLI: installed, its signer named.
    let copy = trusting.dir.path().join("acl-nomad.wasm");
    std::fs::write(&copy, &acl_nomad).expect("copy");
    let key = trusting.dir.path().join("signer.key");
    let output =
        keel(&["plugin", "install", "acl", path(&copy), "--sign-key", path(&key), "--address", &trusting.agent.http]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Installed acl-nomad"), "{output:?}");
    let listed = trusting.agent.get("/v1/operator/plugins").json();
    let acl = &listed[0];
    assert_eq!(
        (acl["Source"].clone(), acl["Digest"].clone()),
        (json!("installed"), json!(digest(&acl_nomad))),
        "{listed}"
    );
    assert!(acl["Signer"].as_str().is_some_and(|id| id.len() == 16), "{listed}");
    let refused = keel(&["plugin", "promote", "acl", "--address", &trusting.agent.http]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no shadow plugin"), "{refused:?}");
}
