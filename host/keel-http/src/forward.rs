//! Requests only the leader can answer, sent on to it.
//!
//! A layer inside every route: when a request's endpoint is answered by the
//! leader ([`Scope::Leader`] in the route table) — any write, and a read
//! without `?stale` — and this agent does not lead, the request goes to the
//! leader through [`Backend::forward`] and the leader's answer comes back
//! unchanged. A forwarded request is marked, and a marked request is never
//! forwarded again: if leadership moved on the way, the receiver answers it
//! itself, with the error a non-leader gives.
//!
//! Across an election a request is held ([`Limits::leader_hold_ms`], 5 s as
//! Nomad's `rpc_hold_timeout`): while no leader is known, or the leader
//! cannot be reached, it is tried again every [`RETRY_EVERY`], here once
//! this agent leads or at the new leader once one is known. A read is
//! always tried again; a write only when the leader certainly did not
//! receive it ([`crate::RelayError::maybe_delivered`]), so no write is
//! applied twice. When the hold runs out, the request fails with the last
//! reason: Nomad's "No cluster leader" or the RPC error. A blocking read
//! (`?index=`) is given its wait at the leader on top of the hold.
//!
//! [`Limits::leader_hold_ms`]: crate::Limits::leader_hold_ms

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::backend::Leadership;
use crate::request::{Params, read_body};
use crate::routes::{BodyLimit, LayerState, Scope, find};
use crate::{ApiError, Backend, RouterState};

/// The header that marks a request relayed by another server.
pub const FORWARDED_HEADER: &str = "x-keel-forwarded";

/// How long a held request waits between tries.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// How long a relayed snapshot may take: it moves up to the upload limit of
/// `keel_api::limits` (tens of MiB), which a slow link may need minutes for.
const SNAPSHOT_RELAY_TIMEOUT: Duration = Duration::from_secs(300);

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
        Leadership::Elsewhere | Leadership::Unknown => hold(&state, endpoint.body_limit, request, next).await,
    }
}

/// Serves a leader-only request that found no leader here: relays it, or
/// holds it across an election as the module says.
async fn hold<B: Backend>(state: &RouterState<B>, body_limit: BodyLimit, request: Request, next: Next) -> Response {
    let hold = Duration::from_millis(state.limits.leader_hold_ms);
    let (limit, relay_timeout) = match body_limit {
        // A blocking read waits at the leader as long as it asks.
        BodyLimit::Json => {
            (state.limits.body_max_bytes, crate::blocking::wait_of(request.uri()).map(|wait| wait + hold))
        }
        BodyLimit::Snapshot => (state.limits.snapshot_max_bytes, Some(SNAPSHOT_RELAY_TIMEOUT)),
    };
    let (parts, body) = request.into_parts();
    // The same checks a handler makes, before anything is buffered to relay.
    let body = match read_body(body, limit, state.limits.body_idle_timeout_ms).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let deadline = tokio::time::Instant::now() + hold;
    let may_repeat = parts.method == Method::GET;
    loop {
        let reason = match state.backend.leadership() {
            Leadership::Here => return next.run(Request::from_parts(parts, Body::from(body))).await,
            Leadership::Unknown => ApiError::no_leader(),
            Leadership::Elsewhere => {
                let timeout =
                    relay_timeout.unwrap_or_else(|| deadline.saturating_duration_since(tokio::time::Instant::now()));
                match state.backend.forward(relayed(&parts, &body), timeout).await {
                    Ok(reply) => return reply.map(Body::from).into_response(),
                    Err(failed) if failed.maybe_delivered && !may_repeat => return failed.error.into_response(),
                    Err(failed) => failed.error,
                }
            }
        };
        if tokio::time::Instant::now() + RETRY_EVERY >= deadline {
            return reason.into_response();
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// The request as it goes to the leader: as it arrived, marked as relayed.
fn relayed(parts: &Parts, body: &Bytes) -> axum::http::Request<Vec<u8>> {
    let mut parts = parts.clone();
    parts.headers.insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    axum::http::Request::from_parts(parts, body.to_vec())
}
