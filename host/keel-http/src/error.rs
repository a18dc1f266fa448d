//! Errors as Nomad writes them: a status code and a bare text message.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error reply: `Content-Type: text/plain; charset=utf-8` and the
/// message as the whole body. Messages are for clients; internal detail is
/// logged where the error is handled and never put here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 "Permission denied".
    pub fn permission_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Permission denied")
    }

    /// 403 "ACL token not found".
    pub fn token_not_found() -> Self {
        Self::new(StatusCode::FORBIDDEN, "ACL token not found")
    }

    /// 403 "ACL token expired".
    pub fn token_expired() -> Self {
        Self::new(StatusCode::FORBIDDEN, "ACL token expired")
    }

    /// 400 "ACL support disabled": an ACL endpoint on an agent without ACLs.
    pub fn acl_disabled() -> Self {
        Self::bad_request("ACL support disabled")
    }

    /// 404 with a message naming what was not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// "Invalid method": a method the path does not serve. Nomad answers
    /// 405 on most paths and 404 on a few (raft peer removal, autopilot), so
    /// the route chooses the status.
    pub fn invalid_method(status: StatusCode) -> Self {
        Self::new(status, "Invalid method")
    }

    /// 413: the request body is larger than the route accepts.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 500 "No cluster leader": a leader-only request while no leader is known.
    pub fn no_leader() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader")
    }

    /// 500 with a message for the client.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 503: the server is overloaded for now; the client may try again.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 501: this agent does not serve the request (a client-only endpoint on
    /// a server, or the reverse).
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.message).into_response()
    }
}
