//! Autopilot plugins: one round from the cluster's facts to a health report
//! and actions. A fault or an error makes the round change nothing.

use crate::bindings::autopilot::AutopilotStrategy;
pub use crate::bindings::autopilot::exports::keel::plugin::autopilot::{
    Action, Cluster, Config, Decision, GossipStatus, Health, Server, ServerHealth, Suffrage, Upgrade, Zone,
};
use crate::instance::{Warm, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Autopilot, autopilot, AutopilotStrategy, AutopilotStrategyPre);

/// A loaded autopilot plugin.
pub struct AutopilotPlugin {
    warm: Warm<AutopilotStrategy>,
}

impl AutopilotPlugin {
    pub(crate) fn new(warm: Warm<AutopilotStrategy>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    /// Runs one round. On `Err` the caller makes no membership change and
    /// reports the error on the health endpoint.
    pub async fn evaluate(&self, cluster: &Cluster) -> Result<Decision, PluginError> {
        let cluster = cluster.clone();
        let decision = self
            .warm
            .call("evaluate", move |bindings, store, _| bindings.keel_plugin_autopilot().call_evaluate(store, &cluster))
            .await?;
        decision.map_err(|message| {
            self.warm.metrics().record_error();
            PluginError::Refused { plugin: self.warm.info().name.clone(), message }
        })
    }
}
