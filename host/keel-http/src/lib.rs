//! Keel's HTTP API: the part of Nomad's API that Keel serves, so that
//! existing Nomad clients (the `nomad` CLI, SDKs, curl scripts) work unchanged.
//!
//! This crate owns the axum [`router`]: paths, methods, query options, JSON
//! shapes on the wire, the rights each route needs and Nomad's error format
//! ([`ApiError`]). One route table (`routes.rs`) names, per path and method,
//! the [`Capability`] needed, the [`Scope`] that answers and the handler; the
//! router, the authorization layer and the forwarding layer are derived from
//! it, found by axum's `MatchedPath`. Handlers never check rights: the
//! authorization layer asks [`Backend::authorize`] before they run, and a
//! follower first relays leader-only requests to the leader
//! ([`Backend::forward`]). It knows nothing of how answers are found: each
//! handler parses the request and calls one [`Backend`] method, which the
//! `keel` binary implements over the state, cluster and plugin crates. The
//! crate depends on `keel-api` (wire types) and on axum and serde; it must
//! not depend on the state, cluster or plugin crates, and it does no I/O of
//! its own besides reading request bodies under a size limit and an idle
//! timeout ([`Limits`]) and serving the router on a listener with a bound on
//! how long a request head may take ([`serve()`]).
//!
//! ```text
//! lib.rs                 router(), Limits
//! routes.rs              the route table: per path and method, the right ("ACL Required"), scope, checks, handler
//! authorize.rs           the layer that checks a route's right before its handler runs
//! forward.rs             the layer that relays leader-only requests on a follower to the leader
//! observe.rs             the outermost layer: reads small bodies ahead, times every request into the metrics
//! request.rs             extractors: token, query options, bodies under limits, JSON objects only
//! reply.rs               JSON replies, ?pretty, the X-Nomad-* query headers
//! serve.rs               the connection loop: hyper with a request head timeout
//! operator_raft.rs       /v1/operator/raft/configuration, /v1/operator/raft/peer
//! operator_autopilot.rs  /v1/operator/autopilot/configuration, /v1/operator/autopilot/health
//! operator_scheduler.rs  /v1/operator/scheduler/configuration
//! operator_license.rs    /v1/operator/license
//! operator_snapshot.rs   /v1/operator/snapshot
//! agent.rs               /v1/agent/{members,self,servers,join,force-leave,health}, /v1/metrics
//! status.rs              /v1/status/{leader,peers}
//! ui.rs                  the status page at /ui/, its files embedded by build.rs from ui/
//! acl_endpoints.rs       /v1/acl/{bootstrap,policies,policy/:name,tokens,token,token/:accessor,token/self}
//! backend.rs             the contract with the binary: one trait per endpoint family, Backend over all
//! error.rs               ApiError, Nomad's error replies
//! testing.rs             (tests) an in-memory Backend and the request helper
//! router_tests.rs        (tests) what holds across every route, and that the router serves exactly the table
//! forward_tests.rs       (tests) what a follower relays to the leader
//! snapshots/routes.txt   (tests) the table's rights, as the reference documents give them
//! ```

mod acl_endpoints;
mod agent;
mod authorize;
mod backend;
mod blocking;
mod client_fs;
mod error;
mod forward;
mod jobs;
mod node;
mod observe;
mod operator_autopilot;
mod operator_license;
mod operator_plugin;
mod operator_raft;
mod operator_scheduler;
mod operator_snapshot;
mod reply;
mod request;
mod routes;
mod serve;
mod status;
mod ui;

#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;

pub use backend::{
    AclApi, AgentApi, Authorize, AutopilotApi, Backend, Capability, Consistency, Identity, JobApi, Leadership,
    LicenseApi, Metrics, NodeApi, OperatorRaftApi, PeerSelector, PluginApi, QueryMeta, Read, RelayError,
    RequestContext, SchedulerApi, SnapshotApi, Watch, Written,
};
pub use error::ApiError;
pub use forward::FORWARDED_HEADER;
pub use routes::Scope;
pub use serve::{serve, shutdown_signal};

/// Size and time bounds on requests. Bodies are read only through these;
/// axum's own default limit (2 MB) plays no part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// JSON bodies and the license text.
    pub body_max_bytes: usize,
    /// A snapshot archive sent to `PUT /v1/operator/snapshot`.
    pub snapshot_max_bytes: usize,
    /// How long a body may make no progress before the request fails with 408.
    pub body_idle_timeout_ms: u64,
    /// How long a leader-only request that finds no reachable leader is held
    /// and tried again while the cluster elects one (Nomad's
    /// `rpc_hold_timeout`); also how long a relay to a leader that stopped
    /// answering may take.
    pub leader_hold_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_max_bytes: keel_api::limits::HTTP_BODY_MAX_BYTES,
            snapshot_max_bytes: keel_api::limits::SNAPSHOT_UPLOAD_MAX_BYTES,
            body_idle_timeout_ms: 30_000,
            leader_hold_ms: 5_000,
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

/// The API router over `backend`, derived from the route table: every path
/// answers a method it does not serve with "Invalid method" (405, or 404
/// where Nomad does so), and any other path with 404 "404 page not found".
/// Inside each route, the forwarding layer runs first and then the
/// authorization layer, so a follower relays a request without judging it;
/// around both, every request is timed into the agent's metrics.
pub fn router_with_limits<B: Backend>(backend: Arc<B>, limits: Limits) -> Router {
    let state = RouterState { backend, limits };
    let table = Arc::new(routes::table::<B>());
    let router = table.iter().fold(Router::new(), |router, route| router.route(route.path, route.method_router()));
    let timings = observe::Timings::new(table.iter().map(|route| route.path));
    let layers = (state.clone(), table);
    router
        .route_layer(axum::middleware::from_fn_with_state(layers.clone(), authorize::check_right::<B>))
        .route_layer(axum::middleware::from_fn_with_state((layers, timings), observe::record::<B>))
        .fallback(page_not_found)
        .with_state(state)
}

/// Go's `http.NotFound`, which Nomad serves for any path it does not know.
async fn page_not_found() -> ApiError {
    ApiError::not_found("404 page not found")
}
