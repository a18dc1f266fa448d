//! The engine, the epoch ticker, the linker and loading.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cap_std::fs::Dir;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::cache::{self, CompileCache};
use crate::instance::{Warm, World};
use crate::pool::Pool;
use crate::store::StoreData;
use crate::{AclPlugin, AnyPlugin, AutopilotPlugin, Kind, LicensePlugin, Limits, PluginError, SchedulerPlugin};

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Deadlines and memory caps per kind.
    pub limits: Limits,
    /// How many instances may exist at once (the pooling allocator's size).
    pub max_instances: u32,
    /// How often the epoch ticker advances; the granularity of deadlines.
    pub epoch_tick: Duration,
    /// How many guest calls run at once, each on its own dedicated thread;
    /// also the most warm instances one plugin keeps.
    pub call_threads: usize,
    /// How many calls may wait for a free call thread; one more is refused
    /// at once with [`PluginError::Busy`].
    pub call_queue_max: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_instances: 64,
            epoch_tick: Duration::from_millis(1),
            // A call that runs to its deadline keeps its thread busy the
            // whole time; one thread per core bounds what hostile plugins
            // can take from the rest of the server.
            call_threads: std::thread::available_parallelism().map_or(2, |cores| cores.get().clamp(2, 8)),
            call_queue_max: 256,
        }
    }
}

/// The plugin runtime: one engine for every plugin of the server.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StoreData>,
    config: RuntimeConfig,
    cache: Option<CompileCache>,
    pool: Pool,
    ticker: Option<Ticker>,
}

impl Runtime {
    /// Starts the engine and its epoch ticker. With `cache_dir`, compiled
    /// components are kept there and reused by later loads and restarts.
    pub fn new(config: RuntimeConfig, cache_dir: Option<Dir>) -> Result<Self, PluginError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances)
            .total_memories(config.max_instances)
            .total_tables(config.max_instances)
            .max_memory_size(config.limits.largest_memory_max_bytes());
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        // Every version's `host` interface, so that components of each link.
        bindings::v0_1::acl::keel::plugin::host::add_to_linker::<StoreData, HasSelf<StoreData>>(&mut linker, |d| d)
            .and_then(|()| {
                bindings::v0_2::acl::keel::plugin::host::add_to_linker::<StoreData, HasSelf<StoreData>>(
                    &mut linker,
                    |d| d,
                )
            })
            .and_then(|()| {
                bindings::v0_3::acl::keel::plugin::host::add_to_linker::<StoreData, HasSelf<StoreData>>(
                    &mut linker,
                    |d| d,
                )
            })
            .map_err(|e| PluginError::Engine(format!("link host imports: {e:#}")))?;

        let pool = Pool::start(config.call_threads, config.call_queue_max)?;
        let ticker = Some(Ticker::start(engine.clone(), config.epoch_tick));
        Ok(Self { engine, linker, config, cache: cache_dir.map(CompileCache::new), pool, ticker })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn cache(&self) -> Option<&CompileCache> {
        self.cache.as_ref()
    }

    pub fn load_acl(&self, component: &[u8], settings: &[(String, String)]) -> Result<AclPlugin, PluginError> {
        self.load(component, settings).map(AclPlugin::new)
    }

    pub fn load_autopilot(
        &self,
        component: &[u8],
        settings: &[(String, String)],
    ) -> Result<AutopilotPlugin, PluginError> {
        self.load(component, settings).map(AutopilotPlugin::new)
    }

    pub fn load_scheduler(
        &self,
        component: &[u8],
        settings: &[(String, String)],
    ) -> Result<SchedulerPlugin, PluginError> {
        self.load(component, settings).map(SchedulerPlugin::new)
    }

    pub fn load_license(&self, component: &[u8], settings: &[(String, String)]) -> Result<LicensePlugin, PluginError> {
        self.load(component, settings).map(LicensePlugin::new)
    }

    /// Loads `component` as a plugin of `kind` with `settings`.
    pub fn load_kind(
        &self,
        kind: Kind,
        component: &[u8],
        settings: &[(String, String)],
    ) -> Result<AnyPlugin, PluginError> {
        Ok(match kind {
            Kind::Acl => AnyPlugin::Acl(self.load_acl(component, settings)?),
            Kind::Autopilot => AnyPlugin::Autopilot(self.load_autopilot(component, settings)?),
            Kind::Scheduler => AnyPlugin::Scheduler(self.load_scheduler(component, settings)?),
            Kind::License => AnyPlugin::License(self.load_license(component, settings)?),
        })
    }

    /// Loads a component of whatever kind it exports and configures it
    /// with `settings`. This is `keel plugin check` and `keel plugin test`.
    pub fn check(&self, component: &[u8], settings: &[(String, String)]) -> Result<(Kind, AnyPlugin), PluginError> {
        let (kind, _) =
            keel_contract::inspect(component).and_then(|shape| shape.kind()).map_err(PluginError::NotAPlugin)?;
        Ok((kind, self.load_kind(kind, component, settings)?))
    }

    /// Compiles (or loads from the cache) a component that passed the shape
    /// check for `W`'s kind.
    fn load<W: World>(&self, component: &[u8], settings: &[(String, String)]) -> Result<Warm<W>, PluginError> {
        let contract = keel_contract::inspect(component)
            .and_then(|shape| shape.check(W::KIND))
            .map_err(|source| PluginError::Contract { kind: W::KIND, source })?;
        let compiled = self.compile(component)?;
        Warm::start(
            &self.engine,
            &self.linker,
            (&compiled, contract),
            settings,
            self.config.limits.of(W::KIND),
            self.config.epoch_tick,
            self.pool.clone(),
        )
    }

    fn compile(&self, component: &[u8]) -> Result<Component, PluginError> {
        match &self.cache {
            Some(cache) => cache.load(&self.engine, component),
            None => cache::compile(&self.engine, component),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// The thread that advances the engine's epoch, which is what interrupts a
/// call at its deadline.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("keel-plugin-epoch".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread must succeed at start-up");
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("plugin epoch ticker thread panicked");
        }
    }
}
