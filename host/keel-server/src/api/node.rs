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

    /// Writes the drain, then an evaluation for each job with work on the
    /// node, which places that work elsewhere.
    async fn set_node_drain(
        &self,
        id: String,
        drain: bool,
        mark_eligible: bool,
    ) -> Result<NodeUpdateResponse, ApiError> {
        let applied = self.write(Command::SetNodeDrain { id: id.clone(), drain, mark_eligible }).await?;
        if !applied.outcome.updated() {
            return Err(ApiError::not_found("node not found"));
        }
        let mut reply =
            NodeUpdateResponse { node_modify_index: applied.index, index: applied.index, ..Default::default() };
        if drain {
            let server = self.server()?;
            let evals = server
                .view()
                .read(|state| crate::scheduling::evals_for_work_on(state, &id, "node-drain", self.now_ns()));
            if !evals.is_empty() {
                reply.eval_ids = evals.iter().map(|eval| eval.id.clone()).collect();
                let written = self.write(Command::UpsertEvals { evals }).await?;
                (reply.eval_create_index, reply.index) = (written.index, written.index);
                self.scheduling.wake();
            }
        }
        Ok(reply)
    }
}
