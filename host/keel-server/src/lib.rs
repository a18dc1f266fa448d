//! Keel's server logic: what the HTTP API's answers are made of.
//!
//! This crate owns [`Service`], which implements `keel_http::Backend` (one trait per endpoint family, in `api/`) over
//! the Raft server and gossip (`keel-cluster`), the replicated state
//! (`keel-state`) and the active plugins (`keel-plugins`): the ACL gate and
//! its cache of compiled tokens, the rules of the ACL endpoints (bootstrap,
//! policies, tokens), license verdicts, snapshot save and verification,
//! the agent endpoints, relaying requests to and from the leader, and the
//! autopilot round with its veto of unsafe actions, the plugin registry
//! (verifying installs, activating what is applied), and the agent's
//! metrics. Its settings are its own
//! ([`Settings`]); it does not know the agent's flags or config files.
//!
//! It may depend on every host library crate; it must not depend on the
//! `keel` binary, the CLI or any guest crate (`sdk/`, `plugins/`), so it
//! builds and tests with plain `cargo test -p keel-server`, without the wasm
//! toolchain.
//!
//! ```text
//! service.rs        Service: the agent's parts, and the helpers every endpoint family uses
//! api/              one file per keel-http trait, implemented for Service: authorize.rs,
//!                   agent.rs, operator_raft.rs, autopilot.rs, scheduler.rs, license.rs,
//!                   snapshot.rs, acl.rs
//! settings.rs       Settings: what the server needs of the configuration
//! clock.rs          Clock: wall-clock time, movable in tests
//! acl.rs            who a token is, and the ACL gate with its compiled-token cache
//! agent_info.rs     /v1/agent: members, self, join, force-leave; gossip tags
//! autopilot.rs      the autopilot round: facts, the plugin's report, the veto
//! license.rs        license verdicts from the license plugin
//! snapshot.rs       snapshot archives: save, verify before restore
//! forwarding.rs     requests relayed to the leader, and served for followers
//! nodes.rs          client nodes on the servers: register and heartbeat calls, the leader's TTLs
//! scheduling.rs     the leader's evaluations: reconcile, place through the plugin, check and commit plans
//! client.rs         the client agent: registers this machine's node, heartbeats
//! fingerprint.rs    what a client reports of its machine: CPU, memory, disk, OS, drivers
//! registry.rs       the cluster's plugin registry here: install checks, activation, listings
//! plugin_trust.rs   the keys installed plugins must be signed by
//! telemetry.rs      the process's metrics recorder; /v1/metrics as Nomad JSON or Prometheus text
//! gauges.rs         the metrics read at each /v1/metrics: Raft, gossip, runtime, plugins
//! ```

mod acl;
mod agent_info;
mod api;
mod autopilot;
mod client;
mod clock;
mod fingerprint;
mod forwarding;
mod gauges;
mod license;
mod nodes;
mod plugin_trust;
mod registry;
mod scheduling;
mod service;
mod settings;
mod snapshot;
mod telemetry;

pub use agent_info::{gossip_tags, member_name};
pub use client::{Capacity, ClientConfig, raw_exec_enabled};
pub use clock::{Clock, ManualClock, SystemClock};
pub use forwarding::ApiForwarder;
pub use plugin_trust::TrustedKeys;
pub use registry::PluginSet;
pub use service::{RAFT_PROTOCOL, Service};
pub use settings::{Probation, Settings};
pub use telemetry::Telemetry;
