//! Hostile plugins, built from `tests/fixtures/`: each is refused at load or
//! contained at call time with the right outcome, the host stays up, and a
//! good plugin in the same runtime keeps answering.

use std::time::{Duration, Instant};

use keel_contract::ContractError;
use keel_plugins::{FaultKind, KindLimits, Limits, PluginError, Runtime, RuntimeConfig, acl, license};
use keel_tests::{fixture, plugin};
use rand::{Rng, SeedableRng};

/// Short limits keep the tests quick; they are still far above what a good
/// plugin needs.
fn runtime() -> Runtime {
    let limits = Limits {
        acl: KindLimits { call_deadline: Duration::from_millis(100), memory_max_bytes: 16 << 20 },
        license: KindLimits { call_deadline: Duration::from_secs(5), memory_max_bytes: 16 << 20 },
        ..Limits::default()
    };
    Runtime::new(RuntimeConfig { limits, ..RuntimeConfig::default() }, None).expect("plugin runtime starts")
}

fn operator_read() -> acl::Request {
    acl::question(acl::Area::Operator, acl::Access::Level(acl::Level::Read))
}

/// A good ACL plugin and a token that may read the operator area.
async fn good_acl(runtime: &Runtime) -> (keel_plugins::AclPlugin, keel_plugins::CompiledAcl) {
    let good = runtime.load_acl(&plugin("acl-nomad"), &[]).expect("acl-nomad loads");
    let token = good
        .compile(&[acl::Policy { name: "ops".into(), rules: r#"operator { policy = "read" }"#.into() }])
        .await
        .expect("compiles");
    (good, token)
}

#[tokio::test]
async fn endless_loop_hits_the_deadline_and_denies() {
    let runtime = runtime();
    let (good, good_token) = good_acl(&runtime).await;
    let spinner = runtime.load_acl(&fixture("endless-loop"), &[]).expect("the loop fixture loads");
    let token = spinner.compile(&[]).await.expect("compile returns");

    let started = Instant::now();
    match spinner.check(&token, &operator_read()).await {
        Err(PluginError::Fault(fault)) => {
            assert_eq!(fault.kind, FaultKind::Timeout);
            assert_eq!(fault.function, "acl.allowed");
        }
        other => panic!("endless loop was not stopped: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "stopped near its deadline, took {:?}", started.elapsed());

    // The instance was replaced, so the old token is stale and still denies.
    assert!(!spinner.allowed(&token, &operator_read()).await);
    let fresh = spinner.compile(&[]).await.expect("the replacement instance compiles");
    assert!(!spinner.allowed(&fresh, &operator_read()).await, "a fault denies");
    let metrics = spinner.metrics().snapshot();
    assert_eq!(metrics.timeouts, 2);
    assert!(metrics.instantiations >= 2);

    assert!(good.allowed(&good_token, &operator_read()).await, "the good plugin still answers");
}

#[tokio::test]
async fn memory_bomb_hits_the_cap_and_the_license_is_invalid() {
    let runtime = runtime();
    let (good, good_token) = good_acl(&runtime).await;
    let bomb = runtime.load_license(&fixture("memory-bomb"), &[]).expect("the bomb fixture loads");

    match bomb.validate("anything", "nomad", 0).await {
        license::LicenseVerdict::Failed(PluginError::Fault(fault)) => {
            assert_eq!(fault.kind, FaultKind::MemoryLimit, "{fault}");
        }
        other => panic!("memory bomb was not stopped: {other:?}"),
    }
    assert!(bomb.validate("again", "nomad", 0).await.features().is_empty());
    assert_eq!(bomb.metrics().snapshot().memory_limits, 2);

    assert!(good.allowed(&good_token, &operator_read()).await, "the good plugin still answers");
}

#[tokio::test]
async fn panic_is_reported_as_a_trap_and_the_round_changes_nothing() {
    let runtime = runtime();
    let (good, good_token) = good_acl(&runtime).await;
    let panicky = runtime.load_autopilot(&fixture("panic"), &[]).expect("the panic fixture loads");
    let cluster = keel_tests::inputs::autopilot_cluster();
    for _ in 0..3 {
        match panicky.evaluate(&cluster).await {
            Err(PluginError::Fault(fault)) => {
                assert_eq!(fault.kind, FaultKind::Trap);
                assert!(fault.detail.contains("unreachable") || fault.detail.contains("trap"), "{}", fault.detail);
            }
            other => panic!("panic was not reported as a trap: {other:?}"),
        }
    }
    let metrics = panicky.metrics().snapshot();
    assert_eq!(metrics.traps, 3);
    assert_eq!(metrics.instantiations, 3, "the first instance and one replacement per trap but the last");

    assert!(good.allowed(&good_token, &operator_read()).await, "the good plugin still answers");
}

#[test]
fn wrong_world_is_refused_at_load() {
    let runtime = runtime();
    let component = fixture("wrong-world");
    match runtime.load_acl(&component, &[]) {
        Err(PluginError::Contract { source: ContractError::WrongWorld { expected, found, .. }, .. }) => {
            assert_eq!(expected, "acl-policy");
            assert!(found.iter().any(|export| export.starts_with("fixture:wrong-world/greeter")), "{found:?}");
        }
        other => panic!("wrong world loaded: {:?}", other.err()),
    }
    match runtime.check(&component, &[]) {
        Err(PluginError::NotAPlugin(ContractError::UnknownWorld(_))) => {}
        other => panic!("wrong world passed the check: {other:?}"),
    }
}

#[test]
fn forbidden_import_is_refused_at_load() {
    let runtime = runtime();
    match runtime.load_license(&fixture("forbidden-import"), &[]) {
        Err(PluginError::Contract { source: ContractError::ForbiddenImport { import, allowed }, .. }) => {
            assert_eq!(import, "fixture:forbidden-import/sockets");
            assert_eq!(allowed, "keel:plugin/host@0.3.0", "the host interface of the contract it speaks");
        }
        other => panic!("forbidden import loaded: {:?}", other.err()),
    }
}

#[tokio::test]
async fn random_bytes_are_refused_at_load() {
    let runtime = runtime();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b65656c);
    for length in [0usize, 1, 8, 64, 4096, 1 << 16] {
        let mut bytes = vec![0u8; length];
        rng.fill(bytes.as_mut_slice());
        match runtime.check(&bytes, &[]) {
            Err(PluginError::NotAPlugin(ContractError::NotAComponent(_))) => {}
            other => panic!("{length} random bytes: {other:?}"),
        }
    }
    // A component header followed by garbage gets as far as the parser.
    let mut truncated = plugin("acl-nomad");
    truncated.truncate(truncated.len() / 2);
    assert!(runtime.load_acl(&truncated, &[]).is_err());
    let (good, good_token) = good_acl(&runtime).await;
    assert!(good.allowed(&good_token, &operator_read()).await, "the good plugin still answers");
}

#[test]
fn a_core_module_is_refused_with_a_hint() {
    let runtime = runtime();
    // The smallest valid core module: magic and version.
    let core_module = b"\0asm\x01\0\0\0";
    match runtime.check(core_module, &[]) {
        Err(PluginError::NotAPlugin(ContractError::CoreModule)) => {}
        other => panic!("core module: {other:?}"),
    }
}
