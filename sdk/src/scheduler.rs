//! Scheduler algorithms: where each allocation of a task group runs.

use crate::bindings::exports::keel::plugin::scheduler as wit;
pub use crate::bindings::exports::keel::plugin::scheduler::{
    Algorithm, Allocation, Config, Constraint, Failure, JobType, Node, NodeStatus, Placement, Plan, Resources,
    TaskGroup,
};
use crate::plugin::{Adapter, Plugin, Slot};

/// A scheduler algorithm.
///
/// # To ensure correctness
/// - `place` is a pure function of its input.
/// - A placement never exceeds a node's capacity minus its reservations and
///   the allocations that stay on it.
/// - Only allocations of lower priority than the group are preempted, and
///   only when `config` enables preemption for the group's job type.
/// - Allocations that cannot be placed are counted in `Plan::failed` with a
///   `Failure` saying why.
///
/// # When the host calls it
/// Once per task group to place, with every candidate node; the host keeps
/// nothing of the answer but the placements it commits. This interface is
/// the one of contract 0.1.0; the scheduling work gives it a node set the
/// plugin keeps between calls, in a later contract version.
pub trait SchedulerAlgorithm: Plugin {
    /// Places `group.count` allocations on `nodes`.
    fn place(&self, config: &Config, group: &TaskGroup, nodes: &[Node]) -> Result<Plan, String>;
}

/// Makes a [`SchedulerAlgorithm`] the exports of a `scheduler-algorithm` component.
#[macro_export]
macro_rules! export_scheduler_algorithm {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, scheduler, __export_keel_plugin_scheduler_0_2_0_cabi);
    };
}

impl<P: Slot + SchedulerAlgorithm> wit::Guest for Adapter<P> {
    fn place(config: Config, group: TaskGroup, nodes: Vec<Node>) -> Result<Plan, String> {
        Self::with(|plugin| plugin.place(&config, &group, &nodes))
    }
}
