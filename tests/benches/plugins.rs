//! `make bench`: the cost of each plugin kind through the runtime, next to
//! the same logic called natively, printed as one table.
//!
//! Per kind: cold compile (wasmtime compiling the component), cold load
//! (compile, cache write, instantiate, configure), cached load (from the
//! compile cache, as after a restart), instantiate (mean), and the latency of
//! one call with a realistic input through wasm and natively.

use std::time::{Duration, Instant};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use keel_plugins::{Runtime, RuntimeConfig};
use keel_tests::bench_inputs as inputs;
use keel_tests::plugin;

const CALLS: usize = 20_000;
const LOADS: usize = 30;

struct Row {
    kind: &'static str,
    input: &'static str,
    compile: Duration,
    cold_load: Duration,
    cached_load: Duration,
    instantiate: Duration,
    wasm: Percentiles,
    native: Percentiles,
    target: Duration,
}

#[derive(Clone, Copy)]
struct Percentiles {
    p50: Duration,
    p99: Duration,
}

/// Times `CALLS` runs of `call` after a warm-up and returns p50 and p99.
fn time_calls(mut call: impl FnMut()) -> Percentiles {
    for _ in 0..CALLS / 10 {
        call();
    }
    let mut samples: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    Percentiles { p50: samples[samples.len() / 2], p99: samples[samples.len() * 99 / 100] }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn runtime_over(dir: &std::path::Path) -> Runtime {
    let cache = Dir::open_ambient_dir(dir, ambient_authority()).expect("open cache dir");
    Runtime::new(RuntimeConfig::default(), Some(cache)).expect("runtime starts")
}

/// Measures compile, cold load, cached load and instantiate for one component.
/// `load` loads it into a runtime and returns the loaded plugin's mean
/// instantiate time.
fn load_costs(
    component: &[u8],
    load: impl Fn(&Runtime, &[u8]) -> Duration,
) -> (Duration, Duration, Duration, Duration) {
    let compile = median(
        (0..5)
            .map(|_| {
                let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
                let started = Instant::now();
                wasmtime::component::Component::new(runtime.engine(), component).expect("compiles");
                started.elapsed()
            })
            .collect(),
    );
    let cold = median(
        (0..5)
            .map(|_| {
                let dir = tempfile::tempdir().expect("temporary dir");
                let runtime = runtime_over(dir.path());
                let started = Instant::now();
                load(&runtime, component);
                started.elapsed()
            })
            .collect(),
    );
    let dir = tempfile::tempdir().expect("temporary dir");
    load(&runtime_over(dir.path()), component);
    let mut cached = Vec::new();
    let mut instantiate = Vec::new();
    for _ in 0..LOADS {
        let runtime = runtime_over(dir.path());
        let started = Instant::now();
        let instantiate_time = load(&runtime, component);
        cached.push(started.elapsed());
        instantiate.push(instantiate_time);
        assert_eq!(runtime.cache().map(|c| c.compiles()), Some(0), "cached load did not compile");
    }
    (compile, cold, median(cached), median(instantiate))
}

fn acl_row() -> Row {
    let component = plugin("acl-nomad");
    let (compile, cold_load, cached_load, instantiate) = load_costs(&component, |runtime, bytes| {
        runtime.load_acl(bytes, &[]).expect("loads").metrics().snapshot().instantiate_mean
    });
    let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
    let acl = runtime.load_acl(&component, &[]).expect("loads");
    let token = acl.compile(&inputs::acl_policies()).expect("compiles");
    let request = inputs::acl_request();
    let wasm = time_calls(|| assert!(acl.allowed(&token, &request)));

    use keel_sdk::Plugin;
    use keel_sdk::acl::{AclPolicy, CompiledAcl};
    let native_plugin = acl_nomad::NomadAcl::configure(&[]).expect("configures");
    let native_token = native_plugin.compile(&inputs::native::acl_policies()).expect("compiles");
    let native_request = inputs::native::acl_request();
    let native = time_calls(|| assert!(native_token.allowed(std::hint::black_box(&native_request))));
    Row {
        kind: "acl",
        input: "check, compiled token of 3 policies",
        compile,
        cold_load,
        cached_load,
        instantiate,
        wasm,
        native,
        target: Duration::from_micros(1),
    }
}

fn autopilot_row() -> Row {
    let component = plugin("autopilot-default");
    let (compile, cold_load, cached_load, instantiate) = load_costs(&component, |runtime, bytes| {
        runtime.load_autopilot(bytes, &[]).expect("loads").metrics().snapshot().instantiate_mean
    });
    let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
    let strategy = runtime.load_autopilot(&component, &[]).expect("loads");
    let cluster = inputs::autopilot_cluster();
    let wasm = time_calls(|| {
        strategy.evaluate(&cluster).expect("round runs");
    });

    use keel_sdk::Plugin;
    use keel_sdk::autopilot::AutopilotStrategy;
    let native_strategy = autopilot_default::DefaultAutopilot::configure(&[]).expect("configures");
    let native_cluster = inputs::native::autopilot_cluster();
    let native = time_calls(|| {
        native_strategy.evaluate(std::hint::black_box(&native_cluster)).expect("round runs");
    });
    Row {
        kind: "autopilot",
        input: "round, 5 servers",
        compile,
        cold_load,
        cached_load,
        instantiate,
        wasm,
        native,
        target: Duration::from_micros(50),
    }
}

fn scheduler_row() -> Row {
    let component = plugin("scheduler-default");
    let (compile, cold_load, cached_load, instantiate) = load_costs(&component, |runtime, bytes| {
        runtime.load_scheduler(bytes, &[]).expect("loads").metrics().snapshot().instantiate_mean
    });
    let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
    let algorithm = runtime.load_scheduler(&component, &[]).expect("loads");
    let (config, group, nodes) = inputs::scheduler_placement();
    let wasm = time_calls(|| {
        let plan = algorithm.place(&config, &group, &nodes).expect("places");
        assert_eq!(plan.failed, 0);
    });

    use keel_sdk::Plugin;
    use keel_sdk::scheduler::SchedulerAlgorithm;
    let native_algorithm = scheduler_default::DefaultScheduler::configure(&[]).expect("configures");
    let (native_config, native_group, native_nodes) = inputs::native::scheduler_placement();
    let native = time_calls(|| {
        native_algorithm.place(&native_config, &native_group, std::hint::black_box(&native_nodes)).expect("places");
    });
    Row {
        kind: "scheduler",
        input: "place 3 allocs over 100 nodes",
        compile,
        cold_load,
        cached_load,
        instantiate,
        wasm,
        native,
        target: Duration::from_micros(500),
    }
}

fn license_row() -> Row {
    let component = plugin("license-ed25519");
    let settings = inputs::license_settings();
    let (compile, cold_load, cached_load, instantiate) = load_costs(&component, |runtime, bytes| {
        runtime.load_license(bytes, &settings).expect("loads").metrics().snapshot().instantiate_mean
    });
    let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
    let validator = runtime.load_license(&component, &settings).expect("loads");
    // Two licenses in turn, so that every call verifies a signature: the
    // plugin remembers only the last license it verified.
    let blobs = [inputs::license_blob("bench-a"), inputs::license_blob("bench-b")];
    let mut turn = 0;
    let wasm = time_calls(|| {
        turn += 1;
        let (blob, now_ms) = &blobs[turn % 2];
        assert!(matches!(validator.validate(blob, "nomad", *now_ms), keel_plugins::LicenseVerdict::Valid(_)));
    });

    use keel_sdk::Plugin;
    use keel_sdk::license::LicenseValidator;
    let native_validator = license_ed25519::Ed25519Validator::configure(&settings).expect("configures");
    let native = time_calls(|| {
        turn += 1;
        let (blob, now_ms) = &blobs[turn % 2];
        native_validator.validate(std::hint::black_box(blob), "nomad", *now_ms).expect("valid");
    });
    Row {
        kind: "license",
        input: "validate a signed license (no memo)",
        compile,
        cold_load,
        cached_load,
        instantiate,
        wasm,
        native,
        target: Duration::from_micros(200),
    }
}

fn micros(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1000.0 { format!("{:.1} ms", micros / 1000.0) } else { format!("{micros:.2} µs") }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing.
    let rows = [acl_row(), autopilot_row(), scheduler_row(), license_row()];
    println!();
    println!(
        "| kind | call | compile | cold load | cached load | instantiate | wasm p50 | wasm p99 | native p50 | wasm/native | target p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        let ratio = row.wasm.p50.as_secs_f64() / row.native.p50.as_secs_f64().max(1e-9);
        let verdict = if row.wasm.p50 <= row.target { "met" } else { "MISSED" };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1}x | {} {} |",
            row.kind,
            row.input,
            micros(row.compile),
            micros(row.cold_load),
            micros(row.cached_load),
            micros(row.instantiate),
            micros(row.wasm.p50),
            micros(row.wasm.p99),
            micros(row.native.p50),
            ratio,
            micros(row.target),
            verdict,
        );
    }
    println!();
    println!("Targets for every kind: compile <= 300 ms, cached load <= 1 ms, instantiate <= 10 µs.");
}
