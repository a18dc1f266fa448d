//! Test nodes and task groups: a ready, eligible node in `dc1` with room
//! for a few allocations, and a small service group, which tests then bend
//! one fact at a time.

use keel_sdk::scheduler::{Algorithm, Allocation, Config, Constraint, JobType, Node, NodeStatus, Resources, TaskGroup};

pub(crate) fn res(cpu_mhz: u64, memory_mb: u64, disk_mb: u64) -> Resources {
    Resources { cpu_mhz, memory_mb, disk_mb }
}

/// Binpack, no preemption.
pub(crate) fn config() -> Config {
    Config {
        algorithm: Algorithm::Binpack,
        preempt_system: false,
        preempt_sysbatch: false,
        preempt_batch: false,
        preempt_service: false,
        memory_oversubscription_enabled: false,
    }
}

/// 4000 MHz, 8 GB of memory and 100 GB of disk, nothing reserved or running.
pub(crate) fn node(id: &str) -> Node {
    Node {
        id: id.to_owned(),
        name: format!("{id}.local"),
        datacenter: "dc1".to_owned(),
        node_pool: String::new(),
        node_class: String::new(),
        status: NodeStatus::Ready,
        eligible: true,
        attributes: Vec::new(),
        meta: Vec::new(),
        capacity: res(4000, 8192, 100_000),
        reserved: res(0, 0, 0),
        allocations: Vec::new(),
    }
}

/// A node with allocations already running.
pub(crate) fn running(mut node: Node, allocations: Vec<Allocation>) -> Node {
    node.allocations = allocations;
    node
}

/// `count` allocations of 500 MHz, 256 MB and 300 MB disk, priority 50.
pub(crate) fn group(count: u32) -> TaskGroup {
    TaskGroup {
        namespace: "default".to_owned(),
        job_id: "web".to_owned(),
        name: "frontend".to_owned(),
        job_type: JobType::Service,
        priority: 50,
        count,
        resources: res(500, 256, 300),
        datacenters: vec!["dc1".to_owned()],
        node_pool: "default".to_owned(),
        constraints: Vec::new(),
    }
}

/// An allocation of another job.
pub(crate) fn alloc(id: &str, priority: u32, resources: Resources) -> Allocation {
    Allocation {
        id: id.to_owned(),
        job_id: format!("job-{id}"),
        task_group: "group".to_owned(),
        namespace: "default".to_owned(),
        priority,
        job_type: JobType::Batch,
        resources,
    }
}

/// An allocation of the fixture group's own job and group.
pub(crate) fn sibling(id: &str) -> Allocation {
    let g = group(1);
    Allocation {
        job_id: g.job_id,
        task_group: g.name,
        namespace: g.namespace,
        priority: g.priority,
        job_type: g.job_type,
        ..alloc(id, g.priority, g.resources)
    }
}

pub(crate) fn constraint(ltarget: &str, operand: &str, rtarget: &str) -> Constraint {
    Constraint { ltarget: ltarget.to_owned(), operand: operand.to_owned(), rtarget: rtarget.to_owned() }
}
