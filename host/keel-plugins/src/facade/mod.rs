//! One typed facade per plugin kind, each applying its kind's fail-closed rule.

pub mod acl;
pub mod autopilot;
pub mod license;
pub mod scheduler;

use crate::{Metrics, PluginInfo};

/// What a loaded plugin of any kind tells about itself.
pub trait Facade: Send + Sync + 'static {
    fn info(&self) -> &PluginInfo;
    fn metrics(&self) -> &Metrics;
    /// The contract version the component speaks.
    fn contract(&self) -> keel_contract::Contract;
}

macro_rules! impl_facade {
    ($($plugin:ty),*) => {$(
        impl Facade for $plugin {
            fn info(&self) -> &PluginInfo {
                <$plugin>::info(self)
            }

            fn metrics(&self) -> &Metrics {
                <$plugin>::metrics(self)
            }

            fn contract(&self) -> keel_contract::Contract {
                <$plugin>::contract(self)
            }
        }
    )*};
}

impl_facade!(acl::AclPlugin, autopilot::AutopilotPlugin, license::LicensePlugin, scheduler::SchedulerPlugin);
