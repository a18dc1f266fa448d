//! Small helpers for tests that call the HTTP API with a token.

use sha2::{Digest as _, Sha256};

use crate::{Agent, Reply};

/// `method path` on `agent` with `token` as `X-Nomad-Token`.
pub fn call(agent: &Agent, method: &str, path: &str, token: &str, body: &str) -> Reply {
    agent.request(method, path, &[("X-Nomad-Token", token)], body.as_bytes())
}

/// The reply, which must be a 200.
pub fn ok(reply: Reply) -> Reply {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
}

/// The hex SHA-256 of `bytes`: how the plugin registry names a component.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
