//! Every request the route table serves is timed into the sample
//! `nomad.http.request` (milliseconds), labelled with its method, its route
//! pattern (`/v1/acl/policy/{name}`, never the raw path, so the labels stay
//! few) and its status code: requests by route and status, and latency.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The outermost route layer: it sees the answer whoever gave it (the
/// handler, the authorization layer, or the leader through the forwarder).
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    if let Some(route) = route {
        let code = response.status().as_str().to_owned();
        metrics::histogram!("nomad.http.request", "method" => method, "route" => route, "code" => code)
            .record(started.elapsed().as_secs_f64() * 1_000.0);
    }
    response
}
