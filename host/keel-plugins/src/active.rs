//! The agent's four active plugins, one per kind.

use crate::{AclPlugin, AutopilotPlugin, Kind, LicensePlugin, MetricsSnapshot, PluginInfo, SchedulerPlugin};

/// The four active plugins of an agent.
pub struct Plugins {
    pub acl: AclPlugin,
    pub autopilot: AutopilotPlugin,
    pub scheduler: SchedulerPlugin,
    pub license: LicensePlugin,
}

impl Plugins {
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
