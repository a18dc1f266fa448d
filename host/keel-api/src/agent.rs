//! `/v1/agent/...` shapes: members, join, health.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A gossip member's status, as Serf names them.
pub const MEMBER_STATUSES: [&str; 4] = ["alive", "leaving", "left", "failed"];

/// One member of the gossip pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Member {
    /// `<node>.<region>`.
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: String,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

impl Member {
    /// A member as Serf reports one, with the protocol and delegate
    /// versions Nomad's agents speak.
    pub fn new(name: String, addr: String, port: u16, tags: BTreeMap<String, String>, status: String) -> Self {
        Self {
            name,
            addr,
            port,
            tags,
            status,
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }
}

/// `GET /v1/agent/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MembersResponse {
    pub server_name: String,
    pub server_region: String,
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    pub members: Vec<Member>,
}

/// `PUT/POST /v1/agent/join`: always a 200, with what went wrong in `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    pub num_joined: usize,
    pub error: String,
}

/// One part of `GET /v1/agent/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthOfPart {
    pub ok: bool,
    pub message: String,
}

/// `GET /v1/agent/health`: 500 when any part present is not ok.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHealth {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<HealthOfPart>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<HealthOfPart>,
}

impl AgentHealth {
    pub fn healthy(&self) -> bool {
        [&self.client, &self.server].into_iter().flatten().all(|part| part.ok)
    }
}
