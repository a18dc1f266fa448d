//! The agent's four active plugins, loaded from the operator's components
//! or the embedded defaults.

use std::collections::BTreeMap;

use anyhow::Context;
use keel_plugins::{
    AclPlugin, AutopilotPlugin, Kind, LicensePlugin, MetricsSnapshot, PluginInfo, Runtime, SchedulerPlugin,
};

use crate::config::PluginConfig;
use crate::embedded;

/// A plugin's settings, as its `configure` takes them.
type Settings = [(String, String)];

/// The four active plugins of an agent.
pub struct Plugins {
    pub acl: AclPlugin,
    pub autopilot: AutopilotPlugin,
    pub scheduler: SchedulerPlugin,
    pub license: LicensePlugin,
}

impl Plugins {
    /// Loads each kind's plugin: the operator's component if one is
    /// configured, else the embedded default, with the configured settings.
    pub fn load(runtime: &Runtime, configs: &BTreeMap<Kind, PluginConfig>) -> anyhow::Result<Self> {
        let none = PluginConfig::default();
        let source = |kind: Kind| -> anyhow::Result<(Vec<u8>, &Settings)> {
            let config = configs.get(&kind).unwrap_or(&none);
            let component = match &config.path {
                Some(path) => std::fs::read(path).with_context(|| format!("read {kind} plugin {}", path.display()))?,
                None => embedded::default_component(kind).to_vec(),
            };
            Ok((component, &config.settings))
        };
        let (acl, acl_settings) = source(Kind::Acl)?;
        let (autopilot, autopilot_settings) = source(Kind::Autopilot)?;
        let (scheduler, scheduler_settings) = source(Kind::Scheduler)?;
        let (license, license_settings) = source(Kind::License)?;
        Ok(Self {
            acl: runtime.load_acl(&acl, acl_settings).context("load the acl plugin")?,
            autopilot: runtime.load_autopilot(&autopilot, autopilot_settings).context("load the autopilot plugin")?,
            scheduler: runtime.load_scheduler(&scheduler, scheduler_settings).context("load the scheduler plugin")?,
            license: runtime.load_license(&license, license_settings).context("load the license plugin")?,
        })
    }

    /// Each kind with its plugin's identity and counters.
    pub fn described(&self) -> [(Kind, &PluginInfo, MetricsSnapshot); 4] {
        [
            (Kind::Acl, self.acl.info(), self.acl.metrics().snapshot()),
            (Kind::Autopilot, self.autopilot.info(), self.autopilot.metrics().snapshot()),
            (Kind::Scheduler, self.scheduler.info(), self.scheduler.metrics().snapshot()),
            (Kind::License, self.license.info(), self.license.metrics().snapshot()),
        ]
    }

    /// One line naming every active plugin, for the start-up log.
    pub fn describe(&self) -> String {
        self.described()
            .iter()
            .map(|(kind, info, _)| format!("{kind}={} {}", info.name, info.version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
