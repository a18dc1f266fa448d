//! Guest calls on the call threads: several warm instances answer at once,
//! a full queue refuses at once, and a faulted instance is replaced. The
//! components are the ones `make plugins` builds into `target/plugins`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_plugins::{
    AclPlugin, CompiledAcl, FaultKind, KindLimits, LicenseVerdict, Limits, PluginError, Runtime, RuntimeConfig, acl,
};

fn built(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/plugins").join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {} (run `make plugins`): {e}", path.display()))
}

fn runtime(call_threads: usize, call_queue_max: usize, acl_deadline: Duration) -> Runtime {
    let limits = Limits {
        acl: KindLimits { call_deadline: acl_deadline, memory_max_bytes: 16 << 20 },
        license: KindLimits { call_deadline: Duration::from_secs(5), memory_max_bytes: 16 << 20 },
        ..Limits::default()
    };
    let config = RuntimeConfig { limits, call_threads, call_queue_max, ..RuntimeConfig::default() };
    Runtime::new(config, None).expect("plugin runtime starts")
}

fn operator_read() -> acl::Request {
    acl::question(acl::Area::Operator, acl::Access::Level(acl::Level::Read))
}

fn operator_reader() -> acl::Policy {
    acl::Policy { name: "ops".into(), rules: r#"operator { policy = "read" }"#.into() }
}

/// A spinning check on its own task, so that it holds a call thread while
/// the test goes on.
fn spin(plugin: &Arc<AclPlugin>, token: &Arc<CompiledAcl>) -> tokio::task::JoinHandle<Result<bool, PluginError>> {
    let (plugin, token) = (Arc::clone(plugin), Arc::clone(token));
    tokio::spawn(async move { plugin.check(&token, &operator_read()).await.map(|verdict| verdict.allow) })
}

#[tokio::test]
async fn calls_on_several_instances_do_not_wait_for_each_other() {
    const CALLS: usize = 4;
    let deadline = Duration::from_secs(1);
    let runtime = runtime(CALLS, 16, deadline);
    let spinner = Arc::new(runtime.load_acl(&built("fixtures/endless-loop.wasm"), &[]).expect("the loop loads"));
    let token = Arc::new(spinner.compile(&[]).await.expect("compile returns"));

    let started = Instant::now();
    let calls: Vec<_> = (0..CALLS).map(|_| spin(&spinner, &token)).collect();
    for call in calls {
        match call.await.expect("the task ends") {
            Err(PluginError::Fault(fault)) => assert_eq!(fault.kind, FaultKind::Timeout),
            other => panic!("a spinning check should time out, got {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    // One after another they would take CALLS deadlines; side by side, one.
    assert!(elapsed >= deadline, "every call ran to its deadline, took {elapsed:?}");
    assert!(elapsed < deadline * 2, "{CALLS} calls on {CALLS} instances took {elapsed:?}");
    let metrics = spinner.metrics().snapshot();
    assert_eq!((metrics.calls, metrics.timeouts), (1 + CALLS as u64, CALLS as u64));
    assert!(metrics.instantiations >= CALLS as u64, "{metrics:?}");
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_the_acl_denies() {
    let runtime = runtime(1, 1, Duration::from_secs(1));
    let spinner = Arc::new(runtime.load_acl(&built("fixtures/endless-loop.wasm"), &[]).expect("the loop loads"));
    let token = Arc::new(spinner.compile(&[]).await.expect("compile returns"));

    // One call runs on the only thread, one waits in the only queue slot.
    let running = spin(&spinner, &token);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = spin(&spinner, &token);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    match spinner.check(&token, &operator_read()).await {
        Err(PluginError::Busy { plugin }) => assert_eq!(plugin, "fixture-endless-loop"),
        other => panic!("a full queue should refuse, got {other:?}"),
    }
    assert!(!spinner.allowed(&token, &operator_read()).await, "a refused check denies");
    assert!(started.elapsed() < Duration::from_millis(200), "refused without waiting: {:?}", started.elapsed());
    assert_eq!(spinner.metrics().snapshot().busy, 2);

    assert!(running.await.expect("the task ends").is_err());
    assert!(queued.await.expect("the task ends").is_err());
    spinner.validate("anything").await.expect("with the queue empty again, calls are taken");
}

#[tokio::test]
async fn a_faulted_instance_is_replaced_and_the_next_call_works() {
    let runtime = runtime(2, 16, Duration::from_millis(100));
    let spinner = runtime.load_acl(&built("fixtures/endless-loop.wasm"), &[]).expect("the loop loads");
    let token = spinner.compile(&[]).await.expect("compile returns");
    assert!(matches!(spinner.check(&token, &operator_read()).await, Err(PluginError::Fault(_))));
    spinner.validate("anything").await.expect("the replacement instance answers");
    assert!(spinner.compile(&[]).await.is_ok(), "and compiles");
    let metrics = spinner.metrics().snapshot();
    assert_eq!((metrics.timeouts, metrics.instantiations), (1, 2));

    let bomb = runtime.load_license(&built("fixtures/memory-bomb.wasm"), &[]).expect("the bomb loads");
    for _ in 0..2 {
        match bomb.validate("blob", "nomad", 0).await {
            LicenseVerdict::Failed(PluginError::Fault(fault)) => assert_eq!(fault.kind, FaultKind::MemoryLimit),
            other => panic!("the memory cap should stop the bomb, got {other:?}"),
        }
    }
    let metrics = bomb.metrics().snapshot();
    assert_eq!(
        (metrics.memory_limits, metrics.instantiations),
        (2, 2),
        "the loaded instance faults, then a fresh one does"
    );
}

#[tokio::test]
async fn a_token_compiled_in_one_instance_answers_in_every_instance() {
    let runtime = runtime(4, 64, Duration::from_secs(2));
    let plugin = Arc::new(runtime.load_acl(&built("acl-nomad.wasm"), &[]).expect("acl-nomad loads"));
    let token = Arc::new(plugin.compile(&[operator_reader()]).await.expect("compiles"));
    let write = acl::Request { access: acl::Access::Level(acl::Level::Write), ..operator_read() };
    let checks: Vec<_> = (0..32)
        .map(|turn| {
            let (plugin, token, write) = (Arc::clone(&plugin), Arc::clone(&token), write.clone());
            tokio::spawn(async move {
                match turn % 2 {
                    0 => plugin.check(&token, &operator_read()).await.map(|verdict| (verdict.allow, true)),
                    _ => plugin.check(&token, &write).await.map(|verdict| (verdict.allow, false)),
                }
            })
        })
        .collect();
    for check in checks {
        let (allowed, expected) = check.await.expect("the task ends").expect("the check completes");
        assert_eq!(allowed, expected);
    }
    let metrics = plugin.metrics().snapshot();
    assert_eq!((metrics.traps, metrics.timeouts, metrics.busy), (0, 0, 0));
    drop(token);
    assert!(plugin.allowed(&plugin.compile(&[operator_reader()]).await.expect("compiles"), &operator_read()).await);
}
