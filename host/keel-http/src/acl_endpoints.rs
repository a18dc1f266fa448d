//! `/v1/acl/...`: bootstrap, policies and tokens. Every handler checks the
//! route's right like any other; what a non-management token may see of a
//! policy or a token (its own) is decided by the backend, as Nomad's ACL
//! endpoint does it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::acl::{AclPolicy, AclToken, BootstrapRequest};

use crate::reply::{self, Json};
use crate::request::{self, Params, Token};
use crate::{ApiError, Backend, Limits};

/// `POST|PUT /v1/acl/bootstrap`: the first management token, once. The
/// optional body `{"BootstrapSecret": "<uuid>"}` chooses its secret.
pub(crate) async fn bootstrap<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let request: BootstrapRequest = match body.is_empty() {
        true => BootstrapRequest::default(),
        false => request::decode_object(&body, "failed to decode request body")?,
    };
    let (token, index) = backend.acl_bootstrap(request).await?;
    Ok((reply::index(index), Json::new(token, params.format())).into_response())
}

/// `GET /v1/acl/policies`: every policy for a management token, the
/// token's own for any other.
pub(crate) async fn policies<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
    token: Token,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    Ok(reply::read(backend.acl_policies(token.as_deref(), consistency).await?, params.format()))
}

/// `GET /v1/acl/policy/:name`.
pub(crate) async fn policy<B: Backend>(
    State(backend): State<Arc<B>>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    token: Token,
) -> Result<Response, ApiError> {
    let name = request::segment(name)?;
    let consistency = params.read_options()?;
    Ok(reply::read(backend.acl_policy(token.as_deref(), &name, consistency).await?, params.format()))
}

/// `POST|PUT /v1/acl/policy/:name`: creates or replaces the policy; its
/// rules must satisfy the ACL plugin. 200 with an empty body.
pub(crate) async fn set_policy<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    name: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let name = request::segment(name)?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let policy: AclPolicy = request::decode_json(&body, "ACL policy")?;
    if policy.name != name {
        return Err(ApiError::bad_request("ACL policy name does not match request path"));
    }
    let index = backend.upsert_acl_policy(policy).await?;
    Ok((StatusCode::OK, reply::index(index)).into_response())
}

/// `DELETE /v1/acl/policy/:name`. 200 with an empty body.
pub(crate) async fn delete_policy<B: Backend>(
    State(backend): State<Arc<B>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let name = request::segment(name)?;
    let index = backend.delete_acl_policy(name).await?;
    Ok((StatusCode::OK, reply::index(index)).into_response())
}

/// `/v1/acl/policy/` without a name, whatever the method.
pub(crate) async fn missing_policy_name() -> ApiError {
    ApiError::bad_request("Missing Policy Name")
}

/// `GET /v1/acl/tokens`: every token, without secrets.
pub(crate) async fn tokens<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    Ok(reply::read(backend.acl_tokens(consistency).await?, params.format()))
}

/// `POST|PUT /v1/acl/token`: creates a token; the reply carries its secret.
pub(crate) async fn create_token<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let new = decode_token(body, limits).await?;
    if !new.accessor_id.is_empty() {
        return Err(ApiError::bad_request("ACL token accessor does not match request path"));
    }
    upsert_token(&*backend, new, params).await
}

/// `POST|PUT /v1/acl/token/:accessor`: updates a token's name, type or
/// policies.
pub(crate) async fn update_token<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    accessor: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let accessor = request::segment(accessor)?;
    let update = decode_token(body, limits).await?;
    if update.accessor_id != accessor {
        return Err(ApiError::bad_request("ACL token accessor does not match request path"));
    }
    upsert_token(&*backend, update, params).await
}

async fn decode_token(body: Body, limits: Limits) -> Result<AclToken, ApiError> {
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    request::decode_json(&body, "ACL token")
}

async fn upsert_token<B: Backend>(backend: &B, token: AclToken, params: Params) -> Result<Response, ApiError> {
    let (token, index) = backend.upsert_acl_token(token).await?;
    Ok((reply::index(index), Json::new(token, params.format())).into_response())
}

/// `GET /v1/acl/token/:accessor`: any token for a management token, only
/// itself for any other.
pub(crate) async fn token<B: Backend>(
    State(backend): State<Arc<B>>,
    accessor: Result<Path<String>, PathRejection>,
    params: Params,
    token: Token,
) -> Result<Response, ApiError> {
    let accessor = request::segment(accessor)?;
    let consistency = params.read_options()?;
    Ok(reply::read(backend.acl_token(token.as_deref(), &accessor, consistency).await?, params.format()))
}

/// `DELETE /v1/acl/token/:accessor`. 200 with an empty body.
pub(crate) async fn delete_token<B: Backend>(
    State(backend): State<Arc<B>>,
    accessor: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let accessor = request::segment(accessor)?;
    let index = backend.delete_acl_token(accessor).await?;
    Ok((StatusCode::OK, reply::index(index)).into_response())
}

/// `GET /v1/acl/token/self`: the token the request carries.
pub(crate) async fn token_self<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
    token: Token,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    Ok(reply::read(backend.acl_token_self(token.as_deref(), consistency).await?, params.format()))
}

/// `/v1/acl/token/` without an accessor, whatever the method.
pub(crate) async fn missing_token_accessor() -> ApiError {
    ApiError::bad_request("Missing Token Accessor")
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    #[tokio::test]
    async fn bootstrap_answers_the_token_once() {
        let harness = Harness::new();
        let reply = harness.send("POST", "/v1/acl/bootstrap").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("X-Nomad-Index"), Some("13"));
        assert_eq!(
            reply.json(),
            json!({
                "AccessorID": "accessor-13", "SecretID": "secret-13", "Name": "Bootstrap Token",
                "Type": "management", "Policies": null, "Global": true,
                "CreateTime": "1970-01-01T00:00:00Z", "ExpirationTTL": "", "CreateIndex": 13, "ModifyIndex": 13
            })
        );
        let again = harness.send_body("PUT", "/v1/acl/bootstrap", r#"{"BootstrapSecret": "x"}"#).await;
        assert_error(again, StatusCode::BAD_REQUEST, "ACL bootstrap already done (reset index: 13)");
        let garbage = harness.send_body("PUT", "/v1/acl/bootstrap", "{").await;
        assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
        assert!(garbage.text().starts_with("failed to decode request body: "), "{}", garbage.text());
    }

    #[tokio::test]
    async fn policies_are_written_read_listed_and_deleted() {
        let harness = Harness::new();
        let body = json!({"Name": "ops", "Description": "operators", "Rules": "operator { policy = \"read\" }"});
        let written = harness.send_body("PUT", "/v1/acl/policy/ops", body.to_string()).await;
        assert_eq!((written.status, written.text(), written.header("X-Nomad-Index")), (StatusCode::OK, "", Some("13")));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Management)));

        let read = harness.send("GET", "/v1/acl/policy/ops").await;
        assert_eq!(
            read.json(),
            json!({"Name": "ops", "Description": "operators", "Rules": "operator { policy = \"read\" }",
                   "CreateIndex": 13, "ModifyIndex": 13})
        );
        assert_eq!(read.header("X-Nomad-KnownLeader"), Some("true"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::Authenticated)));
        let listed = harness.send("GET", "/v1/acl/policies").await;
        assert_eq!(
            listed.json(),
            json!([{"Name": "ops", "Description": "operators", "CreateIndex": 13, "ModifyIndex": 13}])
        );

        let deleted = harness.send("DELETE", "/v1/acl/policy/ops").await;
        assert_eq!((deleted.status, deleted.header("X-Nomad-Index")), (StatusCode::OK, Some("14")));
        assert_error(harness.send("GET", "/v1/acl/policy/ops").await, StatusCode::NOT_FOUND, "ACL policy not found");
        assert_eq!(harness.send("GET", "/v1/acl/policies").await.json(), json!([]));
    }

    #[tokio::test]
    async fn bad_policy_requests_are_400s() {
        let harness = Harness::new();
        let cases = [
            ("/v1/acl/policy/ops", "", "Error parsing ACL policy: Request body is empty"),
            ("/v1/acl/policy/ops", r#"{"Name": "dev"}"#, "ACL policy name does not match request path"),
            ("/v1/acl/policy/ops", r#"{"Name": "ops", "Rules": "invalid"}"#, "policy 0 invalid: rules do not parse"),
            ("/v1/acl/policy/", "{}", "Missing Policy Name"),
            ("/v1/acl/token/", "{}", "Missing Token Accessor"),
        ];
        for (uri, body, message) in cases {
            assert_error(harness.send_body("POST", uri, body).await, StatusCode::BAD_REQUEST, message);
        }
        assert!(harness.backend.state().acl_policies.is_empty());
    }

    #[tokio::test]
    async fn tokens_are_created_read_updated_and_deleted() {
        let harness = Harness::new();
        let body = json!({"Name": "ci", "Type": "client", "Policies": ["ops"], "ExpirationTTL": "1h"});
        let created = harness.send_body("POST", "/v1/acl/token", body.to_string()).await;
        assert_eq!((created.status, created.header("X-Nomad-Index")), (StatusCode::OK, Some("13")));
        let token = created.json();
        assert_eq!(
            (token["AccessorID"].as_str(), token["SecretID"].as_str()),
            (Some("accessor-13"), Some("secret-13"))
        );
        assert_eq!((&token["Policies"], &token["ExpirationTTL"]), (&json!(["ops"]), &json!("1h0m0s")));

        let own = harness.request("GET", "/v1/acl/token/self", &[("X-Nomad-Token", "secret-13")], "").await;
        assert_eq!(own.json()["AccessorID"], "accessor-13");
        assert_error(harness.send("GET", "/v1/acl/token/self").await, StatusCode::NOT_FOUND, "ACL token not found");
        assert_eq!(harness.send("GET", "/v1/acl/token/accessor-13").await.json()["Name"], "ci");

        let listed = harness.send("GET", "/v1/acl/tokens").await.json();
        assert_eq!(listed[0]["AccessorID"], "accessor-13");
        assert!(listed[0].get("SecretID").is_none(), "{listed}");

        let update = json!({"AccessorID": "accessor-13", "Name": "renamed", "Type": "client", "Policies": ["ops"]});
        let updated = harness.send_body("PUT", "/v1/acl/token/accessor-13", update.to_string()).await.json();
        assert_eq!((updated["Name"].as_str(), updated["ModifyIndex"].as_u64()), (Some("renamed"), Some(14)));
        let wrong_path = harness.send_body("PUT", "/v1/acl/token/other", update.to_string()).await;
        assert_error(wrong_path, StatusCode::BAD_REQUEST, "ACL token accessor does not match request path");
        let create_with_id = harness.send_body("POST", "/v1/acl/token", update.to_string()).await;
        assert_error(create_with_id, StatusCode::BAD_REQUEST, "ACL token accessor does not match request path");

        assert_eq!(harness.send("DELETE", "/v1/acl/token/accessor-13").await.status, StatusCode::OK);
        let again = harness.send("DELETE", "/v1/acl/token/accessor-13").await;
        assert_error(again, StatusCode::BAD_REQUEST, "Cannot delete nonexistent tokens: accessor-13");
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let harness = Harness::new();
        let not_allowed = StatusCode::METHOD_NOT_ALLOWED;
        harness.assert_invalid_methods("/v1/acl/bootstrap", &["GET", "DELETE", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/policies", &["PUT", "POST", "DELETE", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/policy/ops", &["PATCH", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/tokens", &["PUT", "POST", "DELETE", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/token", &["GET", "DELETE", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/token/self", &["PUT", "POST", "DELETE", "HEAD"], not_allowed).await;
        harness.assert_invalid_methods("/v1/acl/token/accessor-1", &["PATCH", "HEAD"], not_allowed).await;
    }
}
