//! The authorization layer: before any handler runs, the route's right
//! (from [`crate::routes::table`]) is checked for the request's token.
//!
//! The layer sits inside each route (`route_layer`), so axum has matched the
//! path and `MatchedPath` names the table entry. A request first passes the
//! checks Nomad makes before its ACL check (the query string, `?region` and
//! `?dc`, a path segment that decodes, and the endpoint's own query
//! options), so a malformed request is a 400 for anyone; the body is read
//! only after the right is granted. A method the route does not serve goes
//! on to its "Invalid method" answer unchecked.

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::request::{Params, Token};
use crate::routes::{Endpoint, LayerState, find};
use crate::{ApiError, Backend, RequestContext, RouterState};

/// The namespace of a request that names none, as in Nomad.
const DEFAULT_NAMESPACE: &str = "default";

pub(crate) async fn check_right<B: Backend>(
    State((state, table)): State<LayerState<B>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(matched) = parts.extensions.get::<MatchedPath>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Some(endpoint) = find(&table, matched.as_str(), &parts.method) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    match admit(&state, &mut parts, matched.as_str(), endpoint).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// The checks of the module's header, in Nomad's order.
async fn admit<B: Backend>(
    state: &RouterState<B>,
    parts: &mut Parts,
    matched: &str,
    endpoint: &Endpoint<B>,
) -> Result<(), ApiError> {
    let params = Params::from_request_parts(parts, state).await?;
    if matched.contains('{') && Path::<Vec<String>>::from_request_parts(parts, &()).await.is_err() {
        return Err(ApiError::bad_request("Invalid path"));
    }
    (endpoint.check)(&params)?;
    let Ok(token) = Token::from_request_parts(parts, &()).await;
    let request = RequestContext {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        namespace: params.non_empty("namespace").unwrap_or(DEFAULT_NAMESPACE),
    };
    state.backend.authorize(token.as_deref(), endpoint.capability, &request).await
}
