//! The conformance smoke cases: what any plugin of a world must answer,
//! whatever its policy. An install runs them before anything changes, and
//! the conformance tests
//! run them against every default plugin, so the two cannot drift apart.
//!
//! - ACL: a token with no policies is allowed nothing.
//! - autopilot: a round over five healthy voters reports each server once,
//!   names the leader, and claims no more failure tolerance than two.
//! - scheduler: placements and failures add up to the count, every
//!   placement names a given node, and no node is given more than it holds.
//! - license: a blob that is not a license is invalid.

use crate::facade::{acl, autopilot, license, scheduler};
use crate::{AnyPlugin, PluginError};

/// Runs the smoke cases of `plugin`'s kind; the first one that fails is
/// named in a [`PluginError::Smoke`].
pub async fn run(plugin: &AnyPlugin) -> Result<(), PluginError> {
    let name = &plugin.info().name;
    let failed = |case: &str| PluginError::Smoke { plugin: name.clone(), case: case.to_owned() };
    match plugin {
        AnyPlugin::Acl(plugin) => {
            let nothing = plugin.compile(&[]).await.map_err(|e| failed(&format!("compiling no policies: {e}")))?;
            for area in [acl::Area::Agent, acl::Area::Node, acl::Area::Operator] {
                for level in [acl::Level::Read, acl::Level::Write] {
                    let request = acl::Request { area, access: acl::Access::Level(level), target: None };
                    if plugin.allowed(&nothing, &request).await {
                        return Err(failed(&format!("a token with no policies was allowed {level:?} on {area:?}")));
                    }
                }
            }
        }
        AnyPlugin::Autopilot(plugin) => {
            let cluster = five_voters();
            let decision =
                plugin.evaluate(&cluster).await.map_err(|e| failed(&format!("a round of five voters: {e}")))?;
            let mut reported: Vec<&str> = decision.health.servers.iter().map(|s| s.id.as_str()).collect();
            reported.sort_unstable();
            if reported != ["s1", "s2", "s3", "s4", "s5"] {
                return Err(failed(&format!("five voters reported as {reported:?}")));
            }
            if decision.health.leader != "s1" || decision.health.failure_tolerance > 2 {
                return Err(failed("five voters: wrong leader or a failure tolerance above two"));
            }
        }
        AnyPlugin::Scheduler(plugin) => {
            let (config, group, nodes) = three_nodes();
            let plan = plugin.place(&config, &group, &nodes).await.map_err(|e| failed(&format!("placing: {e}")))?;
            if plan.placements.len() as u64 + u64::from(plan.failed) != u64::from(group.count) {
                return Err(failed("placements and failures do not add up to the count"));
            }
            for node in &nodes {
                let placed = plan.placements.iter().filter(|p| p.node_id == node.id).count() as u64;
                if placed * group.resources.cpu_mhz > node.capacity.cpu_mhz {
                    return Err(failed(&format!("node {} given more than it holds", node.id)));
                }
            }
            if plan.placements.iter().any(|p| !nodes.iter().any(|n| n.id == p.node_id)) {
                return Err(failed("a placement on a node that was not given"));
            }
        }
        AnyPlugin::License(plugin) => {
            for blob in ["", "not a license"] {
                if !matches!(
                    plugin.validate(blob, "nomad", 1_800_000_000_000).await,
                    license::LicenseVerdict::Invalid(_)
                ) {
                    return Err(failed(&format!("{blob:?} was accepted as a license")));
                }
            }
        }
    }
    Ok(())
}

/// Five healthy, caught-up voters, `s1` leading.
fn five_voters() -> autopilot::Cluster {
    let now_ms = 1_800_000_000_000;
    let servers = (1..=5)
        .map(|n| autopilot::Server {
            id: format!("s{n}"),
            name: format!("s{n}.global"),
            address: format!("127.0.0.{n}:4647"),
            gossip_status: autopilot::GossipStatus::Alive,
            version: "0.1.0".into(),
            suffrage: autopilot::Suffrage::Voter,
            last_contact_ms: 10,
            last_term: 2,
            last_index: 100,
            previous_healthy: Some(true),
            stable_since_ms: now_ms - 60_000,
            tags: Vec::new(),
        })
        .collect();
    autopilot::Cluster {
        config: autopilot::Config {
            cleanup_dead_servers: true,
            last_contact_threshold_ms: 200,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time_ms: 10_000,
            enable_redundancy_zones: false,
            disable_upgrade_migration: false,
            enable_custom_upgrades: false,
        },
        servers,
        leader_id: "s1".into(),
        leader_term: 2,
        leader_last_index: 100,
        licensed_features: Vec::new(),
        now_ms,
        autopilot_started_ms: now_ms - 3_600_000,
    }
}

/// An empty, ready, eligible Linux node in `dc1` with `cpu_mhz` of CPU,
/// 4 GiB of memory and 100 GB of disk.
pub fn node(id: &str, cpu_mhz: u64) -> scheduler::Node {
    let resources = |cpu_mhz, memory_mb, disk_mb| scheduler::Resources { cpu_mhz, memory_mb, disk_mb };
    scheduler::Node {
        id: id.into(),
        name: id.into(),
        datacenter: "dc1".into(),
        node_pool: "default".into(),
        node_class: String::new(),
        status: scheduler::NodeStatus::Ready,
        eligible: true,
        attributes: vec![("kernel.name".into(), "linux".into())],
        meta: Vec::new(),
        capacity: resources(cpu_mhz, 4_096, 100_000),
        reserved: resources(0, 0, 0),
        allocations: Vec::new(),
    }
}

/// Four 500 MHz allocations for three empty 1000 MHz nodes.
fn three_nodes() -> (scheduler::Config, scheduler::TaskGroup, Vec<scheduler::Node>) {
    let resources = |cpu_mhz, memory_mb, disk_mb| scheduler::Resources { cpu_mhz, memory_mb, disk_mb };
    let nodes = (1..=3).map(|n| node(&format!("node-{n}"), 1_000)).collect();
    let group = scheduler::TaskGroup {
        namespace: "default".into(),
        job_id: "smoke".into(),
        name: "smoke".into(),
        job_type: scheduler::JobType::Service,
        priority: 50,
        count: 4,
        resources: resources(500, 256, 300),
        datacenters: vec!["dc1".into()],
        node_pool: "default".into(),
        constraints: Vec::new(),
    };
    let config = scheduler::Config {
        algorithm: scheduler::Algorithm::Binpack,
        preempt_system: false,
        preempt_sysbatch: false,
        preempt_batch: false,
        preempt_service: false,
        memory_oversubscription_enabled: false,
    };
    (config, group, nodes)
}
