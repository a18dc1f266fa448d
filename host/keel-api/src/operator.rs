//! `/v1/operator/...` shapes: Raft configuration, autopilot, scheduler and license.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `GET /v1/operator/raft/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RaftConfiguration {
    pub servers: Vec<RaftServer>,
    pub index: u64,
}

/// One server in the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RaftServer {
    #[serde(rename = "ID")]
    pub id: String,
    /// The node name, or `"(unknown)"` when gossip does not know the server.
    pub node: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
    pub raft_protocol: String,
}

/// Autopilot's settings, as stored in the replicated state and as
/// `GET/PUT /v1/operator/autopilot/configuration` carry them.
///
/// A PUT replaces the whole configuration, as Nomad's does: a field the body
/// leaves out takes its zero value, not its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutopilotConfiguration {
    pub cleanup_dead_servers: bool,
    #[serde(with = "crate::duration")]
    pub last_contact_threshold: Duration,
    pub max_trailing_logs: u64,
    pub min_quorum: u64,
    #[serde(with = "crate::duration")]
    pub server_stabilization_time: Duration,
    pub enable_redundancy_zones: bool,
    pub disable_upgrade_migration: bool,
    pub enable_custom_upgrades: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AutopilotConfiguration {
    /// Nomad's defaults: cleanup on, 200ms, 250 entries, no MinQuorum, 10s.
    pub fn nomad_defaults() -> Self {
        Self {
            cleanup_dead_servers: true,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: Duration::from_secs(10),
            enable_redundancy_zones: false,
            disable_upgrade_migration: false,
            enable_custom_upgrades: false,
            create_index: 0,
            modify_index: 0,
        }
    }
}

/// The zero configuration: what a PUT body that leaves every field out means.
impl Default for AutopilotConfiguration {
    fn default() -> Self {
        Self {
            cleanup_dead_servers: false,
            last_contact_threshold: Duration::ZERO,
            max_trailing_logs: 0,
            min_quorum: 0,
            server_stabilization_time: Duration::ZERO,
            enable_redundancy_zones: false,
            disable_upgrade_migration: false,
            enable_custom_upgrades: false,
            create_index: 0,
            modify_index: 0,
        }
    }
}

/// `GET /v1/operator/autopilot/health`: 200 when `healthy`, else 429.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperatorHealthReply {
    pub healthy: bool,
    pub failure_tolerance: u64,
    pub servers: Vec<ServerHealth>,
    /// The raft ids of the voters.
    pub voters: Vec<String>,
    /// The leader's raft id.
    pub leader: String,
    /// Enterprise: failure tolerance counting healthy non-voters that could be promoted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub optimistic_failure_tolerance: Option<u64>,
    /// Enterprise: the state of each redundancy zone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redundancy_zones: Option<BTreeMap<String, ZoneHealth>>,
    /// Enterprise: the state of an upgrade migration.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upgrade: Option<UpgradeHealth>,
    /// Enterprise: the raft ids of read replicas.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub read_replicas: Option<Vec<String>>,
}

/// One server in the autopilot health report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerHealth {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub address: String,
    pub serf_status: String,
    pub version: String,
    pub leader: bool,
    #[serde(with = "crate::duration")]
    pub last_contact: Duration,
    pub last_term: u64,
    pub last_index: u64,
    pub healthy: bool,
    pub voter: bool,
    /// RFC 3339.
    pub stable_since: String,
    /// Keel's own: why `Healthy` is what it is, in the autopilot plugin's
    /// words. Absent in Nomad's replies, so clients that do not know it
    /// ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Enterprise: one redundancy zone in the health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ZoneHealth {
    pub servers: Vec<String>,
    pub voters: Vec<String>,
    pub failure_tolerance: u64,
}

/// Enterprise: an upgrade migration in the health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpgradeHealth {
    pub status: String,
    pub target_version: String,
    pub target_version_voters: Vec<String>,
    pub target_version_non_voters: Vec<String>,
    pub other_version_voters: Vec<String>,
    pub other_version_non_voters: Vec<String>,
}

/// The scheduler algorithms Nomad accepts; `""` means binpack.
pub const SCHEDULER_ALGORITHMS: [&str; 3] = ["", "binpack", "spread"];

/// The scheduler's settings, as stored and as
/// `GET/PUT /v1/operator/scheduler/configuration` carry them. A PUT replaces
/// the whole configuration: omitted fields reset to their zero value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerConfiguration {
    pub scheduler_algorithm: String,
    pub preemption_config: PreemptionConfig,
    pub memory_oversubscription_enabled: bool,
    pub reject_job_registration: bool,
    pub pause_eval_broker: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

impl SchedulerConfiguration {
    /// Nomad's defaults: binpack, preemption for system jobs only.
    pub fn nomad_defaults() -> Self {
        Self {
            scheduler_algorithm: "binpack".to_owned(),
            preemption_config: PreemptionConfig { system_scheduler_enabled: true, ..PreemptionConfig::default() },
            ..Self::default()
        }
    }

    /// Nomad's validation of a submitted configuration.
    pub fn validate(&self) -> Result<(), String> {
        if SCHEDULER_ALGORITHMS.contains(&self.scheduler_algorithm.as_str()) {
            Ok(())
        } else {
            Err(format!("invalid scheduler algorithm: {}", self.scheduler_algorithm))
        }
    }
}

/// Which schedulers may preempt running allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PreemptionConfig {
    pub system_scheduler_enabled: bool,
    pub sys_batch_scheduler_enabled: bool,
    pub batch_scheduler_enabled: bool,
    pub service_scheduler_enabled: bool,
}

/// `GET /v1/operator/scheduler/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerConfigurationResponse {
    pub scheduler_config: SchedulerConfiguration,
    pub index: u64,
    pub last_contact: u64,
    pub known_leader: bool,
}

/// The reply to a scheduler configuration update. `updated` is the CAS
/// outcome; a write without `?cas` answers `false` though it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerSetConfigurationResponse {
    pub updated: bool,
    pub index: u64,
}

/// A validated license, as `GET /v1/operator/license` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct License {
    #[serde(rename = "LicenseID")]
    pub license_id: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: String,
    #[serde(rename = "InstallationID")]
    pub installation_id: String,
    /// RFC 3339.
    pub issue_time: String,
    pub start_time: String,
    pub expiration_time: String,
    pub termination_time: String,
    pub non_production: bool,
    pub product: String,
    pub flags: BTreeMap<String, serde_json::Value>,
    pub modules: Vec<String>,
    /// The features this license grants now: empty when it has expired.
    pub features: Vec<String>,
}

/// `GET /v1/operator/license`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LicenseReply {
    pub license: License,
    /// True when the license in the agent's config file differs from the
    /// one in the cluster state.
    pub config_outdated: bool,
    /// Why the stored license grants nothing now (expired, terminated ...),
    /// when it does not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
    pub known_leader: bool,
    pub last_contact: u64,
    pub last_index: u64,
}

/// The reply to `PUT /v1/operator/license`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LicenseUpdateResponse {
    pub index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autopilot_configuration_reads_the_documented_sample() {
        let sample = r#"{"CleanupDeadServers": true, "LastContactThreshold": "200ms", "MaxTrailingLogs": 250,
            "ServerStabilizationTime": "10s", "EnableRedundancyZones": false, "DisableUpgradeMigration": false,
            "EnableCustomUpgrades": false, "CreateIndex": 4, "ModifyIndex": 4}"#;
        let config: AutopilotConfiguration = serde_json::from_str(sample).expect("sample parses");
        assert_eq!(
            config,
            AutopilotConfiguration { create_index: 4, modify_index: 4, ..AutopilotConfiguration::nomad_defaults() }
        );
        let written = serde_json::to_value(&config).expect("serialize");
        assert_eq!(written["LastContactThreshold"], "200ms");
        assert_eq!(written["ServerStabilizationTime"], "10s");
        assert_eq!(written["MinQuorum"], 0);
    }

    #[test]
    fn omitted_fields_take_zero_values() {
        let config: AutopilotConfiguration = serde_json::from_str(r#"{"MaxTrailingLogs": 10}"#).expect("parses");
        assert_eq!(config, AutopilotConfiguration { max_trailing_logs: 10, ..AutopilotConfiguration::default() });
        let scheduler: SchedulerConfiguration =
            serde_json::from_str(r#"{"SchedulerAlgorithm": "spread"}"#).expect("parses");
        assert!(!scheduler.preemption_config.system_scheduler_enabled);
    }

    #[test]
    fn scheduler_algorithm_is_validated() {
        assert!(SchedulerConfiguration::nomad_defaults().validate().is_ok());
        let bad = SchedulerConfiguration { scheduler_algorithm: "random".into(), ..SchedulerConfiguration::default() };
        assert_eq!(bad.validate(), Err("invalid scheduler algorithm: random".to_owned()));
    }
}
