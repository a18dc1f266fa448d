//! The Raft network between servers.
//!
//! A Keel server in this version runs alone: Raft RPC between servers is
//! not available yet, so a peer other than this server can only be
//! reported unreachable. openraft then keeps retrying it, which is the
//! correct behaviour for a peer that is down.

use keel_state::{ServerNode, TypeConfig};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};

/// Hands out a [`PeerClient`] per peer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Network;

/// The RPC client for one peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerClient {
    target: ServerNode,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, _target: u64, node: &ServerNode) -> PeerClient {
        PeerClient { target: node.clone() }
    }
}

impl PeerClient {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<u64, ServerNode, E> {
        let reason = std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("raft rpc to {} is not available in this version", self.target.address),
        );
        RPCError::Unreachable(Unreachable::new(&reason))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, ServerNode, RaftError<u64, InstallSnapshotError>>> {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        Err(self.unreachable())
    }
}
