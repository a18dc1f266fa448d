//! `/v1/operator/raft/...`: the Raft configuration and peer removal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::reply::{self, Json};
use crate::request::Params;
use crate::{ApiError, Backend, PeerSelector};

/// `GET /v1/operator/raft/configuration[?stale]`.
pub(crate) async fn configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let read = backend.raft_configuration(consistency).await?;
    Ok((reply::meta(&read.meta), Json::new(read.value, params.format())).into_response())
}

/// `DELETE /v1/operator/raft/peer?id=X` or `?address=ip:port`, exactly one.
/// Nomad itself only honours `?id`; Keel takes either, as Consul does.
pub(crate) async fn remove_peer<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    backend.remove_raft_peer(peer_selector(&params)?).await?;
    Ok(StatusCode::OK)
}

/// The peer a removal names: `?id` or `?address`, exactly one.
pub(crate) fn peer_selector(params: &Params) -> Result<PeerSelector, ApiError> {
    match (params.non_empty("id"), params.non_empty("address")) {
        (Some(id), None) => Ok(PeerSelector::Id(id.to_owned())),
        (None, Some(address)) => Ok(PeerSelector::Address(address.to_owned())),
        (None, None) => Err(ApiError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        )),
        (Some(_), Some(_)) => Err(ApiError::bad_request("Must specify only one of ?id or ?address")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{Harness, assert_error};
    use crate::{Capability, Consistency, PeerSelector};

    use super::*;

    const CONFIGURATION: &str = "/v1/operator/raft/configuration";
    const PEER: &str = "/v1/operator/raft/peer";

    #[tokio::test]
    async fn configuration_is_json_with_query_headers() {
        let harness = Harness::new();
        let reply = harness.send("GET", CONFIGURATION).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(
            reply.json(),
            json!({
                "Servers": [
                    {"ID": "id-1", "Node": "keel-1.global", "Address": "127.0.0.1:4647", "Leader": true, "Voter": true, "RaftProtocol": "3"},
                    {"ID": "id-2", "Node": "(unknown)", "Address": "127.0.0.2:4647", "Leader": false, "Voter": true, "RaftProtocol": "3"}
                ],
                "Index": 12
            })
        );
        assert_eq!(reply.header("X-Nomad-Index"), Some("12"));
        assert_eq!(reply.header("X-Nomad-KnownLeader"), Some("true"));
        assert_eq!(reply.header("X-Nomad-LastContact"), Some("0"));
        assert_eq!(harness.backend.state().last_consistency, Some(Consistency::Leader));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));
    }

    #[tokio::test]
    async fn stale_reads_any_server_and_leader_reads_need_a_leader() {
        let harness = Harness::new();
        harness.backend.state().leader = None;
        assert_error(harness.send("GET", CONFIGURATION).await, StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader");
        for query in ["stale", "stale=", "stale=true", "stale=1"] {
            let reply = harness.send("GET", &format!("{CONFIGURATION}?{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}");
            assert_eq!(harness.backend.state().last_consistency, Some(Consistency::Stale));
        }
        assert_error(
            harness.send("GET", &format!("{CONFIGURATION}?stale=false")).await,
            StatusCode::INTERNAL_SERVER_ERROR,
            "No cluster leader",
        );
    }

    #[tokio::test]
    async fn bad_query_values_are_refused() {
        let harness = Harness::new();
        let cases = [
            ("stale=maybe", StatusCode::BAD_REQUEST, "Expect `true` or `false` for `stale` query string parameter"),
            ("index=abc", StatusCode::BAD_REQUEST, "Invalid index"),
            ("wait=forever", StatusCode::BAD_REQUEST, "Invalid wait time"),
            ("region=other", StatusCode::INTERNAL_SERVER_ERROR, r#"No path to region "other""#),
            ("dc=dc9", StatusCode::INTERNAL_SERVER_ERROR, r#"No path to datacenter "dc9""#),
        ];
        for (query, status, message) in cases {
            assert_error(harness.send("GET", &format!("{CONFIGURATION}?{query}")).await, status, message);
        }
        let reply = harness.send("GET", &format!("{CONFIGURATION}?region=global&dc=dc1&index=3&wait=10s")).await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn configuration_refuses_other_methods_with_405() {
        let harness = Harness::new();
        let methods = ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
        harness.assert_invalid_methods(CONFIGURATION, &methods, StatusCode::METHOD_NOT_ALLOWED).await;
    }

    #[tokio::test]
    async fn peer_removal_by_id_or_address() {
        let harness = Harness::new();
        let reply = harness.send("DELETE", &format!("{PEER}?id=id-2")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("content-type"), None);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));

        let reply = harness.send("DELETE", &format!("{PEER}?address=127.0.0.1:4647")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            harness.backend.state().removed,
            [PeerSelector::Id("id-2".into()), PeerSelector::Address("127.0.0.1:4647".into())]
        );
        assert!(harness.backend.state().raft.servers.is_empty());
    }

    #[tokio::test]
    async fn peer_removal_needs_exactly_one_selector() {
        let harness = Harness::new();
        let neither = "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove";
        for query in ["", "?id=", "?address=", "?other=1"] {
            assert_error(harness.send("DELETE", &format!("{PEER}{query}")).await, StatusCode::BAD_REQUEST, neither);
        }
        let reply = harness.send("DELETE", &format!("{PEER}?id=id-2&address=127.0.0.2:4647")).await;
        assert_error(reply, StatusCode::BAD_REQUEST, "Must specify only one of ?id or ?address");
        assert!(harness.backend.state().removed.is_empty());
    }

    #[tokio::test]
    async fn peer_removal_passes_backend_errors_through() {
        let harness = Harness::new();
        let reply = harness.send("DELETE", &format!("{PEER}?id=nope")).await;
        assert_error(reply, StatusCode::INTERNAL_SERVER_ERROR, r#"id "nope" was not found in the Raft configuration"#);
        let reply = harness.send("DELETE", &format!("{PEER}?id=id-2&region=eu")).await;
        assert_error(reply, StatusCode::INTERNAL_SERVER_ERROR, r#"No path to region "eu""#);
    }

    #[tokio::test]
    async fn peer_refuses_other_methods_with_404() {
        let harness = Harness::new();
        let methods = ["GET", "PUT", "POST", "HEAD"];
        harness.assert_invalid_methods(&format!("{PEER}?id=id-2"), &methods, StatusCode::NOT_FOUND).await;
        assert!(harness.backend.state().removed.is_empty());
    }
}
