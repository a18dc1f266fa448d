//! Every request the route table serves is timed into the sample
//! `nomad.http.request` (milliseconds), labelled with its method, its route
//! pattern (`/v1/acl/policy/{name}`, never the raw path, so the labels stay
//! few) and its status code: requests by route and status, and latency.
//!
//! The layer is on every request's path, so it registers each label set
//! once and keeps the handle: a request after the first of its kind records
//! without allocating, hashing labels or asking the recorder.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::Histogram;

use crate::request::read_small_body;
use crate::routes::LayerState;
use crate::{Backend, forward};

/// The histograms registered so far, by route pattern.
pub(crate) struct Timings {
    routes: HashMap<&'static str, RwLock<Vec<Seen>>>,
}

/// One route's histogram for one method and status (a route sees a handful).
type Seen = (Method, StatusCode, Histogram);

impl Timings {
    /// Timings for the route table's patterns.
    pub(crate) fn new(patterns: impl IntoIterator<Item = &'static str>) -> Arc<Self> {
        Arc::new(Self { routes: patterns.into_iter().map(|pattern| (pattern, RwLock::default())).collect() })
    }

    fn record(&self, route: &str, method: &Method, code: StatusCode, milliseconds: f64) {
        let Some((&pattern, seen)) = self.routes.get_key_value(route) else {
            return;
        };
        let known = seen.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, histogram)) = known.iter().find(|(m, c, _)| m == method && *c == code) {
            return histogram.record(milliseconds);
        }
        drop(known);
        let histogram = metrics::histogram!(
            "nomad.http.request",
            "method" => method.as_str().to_owned(),
            "route" => pattern,
            "code" => code.as_str().to_owned(),
        );
        histogram.record(milliseconds);
        seen.write().unwrap_or_else(PoisonError::into_inner).push((method.clone(), code, histogram));
    }
}

/// The outermost route layer: it reads a small body ahead (see
/// [`read_small_body`]) and times the answer whoever gave it (the handler,
/// the authorization layer, or the leader through the forwarder).
/// The forwarding layer runs inside it as a call rather than as a layer of
/// its own: every layer costs an allocation and a boxed future per request,
/// which on the cheapest endpoints was most of what timing them cost.
pub(crate) async fn record<B: Backend>(
    State((layers, timings)): State<(LayerState<B>, Arc<Timings>)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let idle_timeout_ms = layers.0.limits.body_idle_timeout_ms;
    let response = match read_small_body(request, idle_timeout_ms).await {
        Ok(request) => forward::to_leader(State(layers), request, next).await,
        Err(error) => error.into_response(),
    };
    if let Some(route) = route {
        timings.record(route.as_str(), &method, response.status(), started.elapsed().as_secs_f64() * 1_000.0);
    }
    response
}
