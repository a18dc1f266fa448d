//! Nomad's wire types for the parts of the HTTP API Keel serves.
//!
//! This crate owns the JSON shapes (field names, defaults, how durations and
//! times are written) of the operator, agent, status and ACL endpoints, and the
//! small parsers Nomad applies to query strings and bodies: Go's `ParseBool`,
//! Go's duration syntax, and JSON bodies read as Go reads them ([`json`]:
//! structs only from objects, nesting bounded). It does no I/O and depends on
//! serde only; the state machine, the HTTP router and the CLI all speak these
//! types, so a shape is defined in exactly one place. For the same reason it
//! holds the size limits ([`limits`]) that the HTTP router, the snapshot
//! archive and the RPC port must agree on.

pub mod acl;
pub mod agent;
pub mod duration;
pub mod job;
pub mod json;
pub mod limits;
pub mod node;
pub mod operator;
pub mod plugin;
pub mod query;
pub mod task;
pub mod time;

mod boolean;

pub use boolean::parse_bool;
