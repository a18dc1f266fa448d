//! Successful replies: JSON as Nomad writes it, and the `X-Nomad-*` headers
//! that report on a read. Compose them with axum's tuples:
//! `(StatusCode, reply::meta(&meta), reply::Json::new(value, format))`.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::{ApiError, QueryMeta};

pub(crate) const X_NOMAD_INDEX: HeaderName = HeaderName::from_static("x-nomad-index");
pub(crate) const X_NOMAD_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-nomad-knownleader");
pub(crate) const X_NOMAD_LAST_CONTACT: HeaderName = HeaderName::from_static("x-nomad-lastcontact");

/// How to lay out JSON: compact, or `?pretty` (Go's `MarshalIndent` with
/// four spaces, plus a newline at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Compact,
    Pretty,
}

/// A JSON reply, `Content-Type: application/json`.
pub(crate) struct Json<T> {
    value: T,
    format: Format,
}

impl<T: Serialize> Json<T> {
    pub(crate) fn new(value: T, format: Format) -> Self {
        Self { value, format }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match encode(&self.value, self.format) {
            Ok(body) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
            Err(error) => {
                tracing::error!(%error, "encoding a reply");
                ApiError::internal("Failed to encode the reply").into_response()
            }
        }
    }
}

fn encode<T: Serialize>(value: &T, format: Format) -> Result<Vec<u8>, serde_json::Error> {
    match format {
        Format::Compact => serde_json::to_vec(value),
        Format::Pretty => {
            let mut body = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut body, formatter))?;
            body.push(b'\n');
            Ok(body)
        }
    }
}

/// `X-Nomad-Index`, for writes and for reads that report only their index.
pub(crate) fn index(index: u64) -> [(HeaderName, HeaderValue); 1] {
    [(X_NOMAD_INDEX, HeaderValue::from(index))]
}

/// A read's value as JSON, with its three query headers.
pub(crate) fn read<T: Serialize>(read: crate::Read<T>, format: Format) -> Response {
    (meta(&read.meta), Json::new(read.value, format)).into_response()
}

/// The three query headers of a read.
pub(crate) fn meta(meta: &QueryMeta) -> [(HeaderName, HeaderValue); 3] {
    let known_leader = if meta.known_leader { "true" } else { "false" };
    [
        (X_NOMAD_INDEX, HeaderValue::from(meta.index)),
        (X_NOMAD_KNOWN_LEADER, HeaderValue::from_static(known_leader)),
        (X_NOMAD_LAST_CONTACT, HeaderValue::from(meta.last_contact_ms)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_indents_four_spaces_and_ends_with_a_newline() {
        let value = serde_json::json!({"A": [1, {"B": []}], "C": {}});
        let pretty = encode(&value, Format::Pretty).expect("encodes");
        let expected =
            "{\n    \"A\": [\n        1,\n        {\n            \"B\": []\n        }\n    ],\n    \"C\": {}\n}\n";
        assert_eq!(String::from_utf8(pretty).expect("utf-8"), expected);
        let compact = encode(&value, Format::Compact).expect("encodes");
        assert_eq!(String::from_utf8(compact).expect("utf-8"), r#"{"A":[1,{"B":[]}],"C":{}}"#);
    }

    #[test]
    fn meta_headers_are_written_as_nomad_writes_them() {
        let headers = meta(&QueryMeta { index: 42, last_contact_ms: 7, known_leader: false });
        let text: Vec<(&str, &str)> =
            headers.iter().map(|(name, value)| (name.as_str(), value.to_str().expect("ascii"))).collect();
        assert_eq!(text, [("x-nomad-index", "42"), ("x-nomad-knownleader", "false"), ("x-nomad-lastcontact", "7")]);
    }
}
