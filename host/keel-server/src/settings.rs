//! What the server logic needs to know of the agent's configuration.

use std::net::SocketAddr;
use std::time::Duration;

use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};

/// The agent's settings as the server logic sees them. The binary resolves
/// flags and files into these; nothing here knows how they were spelled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node_name: String,
    pub region: String,
    pub datacenter: String,
    /// Whether this agent runs a server and a client.
    pub server: bool,
    pub client: bool,
    /// `bootstrap_expect`: 1 for a solo server, 0 for none.
    pub bootstrap_expect: u32,
    pub rpc_address: SocketAddr,
    pub serf_address: SocketAddr,
    /// A client's configured servers.
    pub servers: Vec<String>,
    /// The server's redundancy zone, gossiped as the `zone` tag.
    pub redundancy_zone: Option<String>,
    pub acl_enabled: bool,
    /// The shortest and longest expiration a new token may ask for.
    pub acl_token_min_ttl: Duration,
    pub acl_token_max_ttl: Duration,
    /// The autopilot and scheduler configurations in force until an
    /// operator writes one.
    pub autopilot: AutopilotConfiguration,
    pub scheduler: SchedulerConfiguration,
    /// The keys a plugin installed in the cluster must be signed by.
    pub plugin_trust: crate::TrustedKeys,
    pub plugin_probation: Probation,
    /// The agent's configuration as `/v1/agent/self` shows it, with every
    /// secret already redacted.
    pub config_report: serde_json::Value,
}

/// `plugin_probation { time = "5m"  faults = 5 }`: for `time` after an
/// installed plugin becomes active through its install or a promotion, a
/// leader whose instance of it faults (trap, timeout, memory cap) more than
/// `faults` times rolls it back to the previous version through Raft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Probation {
    #[serde(deserialize_with = "keel_api::duration::deserialize")]
    pub time: Duration,
    pub faults: u64,
}

impl Default for Probation {
    fn default() -> Self {
        Self { time: Duration::from_secs(5 * 60), faults: 5 }
    }
}
