//! Requests only the leader can answer, sent on to it.
//!
//! A layer in front of every route: when a request's route is answered by
//! the leader ([`Scope::Leader`]) — any write, and a read without `?stale` —
//! and this agent does not lead, the request goes to the leader through
//! [`Backend::forward`] and the leader's answer comes back unchanged. With
//! no leader known, it fails at once with Nomad's "No cluster leader".
//! A forwarded request is marked, and a marked request is never forwarded
//! again: if leadership moved on the way, the receiver answers it itself,
//! with the error a non-leader gives.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::acl::{Scope, route_for};
use crate::backend::Leadership;
use crate::request::{Params, read_body};
use crate::{ApiError, Backend, RouterState};

/// The header that marks a request relayed by another server.
pub const FORWARDED_HEADER: &str = "x-keel-forwarded";

pub(crate) async fn to_leader<B: Backend>(
    State(state): State<RouterState<B>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str();
    let Some(route) = route_for(method, request.uri().path()) else {
        return next.run(request).await;
    };
    let stale_read = method == "GET" && Params::from_uri(request.uri()).is_some_and(|p| p.flag("stale") == Ok(true));
    if route.scope == Scope::Agent || stale_read || request.headers().contains_key(FORWARDED_HEADER) {
        return next.run(request).await;
    }
    match state.backend.leadership() {
        Leadership::Here => next.run(request).await,
        Leadership::Unknown => ApiError::no_leader().into_response(),
        Leadership::Elsewhere => forward(&state, route.path == "/v1/operator/snapshot", request).await,
    }
}

async fn forward<B: Backend>(state: &RouterState<B>, snapshot: bool, request: Request) -> Response {
    let limit = if snapshot { state.limits.snapshot_max_bytes } else { state.limits.body_max_bytes };
    let (mut parts, body) = request.into_parts();
    // The same checks a handler makes, before anything is buffered to relay.
    let body = match read_body(body, limit, state.limits.body_idle_timeout_ms).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    parts.headers.insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    let request = Request::from_parts(parts, body.to_vec());
    match state.backend.forward(request).await {
        Ok(reply) => reply.map(Body::from).into_response(),
        Err(error) => error.into_response(),
    }
}
