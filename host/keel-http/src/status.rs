//! `/v1/status/...`: who leads the cluster and who votes in it. No right is
//! needed, so load balancers and scripts can ask.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::reply::Json;
use crate::request::Params;
use crate::{ApiError, Backend};

/// `GET /v1/status/leader`: the leader's RPC address as a JSON string, `""`
/// when none is known.
pub(crate) async fn leader<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    params.read_options()?;
    Ok(Json::new(backend.leader().unwrap_or_default(), params.format()).into_response())
}

/// `GET /v1/status/peers`: the RPC addresses of the Raft voters.
pub(crate) async fn peers<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    params.read_options()?;
    Ok(Json::new(backend.peers()?, params.format()).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    #[tokio::test]
    async fn leader_is_a_json_string() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/status/leader").await;
        assert_eq!(
            (reply.status, reply.content_type(), reply.text()),
            (StatusCode::OK, "application/json", r#""127.0.0.1:4647""#)
        );
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::None)));

        harness.backend.state().leader = None;
        let reply = harness.send("GET", "/v1/status/leader").await;
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, r#""""#));
    }

    #[tokio::test]
    async fn peers_is_a_json_array() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/status/peers").await;
        assert_eq!((reply.status, reply.content_type()), (StatusCode::OK, "application/json"));
        assert_eq!(reply.text(), r#"["127.0.0.1:4647","127.0.0.2:4647"]"#);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::None)));
    }

    #[tokio::test]
    async fn bad_queries_and_methods_are_refused() {
        let harness = Harness::new();
        for path in ["/v1/status/leader", "/v1/status/peers"] {
            let reply = harness.send("GET", &format!("{path}?stale=yes")).await;
            assert_error(reply, StatusCode::BAD_REQUEST, "Expect `true` or `false` for `stale` query string parameter");
            let reply = harness.send("GET", &format!("{path}?region=eu-west")).await;
            assert_error(reply, StatusCode::INTERNAL_SERVER_ERROR, r#"No path to region "eu-west""#);
            let methods = ["PUT", "POST", "DELETE", "HEAD"];
            harness.assert_invalid_methods(path, &methods, StatusCode::METHOD_NOT_ALLOWED).await;
        }
    }
}
