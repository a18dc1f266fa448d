//! `/v1/operator/snapshot`: save and restore the whole state as an archive
//! (DESIGN.md §6). The archive is opaque here; the backend builds and checks it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::reply;
use crate::request::{self, Params};
use crate::{ApiError, Backend, Limits};

const DIGEST: HeaderName = HeaderName::from_static("digest");

/// `GET /v1/operator/snapshot[?stale]`: the archive as `application/x-gzip`,
/// with `Digest: sha-256=<base64>` over exactly the bytes sent, which
/// clients check.
pub(crate) async fn save<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let read = backend.save_snapshot(consistency).await?;
    let digest = digest(&read.value);
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/x-gzip")), (DIGEST, digest)];
    Ok((headers, reply::index(read.meta.index), read.value).into_response())
}

/// `PUT /v1/operator/snapshot`: the raw archive, bounded by
/// [`Limits::snapshot_max_bytes`]. 200 with an empty body once restored.
pub(crate) async fn restore<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    // Extracted for its `?region` and `?dc` check; a restore takes no option.
    _params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let archive = request::read_body(body, limits.snapshot_max_bytes, limits.body_idle_timeout_ms).await?;
    if archive.is_empty() {
        return Err(ApiError::bad_request("Request body is empty"));
    }
    let index = backend.restore_snapshot(archive.to_vec()).await?;
    Ok((StatusCode::OK, reply::index(index)).into_response())
}

/// The `Digest` header value (RFC 3230): `sha-256=` and the standard base64
/// of the SHA-256.
fn digest(bytes: &[u8]) -> HeaderValue {
    let value = format!("sha-256={}", STANDARD.encode(Sha256::digest(bytes)));
    HeaderValue::try_from(value).expect("base64 is visible ASCII")
}

#[cfg(test)]
mod tests {
    use crate::testing::{Harness, TestBackend, assert_error};
    use crate::{Capability, Consistency};

    use super::*;

    const SNAPSHOT: &str = "/v1/operator/snapshot";
    const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

    fn archive(len: usize) -> Vec<u8> {
        let mut bytes = GZIP_MAGIC.to_vec();
        bytes.resize(len, 7);
        bytes
    }

    #[tokio::test]
    async fn save_sends_the_archive_with_its_digest() {
        let harness = Harness::new();
        let reply = harness.send("GET", SNAPSHOT).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/x-gzip");
        assert_eq!(reply.body.as_ref(), b"hello");
        // SHA-256("hello"), as `printf hello | sha256sum | xxd -r -p | base64` gives it.
        assert_eq!(reply.header("Digest"), Some("sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="));
        assert_eq!(reply.header("X-Nomad-Index"), Some("12"));
        assert_eq!(harness.backend.state().last_consistency, Some(Consistency::Leader));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));
    }

    #[tokio::test]
    async fn save_honours_stale_and_checks_it() {
        let harness = Harness::new();
        harness.backend.state().leader = None;
        assert_error(harness.send("GET", SNAPSHOT).await, StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader");
        let reply = harness.send("GET", &format!("{SNAPSHOT}?stale")).await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = harness.send("GET", &format!("{SNAPSHOT}?stale=sometimes")).await;
        assert_error(reply, StatusCode::BAD_REQUEST, "Expect `true` or `false` for `stale` query string parameter");
    }

    #[tokio::test]
    async fn restore_takes_the_raw_archive() {
        let harness = Harness::new();
        let reply = harness.send_body("PUT", SNAPSHOT, archive(100)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("X-Nomad-Index"), Some("13"));
        assert_eq!(harness.backend.state().restored, Some(archive(100)));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));
    }

    #[tokio::test]
    async fn restore_is_not_bound_by_axums_default_limit() {
        let harness = Harness::new();
        let three_mib = archive(3 * 1024 * 1024);
        let reply = harness.send_body("PUT", SNAPSHOT, three_mib.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(harness.backend.state().restored.as_ref().map(Vec::len), Some(three_mib.len()));
    }

    #[tokio::test]
    async fn restore_refuses_empty_oversized_and_corrupt_archives() {
        let limits = Limits { snapshot_max_bytes: 64, ..Limits::default() };
        let harness = Harness::with(TestBackend::new(), limits);
        assert_error(harness.send_body("PUT", SNAPSHOT, "").await, StatusCode::BAD_REQUEST, "Request body is empty");
        let reply = harness.send_body("PUT", SNAPSHOT, archive(65)).await;
        assert_error(reply, StatusCode::PAYLOAD_TOO_LARGE, "Request body is larger than the limit of 64 bytes");
        let reply = harness.send_body("PUT", SNAPSHOT, "not gzip").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "snapshot archive is not gzip");
        assert_eq!(harness.backend.state().restored, None);
        assert_eq!(harness.send_body("PUT", SNAPSHOT, archive(64)).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let harness = Harness::new();
        harness.assert_invalid_methods(SNAPSHOT, &["POST", "DELETE", "HEAD"], StatusCode::METHOD_NOT_ALLOWED).await;
        assert_eq!(harness.backend.state().restored, None);
    }
}
