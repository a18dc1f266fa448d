//! The HTTP client every client command uses: where the agent is, which
//! token to send, the request, and the mapping of every failure to one
//! readable reason (`400 Bad Request: <the server's message>`, or the
//! connection error).

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::http::{self, Method, StatusCode};

/// Where the agent is when nothing says otherwise.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// The header Nomad reads the ACL token from.
const TOKEN_HEADER: &str = "X-Nomad-Token";
/// The most a JSON reply may be.
const MAX_REPLY_BYTES: u64 = 16 << 20;
/// The most of an error body that is read; the rest is not worth a line.
const MAX_ERROR_BODY_BYTES: u64 = 64 << 10;
/// The most of an error message that is shown.
const MAX_ERROR_MESSAGE_CHARS: usize = 1_000;
/// The largest snapshot a download accepts.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 30;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A restore is applied before the answer comes, so the wait is generous.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);
/// A transfer that stalls this long is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The options every client command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// The agent's HTTP address [env: KEEL_ADDR, then NOMAD_ADDR] [default: http://127.0.0.1:4646]
    #[arg(long, global = true, value_name = "URL")]
    pub address: Option<String>,
    /// The ACL token, sent as X-Nomad-Token [env: KEEL_TOKEN, then NOMAD_TOKEN]
    #[arg(long, global = true, value_name = "SECRET")]
    pub token: Option<String>,
    /// Print the server's JSON reply instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ClientArgs {
    /// A client for the agent these options name, with the environment
    /// filling in what the flags leave out.
    pub fn client(&self) -> anyhow::Result<Client> {
        let env = |name: &str| std::env::var(name).ok();
        let address = resolve_address(self.address.as_deref(), env)?;
        Ok(Client::new(address, resolve_token(self.token.as_deref(), env)))
    }
}

/// The first of the flag, `KEEL_ADDR`, `NOMAD_ADDR` and the default that is
/// set and not empty, as a base URL without a trailing slash. An address
/// without a scheme is taken as `http://`.
pub fn resolve_address(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let chosen = first_set(flag, ["KEEL_ADDR", "NOMAD_ADDR"], env).unwrap_or_else(|| DEFAULT_ADDRESS.to_owned());
    let address = chosen.trim();
    let (scheme, rest) = address.split_once("://").unwrap_or(("http", address));
    if !scheme.eq_ignore_ascii_case("http") {
        anyhow::bail!("unsupported address {address:?}: this build of keel speaks plain http:// only");
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        anyhow::bail!("invalid address {address:?}: no host");
    }
    Ok(format!("http://{rest}"))
}

/// The first of the flag, `KEEL_TOKEN` and `NOMAD_TOKEN` that is set and
/// not empty.
pub fn resolve_token(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    first_set(flag, ["KEEL_TOKEN", "NOMAD_TOKEN"], env).map(|token| token.trim().to_owned())
}

fn first_set(flag: Option<&str>, variables: [&str; 2], env: impl Fn(&str) -> Option<String>) -> Option<String> {
    flag.map(str::to_owned)
        .into_iter()
        .chain(variables.into_iter().filter_map(env))
        .find(|value| !value.trim().is_empty())
}

pub use keel_api::query::with_query;

/// One path segment (a policy name, an accessor), percent-encoded.
pub fn path_segment(value: &str) -> String {
    keel_api::query::percent_encode(value)
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status; the message is its
    /// text/plain body.
    #[error("{}", status_line(*.status, .message))]
    Status { status: StatusCode, message: String },
    /// No answer: the connection failed, timed out or broke.
    #[error("{method} {url}: {reason}")]
    Transport { method: Method, url: String, reason: String },
    /// The answer was not what the endpoint sends.
    #[error("unexpected reply to {method} {path}: {reason}")]
    Decode { method: Method, path: String, reason: String },
}

/// `400 Bad Request: <message>`, or just the status without a message.
pub fn status_line(status: StatusCode, message: &str) -> String {
    let status_text = match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let message = super::one_line(message);
    if message.is_empty() {
        return status_text;
    }
    let shown: String = message.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
    let ellipsis = if shown.len() < message.len() { "…" } else { "" };
    format!("{status_text}: {shown}{ellipsis}")
}

/// A complete reply with a success status (or one the caller accepted).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    method: Method,
    path: String,
}

impl Reply {
    /// Decodes the body as JSON.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|error| ClientError::Decode {
            method: self.method.clone(),
            path: self.path.clone(),
            reason: error.to_string(),
        })
    }

    /// The body as `--json` prints it: indented when it is JSON, as sent
    /// otherwise.
    pub fn pretty(&self) -> String {
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(value) => serde_json::to_string_pretty(&value).expect("a JSON value serializes"),
            Err(_) => String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// A reply whose body is still to be read: a snapshot download.
pub struct Download {
    pub response: http::Response<ureq::Body>,
}

impl Download {
    /// A response header, when it is present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name).and_then(|value| value.to_str().ok())
    }

    /// The length the server announced.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|length| length.trim().parse().ok())
    }

    /// The body, cut off after `limit_bytes`.
    pub fn reader(&mut self, limit_bytes: u64) -> impl Read + '_ {
        self.response.body_mut().with_config().limit(limit_bytes).reader()
    }
}

/// A connection to one agent's HTTP API.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    address: String,
    token: Option<String>,
}

impl Client {
    pub fn new(address: String, token: Option<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .user_agent(format!("keel/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: config.into(), address, token }
    }

    /// The base URL requests go to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `GET path`, expecting a success status.
    pub fn get(&self, path: &str) -> Result<Reply, ClientError> {
        self.call(Method::GET, path, &[], &[])
    }

    /// `GET path`, taking `accepted` statuses as answers too (the autopilot
    /// health endpoint answers 429 with the report).
    pub fn get_accepting(&self, path: &str, accepted: &[StatusCode]) -> Result<Reply, ClientError> {
        self.call(Method::GET, path, &[], accepted)
    }

    /// `PUT path` with `body`.
    pub fn put(&self, path: &str, body: &[u8]) -> Result<Reply, ClientError> {
        self.call(Method::PUT, path, body, &[])
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Reply, ClientError> {
        self.call(Method::POST, path, body, &[])
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Reply, ClientError> {
        self.call(Method::DELETE, path, &[], &[])
    }

    /// `GET path`, returning the response once its status says success, for
    /// the caller to stream the body.
    pub fn download(&self, path: &str) -> Result<Download, ClientError> {
        let request = self.request(Method::GET, path, ());
        let response = self.send(Method::GET, path, request)?;
        Ok(Download { response })
    }

    /// `PUT path` with `length` bytes from `body`, streamed.
    pub fn upload(&self, path: &str, body: &mut dyn Read, length: u64) -> Result<Reply, ClientError> {
        let request = self.request(Method::PUT, path, ureq::SendBody::from_reader(body));
        let (mut parts, body) = request.into_parts();
        parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        parts.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/octet-stream"));
        let response = self.send(Method::PUT, path, http::Request::from_parts(parts, body))?;
        self.complete(Method::PUT, path, response)
    }

    fn call(&self, method: Method, path: &str, body: &[u8], accepted: &[StatusCode]) -> Result<Reply, ClientError> {
        let request = self.request(method.clone(), path, body);
        let response = match self.agent.run(request) {
            Ok(response) if accepted.contains(&response.status()) => response,
            Ok(response) => self.check(response)?,
            Err(error) => return Err(self.transport(&method, path, &error)),
        };
        self.complete(method, path, response)
    }

    fn request<B>(&self, method: Method, path: &str, body: B) -> http::Request<B> {
        let mut builder = http::Request::builder().method(method).uri(format!("{}{path}", self.address));
        if let Some(token) = &self.token {
            builder = builder.header(TOKEN_HEADER, token);
        }
        builder.body(body).expect("the address was checked and paths are ASCII")
    }

    fn send<B: ureq::AsSendBody>(
        &self,
        method: Method,
        path: &str,
        request: http::Request<B>,
    ) -> Result<http::Response<ureq::Body>, ClientError> {
        match self.agent.run(request) {
            Ok(response) => self.check(response),
            Err(error) => Err(self.transport(&method, path, &error)),
        }
    }

    /// Passes a success through; turns any other status into its error,
    /// with the server's message.
    fn check(&self, mut response: http::Response<ureq::Body>) -> Result<http::Response<ureq::Body>, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = Vec::new();
        // An unreadable error body still leaves the status to report.
        let _partial = response.body_mut().with_config().limit(MAX_ERROR_BODY_BYTES).reader().read_to_end(&mut body);
        Err(ClientError::Status { status, message: String::from_utf8_lossy(&body).into_owned() })
    }

    fn complete(
        &self,
        method: Method,
        path: &str,
        mut response: http::Response<ureq::Body>,
    ) -> Result<Reply, ClientError> {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(|error| self.transport(&method, path, &error))?;
        Ok(Reply { status, body, method, path: path.to_owned() })
    }

    fn transport(&self, method: &Method, path: &str, error: &ureq::Error) -> ClientError {
        ClientError::Transport {
            method: method.clone(),
            url: format!("{}{path}", self.address),
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    }

    #[test]
    fn the_address_comes_from_the_flag_then_keel_then_nomad() {
        let both = env_of(&[("KEEL_ADDR", "http://10.0.0.1:4646"), ("NOMAD_ADDR", "http://10.0.0.2:4646")]);
        assert_eq!(resolve_address(Some("http://10.0.0.9:4646"), &both).expect("valid"), "http://10.0.0.9:4646");
        assert_eq!(resolve_address(None, &both).expect("valid"), "http://10.0.0.1:4646");
        let nomad = env_of(&[("KEEL_ADDR", ""), ("NOMAD_ADDR", "http://10.0.0.2:4646/")]);
        assert_eq!(resolve_address(None, nomad).expect("valid"), "http://10.0.0.2:4646");
        assert_eq!(resolve_address(None, env_of(&[])).expect("valid"), DEFAULT_ADDRESS);
        assert_eq!(resolve_address(Some("127.0.0.2:4646"), env_of(&[])).expect("valid"), "http://127.0.0.2:4646");
    }

    #[test]
    fn only_plain_http_is_spoken() {
        let error = resolve_address(Some("https://nomad.example:4646"), env_of(&[])).expect_err("no TLS");
        assert!(error.to_string().contains("plain http:// only"), "{error}");
        assert!(resolve_address(Some("http://"), env_of(&[])).is_err());
    }

    #[test]
    fn the_token_comes_from_the_flag_then_keel_then_nomad() {
        let both = env_of(&[("KEEL_TOKEN", "keel-secret"), ("NOMAD_TOKEN", "nomad-secret")]);
        assert_eq!(resolve_token(Some("flag-secret"), &both).as_deref(), Some("flag-secret"));
        assert_eq!(resolve_token(None, &both).as_deref(), Some("keel-secret"));
        assert_eq!(resolve_token(None, env_of(&[("NOMAD_TOKEN", "nomad-secret")])).as_deref(), Some("nomad-secret"));
        assert_eq!(resolve_token(None, env_of(&[])), None);
        assert_eq!(resolve_token(Some(""), env_of(&[])), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(with_query("/v1/operator/raft/peer", &[]), "/v1/operator/raft/peer");
        assert_eq!(
            with_query("/v1/operator/raft/peer", &[("address", "[::1]:4647")]),
            "/v1/operator/raft/peer?address=%5B%3A%3A1%5D%3A4647"
        );
        assert_eq!(with_query("/x", &[("id", "a b&c"), ("cas", "7")]), "/x?id=a%20b%26c&cas=7");
    }

    #[test]
    fn error_statuses_read_as_status_and_message() {
        let error = ClientError::Status {
            status: StatusCode::BAD_REQUEST,
            message: "invalid scheduler algorithm: random\n".to_owned(),
        };
        assert_eq!(error.to_string(), "400 Bad Request: invalid scheduler algorithm: random");
        let error = ClientError::Status { status: StatusCode::FORBIDDEN, message: String::new() };
        assert_eq!(error.to_string(), "403 Forbidden");
        let long = "x".repeat(5_000);
        let shown = status_line(StatusCode::INTERNAL_SERVER_ERROR, &long);
        assert!(shown.starts_with("500 Internal Server Error: xxx") && shown.ends_with('…'), "{shown}");
        assert!(shown.chars().count() < 1_100);
    }

    #[test]
    fn a_refused_connection_names_the_request() {
        // A port that was just free on loopback refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let client = Client::new(format!("http://127.0.0.1:{port}"), None);
        let error = client.get("/v1/status/leader").expect_err("nothing listens");
        assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
        let prefix = format!("GET http://127.0.0.1:{port}/v1/status/leader: ");
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }
}
