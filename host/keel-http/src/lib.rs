//! Keel's HTTP API.
//!
//! This crate owns the axum [`router`]: the paths, methods, query options,
//! JSON shapes and error format of Nomad's HTTP API. It knows nothing of how
//! the answers are found: handlers ask the [`Agent`] trait, which the
//! `keel` binary implements on top of the state, cluster and plugin crates.
//! It depends on axum and serde only.

mod agent;
mod error;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use error::ApiError;

/// What the HTTP API needs to know about the running agent.
pub trait Agent: Send + Sync + 'static {
    /// Whether this agent runs a server.
    fn is_server(&self) -> bool;
    /// Whether this agent runs a client.
    fn is_client(&self) -> bool;
    /// The current cluster leader's RPC address, if one is known.
    fn leader(&self) -> Option<String>;
    /// How many servers a client agent knows.
    fn known_servers(&self) -> usize;
}

/// The API router over an agent.
pub fn router(agent: Arc<dyn Agent>) -> Router {
    Router::new().route("/v1/agent/health", get(agent::health).fallback(error::invalid_method)).with_state(agent)
}
