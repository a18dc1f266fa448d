//! # autopilot-default: raft-autopilot's default strategy as a Keel plugin
//!
//! This crate owns the decisions of one autopilot round, made as a pure
//! function of the facts the host gathers ([`Cluster`]): each server's
//! health verdict, the cluster's health report, and the membership changes
//! the leader should make. It depends on `keel-sdk` only. It must not read
//! the clock (the round's `now_ms` is its only time), keep state between
//! rounds or log: the same facts always give the same decision, and the host
//! applies it.
//!
//! A round follows hashicorp/raft-autopilot:
//! - health verdicts: alive in gossip, in contact within the
//!   threshold, on the leader's term, trailing by at most max trailing logs;
//! - one kind of voting change: a failed voter's demotion while the voters
//!   are odd in number, else the upgrade migration's step (when licensed),
//!   else promotion of non-voters stable for the stabilization time;
//! - dead-server cleanup, bounded so that quorum and `min_quorum` hold.
//!
//! Source map: `health.rs` (verdicts), `membership.rs` (the configuration
//! as actions change it), `promotion.rs`, `demotion.rs`, `upgrade.rs`,
//! `cleanup.rs` (the phases), `report.rs` and `zones.rs` (the health
//! report), `round.rs` (the order of it all).
//!
//! ```
//! use autopilot_default::DefaultAutopilot;
//! use keel_sdk::autopilot::{
//!     Action, AutopilotStrategy, Cluster, Config, GossipStatus, Server, Suffrage,
//! };
//! use keel_sdk::Plugin;
//!
//! let voter = |id: &str| Server {
//!     id: id.into(),
//!     name: format!("{id}.global"),
//!     address: "10.0.0.1:4647".into(),
//!     gossip_status: GossipStatus::Alive,
//!     version: "1.0.0".into(),
//!     suffrage: Suffrage::Voter,
//!     read_replica: false,
//!     last_contact_ms: 5,
//!     last_term: 3,
//!     last_index: 900,
//!     previous_healthy: Some(true),
//!     stable_since_ms: 0,
//!     tags: vec![],
//! };
//! let cluster = Cluster {
//!     config: Config {
//!         cleanup_dead_servers: true,
//!         last_contact_threshold_ms: 200,
//!         max_trailing_logs: 250,
//!         min_quorum: 0,
//!         server_stabilization_time_ms: 10_000,
//!         enable_redundancy_zones: false,
//!         disable_upgrade_migration: false,
//!         enable_custom_upgrades: false,
//!     },
//!     servers: vec![
//!         voter("a"),
//!         voter("b"),
//!         Server { suffrage: Suffrage::Nonvoter, stable_since_ms: 50_000, ..voter("c") },
//!     ],
//!     leader_id: "a".into(),
//!     leader_term: 3,
//!     leader_last_index: 1000,
//!     licensed_features: vec![],
//!     now_ms: 62_000,
//!     autopilot_started_ms: 0,
//! };
//!
//! let autopilot = DefaultAutopilot::configure(&[]).expect("no settings needed");
//! let decision = autopilot.evaluate(&cluster).expect("a valid cluster");
//! assert!(decision.health.healthy);
//! assert_eq!(decision.health.failure_tolerance, 0);
//! let planned = &decision.actions[0];
//! assert_eq!(planned.action, Action::Promote("c".into()));
//! assert_eq!(planned.reason, "promote server c: healthy for 12s, stabilization time 10s");
//! ```

mod cleanup;
mod demotion;
mod duration;
mod facts;
#[cfg(test)]
mod fixtures;
mod health;
mod membership;
mod promotion;
mod report;
mod round;
mod upgrade;
mod version;
mod zones;

use keel_sdk::autopilot::AutopilotStrategy;
pub use keel_sdk::autopilot::{Cluster, Decision};
use keel_sdk::{Plugin, PluginInfo};

/// raft-autopilot's default strategy. Everything it reads is in the
/// cluster's autopilot configuration, except what its one setting
/// overrides: `enable_redundancy_zones` (`true` or `false`), which turns the
/// redundancy zones of the health report on or off whatever the
/// configuration says (they still need a license granting them).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultAutopilot {
    redundancy_zones: Option<bool>,
}

/// The plugin's one setting.
const ZONES_SETTING: &str = "enable_redundancy_zones";

impl Plugin for DefaultAutopilot {
    fn info() -> PluginInfo {
        PluginInfo::new("autopilot-default", env!("CARGO_PKG_VERSION"))
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        let (zones, unknown): (Vec<_>, Vec<_>) = settings.iter().partition(|(key, _)| key == ZONES_SETTING);
        if !unknown.is_empty() {
            let keys: Vec<String> = unknown.iter().map(|(key, _)| format!("{key:?}")).collect();
            return Err(format!("unknown setting {}: the only setting is {ZONES_SETTING:?}", keys.join(", ")));
        }
        let redundancy_zones = match zones.last().map(|(_, value)| value.as_str()) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => return Err(format!("{ZONES_SETTING} must be true or false, not {other:?}")),
        };
        Ok(DefaultAutopilot { redundancy_zones })
    }
}

impl AutopilotStrategy for DefaultAutopilot {
    fn evaluate(&self, cluster: &Cluster) -> Result<Decision, String> {
        match self.redundancy_zones {
            Some(zones) if zones != cluster.config.enable_redundancy_zones => {
                let mut cluster = cluster.clone();
                cluster.config.enable_redundancy_zones = zones;
                round::evaluate(&cluster)
            }
            _ => round::evaluate(cluster),
        }
    }
}

keel_sdk::export_autopilot_strategy!(DefaultAutopilot);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{cluster, server, tagged};

    #[test]
    fn names_itself() {
        let info = DefaultAutopilot::info();
        assert_eq!(info.name, "autopilot-default");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn takes_only_the_zones_setting_and_names_the_unknown_ones() {
        assert!(DefaultAutopilot::configure(&[]).is_ok());
        let settings = [("min_quorum".to_owned(), "3".to_owned()), ("color".to_owned(), "blue".to_owned())];
        let error = DefaultAutopilot::configure(&settings).expect_err("unknown keys");
        assert!(error.contains("\"min_quorum\"") && error.contains("\"color\""), "{error}");
        let zones = [(ZONES_SETTING.to_owned(), "yes".to_owned())];
        let error = DefaultAutopilot::configure(&zones).expect_err("not a boolean");
        assert!(error.contains("true or false"), "{error}");
    }

    #[test]
    fn evaluates_through_the_trait() {
        let c = cluster(vec![server("s1"), server("s2"), server("s3")]);
        let decision = DefaultAutopilot::default().evaluate(&c).expect("valid");
        assert_eq!(decision.health.voters.len(), 3);
    }

    #[test]
    fn the_zones_setting_overrides_the_configuration_and_still_needs_the_license() {
        let mut c = cluster(vec![tagged("zone", "a", server("s1")), tagged("zone", "b", server("s2"))]);
        c.licensed_features = vec!["Redundancy Zones".into()];
        let zones = |value: &str, c: &Cluster| {
            let plugin = DefaultAutopilot::configure(&[(ZONES_SETTING.to_owned(), value.to_owned())]).expect("valid");
            plugin.evaluate(c).expect("valid").health.redundancy_zones.len()
        };
        assert_eq!(zones("true", &c), 2, "on although the configuration says off");
        c.config.enable_redundancy_zones = true;
        assert_eq!(zones("false", &c), 0, "off although the configuration says on");
        c.licensed_features.clear();
        assert_eq!(zones("true", &c), 0, "not without the license");
    }
}
