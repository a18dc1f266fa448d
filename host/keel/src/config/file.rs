//! The config file as written: Nomad's keys, read from HCL1 or JSON, one
//! file, several or a directory, merged before [`super::AgentConfig`] resolves them.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use keel_api::operator::{AutopilotConfiguration, PreemptionConfig, SchedulerConfiguration};
use keel_cluster::RaftTuning;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Ports;

/// The config file as written. Unknown keys anywhere are an error that names them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FileConfig {
    pub(super) name: Option<String>,
    pub(super) region: Option<String>,
    pub(super) datacenter: Option<String>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) bind_addr: Option<IpAddr>,
    pub(super) ports: Ports,
    pub(super) server: ServerBlock,
    pub(super) client: ClientBlock,
    pub(super) acl: AclBlock,
    pub(super) telemetry: TelemetryBlock,
    pub(super) autopilot: AutopilotBlock,
    pub(super) plugin: BTreeMap<String, PluginBlock>,
    pub(super) plugin_trust: PluginTrustBlock,
    pub(super) plugin_probation: keel_server::Probation,
}

/// The largest config file read; a bound on memory for a mistaken path.
const FILE_MAX_BYTES: u64 = 1 << 20;

impl FileConfig {
    /// Reads every `--config` path in order, each a file or a directory of
    /// `*.hcl` and `*.json` files taken in name order, and merges them as
    /// Nomad does: later files win, blocks merge key by key. Each file is
    /// checked on its own first, so an error names the file (and, for HCL,
    /// the line) it is in. Returns the files read.
    pub(super) fn read_all(paths: &[PathBuf]) -> anyhow::Result<(Self, Vec<PathBuf>)> {
        let mut files = Vec::new();
        for path in paths {
            files.extend(config_files(path)?);
        }
        let mut merged = Value::Object(Map::new());
        for file in &files {
            keel_hcl::merge(&mut merged, read_value(file).with_context(|| format!("config file {}", file.display()))?);
        }
        let config = serde_json::from_value(merged).context("merge config files")?;
        Ok((config, files))
    }

    /// Reads an HCL text, naming the line of an unknown or bad key.
    #[cfg(test)]
    pub(super) fn parse(text: &str) -> anyhow::Result<Self> {
        Self::check(hcl_value(text)?)
    }
}

/// `path` itself, or the `*.hcl` and `*.json` files of a directory in name order.
fn config_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).with_context(|| format!("read config directory {}", path.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let file = entry.with_context(|| format!("read config directory {}", path.display()))?.path();
        if file.is_file() && file.extension().is_some_and(|ext| ext == "hcl" || ext == "json") {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// One file as a JSON value, after checking that it is a valid config on its own.
fn read_value(path: &Path) -> anyhow::Result<Value> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(FILE_MAX_BYTES + 1).read_to_string(&mut text))
        .context("read")?;
    if text.len() as u64 > FILE_MAX_BYTES {
        bail!("larger than {FILE_MAX_BYTES} bytes");
    }
    let value = if path.extension().is_some_and(|ext| ext == "json") {
        let mut value: Value = serde_json::from_str(&text).context("parse json")?;
        merge_block_lists(&mut value);
        serde_json::from_value::<FileConfig>(value.clone())?;
        value
    } else {
        let value = hcl_value(&text)?;
        FileConfig::check(value.clone())?;
        value.value.into()
    };
    Ok(value)
}

fn hcl_value(text: &str) -> anyhow::Result<keel_hcl::Document> {
    Ok(keel_hcl::parse(text)?)
}

impl FileConfig {
    /// Deserializes a parsed HCL file, pointing an error about a key at its line.
    fn check(document: keel_hcl::Document) -> anyhow::Result<Self> {
        let keys = document.clone();
        serde_json::from_value(document.value.into()).map_err(|error| {
            let message = error.to_string();
            let key = message.split('`').nth(1).unwrap_or_default();
            match keys.position_of(key) {
                Some(at) => anyhow::anyhow!("line {}, column {}: {message}", at.line, at.column),
                None => error.into(),
            }
        })
    }
}

/// Nomad's JSON files may write a block as a list of objects (`"server":
/// [{...}]`, `"plugin": [{"acl": {...}}]`); those merge into one object, as
/// repeated blocks do in HCL.
fn merge_block_lists(value: &mut Value) {
    if let Value::Object(object) = value {
        for inner in object.values_mut() {
            if let Value::Array(items) = inner
                && !items.is_empty()
                && items.iter().all(Value::is_object)
            {
                let mut merged = Value::Object(Map::new());
                for item in std::mem::take(items) {
                    keel_hcl::merge(&mut merged, item);
                }
                *inner = merged;
            }
            merge_block_lists(inner);
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ServerBlock {
    pub(super) enabled: bool,
    pub(super) bootstrap_expect: Option<u32>,
    pub(super) raft_multiplier: Option<u32>,
    pub(super) raft_snapshot_threshold: Option<u64>,
    pub(super) raft_trailing_logs: Option<u64>,
    pub(super) encrypt: Option<String>,
    pub(super) redundancy_zone: Option<String>,
    #[serde(deserialize_with = "keel_api::duration::deserialize_some")]
    pub(super) autopilot_interval: Option<Duration>,
    pub(super) retry_join: Vec<String>,
    pub(super) server_join: ServerJoinBlock,
    pub(super) default_scheduler_config: Option<SchedulerBlock>,
}

impl ServerBlock {
    /// The Raft settings this block names, defaults for the rest.
    pub(super) fn raft_tuning(&self) -> RaftTuning {
        let defaults = RaftTuning::default();
        RaftTuning {
            multiplier: self.raft_multiplier.unwrap_or(1),
            snapshot_threshold: self.raft_snapshot_threshold.unwrap_or(defaults.snapshot_threshold),
            trailing_logs: self.raft_trailing_logs.unwrap_or(defaults.trailing_logs),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ServerJoinBlock {
    pub(super) retry_join: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ClientBlock {
    pub(super) enabled: bool,
    pub(super) servers: Vec<String>,
    pub(super) memory_total_mb: Option<u64>,
    pub(super) cpu_total_compute: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AclBlock {
    pub(super) enabled: bool,
    #[serde(deserialize_with = "keel_api::duration::deserialize_some")]
    pub(super) token_min_expiration_ttl: Option<Duration>,
    #[serde(deserialize_with = "keel_api::duration::deserialize_some")]
    pub(super) token_max_expiration_ttl: Option<Duration>,
}

/// `plugin_trust { keys = ["<base64 Ed25519 public key>", ...] }`: the keys
/// a plugin installed in the cluster must be signed by; none, no signature
/// is required.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PluginTrustBlock {
    pub(super) keys: Vec<String>,
}

/// `telemetry { prometheus_metrics = true }` serves `/v1/metrics?format=prometheus`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct TelemetryBlock {
    pub(super) prometheus_metrics: bool,
}

/// `autopilot { ... }`: every key optional, Nomad's defaults for the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AutopilotBlock {
    pub(super) cleanup_dead_servers: Option<bool>,
    #[serde(deserialize_with = "keel_api::duration::deserialize_some")]
    pub(super) last_contact_threshold: Option<Duration>,
    pub(super) max_trailing_logs: Option<u64>,
    pub(super) min_quorum: Option<u64>,
    #[serde(deserialize_with = "keel_api::duration::deserialize_some")]
    pub(super) server_stabilization_time: Option<Duration>,
    pub(super) enable_redundancy_zones: Option<bool>,
    pub(super) disable_upgrade_migration: Option<bool>,
    pub(super) enable_custom_upgrades: Option<bool>,
}

impl AutopilotBlock {
    pub(super) fn resolve(self) -> AutopilotConfiguration {
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

/// `server { default_scheduler_config { ... } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SchedulerBlock {
    pub(super) scheduler_algorithm: Option<String>,
    pub(super) memory_oversubscription_enabled: bool,
    pub(super) reject_job_registration: bool,
    pub(super) pause_eval_broker: bool,
    pub(super) preemption_config: Option<PreemptionBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PreemptionBlock {
    pub(super) system_scheduler_enabled: Option<bool>,
    pub(super) sysbatch_scheduler_enabled: bool,
    pub(super) batch_scheduler_enabled: bool,
    pub(super) service_scheduler_enabled: bool,
}

impl SchedulerBlock {
    pub(super) fn resolve(self) -> SchedulerConfiguration {
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
pub(super) struct PluginBlock {
    pub(super) path: Option<PathBuf>,
    #[serde(deserialize_with = "keel_api::plugin::deserialize_settings")]
    pub(super) config: BTreeMap<String, String>,
}
