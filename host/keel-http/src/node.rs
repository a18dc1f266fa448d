//! `/v1/nodes` and `/v1/node/:id`: the client nodes the servers know.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use keel_api::node::{NodeDrainRequest, NodeEligibilityRequest};

use crate::blocking;
use crate::reply::{self, Json};
use crate::request::{self, Params};
use crate::{ApiError, Backend, Limits};

/// `GET /v1/nodes[?prefix=]`: every node's stub, in id order.
pub(crate) async fn nodes<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let prefix = params.first("prefix").unwrap_or_default().to_owned();
    let read = blocking::read(&*backend, &params, || backend.nodes(prefix.clone(), consistency));
    Ok(reply::read(read.await?, params.format()))
}

/// `GET /v1/node/:id`: one node, without its secret.
pub(crate) async fn node<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = request::segment(id)?;
    let consistency = params.read_options()?;
    let read = blocking::read(&*backend, &params, || backend.node(id.clone(), consistency));
    Ok(reply::read(read.await?, params.format()))
}

/// `POST|PUT /v1/node/:id/eligibility` `{"Eligibility": "eligible|ineligible"}`.
pub(crate) async fn set_eligibility<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let (id, update) = node_update::<NodeEligibilityRequest>(id, body, &limits, "node eligibility").await?;
    update.validate().map_err(ApiError::bad_request)?;
    let reply = backend.set_node_eligibility(id, update.eligibility).await?;
    Ok((reply::index(reply.index), Json::new(reply, params.format())).into_response())
}

/// `POST|PUT /v1/node/:id/drain`: starts or ends a node's drain.
pub(crate) async fn drain<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let (id, update) = node_update::<NodeDrainRequest>(id, body, &limits, "drain update").await?;
    let reply = backend.set_node_drain(id, update.drain_spec.is_some(), update.mark_eligible).await?;
    Ok((reply::index(reply.index), Json::new(reply, params.format())).into_response())
}

/// The path's node id and the update in the body, whose `NodeID` (which
/// python-nomad sends) must be that id when it is there.
async fn node_update<T: serde::de::DeserializeOwned + NamesNode>(
    id: Result<Path<String>, PathRejection>,
    body: Body,
    limits: &Limits,
    what: &str,
) -> Result<(String, T), ApiError> {
    let id = request::segment(id)?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let update: T = request::decode_json(&body, what)?;
    match update.node_id() {
        named if !named.is_empty() && named != id => {
            Err(ApiError::bad_request("NodeID in the body does not match the path"))
        }
        _ => Ok((id, update)),
    }
}

/// A node update body, which may name its node.
trait NamesNode {
    fn node_id(&self) -> &str;
}

impl NamesNode for NodeEligibilityRequest {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

impl NamesNode for NodeDrainRequest {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

/// `/v1/node/` without an id.
pub(crate) async fn missing_node_id() -> ApiError {
    ApiError::bad_request("Missing node ID")
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use keel_api::node::Node;
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    fn with_node() -> Harness {
        let harness = Harness::new();
        let node = Node {
            id: "f7476465-4d6e".into(),
            secret_id: "secret".into(),
            name: "client-1".into(),
            status: "ready".into(),
            scheduling_eligibility: "eligible".into(),
            ..Node::default()
        };
        harness.backend.state().nodes.insert(node.id.clone(), node);
        harness
    }

    #[tokio::test]
    async fn reads_ask_node_read_and_never_show_the_secret() {
        let harness = with_node();
        let listed = harness.send("GET", "/v1/nodes?prefix=f74").await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.json()[0]["ID"], "f7476465-4d6e");
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::NodeRead)));
        let node = harness.send("GET", "/v1/node/f7476465-4d6e").await.json();
        assert_eq!((node["Name"].clone(), node["SecretID"].clone()), (json!("client-1"), json!("")));
        assert_error(harness.send("GET", "/v1/node/nope").await, StatusCode::NOT_FOUND, "node not found");
        assert_error(harness.send("GET", "/v1/node/").await, StatusCode::BAD_REQUEST, "Missing node ID");
    }

    #[tokio::test]
    async fn eligibility_asks_node_write_and_checks_its_body() {
        let harness = with_node();
        let path = "/v1/node/f7476465-4d6e/eligibility";
        let reply = harness.send_body("PUT", path, r#"{"Eligibility": "ineligible"}"#).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::NodeWrite)));
        assert_eq!(reply.header("X-Nomad-Index"), reply.json()["Index"].as_u64().map(|i| i.to_string()).as_deref());
        assert_eq!(harness.backend.state().nodes["f7476465-4d6e"].scheduling_eligibility, "ineligible");
        let bad = harness.send_body("POST", path, r#"{"Eligibility": ""}"#).await;
        assert_error(bad, StatusCode::BAD_REQUEST, "invalid scheduling eligibility \"\"");
        assert_error(harness.send("DELETE", path).await, StatusCode::METHOD_NOT_ALLOWED, "Invalid method");
    }
}
