//! The agent's configuration: optional files with Nomad's keys (HCL1 or
//! JSON, files or directories, merged as Nomad merges them; `file.rs`),
//! overridden by command-line flags in either spelling (`flags.rs`),
//! resolved into one [`AgentConfig`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_cluster::{ClusterKey, RaftTuning};
use keel_plugins::Kind;
use serde::Deserialize;
use serde_json::json;

mod file;
mod flags;
#[cfg(test)]
mod tests;

use file::{FileConfig, SchedulerBlock};
pub use flags::{AgentArgs, nomad_spelling};

/// Nomad's default ports.
pub const DEFAULT_PORTS: Ports = Ports { http: 4646, rpc: 4647, serf: 4648 };

/// The listening ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    pub http: u16,
    pub rpc: u16,
    pub serf: u16,
}

impl Default for Ports {
    fn default() -> Self {
        DEFAULT_PORTS
    }
}

/// One plugin's source and settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginConfig {
    /// A component file; the embedded default when `None`.
    pub path: Option<PathBuf>,
    /// The settings passed to the plugin's `configure`.
    pub settings: Vec<(String, String)>,
}

/// Everything the agent runs with, after the file and the flags.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub dev: bool,
    pub server: bool,
    pub client: bool,
    /// `plugin "raw_exec" { config { enabled = true } }`, always on in dev mode.
    pub raw_exec: bool,
    pub node_name: String,
    pub region: String,
    pub datacenter: String,
    /// `None` in dev mode without `--data-dir`: a temporary directory.
    pub data_dir: Option<PathBuf>,
    pub bind: IpAddr,
    pub ports: Ports,
    pub bootstrap_expect: u32,
    pub retry_join: Vec<String>,
    /// `server { redundancy_zone = "..." }`, gossiped as the `zone` tag.
    pub redundancy_zone: Option<String>,
    /// A client's servers (`client { servers = [...] }`).
    pub servers: Vec<String>,
    pub capacity: keel_server::Capacity,
    pub raft: RaftTuning,
    /// The cluster key (`server { encrypt = "..." }` or `--encrypt`).
    pub key: Option<ClusterKey>,
    /// How often the leader runs an autopilot round (`server {
    /// autopilot_interval = "10s" }`, Nomad's fixed 10 s by default).
    pub autopilot_interval: Duration,
    pub acl_enabled: bool,
    /// The shortest and longest expiration a new token may ask for
    /// (`acl { token_min_expiration_ttl, token_max_expiration_ttl }`;
    /// Nomad's defaults are one minute and one day).
    pub acl_token_min_ttl: Duration,
    pub acl_token_max_ttl: Duration,
    /// Whether `/v1/metrics?format=prometheus` is served (`telemetry {
    /// prometheus_metrics = true }`).
    pub prometheus_metrics: bool,
    pub autopilot: AutopilotConfiguration,
    pub scheduler: SchedulerConfiguration,
    pub plugins: BTreeMap<Kind, PluginConfig>,
    /// The keys installed plugins must be signed by (`plugin_trust { keys }`).
    pub plugin_trust: keel_server::TrustedKeys,
    pub plugin_probation: keel_server::Probation,
    /// Where the config file came from, for `/v1/agent/self`.
    pub files: Vec<PathBuf>,
}

impl AgentConfig {
    /// Reads the config files and directories named by `--config`, if any,
    /// and applies the flags.
    pub fn load(args: &AgentArgs) -> anyhow::Result<Self> {
        let (file, files) = FileConfig::read_all(&args.config)?;
        Self::resolve(file, args, files)
    }

    fn resolve(file: FileConfig, args: &AgentArgs, files: Vec<PathBuf>) -> anyhow::Result<Self> {
        let dev = args.dev;
        let raft = file.server.raft_tuning();
        let server = args.server || dev || file.server.enabled;
        let client = args.client || dev || file.client.enabled;
        if !server && !client {
            bail!("an agent must run a server, a client or both: give --server, --client or --dev");
        }
        let default_ip = if dev { Ipv4Addr::LOCALHOST } else { Ipv4Addr::UNSPECIFIED };
        let bind = args.bind.or(file.bind_addr).unwrap_or(IpAddr::V4(default_ip));
        let data_dir = args.data_dir.clone().or(file.data_dir);
        if data_dir.is_none() && !dev {
            bail!("a data directory is required outside dev mode: give --data-dir or data_dir in the config file");
        }
        let bootstrap_expect = match (dev, args.bootstrap_expect.or(file.server.bootstrap_expect)) {
            (true, Some(n)) if n != 1 => bail!("dev mode is a single server: bootstrap_expect must be 1, not {n}"),
            (true, _) => 1,
            (false, Some(n)) => n,
            (false, None) => 0,
        };
        let key = args
            .encrypt
            .clone()
            .or(file.server.encrypt)
            .map(|text| ClusterKey::from_base64(&text).map_err(|e| anyhow::anyhow!("server.encrypt: {e}")))
            .transpose()?;
        let mut retry_join = file.server.server_join.retry_join;
        retry_join.extend(file.server.retry_join);
        retry_join.extend(args.retry_join.iter().cloned());
        let (plugins, raw_exec) = plugins(file.plugin, args)?;
        let plugin_trust = keel_server::TrustedKeys::parse(&file.plugin_trust.keys)
            .map_err(|e| anyhow::anyhow!("plugin_trust.keys: {e}"))?;
        Ok(Self {
            dev,
            server,
            client,
            raw_exec: raw_exec || dev,
            node_name: args.node.clone().or(file.name).unwrap_or_else(default_node_name),
            region: args.region.clone().or(file.region).unwrap_or_else(|| "global".to_owned()),
            datacenter: args.datacenter.clone().or(file.datacenter).unwrap_or_else(|| "dc1".to_owned()),
            data_dir,
            bind,
            ports: file.ports,
            bootstrap_expect,
            retry_join,
            redundancy_zone: file.server.redundancy_zone,
            servers: file.client.servers.into_iter().chain(args.servers.iter().cloned()).collect(),
            capacity: keel_server::Capacity {
                memory_total_mb: file.client.memory_total_mb,
                cpu_total_compute: file.client.cpu_total_compute,
            },
            raft,
            key,
            autopilot_interval: file.server.autopilot_interval.unwrap_or(Duration::from_secs(10)),
            acl_enabled: args.acl_enabled || file.acl.enabled,
            acl_token_min_ttl: file.acl.token_min_expiration_ttl.unwrap_or(Duration::from_secs(60)),
            acl_token_max_ttl: file.acl.token_max_expiration_ttl.unwrap_or(Duration::from_secs(24 * 3600)),
            prometheus_metrics: file.telemetry.prometheus_metrics,
            autopilot: file.autopilot.resolve(),
            scheduler: file
                .server
                .default_scheduler_config
                .map_or_else(SchedulerConfiguration::nomad_defaults, SchedulerBlock::resolve),
            plugins,
            plugin_trust,
            plugin_probation: file.plugin_probation,
            files,
        })
    }

    pub fn http_address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.ports.http)
    }

    /// The RPC address other servers reach this one at. A wildcard bind
    /// advertises loopback, as there is no other address to pick here.
    pub fn rpc_address(&self) -> SocketAddr {
        let ip = if self.bind.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { self.bind };
        SocketAddr::new(ip, self.ports.rpc)
    }

    pub fn serf_address(&self) -> SocketAddr {
        SocketAddr::new(self.rpc_address().ip(), self.ports.serf)
    }
}

/// The plugin blocks of the config files by kind, with `--plugin KIND=PATH`
/// replacing a block's path and `--plugin-config KIND.KEY=VALUE` a setting;
/// and whether `plugin "raw_exec"` enables that driver.
fn plugins(
    mut blocks: BTreeMap<String, file::PluginBlock>,
    args: &AgentArgs,
) -> anyhow::Result<(BTreeMap<Kind, PluginConfig>, bool)> {
    let raw_exec = blocks.remove("raw_exec").map(|block| (block.path, block.config));
    let raw_exec = keel_server::raw_exec_enabled(raw_exec).map_err(anyhow::Error::msg)?;
    let mut plugins = BTreeMap::new();
    for (name, block) in blocks {
        let kind: Kind = name.parse().map_err(|e| anyhow::anyhow!("plugin \"{name}\": {e}"))?;
        plugins.insert(kind, PluginConfig { path: block.path, settings: block.config.into_iter().collect() });
    }
    for (kind, path) in &args.plugins {
        plugins.entry(*kind).or_default().path = Some(path.clone());
    }
    for (kind, key, value) in &args.plugin_settings {
        let settings = &mut plugins.entry(*kind).or_default().settings;
        settings.retain(|(existing, _)| existing != key);
        settings.push((key.clone(), value.clone()));
    }
    Ok((plugins, raw_exec))
}

fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "keel".to_owned())
}

impl AgentConfig {
    /// What the server logic needs of this configuration.
    pub fn server_settings(&self) -> keel_server::Settings {
        keel_server::Settings {
            node_name: self.node_name.clone(),
            region: self.region.clone(),
            datacenter: self.datacenter.clone(),
            server: self.server,
            client: self.client,
            bootstrap_expect: self.bootstrap_expect,
            rpc_address: self.rpc_address(),
            serf_address: self.serf_address(),
            servers: self.servers.clone(),
            redundancy_zone: self.redundancy_zone.clone(),
            acl_enabled: self.acl_enabled,
            acl_token_min_ttl: self.acl_token_min_ttl,
            acl_token_max_ttl: self.acl_token_max_ttl,
            autopilot: self.autopilot.clone(),
            scheduler: self.scheduler.clone(),
            plugin_trust: self.plugin_trust.clone(),
            plugin_probation: self.plugin_probation,
            config_report: config_report(self),
        }
    }
}

/// The agent's configuration as `/v1/agent/self` shows it. Plugin settings
/// may hold secrets, so their values are redacted.
fn config_report(config: &AgentConfig) -> serde_json::Value {
    let plugins: BTreeMap<String, serde_json::Value> = config
        .plugins
        .iter()
        .map(|(kind, plugin)| {
            let settings: BTreeMap<&str, &str> =
                plugin.settings.iter().map(|(key, _)| (key.as_str(), keel_api::plugin::REDACTED)).collect();
            (kind.to_string(), json!({ "Path": plugin.path, "Config": settings }))
        })
        .collect();
    let rpc = config.rpc_address();
    json!({
        "Region": config.region,
        "Datacenter": config.datacenter,
        "NodeName": config.node_name,
        "DataDir": config.data_dir,
        "DevMode": config.dev,
        "BindAddr": config.bind.to_string(),
        "Ports": { "HTTP": config.ports.http, "RPC": config.ports.rpc, "Serf": config.ports.serf },
        "Addresses": { "HTTP": config.bind.to_string(), "RPC": config.bind.to_string(), "Serf": config.bind.to_string() },
        "AdvertiseAddrs": {
            "HTTP": config.http_address().to_string(),
            "RPC": rpc.to_string(),
            "Serf": config.serf_address().to_string(),
        },
        "Server": {
            "Enabled": config.server,
            "BootstrapExpect": config.bootstrap_expect,
            "RetryJoin": config.retry_join,
            "RedundancyZone": config.redundancy_zone,
            "RaftMultiplier": config.raft.multiplier,
            "RaftSnapshotThreshold": config.raft.snapshot_threshold,
            "RaftTrailingLogs": config.raft.trailing_logs,
            "DefaultSchedulerConfig": config.scheduler,
        },
        "Client": { "Enabled": config.client, "Servers": config.servers },
        // Nomad shows its ACL tokens here redacted; Keel's agent holds none,
        // and token secrets live only in the replicated state.
        "ACL": {
            "Enabled": config.acl_enabled,
            "TokenMinExpirationTTL": keel_api::duration::format(config.acl_token_min_ttl),
            "TokenMaxExpirationTTL": keel_api::duration::format(config.acl_token_max_ttl),
        },
        "Telemetry": { "PrometheusMetrics": config.prometheus_metrics },
        "Autopilot": config.autopilot,
        "Plugins": plugins,
        "Files": config.files,
        "Version": { "Version": env!("CARGO_PKG_VERSION") },
    })
}
