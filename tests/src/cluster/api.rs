//! The cluster endpoints the tests read and write, as typed values.
//!
//! Reads ask for `?stale`, so each server answers from its own state: what
//! a test compares is what every server knows, not what the leader says.
//! Every call here tolerates a server that does not answer (stopped,
//! paused, restarting, without a leader): reads give `None`, writes an
//! error, and the caller's wait tries again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{Agent, Reply};

/// How long one call may take before it counts as unanswered. Longer than
/// a server's own write timeout, so a write the server gives up on is
/// reported as the server's error, not ours.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends a request; `None` when the server does not answer in time.
pub fn call(agent: &Agent, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
    agent.try_request(method, path, &[], body, CALL_TIMEOUT).ok()
}

/// The JSON body of a 200 answer to `GET path`.
fn read_json(agent: &Agent, path: &str) -> Option<Value> {
    call(agent, "GET", path, &[]).filter(|reply| reply.status == 200).map(|reply| reply.json())
}

/// The leader's Raft address as `server` knows it (`/v1/status/leader`),
/// `None` when it knows none or does not answer.
pub fn leader_address(agent: &Agent) -> Option<String> {
    let leader = read_json(agent, "/v1/status/leader")?;
    leader.as_str().filter(|address| !address.is_empty()).map(str::to_owned)
}

/// One server in a Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftServer {
    pub id: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
}

/// The Raft configuration as this server knows it, sorted by address.
pub fn raft_configuration(agent: &Agent) -> Option<Vec<RaftServer>> {
    let configuration = read_json(agent, "/v1/operator/raft/configuration?stale")?;
    let mut servers: Vec<RaftServer> = configuration["Servers"]
        .as_array()?
        .iter()
        .map(|server| RaftServer {
            id: server["ID"].as_str().unwrap_or_default().to_owned(),
            address: server["Address"].as_str().unwrap_or_default().to_owned(),
            leader: server["Leader"] == true,
            voter: server["Voter"] == true,
        })
        .collect();
    servers.sort_by(|a, b| a.address.cmp(&b.address));
    Some(servers)
}

/// Whether the server at Raft address `address` is in this server's Raft
/// configuration, and if so whether it votes.
pub fn suffrage_of(agent: &Agent, address: &str) -> Option<Suffrage> {
    let configuration = raft_configuration(agent)?;
    Some(match configuration.iter().find(|server| server.address == address) {
        None => Suffrage::Absent,
        Some(server) if server.voter => Suffrage::Voter,
        Some(_) => Suffrage::Nonvoter,
    })
}

/// A server's place in a Raft configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffrage {
    Voter,
    Nonvoter,
    Absent,
}

/// One gossip member as `/v1/agent/members` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub addr: String,
    pub status: String,
    /// The raft ID from the member's tags.
    pub raft_id: String,
}

/// The gossip members this server knows.
pub fn members(agent: &Agent) -> Option<Vec<Member>> {
    let members = read_json(agent, "/v1/agent/members")?;
    let members = members["Members"]
        .as_array()?
        .iter()
        .map(|member| Member {
            name: member["Name"].as_str().unwrap_or_default().to_owned(),
            addr: member["Addr"].as_str().unwrap_or_default().to_owned(),
            status: member["Status"].as_str().unwrap_or_default().to_owned(),
            raft_id: member["Tags"]["id"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    Some(members)
}

/// The gossip status (`alive`, `left`, `failed`, ...) this server shows for
/// member `name`; `None` when it does not answer or does not know the member.
pub fn member_status(agent: &Agent, name: &str) -> Option<String> {
    members(agent)?.into_iter().find(|member| member.name == name).map(|member| member.status)
}

/// The part of the scheduler configuration tests write and read back to
/// follow replicated state. A `PUT` replaces the whole configuration, so
/// what was written is exactly what is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduling {
    pub algorithm: &'static str,
    pub memory_oversubscription: bool,
}

impl Scheduling {
    pub const SPREAD: Self = Self { algorithm: "spread", memory_oversubscription: false };
    pub const BINPACK_OVERSUBSCRIBED: Self = Self { algorithm: "binpack", memory_oversubscription: true };

    /// The `n`-th of a sequence in which each value differs from the one
    /// before, so that a read tells two consecutive writes apart.
    pub fn nth(n: u64) -> Self {
        Self { algorithm: if n.is_multiple_of(2) { "spread" } else { "binpack" }, memory_oversubscription: n % 4 >= 2 }
    }

    /// Writes this configuration through `agent`; the Raft index it was
    /// applied at when the answer is 200, else what went wrong.
    pub fn write(self, agent: &Agent) -> Result<u64, String> {
        let body = json!({
            "SchedulerAlgorithm": self.algorithm,
            "MemoryOversubscriptionEnabled": self.memory_oversubscription,
            "PreemptionConfig": {"SystemSchedulerEnabled": true},
        });
        let path = "/v1/operator/scheduler/configuration";
        let reply = agent
            .try_request("PUT", path, &[], body.to_string().as_bytes(), CALL_TIMEOUT)
            .map_err(|error| format!("PUT {path}: {error}"))?;
        if reply.status != 200 {
            return Err(format!("PUT {path}: {} {}", reply.status, reply.text()));
        }
        reply.json()["Index"].as_u64().ok_or_else(|| format!("PUT {path}: no index in {}", reply.text()))
    }

    /// Writes this configuration through `agent` and panics unless it is
    /// acknowledged; answers the index.
    pub fn write_acknowledged(self, agent: &Agent) -> u64 {
        self.write(agent).unwrap_or_else(|error| panic!("write {self:?}: {error}\n{}", agent.log()))
    }

    /// The configuration as this server has applied it, with its
    /// `ModifyIndex`.
    pub fn read_stale(agent: &Agent) -> Option<(Self, u64)> {
        let reply = read_json(agent, "/v1/operator/scheduler/configuration?stale")?;
        let config = &reply["SchedulerConfig"];
        let algorithm = match config["SchedulerAlgorithm"].as_str()? {
            "spread" => "spread",
            "binpack" => "binpack",
            _ => return None,
        };
        let memory_oversubscription = config["MemoryOversubscriptionEnabled"].as_bool()?;
        Some((Self { algorithm, memory_oversubscription }, config["ModifyIndex"].as_u64()?))
    }
}
