//! `/v1/operator/plugins`, `/v1/operator/plugin/:kind` and its `promote` and
//! `rollback`, and `/v1/agent/plugins`: the cluster's plugin registry.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use keel_api::plugin::{PluginIndexResponse, PluginInstallRequest};

use crate::reply::{self, Json};
use crate::request::{self, Params, Token};
use crate::{ApiError, Backend, Limits};

fn kind(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(kind)| kind).map_err(|_| ApiError::bad_request("Missing plugin kind"))
}

/// `GET /v1/operator/plugins[?stale]`: one entry per kind.
pub(crate) async fn list<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    Ok(reply::read(backend.plugins(consistency).await?, params.format()))
}

/// `GET /v1/operator/plugin/:kind[?stale]`: the entry and every server's view.
pub(crate) async fn status<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
    token: Token,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    Ok(reply::read(backend.plugin(kind(path)?, consistency, token.0).await?, params.format()))
}

/// `PUT /v1/operator/plugin/:kind`: `{"Component": "<base64>", "Settings":
/// {...}, "Signature": "<base64>", "Mode": "active"}`.
pub(crate) async fn install<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = kind(path)?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let request: PluginInstallRequest = request::decode_json(&body, "plugin install")?;
    let installed = backend.install_plugin(kind, request).await?;
    Ok((reply::index(installed.index), Json::new(installed, params.format())).into_response())
}

/// `POST /v1/operator/plugin/:kind/promote`.
pub(crate) async fn promote<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let index = backend.promote_plugin(kind(path)?).await?;
    Ok(index_reply(index, &params))
}

/// `POST /v1/operator/plugin/:kind/rollback[?digest=D]`.
pub(crate) async fn rollback<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let digest = params.non_empty("digest").map(str::to_owned);
    let index = backend.rollback_plugin(kind(path)?, digest).await?;
    Ok(index_reply(index, &params))
}

/// `DELETE /v1/operator/plugin/:kind`.
pub(crate) async fn remove<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let index = backend.remove_plugin(kind(path)?).await?;
    Ok(index_reply(index, &params))
}

/// `GET /v1/agent/plugins`: this agent's active plugins.
pub(crate) async fn agent<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Response {
    Json::new(backend.agent_plugins(), params.format()).into_response()
}

fn index_reply(index: u64, params: &Params) -> Response {
    (reply::index(index), Json::new(PluginIndexResponse { index }, params.format())).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    #[tokio::test]
    async fn an_install_answers_its_index_and_is_listed() {
        let harness = Harness::new();
        let reply = harness.send_body("PUT", "/v1/operator/plugin/acl", r#"{"Component": "AAEC"}"#).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["Index"], 13);
        assert_eq!(reply.header("X-Nomad-Index"), Some("13"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));

        let listed = harness.send("GET", "/v1/operator/plugins").await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.json()[0]["Kind"], "acl");
        assert_eq!(listed.json()[0]["Digest"], "AAEC");
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));

        let one = harness.send("GET", "/v1/operator/plugin/acl?stale").await;
        assert_eq!((one.json()["Kind"].clone(), one.json()["Servers"].clone()), (json!("acl"), json!([])));
    }

    #[tokio::test]
    async fn bad_installs_are_400s_that_change_nothing() {
        let harness = Harness::new();
        for body in ["[]", r#"{"Component": "AA", "Extra": 1}"#, "{}", "not json"] {
            let reply = harness.send_body("PUT", "/v1/operator/plugin/acl", body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(String::from_utf8_lossy(&reply.body).starts_with("Error parsing plugin install"), "{body}");
        }
        let reply = harness.send_body("PUT", "/v1/operator/plugin/widget", r#"{"Component": "AA"}"#).await;
        assert_error(reply, StatusCode::BAD_REQUEST, "unknown plugin kind \"widget\"");
        assert!(harness.backend.state().plugins.is_empty());
    }

    #[tokio::test]
    async fn promote_rollback_and_remove_answer_an_index() {
        let harness = Harness::new();
        harness.send_body("PUT", "/v1/operator/plugin/acl", r#"{"Component": "AAEC"}"#).await;
        let reply = harness.send("POST", "/v1/operator/plugin/acl/rollback?digest=nope").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "no kept plugin has that digest");
        let reply = harness.send("POST", "/v1/operator/plugin/acl/rollback").await;
        assert_eq!(reply.json(), json!({"Index": 15}));
        let reply = harness.send("POST", "/v1/operator/plugin/acl/promote").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "there is no shadow plugin to promote");
        let reply = harness.send("DELETE", "/v1/operator/plugin/acl").await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn the_agent_lists_its_own_plugins_with_agent_read() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/agent/plugins").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json().as_array().map(Vec::len), Some(4));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::AgentRead)));
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let harness = Harness::new();
        harness
            .assert_invalid_methods(
                "/v1/operator/plugins",
                &["PUT", "POST", "DELETE", "HEAD"],
                StatusCode::METHOD_NOT_ALLOWED,
            )
            .await;
        harness
            .assert_invalid_methods("/v1/operator/plugin/acl", &["POST", "HEAD"], StatusCode::METHOD_NOT_ALLOWED)
            .await;
        harness
            .assert_invalid_methods("/v1/operator/plugin/acl/promote", &["GET", "PUT"], StatusCode::METHOD_NOT_ALLOWED)
            .await;
    }
}
