use keel_api::node::{Node, NodeListStub, NodeUpdateResponse};
use keel_http::{ApiError, Consistency, NodeApi, Read};
use keel_state::Command;

use crate::Service;

impl NodeApi for Service {
    async fn nodes(&self, prefix: String, consistency: Consistency) -> Result<Read<Vec<NodeListStub>>, ApiError> {
        let read = self
            .read(
                consistency,
                |(_, index)| *index,
                |state| {
                    let nodes: Vec<NodeListStub> =
                        state.nodes.values().filter(|node| node.id.starts_with(&prefix)).map(Node::stub).collect();
                    let index = state.nodes.values().map(|node| node.modify_index).max().unwrap_or(0);
                    (nodes, index)
                },
            )
            .await?;
        Ok(Read { value: read.value.0, meta: read.meta })
    }

    async fn node(&self, id: String, consistency: Consistency) -> Result<Read<Node>, ApiError> {
        let read = self
            .read(
                consistency,
                |node: &Option<Node>| node.as_ref().map_or(0, |node| node.modify_index),
                |state| state.nodes.get(&id).map(Node::public),
            )
            .await?;
        let value = read.value.ok_or_else(|| ApiError::not_found("node not found"))?;
        Ok(Read { value, meta: read.meta })
    }

    async fn set_node_eligibility(&self, id: String, eligibility: String) -> Result<NodeUpdateResponse, ApiError> {
        let applied = self.write(Command::SetNodeEligibility { id, eligibility }).await?;
        if !applied.outcome.updated() {
            return Err(ApiError::not_found("node not found"));
        }
        Ok(NodeUpdateResponse { node_modify_index: applied.index, index: applied.index, ..Default::default() })
    }
}
