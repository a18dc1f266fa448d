//! {{name}}: a scheduler that places each allocation on the first node
//! (in id order) with room for it.
//!
//! The SDK keeps the host's nodes in the plugin between calls and applies
//! the host's changes before each one, so `place` sees them as `Nodes`.
//! Only ready, eligible nodes of the group's datacenters and node pool are
//! considered. A node's room is its capacity minus its reservations and the
//! allocations already on it, in CPU, memory and disk. Nothing is
//! preempted. Allocations that fit nowhere are counted as failed.

use keel_sdk::scheduler::{
    Config, Failure, Node, NodeStatus, Nodes, Placement, Plan, Resources, SchedulerAlgorithm, TaskGroup,
};
use keel_sdk::{Plugin, PluginInfo};

pub struct FirstFit;

impl Plugin for FirstFit {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0")
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        keel_sdk::refuse_settings(settings).map(|()| FirstFit)
    }
}

impl SchedulerAlgorithm for FirstFit {
    fn place(&self, _config: &Config, group: &TaskGroup, nodes: &Nodes) -> Result<Plan, String> {
        let feasible = |node: &&Node| {
            node.status == NodeStatus::Ready
                && node.eligible
                && node.node_pool == group.node_pool
                && group.datacenters.contains(&node.datacenter)
        };
        let mut candidates: Vec<(&Node, Resources)> = nodes.iter().filter(feasible).map(|n| (n, room(n))).collect();
        let mut placements = Vec::new();
        for _ in 0..group.count {
            let Some((node, free)) = candidates.iter_mut().find(|(_, free)| fits(&group.resources, free)) else {
                break;
            };
            free.cpu_mhz -= group.resources.cpu_mhz;
            free.memory_mb -= group.resources.memory_mb;
            free.disk_mb -= group.resources.disk_mb;
            placements.push(Placement { node_id: node.id.clone(), score: 1.0, preempted: Vec::new() });
        }
        let failed = group.count - u32::try_from(placements.len()).unwrap_or(u32::MAX);
        let failure = (failed > 0).then(|| Failure {
            nodes_evaluated: u32::try_from(nodes.len()).unwrap_or(u32::MAX),
            nodes_filtered: u32::try_from(nodes.len() - candidates.len()).unwrap_or(u32::MAX),
            nodes_in_pool: u32::try_from(candidates.len()).unwrap_or(u32::MAX),
            nodes_available: Vec::new(),
            constraint_filtered: Vec::new(),
            nodes_exhausted: u32::try_from(candidates.len()).unwrap_or(u32::MAX),
            dimension_exhausted: Vec::new(),
        });
        Ok(Plan { placements, failed, failure })
    }
}

/// What `node` has left after its reservations and allocations.
fn room(node: &Node) -> Resources {
    let used = node.allocations.iter().fold((0u64, 0u64, 0u64), |(cpu, mem, disk), a| {
        (cpu + a.resources.cpu_mhz, mem + a.resources.memory_mb, disk + a.resources.disk_mb)
    });
    Resources {
        cpu_mhz: node.capacity.cpu_mhz.saturating_sub(node.reserved.cpu_mhz + used.0),
        memory_mb: node.capacity.memory_mb.saturating_sub(node.reserved.memory_mb + used.1),
        disk_mb: node.capacity.disk_mb.saturating_sub(node.reserved.disk_mb + used.2),
    }
}

fn fits(wanted: &Resources, free: &Resources) -> bool {
    wanted.cpu_mhz <= free.cpu_mhz && wanted.memory_mb <= free.memory_mb && wanted.disk_mb <= free.disk_mb
}

keel_sdk::export_scheduler_algorithm!(FirstFit);

#[cfg(test)]
mod tests {
    use keel_sdk::scheduler::{Algorithm, JobType};

    use super::*;

    fn resources(cpu_mhz: u64, memory_mb: u64, disk_mb: u64) -> Resources {
        Resources { cpu_mhz, memory_mb, disk_mb }
    }

    fn node(id: &str, cpu_mhz: u64) -> Node {
        Node {
            id: id.into(),
            name: id.into(),
            datacenter: "dc1".into(),
            node_pool: "default".into(),
            node_class: String::new(),
            status: NodeStatus::Ready,
            eligible: true,
            attributes: Vec::new(),
            meta: Vec::new(),
            capacity: resources(cpu_mhz, 4_096, 100_000),
            reserved: resources(0, 0, 0),
            allocations: Vec::new(),
        }
    }

    fn group(count: u32, cpu_mhz: u64) -> TaskGroup {
        TaskGroup {
            namespace: "default".into(),
            job_id: "web".into(),
            name: "web".into(),
            job_type: JobType::Service,
            priority: 50,
            count,
            resources: resources(cpu_mhz, 256, 300),
            datacenters: vec!["dc1".into()],
            node_pool: "default".into(),
            constraints: Vec::new(),
        }
    }

    fn config() -> Config {
        Config {
            algorithm: Algorithm::Binpack,
            preempt_system: false,
            preempt_sysbatch: false,
            preempt_batch: false,
            preempt_service: false,
            memory_oversubscription_enabled: false,
        }
    }

    #[test]
    fn fills_the_first_node_before_the_next() {
        let nodes = Nodes::from_iter([node("a", 1_000), node("b", 1_000)]);
        let plan = FirstFit.place(&config(), &group(3, 400), &nodes).expect("a plan");
        let nodes: Vec<&str> = plan.placements.iter().map(|p| p.node_id.as_str()).collect();
        assert_eq!(nodes, ["a", "a", "b"]);
        assert_eq!(plan.failed, 0);
    }

    #[test]
    fn what_fits_nowhere_is_counted_as_failed() {
        let mut down = node("down", 10_000);
        down.status = NodeStatus::Down;
        let plan = FirstFit.place(&config(), &group(3, 600), &Nodes::from_iter([node("a", 1_000), down])).expect("a plan");
        assert_eq!((plan.placements.len(), plan.failed), (1, 2));
        assert!(plan.failure.is_some());
    }
}
