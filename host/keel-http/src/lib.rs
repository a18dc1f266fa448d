//! Keel's HTTP API: the part of Nomad's API that Keel serves, so that
//! existing Nomad clients (the `nomad` CLI, SDKs, curl scripts) work unchanged.
//!
//! This crate owns the axum [`router`]: paths, methods, query options, JSON
//! shapes on the wire, the rights each route needs ([`ROUTES`]) and Nomad's
//! error format ([`ApiError`]). It knows nothing of how answers are found:
//! every handler parses the request, asks [`Backend::authorize`] for the
//! route's [`Capability`], and calls one [`Backend`] method (a follower
//! first relays leader-only requests to the leader, [`Backend::forward`]), which the `keel`
//! binary implements over the state, cluster and plugin crates. The crate
//! depends on `keel-api` (wire types) and on axum and serde; it must not
//! depend on the state, cluster or plugin crates, and it does no I/O of its own
//! besides reading request bodies under a size limit and an idle timeout
//! ([`Limits`]) and serving the router on a listener with a bound on how long
//! a request head may take ([`serve()`]).
//!
//! ```text
//! lib.rs                 router(), Limits, the route table
//! acl.rs                 the right each route needs (the reference's "ACL Required" column), who answers it
//! forward.rs             leader-only requests on a follower: relayed to the leader
//! request.rs             extractors: token, query options, bodies under limits, JSON objects only
//! reply.rs               JSON replies, ?pretty, the X-Nomad-* query headers
//! serve.rs               the connection loop: hyper with a request head timeout
//! operator_raft.rs       /v1/operator/raft/configuration, /v1/operator/raft/peer
//! operator_autopilot.rs  /v1/operator/autopilot/configuration, /v1/operator/autopilot/health
//! operator_scheduler.rs  /v1/operator/scheduler/configuration
//! operator_license.rs    /v1/operator/license
//! operator_snapshot.rs   /v1/operator/snapshot
//! agent.rs               /v1/agent/{members,self,servers,join,force-leave,health}
//! status.rs              /v1/status/{leader,peers}
//! acl_endpoints.rs       /v1/acl/{bootstrap,policies,policy/:name,tokens,token,token/:accessor,token/self}
//! backend.rs, error.rs   the contract with the binary
//! testing.rs             (tests) an in-memory Backend and the request helper
//! router_tests.rs        (tests) what holds across every route
//! forward_tests.rs       (tests) what a follower relays to the leader
//! ```

mod acl;
mod acl_endpoints;
mod agent;
mod backend;
mod error;
mod forward;
mod operator_autopilot;
mod operator_license;
mod operator_raft;
mod operator_scheduler;
mod operator_snapshot;
mod reply;
mod request;
mod serve;
mod status;

#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::MethodRouter;

pub use acl::{ROUTES, Route, Scope, route_for};
pub use backend::{Backend, Capability, Consistency, Identity, Leadership, PeerSelector, QueryMeta, Read, Written};
pub use error::ApiError;
pub use forward::FORWARDED_HEADER;
pub use serve::serve;

/// Size and time bounds on request bodies. Bodies are read only through
/// these; axum's own default limit (2 MB) plays no part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// JSON bodies and the license text.
    pub body_max_bytes: usize,
    /// A snapshot archive sent to `PUT /v1/operator/snapshot`.
    pub snapshot_max_bytes: usize,
    /// How long a body may make no progress before the request fails with 408.
    pub body_idle_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_max_bytes: keel_api::limits::HTTP_BODY_MAX_BYTES,
            snapshot_max_bytes: keel_api::limits::SNAPSHOT_UPLOAD_MAX_BYTES,
            body_idle_timeout_ms: 30_000,
        }
    }
}

/// What every handler can reach.
struct RouterState<B> {
    backend: Arc<B>,
    limits: Limits,
}

impl<B> Clone for RouterState<B> {
    fn clone(&self) -> Self {
        Self { backend: Arc::clone(&self.backend), limits: self.limits }
    }
}

impl<B> FromRef<RouterState<B>> for Arc<B> {
    fn from_ref(state: &RouterState<B>) -> Self {
        Arc::clone(&state.backend)
    }
}

impl<B> FromRef<RouterState<B>> for Limits {
    fn from_ref(state: &RouterState<B>) -> Self {
        state.limits
    }
}

/// The API router over `backend`, with the default [`Limits`].
pub fn router<B: Backend>(backend: Arc<B>) -> Router {
    router_with_limits(backend, Limits::default())
}

/// The API router over `backend`. Every path answers a method it does not
/// serve with "Invalid method" (405, or 404 where Nomad does so), and any
/// other path with 404 "404 page not found".
pub fn router_with_limits<B: Backend>(backend: Arc<B>, limits: Limits) -> Router {
    let not_allowed = StatusCode::METHOD_NOT_ALLOWED;
    // Nomad answers a wrong method on these three paths with 404.
    let not_found = StatusCode::NOT_FOUND;
    let state = RouterState { backend, limits };
    Router::new()
        .route("/v1/operator/raft/configuration", methods(not_allowed).get(operator_raft::configuration::<B>))
        .route("/v1/operator/raft/peer", methods(not_found).delete(operator_raft::remove_peer::<B>))
        .route(
            "/v1/operator/autopilot/configuration",
            methods(not_found)
                .get(operator_autopilot::configuration::<B>)
                .put(operator_autopilot::set_configuration::<B>),
        )
        .route("/v1/operator/autopilot/health", methods(not_found).get(operator_autopilot::health::<B>))
        .route(
            "/v1/operator/scheduler/configuration",
            methods(not_allowed)
                .get(operator_scheduler::configuration::<B>)
                .put(operator_scheduler::set_configuration::<B>)
                .post(operator_scheduler::set_configuration::<B>),
        )
        .route(
            "/v1/operator/license",
            methods(not_allowed).get(operator_license::license::<B>).put(operator_license::set_license::<B>),
        )
        .route(
            "/v1/operator/snapshot",
            methods(not_allowed).get(operator_snapshot::save::<B>).put(operator_snapshot::restore::<B>),
        )
        .route("/v1/agent/members", methods(not_allowed).get(agent::members::<B>))
        .route("/v1/agent/self", methods(not_allowed).get(agent::agent_self::<B>))
        .route(
            "/v1/agent/servers",
            methods(not_allowed).get(agent::servers::<B>).put(agent::set_servers::<B>).post(agent::set_servers::<B>),
        )
        .route("/v1/agent/join", methods(not_allowed).put(agent::join::<B>).post(agent::join::<B>))
        .route("/v1/agent/force-leave", methods(not_allowed).put(agent::force_leave::<B>).post(agent::force_leave::<B>))
        .route("/v1/agent/health", methods(not_allowed).get(agent::health::<B>))
        .route("/v1/status/leader", methods(not_allowed).get(status::leader::<B>))
        .route("/v1/status/peers", methods(not_allowed).get(status::peers::<B>))
        .route(
            "/v1/acl/bootstrap",
            methods(not_allowed).put(acl_endpoints::bootstrap::<B>).post(acl_endpoints::bootstrap::<B>),
        )
        .route("/v1/acl/policies", methods(not_allowed).get(acl_endpoints::policies::<B>))
        .route("/v1/acl/policy/", axum::routing::any(acl_endpoints::missing_policy_name))
        .route(
            "/v1/acl/policy/{name}",
            methods(not_allowed)
                .get(acl_endpoints::policy::<B>)
                .put(acl_endpoints::set_policy::<B>)
                .post(acl_endpoints::set_policy::<B>)
                .delete(acl_endpoints::delete_policy::<B>),
        )
        .route("/v1/acl/tokens", methods(not_allowed).get(acl_endpoints::tokens::<B>))
        .route(
            "/v1/acl/token",
            methods(not_allowed).put(acl_endpoints::create_token::<B>).post(acl_endpoints::create_token::<B>),
        )
        .route("/v1/acl/token/", axum::routing::any(acl_endpoints::missing_token_accessor))
        .route("/v1/acl/token/self", methods(not_allowed).get(acl_endpoints::token_self::<B>))
        .route(
            "/v1/acl/token/{accessor}",
            methods(not_allowed)
                .get(acl_endpoints::token::<B>)
                .put(acl_endpoints::update_token::<B>)
                .post(acl_endpoints::update_token::<B>)
                .delete(acl_endpoints::delete_token::<B>),
        )
        .fallback(page_not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), forward::to_leader::<B>))
        .with_state(state)
}

/// A method router that answers every method not added to it, HEAD included,
/// with "Invalid method". axum would otherwise serve HEAD with the GET handler
/// and answer other methods with an empty 405; Nomad does neither.
fn methods<B: Backend>(wrong_method: StatusCode) -> MethodRouter<RouterState<B>> {
    let invalid = move || async move { ApiError::invalid_method(wrong_method) };
    MethodRouter::new().head(invalid).fallback(invalid)
}

/// Go's `http.NotFound`, which Nomad serves for any path it does not know.
async fn page_not_found() -> ApiError {
    ApiError::not_found("404 page not found")
}
