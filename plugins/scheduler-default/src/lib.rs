//! # scheduler-default: Nomad's placement as a Keel scheduler plugin
//!
//! This crate owns one decision: on which nodes the allocations of a task
//! group run, and which lower-priority allocations must stop to make room.
//! It is a pure function of the scheduler configuration, the group and the
//! nodes (which the SDK keeps between calls); it depends on `keel-sdk` and
//! `regex-lite` only, and must not read the clock, log, or keep state of
//! its own between calls.
//!
//! Placement follows Nomad's generic scheduler, one allocation at a time:
//! - feasibility: ready, eligible nodes of the group's pool and datacenters
//!   (`*` globs), then the group's constraints with Nomad's operands;
//! - fit: capacity less reservations, running allocations and the plan's
//!   earlier placements must hold the ask in CPU, memory and disk;
//! - score: ScoreFitBinPack or ScoreFitSpread, with the job anti-affinity
//!   penalty, over the first nodes that fit in a shuffled order seeded by
//!   the group (Nomad's limit: 2 for batch, `max(2, ceil(log2 n))` for
//!   services, all for system jobs); best score wins and ties go to the
//!   node visited first;
//! - preemption, when the job type's flag is on and nothing fits: stop
//!   allocations of other jobs at least 10 priorities lower, lowest first.
//!
//! Source map: `feasibility.rs`, `constraint.rs`, `target.rs` and
//! `version.rs` (who may run it), `usage.rs` and `resources.rs` (what
//! fits), `score.rs`, `preemption.rs`, `metrics.rs` (why not), `placer.rs`
//! (the loop).
//!
//! ```
//! use keel_sdk::scheduler::{
//!     Algorithm, Config, JobType, Node, NodeStatus, Nodes, Resources, SchedulerAlgorithm, TaskGroup,
//! };
//! use keel_sdk::Plugin;
//! use scheduler_default::DefaultScheduler;
//!
//! let node = |id: &str, used_cpu: u64| Node {
//!     id: id.into(),
//!     name: id.into(),
//!     datacenter: "dc1".into(),
//!     node_pool: "default".into(),
//!     node_class: String::new(),
//!     status: NodeStatus::Ready,
//!     eligible: true,
//!     attributes: vec![],
//!     meta: vec![],
//!     capacity: Resources { cpu_mhz: 4000, memory_mb: 8192, disk_mb: 50_000 },
//!     reserved: Resources { cpu_mhz: used_cpu, memory_mb: 0, disk_mb: 0 },
//!     allocations: vec![],
//! };
//! let group = TaskGroup {
//!     namespace: "default".into(),
//!     job_id: "web".into(),
//!     name: "frontend".into(),
//!     job_type: JobType::Service,
//!     priority: 50,
//!     count: 1,
//!     resources: Resources { cpu_mhz: 500, memory_mb: 256, disk_mb: 100 },
//!     datacenters: vec!["dc*".into()],
//!     node_pool: "default".into(),
//!     constraints: vec![],
//! };
//! let mut config = Config {
//!     algorithm: Algorithm::Binpack,
//!     preempt_system: true,
//!     preempt_sysbatch: false,
//!     preempt_batch: false,
//!     preempt_service: false,
//!     memory_oversubscription_enabled: false,
//! };
//! let nodes: Nodes = [node("empty", 0), node("busy", 3000)].into_iter().collect();
//!
//! let scheduler = DefaultScheduler::configure(&[]).expect("no settings needed");
//! let plan = scheduler.place(&config, &group, &nodes).expect("valid input");
//! assert_eq!(plan.placements[0].node_id, "busy", "binpack fills the busier node");
//! config.algorithm = Algorithm::Spread;
//! let plan = scheduler.place(&config, &group, &nodes).expect("valid input");
//! assert_eq!(plan.placements[0].node_id, "empty", "spread prefers the emptier one");
//! ```

mod constraint;
mod feasibility;
#[cfg(test)]
mod fixtures;
mod metrics;
mod placer;
mod preemption;
mod resources;
mod score;
mod target;
mod usage;
mod version;

use keel_sdk::scheduler::SchedulerAlgorithm;
pub use keel_sdk::scheduler::{Config, Node, Nodes, Plan, TaskGroup};
use keel_sdk::{Plugin, PluginInfo};

/// Nomad's default placement. It takes no settings: the algorithm and the
/// preemption flags come with every call in the scheduler configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultScheduler;

impl Plugin for DefaultScheduler {
    fn info() -> PluginInfo {
        PluginInfo::new("scheduler-default", env!("CARGO_PKG_VERSION"))
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        keel_sdk::refuse_settings(settings).map(|()| DefaultScheduler)
    }
}

impl SchedulerAlgorithm for DefaultScheduler {
    fn place(&self, config: &Config, group: &TaskGroup, nodes: &Nodes) -> Result<Plan, String> {
        placer::place(config, group, nodes)
    }
}

keel_sdk::export_scheduler_algorithm!(DefaultScheduler);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{config, group, node};

    #[test]
    fn names_itself() {
        let info = DefaultScheduler::info();
        assert_eq!(info.name, "scheduler-default");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn takes_no_settings_and_names_the_unknown_ones() {
        assert!(DefaultScheduler::configure(&[]).is_ok());
        let settings = [("algorithm".to_owned(), "spread".to_owned())];
        let error = DefaultScheduler::configure(&settings).expect_err("unknown key");
        assert!(error.contains("\"algorithm\""), "{error}");
    }

    #[test]
    fn places_through_the_trait() {
        let nodes = [node("n1"), node("n2")].into_iter().collect();
        let plan = DefaultScheduler.place(&config(), &group(2), &nodes).expect("valid");
        assert_eq!(plan.placements.len(), 2);
        assert_eq!(plan.failed, 0);
    }
}
