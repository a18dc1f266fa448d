//! `/v1/agent/...`: the local agent.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Agent;

#[derive(Debug, Serialize, PartialEq, Eq)]
struct HealthOfPart {
    ok: bool,
    message: String,
}

#[derive(Debug, Serialize, Default)]
struct Health {
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<HealthOfPart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<HealthOfPart>,
}

/// `GET /v1/agent/health[?type=client|server]`: a server is healthy when
/// it knows a leader, a client when it knows a server. Unhealthy is a 500
/// with the same body.
pub(crate) async fn health(State(agent): State<Arc<dyn Agent>>, RawQuery(query): RawQuery) -> Response {
    let types: Vec<String> = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("type="))
        .map(str::to_owned)
        .collect();
    let wants = |part: &str| types.is_empty() || types.iter().any(|t| t == part);

    let mut health = Health::default();
    if wants("client") && agent.is_client() {
        health.client = Some(match agent.known_servers() {
            0 => HealthOfPart { ok: false, message: "no known servers".into() },
            _ => HealthOfPart { ok: true, message: "ok".into() },
        });
    }
    if wants("server") && agent.is_server() {
        health.server = Some(match agent.leader() {
            Some(_) => HealthOfPart { ok: true, message: "ok".into() },
            None => HealthOfPart { ok: false, message: "no leader".into() },
        });
    }
    let healthy = [&health.client, &health.server].into_iter().flatten().all(|part| part.ok);
    let status = if healthy { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
    (status, Json(health)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    struct Fixed {
        client: bool,
        leader: Option<String>,
        servers: usize,
    }

    impl Agent for Fixed {
        fn is_server(&self) -> bool {
            true
        }
        fn is_client(&self) -> bool {
            self.client
        }
        fn leader(&self) -> Option<String> {
            self.leader.clone()
        }
        fn known_servers(&self) -> usize {
            self.servers
        }
    }

    async fn get(agent: Fixed, uri: &str, method: &str) -> (StatusCode, String, String) {
        let router = crate::router(Arc::new(agent));
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).expect("valid request");
        let response = router.oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, content_type, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn healthy_server_and_client() {
        let agent = Fixed { client: true, leader: Some("127.0.0.1:4647".into()), servers: 1 };
        let (status, content_type, body) = get(agent, "/v1/agent/health", "GET").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, r#"{"client":{"ok":true,"message":"ok"},"server":{"ok":true,"message":"ok"}}"#);
    }

    #[tokio::test]
    async fn no_leader_is_a_500_with_the_reason() {
        let agent = Fixed { client: false, leader: None, servers: 0 };
        let (status, _, body) = get(agent, "/v1/agent/health", "GET").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, r#"{"server":{"ok":false,"message":"no leader"}}"#);
    }

    #[tokio::test]
    async fn type_selects_the_part() {
        let agent = Fixed { client: true, leader: None, servers: 2 };
        let (status, _, body) = get(agent, "/v1/agent/health?type=client", "GET").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"client":{"ok":true,"message":"ok"}}"#);
    }

    #[tokio::test]
    async fn wrong_method_is_405_text() {
        let agent = Fixed { client: false, leader: None, servers: 0 };
        let (status, content_type, body) = get(agent, "/v1/agent/health", "DELETE").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert_eq!(body, "Invalid method");
    }
}
