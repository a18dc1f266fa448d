//! Requests relayed between servers: a follower turns a leader-only HTTP
//! request into a [`Forwarded`] message for the leader's RPC port, and the
//! leader serves it through its own API router ([`ApiForwarder`]) and sends
//! the answer back. Headers cross as text pairs, bodies as bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use keel_cluster::{ClusterError, Forwarded, ForwardedReply, Forwarder};
use keel_http::{ApiError, RelayError};

use crate::service::{Service, cluster_error};

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

impl Service {
    /// `AgentApi::forward`: relays `request` to the leader.
    pub(crate) async fn forward_to_leader(
        &self,
        request: Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Response<Vec<u8>>, RelayError> {
        let (parts, body) = request.into_parts();
        let forwarded = Forwarded {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: header_pairs(&parts.headers),
            body,
        };
        let server = self.server().map_err(|error| RelayError { error, maybe_delivered: false })?;
        let reply = server.forward(forwarded, timeout).await.map_err(|error| RelayError {
            maybe_delivered: matches!(error, ClusterError::Rpc(_)),
            error: cluster_error(error),
        })?;
        let mut response = Response::builder().status(reply.status);
        for (name, value) in &reply.headers {
            response = response.header(name, value);
        }
        response.body(reply.body).map_err(|error| {
            tracing::error!(%error, "the leader's answer is not a valid HTTP response");
            let error = ApiError::internal("the leader's answer could not be relayed; see the server log");
            RelayError { error, maybe_delivered: true }
        })
    }
}

/// Serves requests other servers forward to this one through the same API
/// router that serves HTTP.
pub struct ApiForwarder(pub Router);

impl Forwarder for ApiForwarder {
    fn serve(&self, request: Forwarded) -> Pin<Box<dyn Future<Output = ForwardedReply> + Send>> {
        let router = self.0.clone();
        Box::pin(async move {
            let mut builder = Request::builder().method(request.method.as_str()).uri(request.uri.as_str());
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let Ok(http_request) = builder.body(Body::from(request.body)) else {
                return ForwardedReply {
                    status: 400,
                    headers: Vec::new(),
                    body: b"Malformed forwarded request".to_vec(),
                };
            };
            let response = match tower::ServiceExt::oneshot(router, http_request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes().to_vec(),
                Err(error) => {
                    tracing::warn!(%error, "reading the answer to a forwarded request");
                    return ForwardedReply { status: 500, headers: Vec::new(), body: b"Internal error".to_vec() };
                }
            };
            ForwardedReply { status: parts.status.as_u16(), headers: header_pairs(&parts.headers), body }
        })
    }
}
