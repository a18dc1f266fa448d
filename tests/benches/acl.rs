//! `make bench`, ACL part: what ACL enforcement costs a request, what the
//! first request of a new token costs (its policies are compiled by the ACL
//! plugin), and snapshot save and restore with 100,000 tokens and 1,000
//! policies, and what a shadow ACL plugin adds to the requests whose answer
//! the active plugin computes. Two release `keel agent --dev` processes: ACLs on (127.0.0.91)
//! and off (127.0.0.92), loaded from this process over loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keel_api::acl::{AclPolicy, AclToken, CLIENT, MANAGEMENT};
use keel_state::archive::{self, ArchiveMeta};
use keel_state::{Command, State};
use keel_tests::load::{self, Report, Request, median};
use keel_tests::{Agent, Reply, fixture};
use serde_json::json;

const ACL_ON: &str = "127.0.0.91";
const ACL_OFF: &str = "127.0.0.92";
const SCHEDULER: &str = "/v1/operator/scheduler/configuration";
const NEW_TOKENS: usize = 200;
const SNAPSHOT_TOKENS: usize = 100_000;
const SNAPSHOT_POLICIES: usize = 1_000;
/// How long each load row runs.
const RUN: Duration = Duration::from_secs(4);

/// Loads `request` on the agent at `bind` and checks that every answer was
/// a success.
fn load_at(tokio: &tokio::runtime::Runtime, bind: &str, request: &Request, connections: usize) -> Report {
    let address: SocketAddr = format!("{bind}:4646").parse().expect("an address");
    let report = tokio.block_on(load::run(address, request, connections, RUN));
    assert_eq!(report.errors, 0, "every request to {bind} succeeds");
    report
}

fn with_token(agent: &Agent, method: &str, path: &str, secret: &str, body: &[u8]) -> Reply {
    let reply = agent.request(method, path, &[("X-Nomad-Token", secret)], body);
    assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text());
    reply
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let _off = Agent::start_dev(ACL_OFF, &[]);
    let on = Agent::start_dev(ACL_ON, &["--acl-enabled"]);

    let bootstrap = on.request("POST", "/v1/acl/bootstrap", &[], b"");
    assert_eq!(bootstrap.status, 200, "{}", bootstrap.text());
    let management = bootstrap.json()["SecretID"].as_str().expect("secret").to_owned();
    let policy = json!({"Name": "ops", "Rules": "operator { policy = \"read\" }"}).to_string();
    with_token(&on, "PUT", "/v1/acl/policy/ops", &management, policy.as_bytes());
    let new_token = || {
        let body = json!({"Type": "client", "Policies": ["ops"]}).to_string();
        let reply = with_token(&on, "POST", "/v1/acl/token", &management, body.as_bytes());
        reply.json()["SecretID"].as_str().expect("secret").to_owned()
    };
    let client = new_token();
    with_token(&on, "GET", SCHEDULER, &client, b"");

    let mut rows = Vec::new();
    for connections in [1, 64] {
        let off = load_at(&tokio, ACL_OFF, &Request::get(SCHEDULER), connections);
        let on = load_at(&tokio, ACL_ON, &Request::get(SCHEDULER).header("X-Nomad-Token", &client), connections);
        rows.push((connections, off, on));
    }

    // The first request of a new token compiles its policies; the second
    // finds them cached. Both go over one keep-alive connection.
    let new_token_requests = || {
        let (mut first, mut cached) = (Vec::new(), Vec::new());
        for _ in 0..NEW_TOKENS {
            let secret = new_token();
            for samples in [&mut first, &mut cached] {
                let started = Instant::now();
                with_token(&on, "GET", SCHEDULER, &secret, b"");
                samples.push(started.elapsed());
            }
        }
        (first, cached)
    };
    let (first_samples, cached_samples) = new_token_requests();
    let (first, cached) = (median(first_samples.clone()), median(cached_samples));

    // The same with a shadow ACL plugin: every answer the active plugin
    // computes (a new token's) is also asked of the shadow, beside the request.
    let shadow = json!({"Component": STANDARD.encode(fixture("acl-never-write")), "Mode": "shadow"}).to_string();
    with_token(&on, "PUT", "/v1/operator/plugin/acl", &management, shadow.as_bytes());
    let (shadow_first, _) = new_token_requests();
    let cached_with_shadow = load_at(&tokio, ACL_ON, &Request::get(SCHEDULER).header("X-Nomad-Token", &client), 1);
    with_token(&on, "DELETE", "/v1/operator/plugin/acl", &management, b"");
    let p99 = |mut samples: Vec<Duration>| {
        samples.sort_unstable();
        samples[samples.len() * 99 / 100]
    };

    let (save, restore, size) = snapshot_at_scale(&on, &management);

    println!();
    println!("| GET {SCHEDULER} | conns | req/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (connections, off, on) in &rows {
        for (what, report) in [("ACLs off", off), ("ACLs on, client token (cached)", on)] {
            let [requests_per_s, p50, p99, _] = report.cells();
            println!("| {what} | {connections} | {requests_per_s} | {p50} | {p99} |");
        }
    }
    println!();
    println!("| measure | value | target |");
    println!("| --- | ---: | --- |");
    for (connections, off, on) in &rows {
        let ratio = on.requests_per_s / off.requests_per_s * 100.0;
        println!("| ACLs on / off requests/s at {connections} conns | {ratio:.1} % | >= 95 % |");
    }
    println!("| first request of a new token (median of {NEW_TOKENS}) | {first:.2?} | |");
    println!("| its second request (cached) | {cached:.2?} | |");
    println!("| cost of the compile | {:.2?} | <= 1 ms |", first.saturating_sub(cached));
    let with_shadow = median(shadow_first.clone());
    println!(
        "| first request of a new token, p50 / p99: without a shadow | {first:.2?} / {:.2?} | |",
        p99(first_samples)
    );
    println!(
        "| the same with a shadow ACL plugin | {with_shadow:.2?} / {:.2?} | p50 <= +10 % ({:+.1} %) |",
        p99(shadow_first),
        (with_shadow.as_secs_f64() / first.as_secs_f64() - 1.0) * 100.0
    );
    let [_, p50, p99, _] = cached_with_shadow.cells();
    println!("| cached client token with a shadow, 1 conn, p50 / p99 | {p50} / {p99} | the shadow is not asked |");
    println!(
        "| snapshot save, {SNAPSHOT_TOKENS} tokens, {SNAPSHOT_POLICIES} policies (median of 3) | {save:.2?} | <= 1 s |"
    );
    println!("| snapshot restore, same state (median of 3) | {restore:.2?} | <= 2 s |");
    println!("| snapshot archive size | {:.1} MiB | |", size as f64 / (1024.0 * 1024.0));
}

/// Restores an archive of 100,000 tokens and 1,000 policies through the
/// HTTP API, then saves it back: the medians of three restores and three
/// saves, and the archive size. The state is built here, in the shape the
/// server stores, with the bench's management token kept in it.
fn snapshot_at_scale(agent: &Agent, management: &str) -> (Duration, Duration, usize) {
    let mut state = State::default();
    let policies = (0..SNAPSHOT_POLICIES)
        .map(|n| AclPolicy {
            name: format!("policy-{n}"),
            description: format!("policy number {n}"),
            rules: format!("namespace \"team-{n}\" {{ policy = \"write\" }}\noperator {{ policy = \"read\" }}"),
            ..AclPolicy::default()
        })
        .collect();
    state.apply(2, Command::UpsertAclPolicies { policies });
    let mut tokens: Vec<AclToken> = (0..SNAPSHOT_TOKENS)
        .map(|n| AclToken {
            accessor_id: uuid_like(n as u64, 1),
            secret_id: uuid_like(n as u64, 2),
            name: format!("token-{n}"),
            token_type: CLIENT.into(),
            policies: vec![format!("policy-{}", n % SNAPSHOT_POLICIES)],
            create_time: 1_764_000_000_000,
            ..AclToken::default()
        })
        .collect();
    tokens.push(AclToken {
        accessor_id: uuid_like(u64::MAX, 1),
        secret_id: management.to_owned(),
        name: "bench management".into(),
        token_type: MANAGEMENT.into(),
        ..AclToken::default()
    });
    state.apply(3, Command::UpsertAclTokens { tokens });
    let state_bytes = serde_json::to_vec(&state).expect("the state serializes");
    let meta = ArchiveMeta::new("bench", 3, 1, Vec::new(), 1_764_000_000_000);
    let built = archive::write(&meta, &state_bytes);

    let restores: Vec<Duration> = (0..3)
        .map(|_| {
            let started = Instant::now();
            with_token(agent, "PUT", "/v1/operator/snapshot", management, &built);
            started.elapsed()
        })
        .collect();
    let listed = with_token(agent, "GET", "/v1/acl/tokens", management, b"").json();
    assert_eq!(listed.as_array().map(Vec::len), Some(SNAPSHOT_TOKENS + 1), "the restored state has every token");
    let saves: Vec<(Duration, usize)> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let reply = with_token(agent, "GET", "/v1/operator/snapshot", management, b"");
            (started.elapsed(), reply.body.len())
        })
        .collect();
    let size = saves[0].1;
    (median(saves.into_iter().map(|(d, _)| d).collect()), median(restores), size)
}

/// A UUID-shaped identifier that differs for each `n` and `kind`.
fn uuid_like(n: u64, kind: u64) -> String {
    let hex = format!("{:016x}{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15), kind ^ n);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
