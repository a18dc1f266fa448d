//! Scheduler plugins: where each allocation of a task group runs. A fault
//! fails the placement with a stated reason; the job stays pending.

use crate::bindings::scheduler::SchedulerAlgorithm;
pub use crate::bindings::scheduler::exports::keel::plugin::scheduler::{
    Algorithm, Allocation, Config, Constraint, Failure, JobType, Node, NodeStatus, Placement, Plan, Resources,
    TaskGroup,
};
use crate::instance::{Warm, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Scheduler, scheduler, SchedulerAlgorithm, SchedulerAlgorithmPre);

/// A loaded scheduler plugin.
pub struct SchedulerPlugin {
    warm: Warm<SchedulerAlgorithm>,
}

impl SchedulerPlugin {
    pub(crate) fn new(warm: Warm<SchedulerAlgorithm>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    /// Places `group.count` allocations on `nodes`. On `Err` nothing is
    /// placed; the error is the reason to show for the pending job.
    pub async fn place(&self, config: &Config, group: &TaskGroup, nodes: &[Node]) -> Result<Plan, PluginError> {
        let (config, group, nodes) = (*config, group.clone(), nodes.to_vec());
        let plan = self
            .warm
            .call("place", move |bindings, store, _| {
                bindings.keel_plugin_scheduler().call_place(store, config, &group, &nodes)
            })
            .await?;
        plan.map_err(|message| {
            self.warm.metrics().record_error();
            PluginError::Refused { plugin: self.warm.info().name.clone(), message }
        })
    }
}
