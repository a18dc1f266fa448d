//! `/v1/nodes` and `/v1/node/:id` shapes: the client nodes servers place
//! work on, as Nomad's `api.Node` and `api.NodeListStub` spell them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A node's status, as Nomad names them.
pub mod status {
    pub const INITIALIZING: &str = "initializing";
    pub const READY: &str = "ready";
    pub const DOWN: &str = "down";
    pub const DISCONNECTED: &str = "disconnected";
}

/// Whether the scheduler may place new work on a node.
pub mod eligibility {
    pub const ELIGIBLE: &str = "eligible";
    pub const INELIGIBLE: &str = "ineligible";
}

/// One client node. `SecretID` authenticates the node's own client to the
/// servers; the API never shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    pub name: String,
    pub datacenter: String,
    pub node_class: String,
    pub node_pool: String,
    /// `ip:port` of the client's HTTP API.
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub node_resources: NodeResources,
    pub reserved_resources: NodeReservedResources,
    pub drivers: BTreeMap<String, DriverInfo>,
    pub status: String,
    pub status_description: String,
    /// Unix seconds of the last status change.
    pub status_updated_at: i64,
    pub scheduling_eligibility: String,
    pub drain: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeResources {
    pub cpu: NodeCpuResources,
    pub memory: NodeMemoryResources,
    pub disk: NodeDiskResources,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeCpuResources {
    /// Total MHz over all cores.
    pub cpu_shares: u64,
    pub total_cpu_cores: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeMemoryResources {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDiskResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: u64,
}

/// What the client holds back for the OS and itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedResources {
    pub cpu: NodeReservedCpu,
    pub memory: NodeMemoryResources,
    pub disk: NodeDiskResources,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedCpu {
    pub cpu_shares: u64,
}

/// A task driver as the client fingerprinted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverInfo {
    pub attributes: BTreeMap<String, String>,
    pub detected: bool,
    pub healthy: bool,
    pub health_description: String,
    /// RFC 3339.
    pub update_time: String,
}

/// One entry of `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeListStub {
    /// The node's IP address.
    pub address: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    pub datacenter: String,
    pub name: String,
    pub node_class: String,
    pub node_pool: String,
    pub version: String,
    pub drain: bool,
    pub scheduling_eligibility: String,
    pub status: String,
    pub status_description: String,
    pub drivers: BTreeMap<String, DriverInfo>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Node {
    /// The node as the API shows it: without its secret.
    pub fn public(&self) -> Node {
        Node { secret_id: String::new(), ..self.clone() }
    }

    /// The node's entry in `GET /v1/nodes`.
    pub fn stub(&self) -> NodeListStub {
        NodeListStub {
            address: self.http_addr.rsplit_once(':').map_or(self.http_addr.as_str(), |(ip, _)| ip).to_owned(),
            id: self.id.clone(),
            attributes: self.attributes.clone(),
            datacenter: self.datacenter.clone(),
            name: self.name.clone(),
            node_class: self.node_class.clone(),
            node_pool: self.node_pool.clone(),
            version: self.attributes.get("nomad.version").cloned().unwrap_or_default(),
            drain: self.drain,
            scheduling_eligibility: self.scheduling_eligibility.clone(),
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            drivers: self.drivers.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// `POST /v1/node/:id/eligibility`. python-nomad also sends `NodeID`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeEligibilityRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub eligibility: String,
}

impl NodeEligibilityRequest {
    /// Nomad's checks: one of the two values.
    pub fn validate(&self) -> Result<(), String> {
        match self.eligibility.as_str() {
            eligibility::ELIGIBLE | eligibility::INELIGIBLE => Ok(()),
            other => Err(format!("invalid scheduling eligibility {other:?}")),
        }
    }
}

/// `POST /v1/node/:id/drain`: a `DrainSpec` starts a drain, `null` ends
/// it; `MarkEligible` makes the node eligible again as the drain ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDrainRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub drain_spec: Option<DrainSpec>,
    pub mark_eligible: bool,
}

/// How a drain goes. Keel migrates every allocation at once, so the
/// deadline bounds nothing yet; it is kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DrainSpec {
    /// Nanoseconds; -1 forces the drain, 0 means no deadline.
    pub deadline: i64,
    pub ignore_system_jobs: bool,
}

/// The answer to a node update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeUpdateResponse {
    #[serde(rename = "EvalIDs")]
    pub eval_ids: Vec<String>,
    pub eval_create_index: u64,
    pub node_modify_index: u64,
    pub index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_speaks_nomads_field_names_and_its_public_form_hides_the_secret() {
        let node = Node {
            id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
            secret_id: "s3cret".into(),
            http_addr: "127.0.0.1:4646".into(),
            status: status::READY.into(),
            scheduling_eligibility: eligibility::ELIGIBLE.into(),
            ..Node::default()
        };
        let json = serde_json::to_value(node.public()).expect("serializes");
        assert_eq!(json["ID"], "f7476465-4d6e-c0de-26d0-e383c49be941");
        assert_eq!(json["SecretID"], "");
        assert_eq!(json["HTTPAddr"], "127.0.0.1:4646");
        assert_eq!(json["NodeResources"]["Memory"]["MemoryMB"], 0);
        let stub = serde_json::to_value(node.stub()).expect("serializes");
        assert_eq!(stub["Address"], "127.0.0.1");
        assert!(stub.get("SecretID").is_none());
    }

    #[test]
    fn eligibility_is_one_of_two_words() {
        let request = |word: &str| NodeEligibilityRequest { eligibility: word.into(), ..Default::default() };
        assert!(request("eligible").validate().is_ok());
        assert!(request("ineligible").validate().is_ok());
        assert_eq!(request("maybe").validate(), Err("invalid scheduling eligibility \"maybe\"".into()));
    }
}
