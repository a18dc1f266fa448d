//! Extractors: the ACL token, the query string, and request bodies read under
//! a size limit and an idle timeout and decoded only from JSON objects. Parsing follows Nomad (command/agent/http.go) so that clients see
//! the same 400s for the same mistakes.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequestParts, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use keel_api::json::JsonError;
use serde::de::DeserializeOwned;

use crate::reply::Format;
use crate::{ApiError, Backend, Consistency, Identity, RouterState};

/// The secret a request carries: `X-Nomad-Token`, else the value of
/// `Authorization: Bearer <secret>`; `None` means anonymous. A token in the
/// query string is never read, so secrets do not end up in access logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token(pub Option<String>);

impl Token {
    pub(crate) fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Token {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Token(token_from_headers(&parts.headers)))
    }
}

/// Nomad's `parseToken`: an empty `X-Nomad-Token` falls through to
/// `Authorization`, whose scheme is matched without regard to case and whose
/// value is the first word after it.
fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    // A header that is not UTF-8 is still a token (one no ACL store will
    // know), never a reason to fall back to the anonymous token.
    let text = |name| headers.get(name).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    if let Some(token) = text("x-nomad-token").filter(|token| !token.is_empty()) {
        return Some(token);
    }
    let authorization = text(AUTHORIZATION.as_str())?;
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let secret = rest.trim().split(' ').next().unwrap_or_default().trim();
    (!secret.is_empty()).then(|| secret.to_owned())
}

/// The decoded query string, in order and with repeated keys kept. A key
/// without `=` (`?stale`) has the empty value.
///
/// Extracting it also checks `?region` and `?dc`: Keel serves one region and
/// one datacenter, so naming another is the error Nomad (or Consul) gives when
/// it has no route to it. An empty value means the agent's own, as in Nomad.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl<B: Backend> FromRequestParts<RouterState<B>> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouterState<B>) -> Result<Self, Self::Rejection> {
        let params = Params::from_uri(&parts.uri).ok_or_else(|| ApiError::bad_request("Invalid query string"))?;
        params.check_target(state.backend.identity())?;
        Ok(params)
    }
}

impl Params {
    /// The query of `uri`; `None` when it cannot be decoded.
    pub(crate) fn from_uri(uri: &axum::http::Uri) -> Option<Self> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
        Some(Params { pairs })
    }

    #[cfg(test)]
    pub(crate) fn parse(query: &str) -> Self {
        let uri: axum::http::Uri = format!("/?{query}").parse().expect("test queries are valid URIs");
        let Query(pairs) = Query::try_from_uri(&uri).expect("a list of pairs always deserializes");
        Params { pairs }
    }

    fn check_target(&self, identity: &Identity) -> Result<(), ApiError> {
        if let Some(region) = self.first("region").filter(|r| !r.is_empty() && *r != identity.region) {
            return Err(ApiError::internal(format!("No path to region {region:?}")));
        }
        if let Some(dc) = self.first("dc").filter(|dc| !dc.is_empty() && *dc != identity.datacenter) {
            return Err(ApiError::internal(format!("No path to datacenter {dc:?}")));
        }
        Ok(())
    }

    /// The first value of `key`, as Go's `url.Values.Get` (but `None` when
    /// the key is absent).
    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key` when it is not empty.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.first(key).filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a repeated key (`?address=a&address=b`).
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone()).collect()
    }

    /// Every value of a repeated key, empty ones included.
    pub(crate) fn all_values(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// A boolean flag: absent is false, present without a value is true,
    /// otherwise Go's `ParseBool` decides.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.first(key) {
            None => Ok(false),
            Some("") => Ok(true),
            Some(value) => keel_api::parse_bool(value).ok_or_else(|| {
                ApiError::bad_request(format!("Expect `true` or `false` for `{key}` query string parameter"))
            }),
        }
    }

    /// `?cas=N`: `None` when absent; present with anything but an unsigned
    /// integer is a 400, empty included, as Nomad parses it.
    pub(crate) fn cas(&self) -> Result<Option<u64>, ApiError> {
        self.first("cas")
            .map(|value| {
                parse_uint(value).map_err(|reason| ApiError::bad_request(format!("Error parsing cas value: {reason}")))
            })
            .transpose()
    }

    /// The options every read accepts: `?stale` decides the consistency;
    /// `?index` and `?wait` (blocking queries, [`crate::blocking`]) are
    /// checked so that a typo is the 400 Nomad gives.
    pub(crate) fn read_options(&self) -> Result<Consistency, ApiError> {
        let stale = self.flag("stale")?;
        if let Some(wait) = self.non_empty("wait") {
            keel_api::duration::parse(wait).map_err(|_| ApiError::bad_request("Invalid wait time"))?;
        }
        if let Some(index) = self.non_empty("index") {
            parse_uint(index).map_err(|_| ApiError::bad_request("Invalid index"))?;
        }
        Ok(if stale { Consistency::Stale } else { Consistency::Leader })
    }

    /// `?pretty` with no value or any value but `0` asks for indented JSON.
    pub(crate) fn format(&self) -> Format {
        match self.first("pretty") {
            Some(value) if value != "0" => Format::Pretty,
            _ => Format::Compact,
        }
    }
}

/// Go's `strconv.ParseUint(value, 10, 64)`, with its error text: digits
/// only, no sign, no spaces.
fn parse_uint(value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {value:?}: invalid syntax"));
    }
    value.parse().map_err(|_| format!("strconv.ParseUint: parsing {value:?}: value out of range"))
}

/// Bodies up to this size are read before the route runs, as Go's server
/// reads up to 256 KiB of what a handler left. A handler that answers
/// without reading the body (a refusal, or an endpoint that takes none)
/// would leave bytes unread, and the connection would close after the
/// answer: the kernel resets it under a client still sending, and a client
/// that reuses it loses its next request. Larger bodies, and bodies of
/// unknown length, stream to the handler under its limit as before.
const READ_AHEAD_MAX_BYTES: u64 = 256 * 1024;

/// The request with its body read ahead when it declares at most
/// [`READ_AHEAD_MAX_BYTES`]; a body that stalls is a 408 as in [`read_body`].
pub(crate) async fn read_small_body(request: Request, idle_timeout_ms: u64) -> Result<Request, ApiError> {
    if !request.body().size_hint().exact().is_some_and(|bytes| bytes > 0 && bytes <= READ_AHEAD_MAX_BYTES) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let max_bytes = usize::try_from(READ_AHEAD_MAX_BYTES).unwrap_or(usize::MAX);
    let body = read_body(body, max_bytes, idle_timeout_ms).await?;
    Ok(Request::from_parts(parts, Body::from(body)))
}

/// Reads the whole body under `max_bytes`, refusing it with a 413. A
/// declared `Content-Length` over the limit is refused before any of the body
/// is read, so a client that declares much and sends nothing still gets its
/// answer; a chunked body is refused as soon as it passes the limit. A body
/// that makes no progress for `idle_timeout_ms` is a 408: a slow client must
/// not hold a handler (and its buffer) forever.
pub(crate) async fn read_body(body: Body, max_bytes: usize, idle_timeout_ms: u64) -> Result<Bytes, ApiError> {
    let too_large =
        || ApiError::payload_too_large(format!("Request body is larger than the limit of {max_bytes} bytes"));
    let declared_bytes = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if declared_bytes > max_bytes {
        return Err(too_large());
    }
    let idle = Duration::from_millis(idle_timeout_ms);
    let mut body = body;
    let mut collected = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                let message = format!("Request body stalled: nothing arrived for {idle_timeout_ms} ms");
                return Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, message));
            }
            Ok(None) => return Ok(Bytes::from(collected)),
            Ok(Some(Err(error))) => {
                tracing::debug!(%error, "reading a request body");
                return Err(ApiError::bad_request("Failed to read the request body"));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if collected.len().saturating_add(data.len()) > max_bytes {
                return Err(too_large());
            }
            collected.extend_from_slice(&data);
        }
    }
}

/// A path parameter, or a 400 "Invalid path" when it cannot be read.
pub(crate) fn segment(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    path.map(|axum::extract::Path(segment)| segment).map_err(|_| ApiError::bad_request("Invalid path"))
}

/// Nomad's `decodeBody`, with the message prefix it uses for `what`:
/// "Error parsing autopilot config: Request body is empty".
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    decode_object(body, &format!("Error parsing {what}"))
}

/// Decodes a body that must be one JSON object into `T`, a struct inside it
/// from an object too (serde would otherwise fill a struct from an array),
/// nested at most [`keel_api::json::DEPTH_MAX`] deep. Errors start with
/// `prefix` and read like Go's `encoding/json`.
pub(crate) fn decode_object<T: DeserializeOwned>(body: &[u8], prefix: &str) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(format!("{prefix}: Request body is empty")));
    }
    keel_api::json::from_slice(body).map_err(|error| {
        let reason = match error {
            JsonError::NotAnObject(kind) => {
                format!("json: cannot unmarshal {kind} into Go value of type {}", go_type_name::<T>())
            }
            other => other.to_string(),
        };
        ApiError::bad_request(format!("{prefix}: {reason}"))
    })
}

/// The name Nomad's handler decodes a body into, for Go's error text.
fn go_type_name<T>() -> String {
    let rust = std::any::type_name::<T>().rsplit("::").next().unwrap_or_default();
    match rust {
        "AutopilotConfiguration" => "api.AutopilotConfiguration".to_owned(),
        "AclPolicy" => "structs.ACLPolicy".to_owned(),
        "AclToken" => "structs.ACLToken".to_owned(),
        "BootstrapRequest" => "structs.ACLTokenBootstrapRequest".to_owned(),
        other => format!("structs.{other}"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn token(headers: &[(&str, &[u8])]) -> Option<String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_bytes(value).expect("test header value"),
            );
        }
        token_from_headers(&map)
    }

    #[test]
    fn token_comes_from_nomad_header_then_bearer() {
        assert_eq!(token(&[]), None);
        assert_eq!(token(&[("X-Nomad-Token", b"abc")]), Some("abc".into()));
        assert_eq!(token(&[("Authorization", b"Bearer abc")]), Some("abc".into()));
        assert_eq!(token(&[("Authorization", b"bEaReR   abc  def")]), Some("abc".into()));
        assert_eq!(token(&[("X-Nomad-Token", b"first"), ("Authorization", b"Bearer second")]), Some("first".into()));
        assert_eq!(token(&[("X-Nomad-Token", b""), ("Authorization", b"Bearer second")]), Some("second".into()));
        assert_eq!(token(&[("Authorization", b"Basic dXNlcjpwYXNz")]), None);
        assert_eq!(token(&[("Authorization", b"Bearer")]), None);
        assert_eq!(token(&[("Authorization", b"Bearer ")]), None);
        assert_eq!(token(&[("X-Nomad-Token", b"\xff")]), Some("\u{fffd}".into()));
    }

    #[test]
    fn flags_parse_like_go() {
        let params = Params::parse("stale&prune=&force=T&a=0&b=maybe");
        assert_eq!(params.flag("stale"), Ok(true));
        assert_eq!(params.flag("prune"), Ok(true));
        assert_eq!(params.flag("force"), Ok(true));
        assert_eq!(params.flag("a"), Ok(false));
        assert_eq!(params.flag("absent"), Ok(false));
        let error = params.flag("b").expect_err("maybe is no boolean");
        assert_eq!(error.message, "Expect `true` or `false` for `b` query string parameter");
    }

    #[test]
    fn cas_is_an_unsigned_integer() {
        assert_eq!(Params::parse("").cas(), Ok(None));
        assert_eq!(Params::parse("cas=0").cas(), Ok(Some(0)));
        assert_eq!(Params::parse("cas=18446744073709551615").cas(), Ok(Some(u64::MAX)));
        for (query, reason) in [
            ("cas=abc", r#"parsing "abc": invalid syntax"#),
            ("cas=", r#"parsing "": invalid syntax"#),
            ("cas=-1", r#"parsing "-1": invalid syntax"#),
            ("cas=%2B1", r#"parsing "+1": invalid syntax"#),
            ("cas=18446744073709551616", r#"parsing "18446744073709551616": value out of range"#),
        ] {
            let error = Params::parse(query).cas().expect_err(query);
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert_eq!(error.message, format!("Error parsing cas value: strconv.ParseUint: {reason}"), "{query}");
        }
    }

    #[test]
    fn read_options_check_index_and_wait() {
        assert_eq!(Params::parse("").read_options(), Ok(Consistency::Leader));
        assert_eq!(Params::parse("stale").read_options(), Ok(Consistency::Stale));
        assert_eq!(Params::parse("stale=false&index=7&wait=5s").read_options(), Ok(Consistency::Leader));
        assert_eq!(Params::parse("index=x").read_options(), Err(ApiError::bad_request("Invalid index")));
        assert_eq!(Params::parse("wait=soon").read_options(), Err(ApiError::bad_request("Invalid wait time")));
    }

    #[test]
    fn repeated_keys_keep_order_and_drop_empty_values() {
        let params = Params::parse("address=a%3A1&address=&address=b:2");
        assert_eq!(params.all("address"), vec!["a:1".to_owned(), "b:2".to_owned()]);
        assert_eq!(params.non_empty("address"), Some("a:1"));
    }

    #[test]
    fn pretty_is_on_unless_zero() {
        assert_eq!(Params::parse("").format(), Format::Compact);
        assert_eq!(Params::parse("pretty").format(), Format::Pretty);
        assert_eq!(Params::parse("pretty=1").format(), Format::Pretty);
        assert_eq!(Params::parse("pretty=false").format(), Format::Pretty);
        assert_eq!(Params::parse("pretty=0").format(), Format::Compact);
    }

    #[tokio::test]
    async fn bodies_are_bounded() {
        assert_eq!(read_body(Body::from("abcd"), 4, 1_000).await.expect("at the limit").as_ref(), b"abcd");
        let error = read_body(Body::from("abcde"), 4, 1_000).await.expect_err("over the limit");
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn bodies_decode_only_from_objects_in_gos_words() {
        use keel_api::operator::SchedulerConfiguration;
        let error = decode_json::<SchedulerConfiguration>(b"[]", "scheduler config").expect_err("an array");
        let expected = "Error parsing scheduler config: json: cannot unmarshal array into Go value of type \
                        structs.SchedulerConfiguration";
        assert_eq!(error, ApiError::bad_request(expected));
        let error = decode_object::<keel_api::acl::BootstrapRequest>(b"[1]", "failed").expect_err("an array");
        let expected = "failed: json: cannot unmarshal array into Go value of type structs.ACLTokenBootstrapRequest";
        assert_eq!(error.message, expected);
    }
}
