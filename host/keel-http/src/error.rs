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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.message).into_response()
    }
}

/// The reply to a method a path does not serve.
pub(crate) async fn invalid_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
}
