//! The conformance smoke cases: what any plugin of a world must answer,
//! whatever its policy. An install runs them before anything changes, `keel
//! plugin test` runs them and prints each, and the conformance tests run
//! them against every default plugin, so the three cannot drift apart.
//!
//! - ACL: no policies compile (to a token that is allowed nothing).
//! - autopilot: a round over five healthy voters reports each server once
//!   with a reason, names the leader, claims no more failure tolerance than
//!   two, finds the cluster healthy and removes or demotes nobody.
//! - scheduler: four allocations that fit on three nodes are all placed,
//!   each on a given node, and no node is given more than it holds.
//! - license: a blob that is not a license is invalid; and, given a genuine
//!   license in [`Samples`], it is valid with its features, refused for
//!   another product, and refused once it has expired.

use crate::facade::{acl, autopilot, license, scheduler};
use crate::{AnyPlugin, PluginError};

/// One smoke case and how the plugin did in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What the case checks, as a sentence.
    pub case: &'static str,
    /// What went wrong, or `None` when the plugin passed.
    pub failure: Option<String>,
}

/// Runs the smoke cases of `plugin`'s kind; the first one that fails is
/// named in a [`PluginError::Smoke`].
pub async fn run(plugin: &AnyPlugin) -> Result<(), PluginError> {
    match cases(plugin).await.into_iter().find_map(|outcome| outcome.failure) {
        Some(failure) => Err(PluginError::Smoke { plugin: plugin.info().name.clone(), case: failure }),
        None => Ok(()),
    }
}

/// What only the caller can supply for the positive cases of some kinds.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// A genuine, currently valid license for the plugin under test, and
    /// the product it is for.
    pub license: Option<(String, String)>,
}

/// Runs every smoke case of `plugin`'s kind, in order, and reports each.
pub async fn cases(plugin: &AnyPlugin) -> Vec<Outcome> {
    cases_with(plugin, &Samples::default()).await
}

/// [`cases`], plus the positive cases `samples` make possible.
pub async fn cases_with(plugin: &AnyPlugin, samples: &Samples) -> Vec<Outcome> {
    match plugin {
        AnyPlugin::Acl(plugin) => {
            vec![outcome("no policies compile to a token that is allowed nothing", nothing_allowed(plugin).await)]
        }
        AnyPlugin::Autopilot(plugin) => autopilot_cases(plugin).await,
        AnyPlugin::Scheduler(plugin) => scheduler_cases(plugin).await,
        AnyPlugin::License(plugin) => license_cases(plugin, samples).await,
    }
}

async fn autopilot_cases(plugin: &crate::AutopilotPlugin) -> Vec<Outcome> {
    let decision = plugin.evaluate(&five_voters()).await.map_err(|e| format!("a round of five voters: {e}"));
    let each_once = after(&decision, |decision| {
        let mut reported: Vec<&str> = decision.health.servers.iter().map(|s| s.id.as_str()).collect();
        reported.sort_unstable();
        holds(reported == ["s1", "s2", "s3", "s4", "s5"], || format!("five voters reported as {reported:?}"))
    });
    let leader = after(&decision, |decision| {
        let health = &decision.health;
        holds(health.leader == "s1" && health.failure_tolerance <= 2, || {
            "five voters: wrong leader or a failure tolerance above two".to_owned()
        })
    });
    let healthy = after(&decision, |decision| {
        let unhealthy: Vec<&str> =
            decision.health.servers.iter().filter(|s| !s.healthy).map(|s| s.id.as_str()).collect();
        holds(decision.health.healthy && unhealthy.is_empty(), || {
            format!("five healthy voters: the cluster reported unhealthy (servers {unhealthy:?})")
        })
    });
    let reasons = after(&decision, |decision| {
        holds(decision.health.servers.iter().all(|s| !s.reason.trim().is_empty()), || {
            "a server's health has no reason".to_owned()
        })
    });
    let keeps_all = after(&decision, |decision| {
        let dropping = decision
            .actions
            .iter()
            .find(|planned| matches!(planned.action, autopilot::Action::Remove(_) | autopilot::Action::Demote(_)));
        holds(dropping.is_none(), || format!("five healthy voters: it asked for {dropping:?}"))
    });
    vec![
        outcome("a round over five healthy voters reports each server once", each_once),
        outcome("it names the leader and claims a failure tolerance of at most two", leader),
        outcome("it finds five healthy voters healthy", healthy),
        outcome("every server's health has a reason", reasons),
        outcome("it removes and demotes none of five healthy voters", keeps_all),
    ]
}

async fn scheduler_cases(plugin: &crate::SchedulerPlugin) -> Vec<Outcome> {
    let (config, group, nodes) = three_nodes();
    let mut set = crate::scheduler::NodeSet::of(nodes.iter().cloned()).expect("node ids are not empty");
    let plan = plugin.place(&config, &group, &set).await.map_err(|e| format!("placing: {e}"));
    let all_placed = after(&plan, |plan| {
        holds(plan.placements.len() as u64 == u64::from(group.count) && plan.failed == 0, || {
            format!("placed {} and failed {} of {}", plan.placements.len(), plan.failed, group.count)
        })
    });
    let given = after(&plan, |plan| {
        holds(plan.placements.iter().all(|p| nodes.iter().any(|n| n.id == p.node_id)), || {
            "a placement on a node that was not given".to_owned()
        })
    });
    let within = after(&plan, |plan| {
        nodes.iter().try_for_each(|node| {
            let placed = plan.placements.iter().filter(|p| p.node_id == node.id).count() as u64;
            holds(placed * group.resources.cpu_mhz <= node.capacity.cpu_mhz, || {
                format!("node {} given more than it holds", node.id)
            })
        })
    });
    // What the set says now holds for the next placement.
    set.remove("node-1");
    let mut down = nodes[1].clone();
    down.status = scheduler::NodeStatus::Down;
    set.upsert(down).expect("node ids are not empty");
    let plan = plugin.place(&config, &group, &set).await.map_err(|e| format!("placing again: {e}"));
    let follows_changes = after(&plan, |plan| {
        let elsewhere: Vec<&str> =
            plan.placements.iter().map(|p| p.node_id.as_str()).filter(|id| *id != "node-3").collect();
        holds(elsewhere.is_empty(), || format!("with node-1 removed and node-2 down it placed on {elsewhere:?}"))
    });
    vec![
        outcome("four allocations that fit on three nodes are all placed", all_placed),
        outcome("every placement names a node it was given", given),
        outcome("no node is given more than it holds", within),
        outcome("it places on no node removed or gone down since its last placement", follows_changes),
    ]
}

async fn license_cases(plugin: &crate::LicensePlugin, samples: &Samples) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (case, blob) in [("an empty blob is not a license", ""), ("plain text is not a license", "not a license")] {
        let verdict = plugin.validate(blob, "nomad", 1_800_000_000_000).await;
        let invalid = matches!(verdict, license::LicenseVerdict::Invalid(_));
        outcomes.push(outcome(case, holds(invalid, || format!("{blob:?} was accepted as a license"))));
    }
    if let Some((blob, product)) = &samples.license {
        outcomes.extend(genuine_license(plugin, blob, product).await);
    }
    outcomes
}

/// The positive cases of a genuine license: valid now with features,
/// refused for another product, refused after its expiration.
async fn genuine_license(plugin: &crate::LicensePlugin, blob: &str, product: &str) -> Vec<Outcome> {
    let now_ms = crate::now_ms();
    let valid = match plugin.validate(blob, product, now_ms).await {
        license::LicenseVerdict::Valid(license) => Ok(license),
        other => Err(format!("the sample license was not valid: {other:?}")),
    };
    let features = after(&valid, |license| {
        holds(!license.features.is_empty(), || "the sample license granted no features".to_owned())
    });
    let other_product = match &valid {
        Ok(_) => {
            let other = format!("not-{product}");
            let verdict = plugin.validate(blob, &other, now_ms).await;
            holds(matches!(verdict, license::LicenseVerdict::Invalid(_)), || {
                format!("the {product} license was accepted for {other:?}: {verdict:?}")
            })
        }
        Err(why) => Err(why.clone()),
    };
    let expired = match &valid {
        Ok(license) if license.expiration_time_ms > 0 && license.expiration_time_ms < u64::MAX => {
            let verdict = plugin.validate(blob, product, license.expiration_time_ms + 1).await;
            holds(matches!(verdict, license::LicenseVerdict::Invalid(_)), || {
                format!("the license was still valid after it expired: {verdict:?}")
            })
        }
        Ok(_) => Err("the sample license has no expiration time".to_owned()),
        Err(why) => Err(why.clone()),
    };
    vec![
        outcome("a genuine license is valid and grants its features", features),
        outcome("a genuine license is refused for another product", other_product),
        outcome("a genuine license is refused once it has expired", expired),
    ]
}

fn outcome(case: &'static str, result: Result<(), String>) -> Outcome {
    Outcome { case, failure: result.err() }
}

/// `Ok` when `condition` holds, else the failure `why` describes.
fn holds(condition: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(why()) }
}

/// `check` of what an earlier call answered, or that call's failure.
fn after<T>(answer: &Result<T, String>, check: impl FnOnce(&T) -> Result<(), String>) -> Result<(), String> {
    answer.as_ref().map_err(Clone::clone).and_then(check)
}

async fn nothing_allowed(plugin: &crate::AclPlugin) -> Result<(), String> {
    let nothing = plugin.compile(&[]).await.map_err(|e| format!("compiling no policies: {e}"))?;
    for area in [acl::Area::Agent, acl::Area::Node, acl::Area::Operator] {
        for level in [acl::Level::Read, acl::Level::Write] {
            let request = acl::question(area, acl::Access::Level(level));
            if plugin.allowed(&nothing, &request).await {
                return Err(format!("a token with no policies was allowed {level:?} on {area:?}"));
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
            read_replica: false,
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
