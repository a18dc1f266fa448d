//! The agent's configuration: an optional HCL file with Nomad-like blocks,
//! overridden by command-line flags, resolved into one [`AgentConfig`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use keel_api::operator::{AutopilotConfiguration, PreemptionConfig, SchedulerConfiguration};
use keel_cluster::{ClusterKey, RaftTuning};
use keel_plugins::Kind;
use serde::Deserialize;
use serde_json::json;

/// Nomad's default ports.
pub const DEFAULT_PORTS: Ports = Ports { http: 4646, rpc: 4647, serf: 4648 };

/// `keel agent` flags. Each one overrides the config file.
#[derive(Debug, Args, Default)]
pub struct AgentArgs {
    /// A single-node server and client with a temporary data directory,
    /// bound to 127.0.0.1, ACLs off.
    #[arg(long)]
    pub dev: bool,
    /// Runs a server.
    #[arg(long)]
    pub server: bool,
    /// Runs a client.
    #[arg(long)]
    pub client: bool,
    /// Where the agent keeps its state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The address every port binds to.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// The node's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The region (default "global").
    #[arg(long)]
    pub region: Option<String>,
    /// The datacenter (default "dc1").
    #[arg(long = "dc", value_name = "DC")]
    pub datacenter: Option<String>,
    /// Bootstraps the cluster once this many servers have joined.
    #[arg(long, value_name = "N")]
    pub bootstrap_expect: Option<u32>,
    /// A server to join, retried until it succeeds (repeatable).
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Enforces ACLs.
    #[arg(long)]
    pub acl_enabled: bool,
    /// The cluster key, base64 of 32 bytes (`keel operator gossip keyring
    /// generate`): encrypts gossip and authenticates RPC connections.
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// An HCL config file; flags override it.
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Loads a plugin component instead of the embedded default, as KIND=PATH
    /// with KIND one of acl, autopilot, scheduler, license (repeatable).
    #[arg(long = "plugin", value_name = "KIND=PATH", value_parser = parse_plugin_override)]
    pub plugins: Vec<(Kind, PathBuf)>,
}

fn parse_plugin_override(value: &str) -> Result<(Kind, PathBuf), String> {
    let (kind, path) = value.split_once('=').ok_or_else(|| format!("expected KIND=PATH, got {value:?}"))?;
    Ok((kind.parse::<Kind>().map_err(|e| e.to_string())?, PathBuf::from(path)))
}

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
    pub node_name: String,
    pub region: String,
    pub datacenter: String,
    /// `None` in dev mode without `--data-dir`: a temporary directory.
    pub data_dir: Option<PathBuf>,
    pub bind: IpAddr,
    pub ports: Ports,
    pub bootstrap_expect: u32,
    pub retry_join: Vec<String>,
    /// A client's servers (`client { servers = [...] }`).
    pub servers: Vec<String>,
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
    pub autopilot: AutopilotConfiguration,
    pub scheduler: SchedulerConfiguration,
    pub plugins: BTreeMap<Kind, PluginConfig>,
    /// Where the config file came from, for `/v1/agent/self`.
    pub files: Vec<PathBuf>,
}

impl AgentConfig {
    /// Reads the config file named by `--config`, if any, and applies the flags.
    pub fn load(args: &AgentArgs) -> anyhow::Result<Self> {
        let file = match &args.config_file {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::resolve(file, args, args.config_file.iter().cloned().collect())
    }

    fn resolve(file: FileConfig, args: &AgentArgs, files: Vec<PathBuf>) -> anyhow::Result<Self> {
        let dev = args.dev;
        let server = args.server || dev || file.server.enabled;
        let client = args.client || dev || file.client.enabled;
        if !server && !client {
            bail!("an agent must run a server, a client or both: give --server, --client or --dev");
        }
        let bind = args.bind.or(file.bind_addr).unwrap_or(IpAddr::V4(if dev {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::UNSPECIFIED
        }));
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
        let mut plugins: BTreeMap<Kind, PluginConfig> = BTreeMap::new();
        for (name, block) in file.plugin {
            let kind: Kind = name.parse().map_err(|e| anyhow::anyhow!("plugin \"{name}\": {e}"))?;
            plugins.insert(kind, PluginConfig { path: block.path, settings: block.config.into_iter().collect() });
        }
        for (kind, path) in &args.plugins {
            plugins.entry(*kind).or_default().path = Some(path.clone());
        }
        Ok(Self {
            dev,
            server,
            client,
            node_name: args.node.clone().or(file.name).unwrap_or_else(default_node_name),
            region: args.region.clone().or(file.region).unwrap_or_else(|| "global".to_owned()),
            datacenter: args.datacenter.clone().or(file.datacenter).unwrap_or_else(|| "dc1".to_owned()),
            data_dir,
            bind,
            ports: file.ports,
            bootstrap_expect,
            retry_join,
            servers: file.client.servers,
            raft: RaftTuning {
                multiplier: file.server.raft_multiplier.unwrap_or(1),
                snapshot_threshold: file
                    .server
                    .raft_snapshot_threshold
                    .unwrap_or(RaftTuning::default().snapshot_threshold),
                trailing_logs: file.server.raft_trailing_logs.unwrap_or(RaftTuning::default().trailing_logs),
            },
            key,
            autopilot_interval: file.server.autopilot_interval.unwrap_or(Duration::from_secs(10)),
            acl_enabled: args.acl_enabled || file.acl.enabled,
            acl_token_min_ttl: file.acl.token_min_expiration_ttl.unwrap_or(Duration::from_secs(60)),
            acl_token_max_ttl: file.acl.token_max_expiration_ttl.unwrap_or(Duration::from_secs(24 * 3600)),
            autopilot: file.autopilot.resolve(),
            scheduler: file
                .server
                .default_scheduler_config
                .map_or_else(SchedulerConfiguration::nomad_defaults, SchedulerBlock::resolve),
            plugins,
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

fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "keel".to_owned())
}

/// The config file as written. Unknown keys anywhere are an error that names them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    name: Option<String>,
    region: Option<String>,
    datacenter: Option<String>,
    data_dir: Option<PathBuf>,
    bind_addr: Option<IpAddr>,
    ports: Ports,
    server: ServerBlock,
    client: ClientBlock,
    acl: AclBlock,
    autopilot: AutopilotBlock,
    plugin: BTreeMap<String, PluginBlock>,
}

impl FileConfig {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("read config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config file {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(hcl::from_str(text)?)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ServerBlock {
    enabled: bool,
    bootstrap_expect: Option<u32>,
    raft_multiplier: Option<u32>,
    raft_snapshot_threshold: Option<u64>,
    raft_trailing_logs: Option<u64>,
    encrypt: Option<String>,
    #[serde(deserialize_with = "optional_duration")]
    autopilot_interval: Option<Duration>,
    retry_join: Vec<String>,
    server_join: ServerJoinBlock,
    default_scheduler_config: Option<SchedulerBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ServerJoinBlock {
    retry_join: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClientBlock {
    enabled: bool,
    servers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AclBlock {
    enabled: bool,
    #[serde(deserialize_with = "optional_duration")]
    token_min_expiration_ttl: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    token_max_expiration_ttl: Option<Duration>,
}

/// `autopilot { ... }`: every key optional, Nomad's defaults for the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AutopilotBlock {
    cleanup_dead_servers: Option<bool>,
    #[serde(deserialize_with = "optional_duration")]
    last_contact_threshold: Option<Duration>,
    max_trailing_logs: Option<u64>,
    min_quorum: Option<u64>,
    #[serde(deserialize_with = "optional_duration")]
    server_stabilization_time: Option<Duration>,
    enable_redundancy_zones: Option<bool>,
    disable_upgrade_migration: Option<bool>,
    enable_custom_upgrades: Option<bool>,
}

impl AutopilotBlock {
    fn resolve(self) -> AutopilotConfiguration {
        let d = AutopilotConfiguration::nomad_defaults();
        AutopilotConfiguration {
            cleanup_dead_servers: self.cleanup_dead_servers.unwrap_or(d.cleanup_dead_servers),
            last_contact_threshold: self.last_contact_threshold.unwrap_or(d.last_contact_threshold),
            max_trailing_logs: self.max_trailing_logs.unwrap_or(d.max_trailing_logs),
            min_quorum: self.min_quorum.unwrap_or(d.min_quorum),
            server_stabilization_time: self.server_stabilization_time.unwrap_or(d.server_stabilization_time),
            enable_redundancy_zones: self.enable_redundancy_zones.unwrap_or(d.enable_redundancy_zones),
            disable_upgrade_migration: self.disable_upgrade_migration.unwrap_or(d.disable_upgrade_migration),
            enable_custom_upgrades: self.enable_custom_upgrades.unwrap_or(d.enable_custom_upgrades),
            ..d
        }
    }
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    keel_api::duration::deserialize(deserializer).map(Some)
}

/// `server { default_scheduler_config { ... } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SchedulerBlock {
    scheduler_algorithm: Option<String>,
    memory_oversubscription_enabled: bool,
    reject_job_registration: bool,
    pause_eval_broker: bool,
    preemption_config: Option<PreemptionBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PreemptionBlock {
    system_scheduler_enabled: Option<bool>,
    sysbatch_scheduler_enabled: bool,
    batch_scheduler_enabled: bool,
    service_scheduler_enabled: bool,
}

impl SchedulerBlock {
    fn resolve(self) -> SchedulerConfiguration {
        let preemption = self.preemption_config.unwrap_or_default();
        SchedulerConfiguration {
            scheduler_algorithm: self.scheduler_algorithm.unwrap_or_else(|| "binpack".to_owned()),
            preemption_config: PreemptionConfig {
                system_scheduler_enabled: preemption.system_scheduler_enabled.unwrap_or(true),
                sys_batch_scheduler_enabled: preemption.sysbatch_scheduler_enabled,
                batch_scheduler_enabled: preemption.batch_scheduler_enabled,
                service_scheduler_enabled: preemption.service_scheduler_enabled,
            },
            memory_oversubscription_enabled: self.memory_oversubscription_enabled,
            reject_job_registration: self.reject_job_registration,
            pause_eval_broker: self.pause_eval_broker,
            ..SchedulerConfiguration::default()
        }
    }
}

/// `plugin "<kind>" { path = "...", config { key = "value" } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PluginBlock {
    path: Option<PathBuf>,
    config: BTreeMap<String, String>,
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
            acl_enabled: self.acl_enabled,
            acl_token_min_ttl: self.acl_token_min_ttl,
            acl_token_max_ttl: self.acl_token_max_ttl,
            autopilot: self.autopilot.clone(),
            scheduler: self.scheduler.clone(),
            config_report: config_report(self),
        }
    }
}

/// What `/v1/agent/self` shows in place of a secret.
const REDACTED: &str = "<redacted>";

/// The agent's configuration as `/v1/agent/self` shows it. Plugin settings
/// may hold secrets, so their values are redacted.
fn config_report(config: &AgentConfig) -> serde_json::Value {
    let plugins: BTreeMap<String, serde_json::Value> = config
        .plugins
        .iter()
        .map(|(kind, plugin)| {
            let settings: BTreeMap<&str, &str> =
                plugin.settings.iter().map(|(key, _)| (key.as_str(), REDACTED)).collect();
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
        "Autopilot": config.autopilot,
        "Plugins": plugins,
        "Files": config.files,
        "Version": { "Version": env!("CARGO_PKG_VERSION") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, args: AgentArgs) -> anyhow::Result<AgentConfig> {
        AgentConfig::resolve(FileConfig::parse(text)?, &args, Vec::new())
    }

    #[test]
    fn dev_mode_is_one_server_and_client_on_loopback() {
        let config = resolve("", AgentArgs { dev: true, ..AgentArgs::default() }).expect("dev resolves");
        assert!(config.server && config.client && !config.acl_enabled);
        assert_eq!(config.http_address().to_string(), "127.0.0.1:4646");
        assert_eq!(config.rpc_address().to_string(), "127.0.0.1:4647");
        assert_eq!(config.serf_address().to_string(), "127.0.0.1:4648");
        assert_eq!(config.bootstrap_expect, 1);
        assert_eq!((config.region.as_str(), config.datacenter.as_str()), ("global", "dc1"));
    }

    #[test]
    fn a_full_file_is_read_and_flags_win() {
        let file = r#"
            name = "alpha"
            region = "eu"
            datacenter = "fra1"
            data_dir = "/var/lib/keel"
            bind_addr = "127.0.0.5"
            ports { http = 5646 }
            server {
              enabled = true
              bootstrap_expect = 3
              server_join { retry_join = ["127.0.0.6"] }
              default_scheduler_config {
                scheduler_algorithm = "spread"
                preemption_config { service_scheduler_enabled = true }
              }
            }
            acl {
              enabled = true
              token_min_expiration_ttl = "1s"
            }
            autopilot {
              last_contact_threshold = "500ms"
              min_quorum = 3
            }
            plugin "license" {
              path = "custom.wasm"
              config { public_key = "abc" }
            }
        "#;
        let args =
            AgentArgs { node: Some("beta".into()), retry_join: vec!["127.0.0.7".into()], ..AgentArgs::default() };
        let config = resolve(file, args).expect("resolves");
        assert_eq!(config.node_name, "beta");
        assert_eq!((config.region.as_str(), config.datacenter.as_str()), ("eu", "fra1"));
        assert_eq!(config.http_address().to_string(), "127.0.0.5:5646");
        assert_eq!(config.rpc_address().to_string(), "127.0.0.5:4647");
        assert_eq!(config.bootstrap_expect, 3);
        assert_eq!(config.retry_join, ["127.0.0.6", "127.0.0.7"]);
        assert!(config.acl_enabled && config.server && !config.client);
        assert_eq!(
            (config.acl_token_min_ttl, config.acl_token_max_ttl),
            (Duration::from_secs(1), Duration::from_secs(86_400))
        );
        assert_eq!(config.autopilot.last_contact_threshold, Duration::from_millis(500));
        assert_eq!(config.autopilot.min_quorum, 3);
        assert_eq!(config.autopilot.max_trailing_logs, 250);
        assert_eq!(config.scheduler.scheduler_algorithm, "spread");
        assert!(config.scheduler.preemption_config.system_scheduler_enabled);
        assert!(config.scheduler.preemption_config.service_scheduler_enabled);
        let license = &config.plugins[&Kind::License];
        assert_eq!(license.path.as_deref(), Some(Path::new("custom.wasm")));
        assert_eq!(license.settings, [("public_key".to_owned(), "abc".to_owned())]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let error =
            resolve("server {\n  enabled = true\n  bootstrap = 1\n}\n", AgentArgs::default()).expect_err("refused");
        assert!(format!("{error:#}").contains("unknown field `bootstrap`"), "{error:#}");
        let error = resolve("colour = \"blue\"", AgentArgs::default()).expect_err("refused");
        assert!(format!("{error:#}").contains("unknown field `colour`"), "{error:#}");
        let error =
            resolve("plugin \"billing\" {}", AgentArgs { dev: true, ..AgentArgs::default() }).expect_err("refused");
        assert!(format!("{error:#}").contains("billing"), "{error:#}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(resolve("autopilot { last_contact_threshold = \"soon\" }", AgentArgs::default()).is_err());
        assert!(resolve("server { enabled = true }", AgentArgs::default()).is_err(), "a server needs a data dir");
        assert!(resolve("", AgentArgs::default()).is_err(), "neither server nor client");
        let dev_three = AgentArgs { dev: true, bootstrap_expect: Some(3), ..AgentArgs::default() };
        assert!(resolve("", dev_three).is_err());
    }
}
