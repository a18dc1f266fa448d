//! The parts of a run that talk to the cluster outside the workload:
//! bootstrapping ACLs, reading the register before the clients start, and
//! reading every server's state at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::checker::State;
use super::client::decode;
use super::history::{Marker, Observed};
use crate::cluster::{Cluster, LIVENESS};

/// How long the servers get to agree once the nemesis has stopped:
/// generous, since a restarted server may have a long log to catch up.
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(120);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's policy names and register: cheap to read, enough to tell
/// whether the servers agree before the rules are read one by one.
type Summary = (BTreeSet<String>, (Marker, u64));

/// Waits for a leader, bootstraps ACLs once and answers the management
/// token, once every server knows it.
pub fn bootstrap(cluster: &Cluster) -> String {
    let leader = cluster.wait_for_leader(LIVENESS);
    let reply = cluster.agent(leader).request("POST", "/v1/acl/bootstrap", &[], b"");
    assert_eq!(reply.status, 200, "bootstrap ACLs: {}", reply.text());
    let token = reply.json()["SecretID"].as_str().expect("a bootstrap answer carries a secret").to_owned();
    cluster.wait_until(LIVENESS, "every server to know the management token", || {
        (0..cluster.len()).all(|server| get_json(cluster, server, &token, "/v1/acl/policies?stale").is_some())
    });
    token
}

/// The register's marker and index before any client writes it.
pub fn register(cluster: &Cluster, token: &str) -> (Marker, u64) {
    let leader = cluster.wait_for_leader(LIVENESS);
    cluster.wait_for(LIVENESS, "the scheduler configuration", || {
        let reply = get_json(cluster, leader, token, "/v1/operator/scheduler/configuration")?;
        match decode(&reply["SchedulerConfig"])? {
            Observed::Register { value, modify_index } => Some((value, modify_index)),
            _ => None,
        }
    })
}

/// Waits until every server holds the same policies and register (read
/// with `?stale`) and answers each server's state; when they do not agree
/// within [`CONVERGE_TIMEOUT`], what differed last.
pub fn converge(cluster: &Cluster, token: &str) -> Result<Vec<State>, String> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let summaries: Vec<Option<Summary>> =
            (0..cluster.len()).map(|server| summary(cluster, server, token)).collect();
        if summaries.iter().all(Option::is_some) && summaries.windows(2).all(|pair| pair[0] == pair[1]) {
            let states: Option<Vec<State>> =
                summaries.into_iter().enumerate().map(|(server, s)| full_state(cluster, server, token, s?)).collect();
            if let Some(states) = states {
                return Ok(states);
            }
        } else {
            last = format!(
                "{:?}",
                summaries.iter().map(|s| s.as_ref().map(|(names, reg)| (names.len(), *reg))).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let warnings: String = cluster.running().into_iter().map(|server| warnings_of(cluster, server)).collect();
    Err(format!(
        "servers did not converge in {CONVERGE_TIMEOUT:?}; (policies, register) per server: {last}\n{warnings}"
    ))
}

/// The last warnings and errors a server logged, for a report that must
/// say why it fell behind.
fn warnings_of(cluster: &Cluster, server: usize) -> String {
    let log = cluster.agent(server).log();
    let lines: Vec<&str> = log.lines().filter(|line| line.contains(" WARN ") || line.contains(" ERROR ")).collect();
    let tail = &lines[lines.len().saturating_sub(15)..];
    format!("server {server}'s last warnings and errors:\n  {}\n", tail.join("\n  "))
}

fn summary(cluster: &Cluster, server: usize, token: &str) -> Option<Summary> {
    let list = get_json(cluster, server, token, "/v1/acl/policies?stale")?;
    let names = list.as_array()?.iter().map(|stub| stub["Name"].as_str().map(str::to_owned)).collect::<Option<_>>()?;
    let config = get_json(cluster, server, token, "/v1/operator/scheduler/configuration?stale")?;
    match decode(&config["SchedulerConfig"])? {
        Observed::Register { value, modify_index } => Some((names, (value, modify_index))),
        _ => None,
    }
}

fn full_state(cluster: &Cluster, server: usize, token: &str, (names, register): Summary) -> Option<State> {
    let mut policies = BTreeMap::new();
    for name in names {
        let policy = get_json(cluster, server, token, &format!("/v1/acl/policy/{name}?stale"))?;
        policies.insert(name, policy["Rules"].as_str()?.to_owned());
    }
    Some(State { policies, register })
}

fn get_json(cluster: &Cluster, server: usize, token: &str, path: &str) -> Option<Value> {
    let reply = cluster.agent(server).try_request("GET", path, &[("X-Nomad-Token", token)], b"", CALL_TIMEOUT).ok()?;
    (reply.status == 200).then(|| serde_json::from_slice(&reply.body).ok()).flatten()
}
