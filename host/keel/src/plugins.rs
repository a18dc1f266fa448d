//! Loading the agent's four active plugins from the operator's components
//! or the embedded defaults.

use std::collections::BTreeMap;

use anyhow::Context;
use keel_plugins::{Kind, Plugins, Runtime};

use crate::config::PluginConfig;
use crate::embedded;

/// A plugin's settings, as its `configure` takes them.
type Settings = [(String, String)];

/// Loads each kind's plugin: the operator's component if one is
/// configured, else the embedded default, with the configured settings.
pub fn load(runtime: &Runtime, configs: &BTreeMap<Kind, PluginConfig>) -> anyhow::Result<Plugins> {
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
    Ok(Plugins {
        acl: runtime.load_acl(&acl, acl_settings).context("load the acl plugin")?,
        autopilot: runtime.load_autopilot(&autopilot, autopilot_settings).context("load the autopilot plugin")?,
        scheduler: runtime.load_scheduler(&scheduler, scheduler_settings).context("load the scheduler plugin")?,
        license: runtime.load_license(&license, license_settings).context("load the license plugin")?,
    })
}
