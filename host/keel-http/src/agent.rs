//! `/v1/agent/...`: the local agent: gossip members, its own state, the
//! servers a client talks to, joining and forcing members out, health, and
//! the agent's metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use keel_api::agent::{AgentHealth, HealthOfPart};

use crate::reply::Json;
use crate::request::Params;
use crate::{ApiError, Backend, Metrics};

/// `GET /v1/agent/members`: the gossip pool as this agent sees it.
pub(crate) async fn members<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    Ok(Json::new(backend.members()?, params.format()).into_response())
}

/// `GET /v1/agent/self`: `{config, member, stats}`, secrets redacted by the
/// backend.
pub(crate) async fn agent_self<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(Json::new(backend.agent_self()?, params.format()).into_response())
}

/// `GET /v1/metrics[?format=prometheus]`: Nomad's JSON by default, any
/// other `format` included, as Nomad does.
pub(crate) async fn metrics<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let prometheus = params.first("format") == Some("prometheus");
    Ok(match backend.metrics(prometheus)? {
        Metrics::Json(value) => Json::new(value, params.format()).into_response(),
        Metrics::Prometheus(text) => ([(CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response(),
    })
}

/// The content type of Prometheus's text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /v1/agent/servers`: a client's known servers, sorted.
pub(crate) async fn servers<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let mut servers = backend.servers()?;
    servers.sort();
    Ok(Json::new(servers, params.format()).into_response())
}

/// `PUT|POST /v1/agent/servers?address=ip:port[&address=...]`: replaces the
/// client's server list. 200 with an empty body.
pub(crate) async fn set_servers<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    backend.set_servers(server_addresses(&params)?)?;
    Ok(StatusCode::OK)
}

/// `PUT|POST /v1/agent/join?address=...[&address=...]`: a 200 whatever the
/// outcome; what failed is in the reply's `error`.
pub(crate) async fn join<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let joined = backend.join(join_addresses(&params)?).await?;
    Ok(Json::new(joined, params.format()).into_response())
}

/// `PUT|POST /v1/agent/force-leave?node=X[&prune]`: moves a failed member to
/// "left"; with `prune` it is also dropped from the member list.
pub(crate) async fn force_leave<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let (node, prune) = force_leave_options(&params)?;
    backend.force_leave(node, prune).await?;
    Ok(StatusCode::OK)
}

/// `GET /v1/agent/health[?type=client|server]`: a server is healthy when it
/// knows a leader, a client when it knows a server. A part this agent does
/// not run is left out. Unhealthy is a 500 with the same body.
pub(crate) async fn health<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let types = health_types(&params)?;
    let wants = |part: &str| types.is_empty() || types.contains(&part);

    let identity = backend.identity();
    let part = |ok: bool, problem: &str| HealthOfPart { ok, message: if ok { "ok" } else { problem }.to_owned() };
    let health = AgentHealth {
        client: (wants("client") && identity.client).then(|| part(backend.known_servers() > 0, "No known servers")),
        server: (wants("server") && identity.server).then(|| part(backend.leader().is_some(), "No cluster leader")),
    };
    let status = if health.healthy() { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
    Ok((status, Json::new(health, params.format())).into_response())
}

/// `?address=` of a server list update, at least one.
pub(crate) fn server_addresses(params: &Params) -> Result<Vec<String>, ApiError> {
    let addresses = params.all("address");
    if addresses.is_empty() {
        return Err(ApiError::bad_request("missing server address"));
    }
    Ok(addresses)
}

/// `?address=` of a join, at least one.
pub(crate) fn join_addresses(params: &Params) -> Result<Vec<String>, ApiError> {
    let addresses = params.all("address");
    if addresses.is_empty() {
        return Err(ApiError::bad_request("missing address to join"));
    }
    Ok(addresses)
}

/// `?node=` (required) and `?prune` of a force-leave.
pub(crate) fn force_leave_options(params: &Params) -> Result<(String, bool), ApiError> {
    let node = params.non_empty("node").ok_or_else(|| ApiError::bad_request("missing node to force leave"))?;
    Ok((node.to_owned(), params.flag("prune")?))
}

/// The parts `?type=` asks about, each `client` or `server`.
pub(crate) fn health_types(params: &Params) -> Result<Vec<&str>, ApiError> {
    let types = params.all_values("type");
    if types.iter().any(|t| !matches!(*t, "client" | "server")) {
        return Err(ApiError::bad_request("unknown health type"));
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{Harness, TestBackend, assert_error};
    use crate::{Capability, Identity, Limits};

    use super::*;

    fn agent(server: bool, client: bool) -> Harness {
        let identity =
            Identity { node_name: "keel-1".into(), region: "global".into(), datacenter: "dc1".into(), server, client };
        Harness::with(TestBackend::with_identity(identity), Limits::default())
    }

    #[tokio::test]
    async fn members_lists_the_gossip_pool() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/agent/members").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({
                "ServerName": "keel-1", "ServerRegion": "global", "ServerDC": "dc1",
                "Members": [{
                    "Name": "keel-1.global", "Addr": "127.0.0.1", "Port": 4648,
                    "Tags": {"region": "global", "role": "nomad"}, "Status": "alive",
                    "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
                    "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4
                }]
            })
        );
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::NodeRead)));
    }

    #[tokio::test]
    async fn self_is_the_backends_json() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/agent/self").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({"config": {"Region": "global", "ACL": {"ReplicationToken": "<redacted>"}}, "member": {}, "stats": {}})
        );
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::AgentRead)));
    }

    #[tokio::test]
    async fn servers_are_listed_sorted() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/agent/servers").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!(["127.0.0.1:4647", "127.0.0.2:4647"]));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::AgentRead)));
    }

    #[tokio::test]
    async fn servers_are_replaced_by_put_and_post() {
        let harness = Harness::new();
        for method in ["PUT", "POST"] {
            let reply = harness.send(method, "/v1/agent/servers?address=1.2.3.4:4647&address=5.6.7.8:4647").await;
            assert_eq!(reply.status, StatusCode::OK);
            assert!(reply.body.is_empty());
            assert_eq!(harness.backend.last_auth(), Some((None, Capability::AgentWrite)));
        }
        assert_eq!(harness.backend.state().servers, ["1.2.3.4:4647", "5.6.7.8:4647"]);
        for query in ["", "?address=", "?addr=1.2.3.4:4647"] {
            let reply = harness.send("PUT", &format!("/v1/agent/servers{query}")).await;
            assert_error(reply, StatusCode::BAD_REQUEST, "missing server address");
        }
    }

    #[tokio::test]
    async fn servers_on_a_server_only_agent_are_501() {
        let harness = agent(true, false);
        assert_error(harness.send("GET", "/v1/agent/servers").await, StatusCode::NOT_IMPLEMENTED, "Invalid method");
    }

    #[tokio::test]
    async fn join_always_answers_200_with_the_outcome() {
        let harness = Harness::new();
        let reply = harness.send("PUT", "/v1/agent/join?address=127.0.0.2:4648&address=127.0.0.3:4648").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({"num_joined": 2, "error": ""}));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::None)));

        let reply = harness.send("POST", "/v1/agent/join?address=10.0.0.9:4648").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({"num_joined": 0, "error": "10.0.0.9:4648: connection refused"}));

        assert_error(harness.send("PUT", "/v1/agent/join").await, StatusCode::BAD_REQUEST, "missing address to join");
    }

    #[tokio::test]
    async fn force_leave_needs_a_node() {
        let harness = Harness::new();
        let reply = harness.send("PUT", "/v1/agent/force-leave?node=keel-2.global").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.is_empty());
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::AgentWrite)));
        assert_eq!(harness.send("POST", "/v1/agent/force-leave?node=keel-3.global&prune").await.status, StatusCode::OK);
        assert_eq!(
            harness.send("POST", "/v1/agent/force-leave?node=keel-4.global&prune=false").await.status,
            StatusCode::OK
        );
        assert_eq!(
            harness.backend.state().force_left,
            [("keel-2.global".into(), false), ("keel-3.global".into(), true), ("keel-4.global".into(), false)]
        );

        for query in ["", "?node=", "?prune=true"] {
            let reply = harness.send("PUT", &format!("/v1/agent/force-leave{query}")).await;
            assert_error(reply, StatusCode::BAD_REQUEST, "missing node to force leave");
        }
        let reply = harness.send("PUT", "/v1/agent/force-leave?node=x&prune=maybe").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "Expect `true` or `false` for `prune` query string parameter");
    }

    #[tokio::test]
    async fn health_of_a_server_and_client() {
        let harness = Harness::new();
        let reply = harness.send("GET", "/v1/agent/health").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), r#"{"client":{"ok":true,"message":"ok"},"server":{"ok":true,"message":"ok"}}"#);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::None)));
    }

    #[tokio::test]
    async fn unhealthy_is_a_500_with_the_reasons() {
        let harness = Harness::new();
        harness.backend.state().leader = None;
        harness.backend.state().servers.clear();
        let reply = harness.send("GET", "/v1/agent/health").await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.json(),
            json!({"client": {"ok": false, "message": "No known servers"}, "server": {"ok": false, "message": "No cluster leader"}})
        );
    }

    #[tokio::test]
    async fn health_type_selects_the_part() {
        let harness = Harness::new();
        harness.backend.state().leader = None;
        let reply = harness.send("GET", "/v1/agent/health?type=client").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({"client": {"ok": true, "message": "ok"}}));
        let reply = harness.send("GET", "/v1/agent/health?type=server").await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.json(), json!({"server": {"ok": false, "message": "No cluster leader"}}));
        let reply = harness.send("GET", "/v1/agent/health?type=server&type=client").await;
        assert_eq!(reply.json().as_object().map(|parts| parts.len()), Some(2));

        for query in ["type=both", "type=", "type=client&type=nomad"] {
            let reply = harness.send("GET", &format!("/v1/agent/health?{query}")).await;
            assert_error(reply, StatusCode::BAD_REQUEST, "unknown health type");
        }
    }

    #[tokio::test]
    async fn health_leaves_out_parts_the_agent_does_not_run() {
        let reply = agent(true, false).send("GET", "/v1/agent/health").await;
        assert_eq!(reply.json(), json!({"server": {"ok": true, "message": "ok"}}));
        let reply = agent(false, true).send("GET", "/v1/agent/health?type=server").await;
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, "{}"));
    }

    #[tokio::test]
    async fn wrong_methods_are_405() {
        let harness = Harness::new();
        let cases = [
            ("/v1/agent/members", ["PUT", "POST", "HEAD"]),
            ("/v1/agent/self", ["PUT", "DELETE", "HEAD"]),
            ("/v1/agent/servers", ["DELETE", "PATCH", "HEAD"]),
            ("/v1/agent/join?address=127.0.0.2:4648", ["GET", "DELETE", "HEAD"]),
            ("/v1/agent/force-leave?node=x", ["GET", "DELETE", "HEAD"]),
            ("/v1/agent/health", ["PUT", "POST", "HEAD"]),
        ];
        for (uri, methods) in cases {
            harness.assert_invalid_methods(uri, &methods, StatusCode::METHOD_NOT_ALLOWED).await;
        }
        assert!(harness.backend.state().joined.is_empty());
        assert!(harness.backend.state().force_left.is_empty());
    }
}
