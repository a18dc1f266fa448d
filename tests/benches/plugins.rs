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
use keel_plugins::{AclPlugin, AutopilotPlugin, LicensePlugin, Runtime, RuntimeConfig, SchedulerPlugin};
use keel_sdk::Plugin as _;
use keel_tests::inputs;
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

/// The native column of a row whose logic has no native build.
const NO_NATIVE: Percentiles = Percentiles { p50: Duration::ZERO, p99: Duration::ZERO };

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

/// Waits for one plugin call. A call's cost now includes the hop to a call
/// thread and back, which is what a server pays too.
fn block_on<F: std::future::Future>(call: F) -> F::Output {
    thread_local! {
        static WAITER: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime starts");
    }
    WAITER.with(|waiter| waiter.block_on(call))
}

fn runtime_over(dir: &std::path::Path) -> Runtime {
    let cache = Dir::open_ambient_dir(dir, ambient_authority()).expect("open cache dir");
    Runtime::new(RuntimeConfig::default(), Some(cache)).expect("runtime starts")
}

/// `Runtime::load_acl` and its siblings.
type LoadFn<P> = fn(&Runtime, &[u8], &[(String, String)]) -> Result<P, keel_plugins::PluginError>;

/// How to load one kind of plugin and read its metrics.
struct Loader<P> {
    component: Vec<u8>,
    settings: Vec<(String, String)>,
    load: LoadFn<P>,
    metrics: fn(&P) -> &keel_plugins::Metrics,
}

impl<P> Loader<P> {
    fn load(&self, runtime: &Runtime, component: &[u8]) -> P {
        (self.load)(runtime, component, &self.settings).expect("plugin loads")
    }

    /// Measures compile, cold load, cached load and instantiate, then times
    /// `call` on a warm instance.
    fn measure(&self, kind: &'static str, input: &'static str, target: Duration, mut call: impl FnMut(&P)) -> Row {
        let component = self.component.clone();
        let compile = median(
            (0..5)
                .map(|_| {
                    let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
                    let started = Instant::now();
                    wasmtime::component::Component::new(runtime.engine(), &component).expect("compiles");
                    started.elapsed()
                })
                .collect(),
        );
        let cold_load = median(
            (0..5)
                .map(|_| {
                    let dir = tempfile::tempdir().expect("temporary dir");
                    let runtime = runtime_over(dir.path());
                    let started = Instant::now();
                    self.load(&runtime, &component);
                    started.elapsed()
                })
                .collect(),
        );
        let dir = tempfile::tempdir().expect("temporary dir");
        self.load(&runtime_over(dir.path()), &component);
        let mut cached = Vec::new();
        let mut instantiate = Vec::new();
        for _ in 0..LOADS {
            let runtime = runtime_over(dir.path());
            let started = Instant::now();
            let loaded = self.load(&runtime, &component);
            cached.push(started.elapsed());
            instantiate.push((self.metrics)(&loaded).snapshot().instantiate_mean);
            assert_eq!(runtime.cache().map(|c| c.compiles()), Some(0), "cached load did not compile");
        }

        let runtime = Runtime::new(RuntimeConfig::default(), None).expect("runtime starts");
        let warm = self.load(&runtime, &component);
        let wasm = time_calls(|| call(&warm));
        Row {
            kind,
            input,
            compile,
            cold_load,
            cached_load: median(cached),
            instantiate: median(instantiate),
            wasm,
            native: Percentiles { p50: Duration::ZERO, p99: Duration::ZERO },
            target,
        }
    }
}

fn acl_row() -> Row {
    let loader = Loader {
        component: plugin("acl-nomad"),
        settings: Vec::new(),
        load: Runtime::load_acl,
        metrics: AclPlugin::metrics,
    };
    let request = inputs::acl_request();
    let mut token = None;
    let mut row = loader.measure("acl", "check, compiled token of 3 policies", Duration::from_micros(1), |acl| {
        let token = token.get_or_insert_with(|| block_on(acl.compile(&inputs::acl_policies())).expect("compiles"));
        assert!(block_on(acl.allowed(token, &request)));
    });

    use keel_sdk::acl::{AclPolicy, CompiledAcl};
    let native_token = acl_nomad::NomadAcl::configure(&[])
        .and_then(|plugin| plugin.compile(&inputs::native::acl_policies()))
        .expect("compiles");
    let native_request = inputs::native::acl_request();
    row.native = time_calls(|| assert!(native_token.allowed(std::hint::black_box(&native_request)).allow));
    row
}

/// One operator-read question with a one-policy token, through a plugin
/// of two contract versions: `acl-nomad` (0.3.0, a verdict back) and the
/// `acl-never-write` fixture (0.1.0, through the host's adapter). Both
/// rules are a lookup; the difference is the contract's cost.
fn acl_contract_rows() -> [Row; 2] {
    let policies = [keel_plugins::acl::Policy { name: "ops".into(), rules: r#"operator { policy = "read" }"#.into() }];
    let request = keel_plugins::acl::question(
        keel_plugins::acl::Area::Operator,
        keel_plugins::acl::Access::Level(keel_plugins::acl::Level::Read),
    );
    let row = |kind, component, native: fn() -> Percentiles| {
        let loader = Loader { component, settings: Vec::new(), load: Runtime::load_acl, metrics: AclPlugin::metrics };
        let mut token = None;
        let mut row = loader.measure(kind, "check, operator read, 1 policy", Duration::from_micros(1), |acl| {
            let token = token.get_or_insert_with(|| block_on(acl.compile(&policies)).expect("compiles"));
            assert!(block_on(acl.allowed(token, &request)));
        });
        row.native = native();
        row
    };
    let native_nomad = || {
        use keel_sdk::acl::{AclPolicy, CompiledAcl};
        let policies = [keel_sdk::acl::Policy { name: "ops".into(), rules: r#"operator { policy = "read" }"#.into() }];
        let token = acl_nomad::NomadAcl::configure(&[]).and_then(|p| p.compile(&policies)).expect("compiles");
        let asked = keel_sdk::testing::request(
            keel_sdk::acl::Area::Operator,
            keel_sdk::acl::Access::Level(keel_sdk::acl::Level::Read),
        );
        time_calls(|| assert!(token.allowed(std::hint::black_box(&asked)).allow))
    };
    let no_native = || NO_NATIVE;
    [
        row("acl 0.3.0", plugin("acl-nomad"), native_nomad),
        row("acl 0.1.0 (adapted)", keel_tests::fixture("acl-never-write"), no_native),
    ]
}

fn autopilot_row() -> Row {
    let loader = Loader {
        component: plugin("autopilot-default"),
        settings: Vec::new(),
        load: Runtime::load_autopilot,
        metrics: AutopilotPlugin::metrics,
    };
    let cluster = inputs::autopilot_cluster();
    let mut row = loader.measure("autopilot", "round, 5 servers", Duration::from_micros(50), |strategy| {
        block_on(strategy.evaluate(&cluster)).expect("round runs");
    });

    use keel_sdk::autopilot::AutopilotStrategy;
    let native_strategy = autopilot_default::DefaultAutopilot::configure(&[]).expect("configures");
    let native_cluster = inputs::native::autopilot_cluster();
    row.native = time_calls(|| {
        native_strategy.evaluate(std::hint::black_box(&native_cluster)).expect("round runs");
    });
    row
}

/// The default scheduler (0.3.0: the node set kept in the plugin, so a call
/// lowers only the group) over `nodes` nodes, and natively.
fn scheduler_row(input: &'static str, nodes: u64, count: u32, target: Duration) -> Row {
    let loader = Loader {
        component: plugin("scheduler-default"),
        settings: Vec::new(),
        load: Runtime::load_scheduler,
        metrics: SchedulerPlugin::metrics,
    };
    let (config, group, node_list) = inputs::scheduler_placement(nodes, count);
    let set = keel_plugins::scheduler::NodeSet::of(node_list).expect("ids");
    let mut row = loader.measure("scheduler", input, target, |algorithm| {
        assert_eq!(block_on(algorithm.place(&config, &group, &set)).expect("places").failed, 0);
    });

    use keel_sdk::scheduler::SchedulerAlgorithm;
    let native_algorithm = scheduler_default::DefaultScheduler::configure(&[]).expect("configures");
    let (native_config, native_group, native_nodes) = inputs::native::scheduler_placement(nodes, count);
    let native_nodes: keel_sdk::scheduler::Nodes = native_nodes.into_iter().collect();
    row.native = time_calls(|| {
        native_algorithm.place(&native_config, &native_group, std::hint::black_box(&native_nodes)).expect("places");
    });
    row
}

/// The 0.2.0 smallest-name fixture over the same thousand nodes: a plugin
/// of a contract without a node set is given every node on every call,
/// which is what every placement cost before 0.3.0.
fn scheduler_stateless_row() -> Row {
    let loader = Loader {
        component: keel_tests::fixture("v02-scheduler"),
        settings: Vec::new(),
        load: Runtime::load_scheduler,
        metrics: SchedulerPlugin::metrics,
    };
    let (config, group, node_list) = inputs::scheduler_placement(1_000, 10);
    let set = keel_plugins::scheduler::NodeSet::of(node_list).expect("ids");
    let mut row = loader.measure(
        "scheduler 0.2.0 (adapted)",
        "place 10 allocs over 1,000 nodes",
        Duration::from_micros(200),
        |algorithm| {
            assert_eq!(block_on(algorithm.place(&config, &group, &set)).expect("places").failed, 0);
        },
    );
    row.native = NO_NATIVE;
    row
}

fn license_row() -> Row {
    let loader = Loader {
        component: plugin("license-ed25519"),
        settings: inputs::license_settings(),
        load: Runtime::load_license,
        metrics: LicensePlugin::metrics,
    };
    // Two licenses in turn, so that every call verifies a signature: the
    // plugin remembers only the last license it verified.
    let blobs = [inputs::license_blob("bench-a"), inputs::license_blob("bench-b")];
    let mut turn = 0;
    let mut row =
        loader.measure("license", "validate a signed license (no memo)", Duration::from_micros(200), |validator| {
            turn += 1;
            let (blob, now_ms) = &blobs[turn % 2];
            assert!(matches!(
                block_on(validator.validate(blob, "nomad", *now_ms)),
                keel_plugins::LicenseVerdict::Valid(_)
            ));
        });

    use keel_sdk::license::LicenseValidator;
    let native_validator = license_ed25519::Ed25519Validator::configure(&loader.settings).expect("configures");
    row.native = time_calls(|| {
        turn += 1;
        let (blob, now_ms) = &blobs[turn % 2];
        native_validator.validate(std::hint::black_box(blob), "nomad", *now_ms).expect("valid");
    });
    row
}

fn micros(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1000.0 { format!("{:.1} ms", micros / 1000.0) } else { format!("{micros:.2} µs") }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing.
    let [acl_02, acl_01] = acl_contract_rows();
    let rows = [
        acl_row(),
        acl_02,
        acl_01,
        autopilot_row(),
        scheduler_row("place 3 allocs over 100 nodes", 100, 3, Duration::from_micros(500)),
        scheduler_row("place 10 allocs over 1,000 nodes", 1_000, 10, Duration::from_micros(200)),
        scheduler_stateless_row(),
        license_row(),
    ];
    println!();
    println!(
        "| kind | call | compile | cold load | cached load | instantiate | wasm p50 | wasm p99 | native p50 | wasm/native | target p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        // A row without native logic to compare (the 0.1.0 fixture) shows none.
        let (native, ratio) = match row.native.p50 {
            Duration::ZERO => ("-".to_owned(), "-".to_owned()),
            p50 => (micros(p50), format!("{:.1}x", row.wasm.p50.as_secs_f64() / p50.as_secs_f64())),
        };
        let verdict = if row.wasm.p50 <= row.target { "met" } else { "MISSED" };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} {} |",
            row.kind,
            row.input,
            micros(row.compile),
            micros(row.cold_load),
            micros(row.cached_load),
            micros(row.instantiate),
            micros(row.wasm.p50),
            micros(row.wasm.p99),
            native,
            ratio,
            micros(row.target),
            verdict,
        );
    }
    println!();
    println!("Targets for every kind: compile <= 300 ms, cached load <= 1 ms, instantiate <= 10 µs.");
}
