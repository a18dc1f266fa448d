//! Scheduler plugins: where each allocation of a task group runs. A fault
//! fails the placement with a stated reason; the job stays pending.

use crate::adapt::Adapt;
pub use crate::bindings::v0_2::scheduler::exports::keel::plugin::scheduler::{
    Algorithm, Allocation, Config, Constraint, Failure, JobType, Node, NodeStatus, Placement, Plan, Resources,
    TaskGroup,
};
use crate::bindings::{v0_1, v0_2};
use crate::instance::{Versioned, Warm, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Scheduler, scheduler, SchedulerAlgorithm, SchedulerAlgorithmPre);

/// A scheduler component of either contract version.
type SchedulerWorld = Versioned<v0_1::scheduler::SchedulerAlgorithm, v0_2::scheduler::SchedulerAlgorithm>;

/// A loaded scheduler plugin.
pub struct SchedulerPlugin {
    warm: Warm<SchedulerWorld>,
}

impl SchedulerPlugin {
    pub(crate) fn new(warm: Warm<SchedulerWorld>) -> Self {
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

    /// Places `group.count` allocations on `nodes`. On `Err` nothing is
    /// placed; the error is the reason to show for the pending job.
    pub async fn place(&self, config: &Config, group: &TaskGroup, nodes: &[Node]) -> Result<Plan, PluginError> {
        let (config, group, nodes) = (*config, group.clone(), nodes.to_vec());
        let plan = self
            .warm
            .call("place", move |bindings, store, _| match bindings {
                Versioned::Old(old) => {
                    let (group, nodes) = (group.adapt(), nodes.adapt());
                    Ok(old.keel_plugin_scheduler().call_place(store, config.adapt(), &group, &nodes)?.adapt())
                }
                Versioned::New(new) => new.keel_plugin_scheduler().call_place(store, config, &group, &nodes),
            })
            .await?;
        plan.map_err(|message| {
            self.warm.metrics().record_error();
            PluginError::Refused { plugin: self.warm.info().name.clone(), message }
        })
    }
}
