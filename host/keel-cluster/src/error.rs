//! What can go wrong when the server is asked to do something.

use keel_state::ServerNode;

/// An operation on the Raft node failed. Messages are lowercase and name the
/// operation; the binary maps each variant to a Nomad status.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No leader is known, so nothing can be written or read from the leader.
    #[error("no cluster leader")]
    NoLeader,
    /// This server is not the leader; the leader is `0` (when known).
    #[error("not the leader")]
    NotLeader(Option<ServerNode>),
    /// A peer named in a request is not in the Raft configuration.
    #[error("{0}")]
    PeerNotFound(String),
    /// A membership change that would leave the cluster without a voter or
    /// below quorum.
    #[error("{0}")]
    Refused(String),
    /// The Raft node has stopped (shutting down or a storage fault).
    #[error("raft node stopped: {0}")]
    Stopped(String),
    /// Raft refused a membership change.
    #[error("change raft membership: {0}")]
    Membership(String),
    /// A write was not committed in time.
    #[error("{0}")]
    Timeout(String),
    /// A request to another server over the RPC port failed, and the other
    /// server may have received it.
    #[error("rpc: {0}")]
    Rpc(String),
    /// Another server could not be reached over the RPC port; it did not
    /// receive the request.
    #[error("rpc: {0}")]
    Unreachable(String),
    /// Opening the storage failed.
    #[error(transparent)]
    Storage(#[from] keel_state::StoreError),
    /// Forming a new cluster failed (it was already initialized, or this
    /// server is not among the members).
    #[error("initialize raft cluster: {0}")]
    Initialize(String),
    /// openraft refused the configuration, failed to start, or the RPC
    /// address could not be bound.
    #[error("start raft: {0}")]
    Start(String),
}
