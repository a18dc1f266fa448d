//! `/v1/operator/raft/...`: the Raft configuration and peer removal.

use keel_api::operator::{RaftConfiguration, RaftServer};
use keel_http::{ApiError, Consistency, PeerSelector, Read};

use crate::Service;
use crate::service::{RAFT_PROTOCOL, cluster_error};

impl keel_http::OperatorRaftApi for Service {
    async fn raft_configuration(&self, consistency: Consistency) -> Result<Read<RaftConfiguration>, ApiError> {
        let server = self.reader(consistency).await?;
        let (peers, index) = server.configuration();
        let servers = peers
            .into_iter()
            .map(|peer| RaftServer {
                id: peer.node.id.clone(),
                node: self.member_name_of(&peer.node),
                address: peer.node.address.clone(),
                leader: peer.leader,
                voter: peer.voter,
                raft_protocol: RAFT_PROTOCOL.to_owned(),
            })
            .collect();
        Ok(Read { value: RaftConfiguration { servers, index }, meta: self.meta(server, index) })
    }

    async fn remove_raft_peer(&self, peer: PeerSelector) -> Result<(), ApiError> {
        let server = self.server()?;
        let removal = match &peer {
            PeerSelector::Id(id) => server.remove_peer(|node| &node.id == id, &format!("id {id:?}")).await,
            PeerSelector::Address(address) => {
                server.remove_peer(|node| &node.address == address, &format!("address {address:?}")).await
            }
        };
        removal.map(|index| tracing::info!(?peer, index, "removed raft peer")).map_err(cluster_error)
    }
}
