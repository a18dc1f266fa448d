//! Requests only the leader can answer, sent on to it.
//!
//! A layer inside every route: when a request's endpoint is answered by the
//! leader ([`Scope::Leader`] in the route table) — any write, and a read
//! without `?stale` — and this agent does not lead, the request goes to the
//! leader through [`Backend::forward`] and the leader's answer comes back
//! unchanged. With no leader known, it fails at once with Nomad's "No
//! cluster leader". A forwarded request is marked, and a marked request is
//! never forwarded again: if leadership moved on the way, the receiver
//! answers it itself, with the error a non-leader gives.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::backend::Leadership;
use crate::request::{Params, read_body};
use crate::routes::{BodyLimit, LayerState, Scope, find};
use crate::{ApiError, Backend, RouterState};

/// The header that marks a request relayed by another server.
pub const FORWARDED_HEADER: &str = "x-keel-forwarded";

pub(crate) async fn to_leader<B: Backend>(
    State((state, table)): State<LayerState<B>>,
    request: Request,
    next: Next,
) -> Response {
    let matched = request.extensions().get::<MatchedPath>().map(|path| path.as_str());
    let Some(endpoint) = matched.and_then(|path| find(&table, path, request.method())) else {
        return next.run(request).await;
    };
    let stale_read =
        request.method() == Method::GET && Params::from_uri(request.uri()).is_some_and(|p| p.flag("stale") == Ok(true));
    if endpoint.scope == Scope::Agent || stale_read || request.headers().contains_key(FORWARDED_HEADER) {
        return next.run(request).await;
    }
    match state.backend.leadership() {
        Leadership::Here => next.run(request).await,
        Leadership::Unknown => ApiError::no_leader().into_response(),
        Leadership::Elsewhere => forward(&state, endpoint.body_limit, request).await,
    }
}

async fn forward<B: Backend>(state: &RouterState<B>, body_limit: BodyLimit, request: Request) -> Response {
    let limit = match body_limit {
        BodyLimit::Json => state.limits.body_max_bytes,
        BodyLimit::Snapshot => state.limits.snapshot_max_bytes,
    };
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
