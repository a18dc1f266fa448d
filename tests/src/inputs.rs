//! Realistic plugin inputs for tests and benchmarks, built once per
//! representation: at the top level for calls through the runtime
//! (`keel_plugins` types), in `native` for calling a plugin crate directly
//! (`keel_sdk` types). Both are generated from the
//! same WIT, so one macro per input builds either.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};

/// A fixed issuer key: benchmarks and tests must be repeatable.
const ISSUER_SECRET: [u8; 32] = [7; 32];
/// 2027-01-15T08:00:00Z, inside the license's validity.
const NOW_MS: u64 = 1_800_000_000_000;

macro_rules! acl_policies {
    ($t:path) => {{
        use $t as t;
        vec![
            t::Policy {
                name: "web-team".into(),
                rules: r#"
                    namespace "prod-*" { policy = "write" }
                    namespace "prod-secrets" { policy = "deny" }
                    node { policy = "read" }
                "#
                .into(),
            },
            t::Policy {
                name: "readers".into(),
                rules: r#"{"namespace": {"default": {"policy": "read"}}, "agent": {"policy": "read"}}"#.into(),
            },
            t::Policy { name: "ops".into(), rules: r#"operator { policy = "read" }"#.into() },
        ]
    }};
}

macro_rules! acl_request {
    ($t:path) => {{
        use $t as t;
        t::Request {
            area: t::Area::Namespace,
            access: t::Access::Capability("submit-job".into()),
            target: Some("prod-web".into()),
            method: "POST".into(),
            path: "/v1/jobs".into(),
            namespace: "prod-web".into(),
            now_ms: NOW_MS,
        }
    }};
}

macro_rules! autopilot_cluster {
    ($t:path) => {{
        use $t as t;
        let servers = (1..=5)
            .map(|n| t::Server {
                id: format!("server-{n}"),
                name: format!("server-{n}.global"),
                address: format!("127.0.0.{n}:4647"),
                gossip_status: t::GossipStatus::Alive,
                version: "0.1.0".into(),
                suffrage: if n <= 3 { t::Suffrage::Voter } else { t::Suffrage::Nonvoter },
                read_replica: false,
                last_contact_ms: 12,
                last_term: 4,
                last_index: 1_000 - n,
                previous_healthy: Some(true),
                stable_since_ms: NOW_MS - 60_000,
                tags: vec![("zone".into(), format!("zone-{}", n % 3)), ("build".into(), "0.1.0".into())],
            })
            .collect();
        t::Cluster {
            config: t::Config {
                cleanup_dead_servers: true,
                last_contact_threshold_ms: 200,
                max_trailing_logs: 250,
                min_quorum: 3,
                server_stabilization_time_ms: 10_000,
                enable_redundancy_zones: false,
                disable_upgrade_migration: false,
                enable_custom_upgrades: false,
            },
            servers,
            leader_id: "server-1".into(),
            leader_term: 4,
            leader_last_index: 1_000,
            licensed_features: Vec::new(),
            now_ms: NOW_MS,
            autopilot_started_ms: NOW_MS - 3_600_000,
        }
    }};
}

macro_rules! scheduler_placement {
    ($t:path, $nodes:expr, $count:expr) => {{
        use $t as t;
        let resources = |cpu_mhz, memory_mb, disk_mb| t::Resources { cpu_mhz, memory_mb, disk_mb };
        let nodes = (0..$nodes)
            .map(|n| t::Node {
                id: format!("node-{n:04}"),
                name: format!("client-{n:04}"),
                datacenter: format!("dc{}", n % 3 + 1),
                node_pool: "default".into(),
                node_class: if n % 2 == 0 { "compute".into() } else { "storage".into() },
                status: t::NodeStatus::Ready,
                eligible: true,
                attributes: vec![("kernel.name".into(), "linux".into()), ("cpu.arch".into(), "amd64".into())],
                meta: vec![("rack".into(), format!("r{}", n % 10))],
                capacity: resources(8_000, 16_384, 200_000),
                reserved: resources(200, 512, 1_000),
                allocations: (0..(n % 8))
                    .map(|a| t::Allocation {
                        id: format!("alloc-{n}-{a}"),
                        job_id: format!("job-{}", a % 4),
                        task_group: "main".into(),
                        namespace: "default".into(),
                        priority: 40 + (a as u32 % 3) * 10,
                        job_type: t::JobType::Service,
                        resources: resources(500, 1_024, 2_000),
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let group = t::TaskGroup {
            namespace: "default".into(),
            job_id: "web".into(),
            name: "frontend".into(),
            job_type: t::JobType::Service,
            priority: 50,
            count: $count,
            resources: resources(1_000, 2_048, 5_000),
            datacenters: vec!["dc1".into(), "dc2".into()],
            node_pool: "default".into(),
            constraints: vec![t::Constraint {
                ltarget: "${attr.kernel.name}".into(),
                operand: "=".into(),
                rtarget: "linux".into(),
            }],
        };
        let config = t::Config {
            algorithm: t::Algorithm::Binpack,
            preempt_system: true,
            preempt_sysbatch: false,
            preempt_batch: false,
            preempt_service: false,
            memory_oversubscription_enabled: false,
        };
        (config, group, nodes)
    }};
}

pub fn acl_policies() -> Vec<keel_plugins::acl::Policy> {
    acl_policies!(keel_plugins::acl)
}

pub fn acl_request() -> keel_plugins::acl::Request {
    acl_request!(keel_plugins::acl)
}

pub fn autopilot_cluster() -> keel_plugins::autopilot::Cluster {
    autopilot_cluster!(keel_plugins::autopilot)
}

/// A group of `count` allocations and `nodes` nodes (ids `node-000`...,
/// in three datacenters, up to seven allocations each) to place it on.
pub fn scheduler_placement(
    nodes: u64,
    count: u32,
) -> (keel_plugins::scheduler::Config, keel_plugins::scheduler::TaskGroup, Vec<keel_plugins::scheduler::Node>) {
    scheduler_placement!(keel_plugins::scheduler, nodes, count)
}

/// The same inputs as `keel_sdk` types, for calling plugin crates natively.
pub mod native {
    use super::NOW_MS;

    pub fn acl_policies() -> Vec<keel_sdk::acl::Policy> {
        acl_policies!(keel_sdk::acl)
    }

    pub fn acl_request() -> keel_sdk::acl::Request {
        acl_request!(keel_sdk::acl)
    }

    pub fn autopilot_cluster() -> keel_sdk::autopilot::Cluster {
        autopilot_cluster!(keel_sdk::autopilot)
    }

    pub fn scheduler_placement(
        nodes: u64,
        count: u32,
    ) -> (keel_sdk::scheduler::Config, keel_sdk::scheduler::TaskGroup, Vec<keel_sdk::scheduler::Node>) {
        scheduler_placement!(keel_sdk::scheduler, nodes, count)
    }
}

/// The license plugin's settings: trust the fixed issuer key.
pub fn license_settings() -> Vec<(String, String)> {
    let public_key = SigningKey::from_bytes(&ISSUER_SECRET).verifying_key();
    vec![("public_key".into(), STANDARD.encode(public_key.as_bytes()))]
}

/// A license with id `license_id` signed by the fixed issuer key, and a time
/// at which it is valid.
pub fn license_blob(license_id: &str) -> (String, u64) {
    (license_document(license_id, &[], &ISSUER_SECRET), NOW_MS)
}

/// A license document with id `license_id`, valid from 2026 to 2028 unless
/// `changes` (payload fields) say otherwise, signed with `secret`.
pub fn license_document(license_id: &str, changes: &[(&str, serde_json::Value)], secret: &[u8; 32]) -> String {
    let mut payload = serde_json::json!({
        "LicenseID": license_id,
        "CustomerID": "keel-bench",
        "InstallationID": "*",
        "IssueTime": "2026-01-01T00:00:00Z",
        "StartTime": "2026-01-01T00:00:00Z",
        "ExpirationTime": "2028-01-01T00:00:00Z",
        "TerminationTime": "2028-02-01T00:00:00Z",
        "Product": "nomad",
        "Flags": {"modules": "governance-policy"},
        "Modules": ["governance-policy"],
        "Features": ["Automated Upgrades", "Redundancy Zones", "Read Scalability"],
    });
    for (field, value) in changes {
        payload[*field] = value.clone();
    }
    let payload = payload.to_string();
    let signature = SigningKey::from_bytes(secret).sign(payload.as_bytes());
    format!(
        "keel-license-v1.{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The fixed issuer key that [`license_settings`] trusts.
pub const LICENSE_ISSUER_SECRET: [u8; 32] = ISSUER_SECRET;
