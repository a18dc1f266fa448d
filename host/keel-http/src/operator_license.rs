//! `/v1/operator/license`: the installed license, as the license plugin
//! reads it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::operator::LicenseUpdateResponse;

use crate::reply::{self, Json};
use crate::request::{self, Params};
use crate::{ApiError, Backend, Limits};

/// `GET /v1/operator/license[?stale]`: the license, or 204 with no body when
/// none is installed (what Nomad CE answers). The meta fields of the body
/// are filled from the read, like the headers.
pub(crate) async fn license<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let read = backend.license(consistency).await?;
    let Some(mut license) = read.value else {
        return Ok((StatusCode::NO_CONTENT, reply::meta(&read.meta)).into_response());
    };
    license.known_leader = read.meta.known_leader;
    license.last_contact = read.meta.last_contact_ms;
    license.last_index = read.meta.index;
    Ok((reply::meta(&read.meta), Json::new(license, params.format())).into_response())
}

/// `PUT /v1/operator/license[?force]`: the body is the raw license text, not
/// JSON. Surrounding whitespace (the newline at the end of a license file) is
/// not part of the license.
pub(crate) async fn set_license<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let force = params.flag("force")?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("License is not valid UTF-8 text"))?;
    let blob = text.trim();
    if blob.is_empty() {
        return Err(ApiError::bad_request("Request body is empty"));
    }
    let index = backend.set_license(blob.to_owned(), force).await?;
    Ok((reply::index(index), Json::new(LicenseUpdateResponse { index }, params.format())).into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error, sample_license};

    use super::*;

    const LICENSE: &str = "/v1/operator/license";

    #[tokio::test]
    async fn no_license_is_204_without_a_body() {
        let harness = Harness::new();
        let reply = harness.send("GET", LICENSE).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("content-type"), None);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorRead)));
    }

    #[tokio::test]
    async fn a_license_is_json_with_meta() {
        let harness = Harness::new();
        harness.backend.state().license = Some(sample_license("lic-1"));
        let reply = harness.send("GET", LICENSE).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({
                "License": {
                    "LicenseID": "lic-1", "CustomerID": "customer", "InstallationID": "*",
                    "IssueTime": "2024-06-01T08:50:16Z", "StartTime": "2024-06-01T08:50:16Z",
                    "ExpirationTime": "2034-06-01T08:50:16Z", "TerminationTime": "2034-06-01T08:50:16Z",
                    "NonProduction": false, "Product": "keel", "Flags": {}, "Modules": [],
                    "Features": ["Redundancy Zones"]
                },
                "ConfigOutdated": false, "KnownLeader": true, "LastContact": 0, "LastIndex": 12
            })
        );
        assert_eq!(reply.header("X-Nomad-Index"), Some("12"));
        assert_eq!(reply.header("X-Nomad-KnownLeader"), Some("true"));
    }

    #[tokio::test]
    async fn put_takes_the_raw_text() {
        let harness = Harness::new();
        let reply = harness.send_body("PUT", LICENSE, "  signed-blob\n").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({"Index": 13}));
        assert_eq!(reply.header("X-Nomad-Index"), Some("13"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorWrite)));

        let reply = harness.send_body("PUT", &format!("{LICENSE}?force"), "other").await;
        assert_eq!(reply.json(), json!({"Index": 14}));
        let reply = harness.send_body("PUT", &format!("{LICENSE}?force=false"), "third").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            harness.backend.state().license_writes,
            [("signed-blob".into(), false), ("other".into(), true), ("third".into(), false)]
        );
    }

    #[tokio::test]
    async fn bad_puts_are_400s() {
        let harness = Harness::new();
        assert_error(harness.send_body("PUT", LICENSE, "").await, StatusCode::BAD_REQUEST, "Request body is empty");
        assert_error(harness.send_body("PUT", LICENSE, " \n").await, StatusCode::BAD_REQUEST, "Request body is empty");
        let reply = harness.send_body("PUT", LICENSE, vec![0xff_u8, 0xfe]).await;
        assert_error(reply, StatusCode::BAD_REQUEST, "License is not valid UTF-8 text");
        let reply = harness.send_body("PUT", &format!("{LICENSE}?force=yes"), "blob").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "Expect `true` or `false` for `force` query string parameter");
        let reply = harness.send_body("PUT", LICENSE, "forged").await;
        assert_error(reply, StatusCode::BAD_REQUEST, "license signature is invalid");
        assert!(harness.backend.state().license_writes.is_empty());
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let harness = Harness::new();
        harness.assert_invalid_methods(LICENSE, &["POST", "DELETE", "HEAD"], StatusCode::METHOD_NOT_ALLOWED).await;
    }
}
