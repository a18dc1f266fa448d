//! What client agents ask servers over the RPC port: registering their
//! node, saying it is alive, learning its allocations and reporting how
//! they run. Any server takes the call; one that does
//! not lead relays it to the leader, which owns node status (its heartbeat
//! tracker) and writes registrations through Raft.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::RpcClient;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::{ClusterError, ClusterKey, Server};

/// A client agent's request about its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeCall {
    /// Registers the node, or updates its registration. The node travels as
    /// the JSON of `keel_api::node::Node` (whose serde attributes postcard
    /// does not follow).
    Register { node_json: String },
    /// The node with this id and secret is alive.
    Heartbeat { id: String, secret: String },
    /// The allocations placed on the node, with their jobs, once one of
    /// them changed after `index`; the server waits up to `wait_ms` for
    /// that (a blocking query) and answers what there is then.
    Allocations { id: String, secret: String, index: u64, wait_ms: u64 },
    /// What the node's client saw of its allocations: the JSON of
    /// `keel_api::job::AllocUpdates`.
    UpdateAllocs { id: String, secret: String, updates_json: String },
}

impl NodeCall {
    /// The node the call is about, when it names one.
    pub fn node_id(&self) -> Option<&str> {
        match self {
            Self::Register { .. } => None,
            Self::Heartbeat { id, .. } | Self::Allocations { id, .. } | Self::UpdateAllocs { id, .. } => Some(id),
        }
    }
}

/// A server's answer to a [`NodeCall`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAnswer {
    /// The node is `down` unless its next heartbeat arrives within this.
    pub heartbeat_ttl_ms: u64,
    /// The RPC addresses of the cluster's servers, for the client's list.
    pub servers: Vec<String>,
    /// For [`NodeCall::Allocations`]: the JSON of the node's allocations
    /// (`keel_api::job::PlacedAllocs`), and the index to wait past next.
    pub allocs_json: String,
    pub index: u64,
}

/// Why a [`NodeCall`] was not answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum NodeError {
    /// The servers do not know the node: register it (again).
    #[error("the servers do not know this node")]
    UnknownNode,
    /// The call was refused, with the reason.
    #[error("{0}")]
    Refused(String),
    /// No server could take the call now (no leader, or the leader could
    /// not be reached); try again, or another server.
    #[error("{0}")]
    Unavailable(String),
}

/// Serves node calls on the leader: the binary installs one.
pub trait NodeEndpoint: Send + Sync + 'static {
    fn call(&self, call: NodeCall) -> Pin<Box<dyn Future<Output = Result<NodeAnswer, NodeError>> + Send>>;
}

/// How long a node call may take end to end, relay included.
pub const NODE_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A client agent's connection to the servers' RPC ports.
pub struct NodeClient {
    rpc: RpcClient,
}

impl NodeClient {
    /// A client that proves `key` to servers that hold one.
    pub fn new(key: Option<ClusterKey>) -> Self {
        Self { rpc: RpcClient::new(key) }
    }

    /// Sends `call` to the server at `rpc_address`.
    pub async fn call(&self, rpc_address: &str, call: NodeCall) -> Result<NodeAnswer, NodeError> {
        call_over(&self.rpc, rpc_address, call).await
    }
}

async fn call_over(rpc: &RpcClient, rpc_address: &str, call: NodeCall) -> Result<NodeAnswer, NodeError> {
    match rpc.call(rpc_address, &RpcRequest::Node(call), &[], NODE_CALL_TIMEOUT).await {
        Ok((RpcResponse::Node(answer), _)) => answer,
        Ok(_) => Err(NodeError::Unavailable(format!("{rpc_address} answered another request"))),
        Err(failed) => Err(NodeError::Unavailable(format!("{rpc_address}: {}", failed.error))),
    }
}

impl Server {
    /// Installs what serves node calls on this server. Only the first call
    /// counts.
    pub fn set_node_endpoint(&self, endpoint: std::sync::Arc<dyn NodeEndpoint>) {
        let _ = self.endpoints.node.set(endpoint);
    }

    /// Relays a node call to the leader.
    pub async fn relay_node_call(&self, call: NodeCall) -> Result<NodeAnswer, NodeError> {
        let leader = self.leader().ok_or_else(|| NodeError::Unavailable(ClusterError::NoLeader.to_string()))?;
        if leader.id == self.me().id {
            return Err(NodeError::Unavailable("this server leads: the call is its own".to_owned()));
        }
        call_over(&self.client, &leader.address, call).await
    }
}
