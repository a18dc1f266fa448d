//! Conformance: what every plugin of a world must do, checked against the
//! built default components through the real runtime. The Nomad-specific
//! behaviour of each default plugin is unit-tested in its own crate; here
//! the contract is checked across the wasm boundary.

use std::collections::BTreeSet;
use std::sync::Arc;

use keel_plugins::smoke::Samples;
use keel_plugins::{Contract, PluginError, Runtime, RuntimeConfig, acl, autopilot, license, scheduler};
use keel_tests::{fixture, inputs, plugin};

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
    acl::Request { target: target.map(str::to_owned), ..acl::question(area, access) }
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
    let set = node_set(&nodes);

    let plan = algorithm.place(&scheduler_config(), &group(25, 500), &set).await.expect("placement runs");
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
    let plan = algorithm.place(&scheduler_config(), &windows_only, &set).await.expect("placement runs");
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

/// Both contract versions in one runtime, ACL: the 0.1.0 fixture's `bool`
/// comes back through the host's adapter as a verdict with no lifetime,
/// the 0.3.0 default plugin gives its own verdict, and calls to the two
/// interleave without either affecting the other.
#[tokio::test]
async fn acl_plugins_of_both_contracts_answer_side_by_side() {
    let runtime = runtime();
    let old = runtime.load_acl(&fixture("acl-never-write"), &[]).expect("the 0.1.0 fixture loads");
    let new = runtime.load_acl(&plugin("acl-nomad"), &[]).expect("acl-nomad loads");
    assert_eq!((old.contract(), new.contract()), (Contract::V0_1, Contract::V0_3));
    let writer = acl::Policy { name: "ops".into(), rules: r#"operator { policy = "write" }"#.into() };
    let (old_token, new_token) = (
        old.compile(std::slice::from_ref(&writer)).await.expect("compiles"),
        new.compile(std::slice::from_ref(&writer)).await.expect("compiles"),
    );
    let read = request(acl::Area::Operator, level(acl::Level::Read), None);
    let write = acl::Request { method: "PUT".into(), ..request(acl::Area::Operator, level(acl::Level::Write), None) };
    let lasting = |allow| acl::Verdict { allow, valid_for_ms: None };
    for _ in 0..50 {
        assert_eq!(old.check(&old_token, &read).await.expect("answers"), lasting(true));
        assert_eq!(new.check(&new_token, &write).await.expect("answers"), lasting(true));
        assert_eq!(old.check(&old_token, &write).await.expect("answers"), lasting(false), "0.1.0 never writes");
        assert_eq!(new.check(&new_token, &read).await.expect("answers"), lasting(true));
    }
    for loaded in [old, new] {
        let metrics = loaded.metrics().snapshot();
        assert_eq!((metrics.instantiations, metrics.traps, metrics.errors), (1, 0, 0), "{}", loaded.info().name);
    }
}

/// Five voters, a non-voter `server-6` and a read replica `server-7`.
fn with_replica() -> autopilot::Cluster {
    let mut cluster = five_voters();
    let extra = |id: &str, read_replica| autopilot::Server {
        id: id.into(),
        suffrage: autopilot::Suffrage::Nonvoter,
        read_replica,
        ..cluster.servers[4].clone()
    };
    cluster.servers.extend([extra("server-6", false), extra("server-7", true)]);
    cluster
}

/// Both contract versions in one runtime, autopilot: `read-replica` reaches
/// the 0.1.0 plugin as the tag it reads, its tuple actions come back as
/// planned actions with their reasons, and its health records get reasons
/// from their verdicts; the 0.3.0 default plugin reads the field itself.
#[tokio::test]
async fn autopilot_plugins_of_both_contracts_answer_side_by_side() {
    let runtime = runtime();
    let old = runtime.load_autopilot(&fixture("v01-autopilot"), &[]).expect("the 0.1.0 fixture loads");
    let new = runtime.load_autopilot(&plugin("autopilot-default"), &[]).expect("autopilot-default loads");
    assert_eq!((old.contract(), new.contract()), (Contract::V0_1, Contract::V0_3));
    let mut cluster = with_replica();
    cluster.servers[1].gossip_status = autopilot::GossipStatus::Failed;

    let decision = old.evaluate(&cluster).await.expect("round runs");
    assert_eq!(decision.health.read_replicas, ["server-7"]);
    let promote_6 = autopilot::Action::Promote("server-6".into());
    assert_eq!(
        decision.actions,
        [autopilot::PlannedAction { action: promote_6.clone(), reason: "promote server-6: a 0.1.0 reason".into() }]
    );
    let reasons: Vec<&str> = decision.health.servers.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons, ["healthy", "unhealthy", "healthy", "healthy", "healthy", "healthy", "healthy"]);

    let decision = new.evaluate(&cluster).await.expect("round runs");
    assert_eq!(decision.health.read_replicas, ["server-7"]);
    assert!(decision.actions.iter().all(|planned| planned.action != autopilot::Action::Promote("server-7".into())));
    let failed = decision.health.servers.iter().find(|s| s.id == "server-2").expect("reported");
    assert_eq!(failed.reason, "gossip status failed");
}

fn node_set(nodes: &[scheduler::Node]) -> scheduler::NodeSet {
    scheduler::NodeSet::of(nodes.iter().cloned()).expect("node ids are not empty")
}

/// Every contract version in one runtime, scheduler: the 0.1.0 first-fit
/// fixture, the 0.2.0 smallest-name fixture (both given every node on
/// every call) and the default plugin (which keeps the set) all place what
/// fits and report what does not with the same failure record.
#[tokio::test]
async fn scheduler_plugins_of_every_contract_answer_side_by_side() {
    let runtime = runtime();
    let v01 = runtime.load_scheduler(&fixture("v01-scheduler"), &[]).expect("the 0.1.0 fixture loads");
    let v02 = runtime.load_scheduler(&fixture("v02-scheduler"), &[]).expect("the 0.2.0 fixture loads");
    let v03 = runtime.load_scheduler(&plugin("scheduler-default"), &[]).expect("scheduler-default loads");
    assert_eq!([v01.contract(), v02.contract(), v03.contract()], Contract::ALL);
    let nodes: Vec<scheduler::Node> = (1..=2).map(|n| keel_plugins::smoke::node(&format!("node-{n}"), 1000)).collect();
    let set = node_set(&nodes);
    for placer in [&v01, &v02, &v03] {
        let plan = placer.place(&scheduler_config(), &group(3, 500), &set).await.expect("places");
        assert_eq!((plan.placements.len(), plan.failed), (3, 0), "{}", placer.info().name);
        assert!(plan.placements.iter().all(|p| p.node_id.starts_with("node-") && p.preempted.is_empty()));
        let plan = placer.place(&scheduler_config(), &group(1, 5_000), &set).await.expect("answers");
        assert_eq!((plan.placements.len(), plan.failed), (0, 1), "{}", placer.info().name);
        let failure = plan.failure.expect("says why");
        assert_eq!(failure.nodes_evaluated, 2, "{}", placer.info().name);
        assert!(failure.dimension_exhausted.iter().any(|(dimension, n)| dimension == "cpu" && *n == 2));
    }
    assert_eq!(set.copies(), 1, "only the 0.3.0 plugin keeps a copy, in the one instance it ran in");
}

/// A custom rule changes where work lands: the smallest-name fixture puts
/// one allocation on `aaa` (the smallest name, the busiest node), where the
/// default binpack puts it on the node whose fit scores best.
#[tokio::test]
async fn a_custom_scheduler_rule_changes_placements() {
    let runtime = runtime();
    let custom = runtime.load_scheduler(&fixture("v02-scheduler"), &[]).expect("the 0.2.0 fixture loads");
    let default = runtime.load_scheduler(&plugin("scheduler-default"), &[]).expect("scheduler-default loads");
    let named = |id: &str, name: &str, cpu_mhz: u64| {
        let mut node = keel_plugins::smoke::node(id, cpu_mhz);
        node.name = name.into();
        node
    };
    let set = node_set(&[named("n1", "zzz", 1_000), named("n2", "aaa", 8_000)]);
    let on = |plan: scheduler::Plan| plan.placements.into_iter().map(|p| p.node_id).collect::<Vec<_>>();
    let placed = custom.place(&scheduler_config(), &group(1, 500), &set).await.expect("places");
    assert_eq!(on(placed), ["n2"], "the node named aaa");
    let placed = default.place(&scheduler_config(), &group(1, 500), &set).await.expect("places");
    assert_eq!(on(placed), ["n1"], "binpack: the fuller fit");
}

/// The 0.3.0 node set: the copy a plugin instance keeps follows every
/// change the host makes between placements (a node removed, one gone
/// down, one added), in every instance that keeps one.
#[tokio::test]
async fn a_kept_node_set_follows_every_change_in_every_instance() {
    let runtime = runtime();
    let algorithm = Arc::new(runtime.load_scheduler(&plugin("scheduler-default"), &[]).expect("loads"));
    let nodes: Vec<scheduler::Node> = (1..=3).map(|n| keel_plugins::smoke::node(&format!("node-{n}"), 1000)).collect();
    let set = Arc::new(tokio::sync::RwLock::new(node_set(&nodes)));
    // Sixteen placements at once, so that several instances place and keep copies.
    let place_everywhere = |count: u32| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (algorithm, set) = (Arc::clone(&algorithm), Arc::clone(&set));
                tokio::spawn(async move {
                    let set = set.read().await;
                    let plan = algorithm.place(&scheduler_config(), &group(count, 500), &set).await.expect("places");
                    plan.placements.into_iter().map(|p| p.node_id).collect::<BTreeSet<_>>()
                })
            })
            .collect();
        async move {
            let mut used = Vec::new();
            for handle in handles {
                used.push(handle.await.expect("joins"));
            }
            used
        }
    };
    let used: BTreeSet<String> = place_everywhere(6).await.into_iter().flatten().collect();
    assert_eq!(used.len(), 3, "six allocations of half a node fill all three: {used:?}");
    let copies = set.read().await.copies();
    assert!(copies >= 1, "each instance that placed keeps a copy");

    {
        let mut set = set.write().await;
        assert!(set.remove("node-1"));
        assert!(!set.remove("node-1"), "removed once");
        let mut down = nodes[1].clone();
        down.status = scheduler::NodeStatus::Down;
        set.upsert(down).expect("an id");
        set.upsert(keel_plugins::smoke::node("node-4", 1000)).expect("an id");
        let mut nameless = keel_plugins::smoke::node("", 1000);
        nameless.name = "nameless".into();
        let refused = set.upsert(nameless).expect_err("an empty id is refused");
        assert!(refused.contains("empty id"), "{refused}");
        assert_eq!(set.len(), 3);
    }
    for nodes in place_everywhere(4).await {
        assert_eq!(nodes, ["node-3".to_owned(), "node-4".to_owned()].into(), "only the nodes still up");
    }
    assert!(set.read().await.copies() >= copies, "no copy was thrown away");
}

/// Both contract versions in one runtime, license: each error variant of
/// the 0.1.0 fixture arrives with the license it carries, and both pass
/// the positive conformance cases given a genuine license of their own.
#[tokio::test]
async fn license_plugins_of_both_contracts_answer_side_by_side() {
    let runtime = runtime();
    let old = runtime.load_kind(keel_plugins::Kind::License, &fixture("v01-license"), &[]).expect("loads");
    let new = runtime
        .load_kind(keel_plugins::Kind::License, &plugin("license-ed25519"), &inputs::license_settings())
        .expect("license-ed25519 loads");
    assert_eq!((old.contract(), new.contract()), (Contract::V0_1, Contract::V0_3));
    let keel_plugins::AnyPlugin::License(validator) = &old else { panic!("a license plugin") };
    let blob = "fixture-license:nomad:4000000000000";
    match validator.validate(blob, "nomad", 1_800_000_000_000).await {
        license::LicenseVerdict::Valid(license) => assert_eq!(license.features, ["Fixture Feature"]),
        other => panic!("{other:?}"),
    }
    match validator.validate(blob, "consul", 1_800_000_000_000).await {
        license::LicenseVerdict::Invalid(license::LicenseError::WrongProduct(license)) => {
            assert_eq!(license.product, "nomad");
        }
        other => panic!("{other:?}"),
    }
    match validator.validate(blob, "nomad", 4_000_000_000_001).await {
        license::LicenseVerdict::Invalid(license::LicenseError::Expired(license)) => {
            assert_eq!(license.expiration_time_ms, 4_000_000_000_000);
        }
        other => panic!("{other:?}"),
    }
    let genuine = inputs::license_blob("lic-conformance").0;
    for (plugin, blob) in [(&old, blob.to_owned()), (&new, genuine)] {
        let samples = Samples { license: Some((blob, "nomad".into())) };
        let outcomes = keel_plugins::smoke::cases_with(plugin, &samples).await;
        assert_eq!(outcomes.len(), 5, "two negative and three positive cases");
        assert!(outcomes.iter().all(|o| o.failure.is_none()), "{}: {outcomes:?}", plugin.info().name);
    }
}

/// The positive license cases fail a validator that refuses everything,
/// which the negative cases alone let pass.
#[tokio::test]
async fn a_validator_that_refuses_everything_fails_the_positive_cases() {
    let runtime = runtime();
    // license-ed25519 with no trusted keys refuses every document.
    let refuses = runtime.load_kind(keel_plugins::Kind::License, &plugin("license-ed25519"), &[]).expect("loads");
    assert!(keel_plugins::smoke::cases(&refuses).await.iter().all(|o| o.failure.is_none()));
    let samples = Samples { license: Some((inputs::license_blob("lic-refused").0, "nomad".into())) };
    let outcomes = keel_plugins::smoke::cases_with(&refuses, &samples).await;
    let failed: Vec<&str> = outcomes.iter().filter(|o| o.failure.is_some()).map(|o| o.case).collect();
    assert_eq!(failed.len(), 3, "{outcomes:?}");
    assert!(failed.iter().all(|case| case.starts_with("a genuine license")), "{failed:?}");
}

/// Every guest crate in the tree is built by `make plugins` and loaded by a
/// test: the default plugins above, the hostile fixtures in
/// `t50_hostile_plugins`, the custom ACL plugin in `t40_acl`, the plugin
/// that faults once active in `t42_plugin_shadow_and_probation`, the
/// panicking and the smallest-name schedulers in `t81_jobs`.
/// A new guest fails this test until it is added here and given a test.
#[test]
fn every_guest_in_the_tree_is_loaded_by_a_test() {
    const TESTED_PLUGINS: [&str; 4] = ["acl-nomad", "autopilot-default", "license-ed25519", "scheduler-default"];
    const TESTED_FIXTURES: [&str; 12] = [
        "acl-never-write",
        "autopilot-faults-later",
        "endless-loop",
        "forbidden-import",
        "memory-bomb",
        "panic",
        "scheduler-panics",
        "v01-autopilot",
        "v01-license",
        "v01-scheduler",
        "v02-scheduler",
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
