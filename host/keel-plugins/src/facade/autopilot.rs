//! Autopilot plugins: one round from the cluster's facts to a health report
//! and actions. A fault or an error makes the round change nothing.

use crate::adapt::Adapt;
pub use crate::bindings::v0_3::autopilot::exports::keel::plugin::autopilot::{
    Action, Cluster, Config, Decision, GossipStatus, Health, PlannedAction, Server, ServerHealth, Suffrage, Upgrade,
    Zone,
};
use crate::bindings::{v0_1, v0_2, v0_3};
use crate::instance::{Versioned, Warm, any_version, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Autopilot, autopilot, AutopilotStrategy, AutopilotStrategyPre);

/// An autopilot component of any contract version.
type AutopilotWorld = Versioned<
    v0_1::autopilot::AutopilotStrategy,
    v0_2::autopilot::AutopilotStrategy,
    v0_3::autopilot::AutopilotStrategy,
>;

/// A loaded autopilot plugin.
pub struct AutopilotPlugin {
    warm: Warm<AutopilotWorld>,
}

impl AutopilotPlugin {
    pub(crate) fn new(warm: Warm<AutopilotWorld>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    pub fn contract(&self) -> keel_contract::Contract {
        self.warm.contract()
    }

    /// Runs one round. On `Err` the caller makes no membership change and
    /// reports the error on the health endpoint.
    pub async fn evaluate(&self, cluster: &Cluster) -> Result<Decision, PluginError> {
        let cluster = cluster.clone();
        let decision = self
            .warm
            .call("evaluate", move |bindings, store, _| {
                any_version!(bindings, world => {
                    Ok(world.keel_plugin_autopilot().call_evaluate(store, &cluster.adapt())?.adapt())
                })
            })
            .await?;
        decision.map_err(|message| {
            self.warm.metrics().record_error();
            PluginError::Refused { plugin: self.warm.info().name.clone(), message }
        })
    }
}
