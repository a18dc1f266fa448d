//! Conformance: what every plugin of a world must do, checked against the
//! built default components through the real runtime. The Nomad-specific
//! behaviour of each default plugin is unit-tested in its own crate; here
//! the contract is checked across the wasm boundary.

use keel_plugins::{PluginError, Runtime, RuntimeConfig, acl, autopilot, license, scheduler};
use keel_tests::plugin;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default(), None).expect("plugin runtime starts")
}

fn no_settings() -> Vec<(String, String)> {
    Vec::new()
}

fn unknown_setting() -> Vec<(String, String)> {
    vec![("no_such_setting".to_owned(), "1".to_owned())]
}

/// Every world: `info` names the plugin, and an unknown setting is refused at
/// load time with an error that names it.
#[test]
fn every_default_plugin_reports_itself_and_refuses_unknown_settings() {
    let runtime = runtime();
    for kind in keel_plugins::Kind::ALL {
        let component = plugin(kind.default_plugin());
        let (checked_kind, plugin) = runtime.check(&component, &no_settings()).expect("default plugin loads");
        let info = plugin.info();
        assert_eq!(checked_kind, kind);
        assert_eq!(info.name, kind.default_plugin());
        assert!(!info.version.is_empty());

        match runtime.check(&component, &unknown_setting()) {
            Err(PluginError::Configure { plugin, message }) => {
                assert_eq!(plugin, kind.default_plugin());
                assert!(message.contains("no_such_setting"), "{kind}: {message}");
            }
            other => panic!("{kind}: unknown setting accepted: {other:?}"),
        }
    }
}

/// Every world: a component is refused when loaded as another kind.
#[test]
fn a_plugin_loaded_as_another_kind_is_refused() {
    let runtime = runtime();
    let license = plugin("license-ed25519");
    match runtime.load_acl(&license, &[]) {
        Err(PluginError::Contract { source: keel_contract::ContractError::WrongWorld { expected, .. }, .. }) => {
            assert_eq!(expected, "acl-policy");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a license validator loaded as an ACL policy"),
    }
}

fn request(area: acl::Area, access: acl::Access, target: Option<&str>) -> acl::Request {
    acl::Request { area, access, target: target.map(str::to_owned) }
}

fn level(level: acl::Level) -> acl::Access {
    acl::Access::Level(level)
}

/// ACL world: no policies allow nothing; a grant allows what it says and no
/// more; deny wins; invalid rules are refused with a reason; compiled ACLs
/// keep working across many calls and drops.
#[tokio::test]
async fn acl_world_contract() {
    let runtime = runtime();
    let acl_plugin = runtime.load_acl(&plugin("acl-nomad"), &[]).expect("acl-nomad loads");

    let nothing = acl_plugin.compile(&[]).await.expect("empty token compiles");
    for area in [acl::Area::Agent, acl::Area::Node, acl::Area::Operator, acl::Area::Quota, acl::Area::Plugin] {
        for wanted in [acl::Level::Read, acl::Level::List, acl::Level::Write] {
            assert!(!acl_plugin.allowed(&nothing, &request(area, level(wanted), None)).await, "{area:?} {wanted:?}");
        }
    }
    assert!(
        !acl_plugin.allowed(&nothing, &request(acl::Area::Namespace, level(acl::Level::Read), Some("default"))).await
    );

    let reader = acl::Policy { name: "reader".into(), rules: r#"operator { policy = "read" }"#.into() };
    let token = acl_plugin.compile(std::slice::from_ref(&reader)).await.expect("reader compiles");
    assert!(acl_plugin.allowed(&token, &request(acl::Area::Operator, level(acl::Level::Read), None)).await);
    assert!(!acl_plugin.allowed(&token, &request(acl::Area::Operator, level(acl::Level::Write), None)).await);
    assert!(!acl_plugin.allowed(&token, &request(acl::Area::Agent, level(acl::Level::Read), None)).await);

    let denier = acl::Policy { name: "denier".into(), rules: r#"{"operator": {"policy": "deny"}}"#.into() };
    let denied = acl_plugin.compile(&[reader.clone(), denier]).await.expect("merge compiles");
    assert!(!acl_plugin.allowed(&denied, &request(acl::Area::Operator, level(acl::Level::Read), None)).await);

    match acl_plugin.validate(r#"operator { policy = "superuser" }"#).await {
        Err(PluginError::Refused { message, .. }) => assert!(message.contains("superuser"), "{message}"),
        other => panic!("invalid rules accepted: {other:?}"),
    }
    let bad = acl::Policy { name: "broken".into(), rules: "operator {".into() };
    match acl_plugin.compile(&[reader.clone(), bad]).await {
        Err(PluginError::Refused { message, .. }) => assert!(message.contains("broken"), "{message}"),
        other => panic!("broken policy compiled: {other:?}"),
    }

    // Compiling and dropping many tokens releases them in the plugin: the
    // instance neither runs out of handles nor memory, and is never replaced.
    for _ in 0..2_000 {
        let scratch = acl_plugin.compile(std::slice::from_ref(&reader)).await.expect("compiles");
        assert!(acl_plugin.allowed(&scratch, &request(acl::Area::Operator, level(acl::Level::Read), None)).await);
    }
    assert!(acl_plugin.allowed(&token, &request(acl::Area::Operator, level(acl::Level::Read), None)).await);
    let metrics = acl_plugin.metrics().snapshot();
    assert_eq!(metrics.instantiations, 1);
    assert_eq!((metrics.traps, metrics.timeouts, metrics.memory_limits), (0, 0, 0));
    assert_eq!(metrics.errors, 2, "the two refusals above");
}

/// Five healthy voters, `s1` leading.
fn five_voters() -> autopilot::Cluster {
    let mut cluster = keel_tests::inputs::autopilot_cluster();
    for server in &mut cluster.servers {
        server.suffrage = autopilot::Suffrage::Voter;
        server.last_index = cluster.leader_last_index;
    }
    cluster
}

/// Autopilot world: every server is reported once; failure tolerance never
/// exceeds what the voters allow; a failed voter makes the cluster unhealthy.
#[tokio::test]
async fn autopilot_world_contract() {
    let runtime = runtime();
    let strategy = runtime.load_autopilot(&plugin("autopilot-default"), &[]).expect("autopilot-default loads");
    let healthy = five_voters();
    let decision = strategy.evaluate(&healthy).await.expect("round runs");
    assert!(decision.health.healthy);
    assert_eq!(decision.health.failure_tolerance, 2);
    assert_eq!(decision.health.leader, "server-1");
    let mut reported: Vec<&str> = decision.health.servers.iter().map(|s| s.id.as_str()).collect();
    reported.sort_unstable();
    assert_eq!(reported, ["server-1", "server-2", "server-3", "server-4", "server-5"]);
    assert!(decision.actions.is_empty(), "a healthy cluster needs no action: {:?}", decision.actions);

    let mut one_failed = healthy.clone();
    one_failed.servers[4].gossip_status = autopilot::GossipStatus::Failed;
    let decision = strategy.evaluate(&one_failed).await.expect("round runs");
    assert!(!decision.health.healthy);
    assert_eq!(decision.health.failure_tolerance, 1);
    let failed = decision.health.servers.iter().find(|s| s.id == "server-5").expect("server-5 reported");
    assert!(!failed.healthy);
}

fn resources(cpu_mhz: u64, memory_mb: u64, disk_mb: u64) -> scheduler::Resources {
    scheduler::Resources { cpu_mhz, memory_mb, disk_mb }
}

fn group(count: u32, cpu_mhz: u64) -> scheduler::TaskGroup {
    scheduler::TaskGroup {
        namespace: "default".into(),
        job_id: "web".into(),
        name: "frontend".into(),
        job_type: scheduler::JobType::Service,
        priority: 50,
        count,
        resources: resources(cpu_mhz, 256, 300),
        datacenters: vec!["dc1".into()],
        node_pool: "default".into(),
        constraints: Vec::new(),
    }
}

fn scheduler_config() -> scheduler::Config {
    scheduler::Config {
        algorithm: scheduler::Algorithm::Binpack,
        preempt_system: true,
        preempt_sysbatch: false,
        preempt_batch: false,
        preempt_service: false,
        memory_oversubscription_enabled: false,
    }
}

/// Scheduler world: placements plus failures add up to the count; no node is
/// given more than it holds; a constraint no node meets fails with a reason.
#[tokio::test]
async fn scheduler_world_contract() {
    let runtime = runtime();
    let algorithm = runtime.load_scheduler(&plugin("scheduler-default"), &[]).expect("scheduler-default loads");
    let nodes: Vec<scheduler::Node> =
        (0..10).map(|i| keel_plugins::smoke::node(&format!("node-{i:02}"), 1000)).collect();

    let plan = algorithm.place(&scheduler_config(), &group(25, 500), &nodes).await.expect("placement runs");
    assert_eq!(plan.placements.len() as u32 + plan.failed, 25);
    assert_eq!(plan.placements.len(), 20, "ten nodes of 1000 MHz hold twenty 500 MHz allocations");
    for node in &nodes {
        let used: u64 = plan.placements.iter().filter(|p| p.node_id == node.id).map(|_| 500).sum();
        assert!(used <= node.capacity.cpu_mhz, "{} overcommitted: {used}", node.id);
    }
    let failure = plan.failure.expect("failed placements say why");
    assert!(failure.dimension_exhausted.iter().any(|(dimension, count)| dimension == "cpu" && *count > 0));

    let mut windows_only = group(1, 100);
    windows_only.constraints.push(scheduler::Constraint {
        ltarget: "${attr.kernel.name}".into(),
        operand: "=".into(),
        rtarget: "windows".into(),
    });
    let plan = algorithm.place(&scheduler_config(), &windows_only, &nodes).await.expect("placement runs");
    assert!(plan.placements.is_empty());
    assert_eq!(plan.failed, 1);
    let failure = plan.failure.expect("a filtered placement says why");
    assert_eq!(failure.nodes_evaluated, 10);
    assert_eq!(failure.constraint_filtered.iter().map(|(_, n)| n).sum::<u32>(), 10);
}

/// License world: nothing that is not a signed license is ever valid, and a
/// plugin without trusted keys accepts nothing.
#[tokio::test]
async fn license_world_contract() {
    let runtime = runtime();
    let validator = runtime.load_license(&plugin("license-ed25519"), &[]).expect("license-ed25519 loads");
    for blob in ["", "not a license", "keel-license-v1.e30.AAAA", "{\"LicenseID\":\"x\"}"] {
        match validator.validate(blob, "nomad", 1_800_000_000_000).await {
            license::LicenseVerdict::Invalid(_) => {}
            other => panic!("{blob:?} gave {other:?}"),
        }
    }
    assert!(validator.validate("garbage", "nomad", 0).await.features().is_empty());
}

/// Every world: the default plugins pass the smoke cases an install runs
/// before anything changes (`keel_plugins::smoke`), and a plugin that traps
/// fails them with the case named.
#[tokio::test]
async fn the_default_plugins_pass_the_install_smoke_cases() {
    let runtime = runtime();
    for kind in keel_plugins::Kind::ALL {
        let loaded = runtime.load_kind(kind, &plugin(kind.default_plugin()), &[]).expect("default plugin loads");
        keel_plugins::smoke::run(&loaded).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    let panics = runtime.load_kind(keel_plugins::Kind::Autopilot, &keel_tests::fixture("panic"), &[]).expect("loads");
    match keel_plugins::smoke::run(&panics).await {
        Err(PluginError::Smoke { plugin, case }) => {
            assert_eq!(plugin, "fixture-panic");
            assert!(case.contains("five voters"), "{case}");
        }
        other => panic!("a trapping plugin passed the smoke cases: {other:?}"),
    }
    let never_write =
        runtime.load_kind(keel_plugins::Kind::Acl, &keel_tests::fixture("acl-never-write"), &[]).expect("loads");
    keel_plugins::smoke::run(&never_write).await.expect("a stricter ACL plugin passes");
}

/// Every guest crate in the tree is built by `make plugins` and loaded by a
/// test: the default plugins above, the hostile fixtures in
/// `t50_hostile_plugins`, the custom ACL plugin in `t40_acl`, the plugin
/// that faults once active in `t42_plugin_shadow_and_probation`.
/// A new guest fails this test until it is added here and given a test.
#[test]
fn every_guest_in_the_tree_is_loaded_by_a_test() {
    const TESTED_PLUGINS: [&str; 4] = ["acl-nomad", "autopilot-default", "license-ed25519", "scheduler-default"];
    const TESTED_FIXTURES: [&str; 7] = [
        "acl-never-write",
        "autopilot-faults-later",
        "endless-loop",
        "forbidden-import",
        "memory-bomb",
        "panic",
        "wrong-world",
    ];
    let crates_in = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(keel_tests::workspace_root().join(dir))
            .expect("guest directory")
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join("Cargo.toml").is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(crates_in("plugins"), TESTED_PLUGINS);
    assert_eq!(crates_in("tests/fixtures"), TESTED_FIXTURES);
    for name in TESTED_PLUGINS {
        assert!(keel_tests::plugin_path(name).is_file(), "{name} built");
    }
    for name in TESTED_FIXTURES {
        assert!(keel_tests::fixture_path(name).is_file(), "{name} built");
    }
}
