//! Warm instances: a few live instances per loaded plugin, reused from call
//! to call on the runtime's call threads, each thrown away and replaced
//! after any fault.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use wasmtime::component::{Component, ResourceAny};
use wasmtime::{Engine, Store, Trap};

use crate::pool::Pool;
use crate::store::StoreData;
use crate::{Fault, FaultKind, KindLimits, Metrics, PluginError, PluginInfo};
use keel_contract::{Contract, Kind};

/// What the runtime needs from one world's generated bindings.
pub(crate) trait World: Sized + Send + 'static {
    const KIND: Kind;
    /// The pre-instantiated component (`<World>Pre`): linked once, cheap to instantiate.
    type Pre: Send + Sync;

    /// Links `component`, which speaks `contract`.
    fn pre(
        linker: &wasmtime::component::Linker<StoreData>,
        component: &Component,
        contract: Contract,
    ) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<StoreData>) -> wasmtime::Result<Self>;
    fn info(&self, store: &mut Store<StoreData>) -> wasmtime::Result<PluginInfo>;
    fn configure(
        &self,
        store: &mut Store<StoreData>,
        settings: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>>;
}

/// A world of any contract version: components of the older ones are
/// adapted by their facade, those of the current one speak the host's own
/// types.
pub(crate) enum Versioned<V1, V2, V3> {
    V0_1(V1),
    V0_2(V2),
    V0_3(V3),
}

/// `$call` with `$world` bound to the bindings of whichever version
/// `$bindings` is, for calls written once for every version (their
/// arguments and answers pass through [`Adapt`](crate::adapt::Adapt)).
macro_rules! any_version {
    ($bindings:expr, $world:ident => $call:expr) => {
        match $bindings {
            $crate::instance::Versioned::V0_1($world) => $call,
            $crate::instance::Versioned::V0_2($world) => $call,
            $crate::instance::Versioned::V0_3($world) => $call,
        }
    };
}
pub(crate) use any_version;

impl<V1: World, V2: World, V3: World> World for Versioned<V1, V2, V3> {
    const KIND: Kind = V3::KIND;
    type Pre = Versioned<V1::Pre, V2::Pre, V3::Pre>;

    fn pre(
        linker: &wasmtime::component::Linker<StoreData>,
        component: &Component,
        contract: Contract,
    ) -> wasmtime::Result<Self::Pre> {
        Ok(match contract {
            Contract::V0_1 => Versioned::V0_1(V1::pre(linker, component, contract)?),
            Contract::V0_2 => Versioned::V0_2(V2::pre(linker, component, contract)?),
            Contract::V0_3 => Versioned::V0_3(V3::pre(linker, component, contract)?),
        })
    }

    fn instantiate(pre: &Self::Pre, store: &mut Store<StoreData>) -> wasmtime::Result<Self> {
        Ok(match pre {
            Versioned::V0_1(pre) => Versioned::V0_1(V1::instantiate(pre, store)?),
            Versioned::V0_2(pre) => Versioned::V0_2(V2::instantiate(pre, store)?),
            Versioned::V0_3(pre) => Versioned::V0_3(V3::instantiate(pre, store)?),
        })
    }

    fn info(&self, store: &mut Store<StoreData>) -> wasmtime::Result<PluginInfo> {
        any_version!(self, world => world.info(store))
    }

    fn configure(
        &self,
        store: &mut Store<StoreData>,
        settings: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        any_version!(self, world => world.configure(store, settings))
    }
}

/// Guest resources whose host handles were dropped, waiting to be released
/// in the instance they belong to at its next call.
pub(crate) type Released = Mutex<Vec<ResourceAny>>;

/// What a call knows about the instance it runs in, so that it can tie
/// guest resources to that instance.
pub(crate) struct InstanceRef {
    /// Unique among the instances of one plugin.
    pub(crate) id: u64,
    /// Dead once the instance is gone: resources of a dead instance are
    /// simply forgotten with it.
    pub(crate) released: Weak<Released>,
}

/// A guest resource in one instance. Dropped by its holder, it is
/// released in that instance at the instance's next call; a resource of an
/// instance that is gone is simply forgotten with it.
pub(crate) struct Held {
    pub(crate) instance: u64,
    pub(crate) resource: ResourceAny,
    released: Weak<Released>,
}

impl Held {
    pub(crate) fn new(instance: &InstanceRef, resource: ResourceAny) -> Self {
        Self { instance: instance.id, resource, released: Weak::clone(&instance.released) }
    }

    /// Whether the instance it lives in still exists.
    pub(crate) fn alive(&self) -> bool {
        self.released.strong_count() > 0
    }

    /// Whether it lives in `instance`. Instances of different plugins may
    /// share an id; their release lists are never the same.
    pub(crate) fn is_in(&self, instance: &InstanceRef) -> bool {
        Weak::ptr_eq(&self.released, &instance.released)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(released) = self.released.upgrade() {
            released.lock().unwrap_or_else(PoisonError::into_inner).push(self.resource);
        }
    }
}

/// A live instance and the store it lives in.
struct Live<W> {
    store: Store<StoreData>,
    bindings: W,
    id: u64,
    released: Arc<Released>,
}

/// One loaded plugin: a handle on its linked component and warm instances.
pub(crate) struct Warm<W: World> {
    shared: Arc<Shared<W>>,
}

/// What the call threads need of a plugin.
struct Shared<W: World> {
    engine: Engine,
    pre: W::Pre,
    contract: Contract,
    info: PluginInfo,
    settings: Vec<(String, String)>,
    limits: KindLimits,
    epoch_tick: Duration,
    metrics: Metrics,
    pool: Pool,
    /// Instances between calls. At most one per call thread exists, since a
    /// thread holds one instance at a time and only returns it here.
    idle: Mutex<Vec<Live<W>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl<W: World> Warm<W> {
    /// Links the component, creates the first instance and configures it, so
    /// that a plugin that refuses its settings is refused at load time.
    pub(crate) fn start(
        engine: &Engine,
        linker: &wasmtime::component::Linker<StoreData>,
        (component, contract): (&Component, Contract),
        settings: &[(String, String)],
        limits: KindLimits,
        epoch_tick: Duration,
        pool: Pool,
    ) -> Result<Self, PluginError> {
        let instantiate_error =
            |e: wasmtime::Error| PluginError::Instantiate { kind: W::KIND, detail: format!("{e:#}") };
        let pre = W::pre(linker, component, contract).map_err(instantiate_error)?;
        let mut shared: Shared<W> = Shared {
            engine: engine.clone(),
            pre,
            contract,
            // Until the plugin names itself, its log lines are tagged with its kind.
            info: PluginInfo { name: format!("{} plugin", W::KIND), version: String::new() },
            settings: settings.to_vec(),
            limits,
            epoch_tick,
            metrics: Metrics::default(),
            pool,
            idle: Mutex::new(Vec::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
        };
        let mut live = shared.instantiate()?;
        shared.info = shared.guard(&mut live, "info", |bindings, store| bindings.info(store))?;
        live.store.data_mut().set_plugin(shared.info.name.clone());
        shared.configure(&mut live)?;
        shared.idle = Mutex::new(vec![live]);
        Ok(Self { shared: Arc::new(shared) })
    }

    pub(crate) fn info(&self) -> &PluginInfo {
        &self.shared.info
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The contract version the component speaks.
    pub(crate) fn contract(&self) -> Contract {
        self.shared.contract
    }

    /// Runs `call` on one of the runtime's call threads, in an idle instance
    /// or a fresh one, and waits for its answer. A full queue refuses at once
    /// with [`PluginError::Busy`]; a fault throws the instance away.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        function: &'static str,
        call: impl FnOnce(&W, &mut Store<StoreData>, &InstanceRef) -> wasmtime::Result<R> + Send + 'static,
    ) -> Result<R, PluginError> {
        let (answer, answered) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        let job = Box::new(move || {
            // The caller may have stopped waiting; the call still ran to its end.
            let _ = answer.send(shared.run(function, call));
        });
        if let Err(error) = self.shared.pool.submit(job, &self.shared.info.name) {
            if matches!(error, PluginError::Busy { .. }) {
                self.shared.metrics.record_busy();
            }
            return Err(error);
        }
        answered.await.map_err(|_| PluginError::PoolStopped)?
    }
}

impl<W: World> Shared<W> {
    /// One call on the current (call) thread.
    fn run<R>(
        &self,
        function: &'static str,
        call: impl FnOnce(&W, &mut Store<StoreData>, &InstanceRef) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let mut live = self.checkout()?;
        let dropped = std::mem::take(&mut *live.released.lock().unwrap_or_else(PoisonError::into_inner));
        let instance = InstanceRef { id: live.id, released: Arc::downgrade(&live.released) };
        let started = Instant::now();
        let result = self.guard(&mut live, function, |bindings, store| {
            for resource in dropped {
                resource.resource_drop(&mut *store)?;
            }
            call(bindings, store, &instance)
        });
        let elapsed = started.elapsed();
        self.metrics.record_call(elapsed);
        let plugin = self.info.name.clone();
        metrics::histogram!("keel.plugin.call", "kind" => W::KIND.name(), "plugin" => plugin, "function" => function)
            .record(elapsed.as_secs_f64() * 1_000.0);
        if result.is_ok() {
            self.checkin(live);
        }
        result
    }

    /// An idle instance, or a new configured one when all are busy.
    fn checkout(&self) -> Result<Live<W>, PluginError> {
        if let Some(live) = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop() {
            return Ok(live);
        }
        let mut fresh = self.instantiate()?;
        self.configure(&mut fresh)?;
        Ok(fresh)
    }

    fn checkin(&self, live: Live<W>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.pool.threads() {
            idle.push(live);
        }
    }

    fn instantiate(&self) -> Result<Live<W>, PluginError> {
        let mut store = Store::new(&self.engine, StoreData::new(self.info.name.clone(), self.limits.memory_max_bytes));
        store.limiter(|data| data);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let started = Instant::now();
        let bindings = W::instantiate(&self.pre, &mut store)
            .map_err(|e| PluginError::Instantiate { kind: W::KIND, detail: format!("{e:#}") })?;
        self.metrics.record_instantiation(started.elapsed());
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Live { store, bindings, id, released: Arc::default() })
    }

    fn configure(&self, live: &mut Live<W>) -> Result<(), PluginError> {
        let settings = &self.settings;
        self.guard(live, "configure", |bindings, store| bindings.configure(store, settings))?
            .map_err(|message| PluginError::Configure { plugin: self.info.name.clone(), message })
    }

    /// Runs one call under the deadline and memory cap, turning traps into
    /// [`Fault`]s (counted and logged here, where they are handled).
    fn guard<R>(
        &self,
        live: &mut Live<W>,
        function: &'static str,
        call: impl FnOnce(&W, &mut Store<StoreData>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        live.store.data_mut().begin_call();
        live.store.set_epoch_deadline(self.deadline_ticks());
        match call(&live.bindings, &mut live.store) {
            Ok(value) => Ok(value),
            Err(error) => {
                let kind = if live.store.data().memory_cap_hit() {
                    FaultKind::MemoryLimit
                } else if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                    FaultKind::Timeout
                } else {
                    FaultKind::Trap
                };
                self.metrics.record_fault(kind);
                let fault = Fault { plugin: self.info.name.clone(), function, kind, detail: format!("{error:#}") };
                tracing::warn!(plugin = %fault.plugin, function, "plugin fault, instance replaced: {fault}");
                Err(PluginError::Fault(fault))
            }
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let tick_nanos = self.epoch_tick.as_nanos().max(1);
        // One extra tick: the first tick may come at any moment after the call starts.
        u64::try_from(self.limits.call_deadline.as_nanos().div_ceil(tick_nanos)).unwrap_or(u64::MAX).saturating_add(1)
    }
}

/// Implements [`World`] for one generated world of each contract version:
/// `$world` is the module in `bindings::<version>`, `$ty` the world's type
/// and `$pre` its `Pre` type.
macro_rules! impl_world {
    ($kind:expr, $world:ident, $ty:ident, $pre:ident) => {
        $crate::instance::impl_world!(@one $kind, v0_1, $world, $ty, $pre);
        $crate::instance::impl_world!(@one $kind, v0_2, $world, $ty, $pre);
        $crate::instance::impl_world!(@one $kind, v0_3, $world, $ty, $pre);
    };
    (@one $kind:expr, $version:ident, $world:ident, $ty:ident, $pre:ident) => {
        impl $crate::instance::World for $crate::bindings::$version::$world::$ty {
            const KIND: keel_contract::Kind = $kind;
            type Pre = $crate::bindings::$version::$world::$pre<$crate::store::StoreData>;

            fn pre(
                linker: &wasmtime::component::Linker<$crate::store::StoreData>,
                component: &wasmtime::component::Component,
                _contract: keel_contract::Contract,
            ) -> wasmtime::Result<Self::Pre> {
                $crate::bindings::$version::$world::$pre::new(linker.instantiate_pre(component)?)
            }

            fn instantiate(
                pre: &Self::Pre,
                store: &mut wasmtime::Store<$crate::store::StoreData>,
            ) -> wasmtime::Result<Self> {
                pre.instantiate(store)
            }

            fn info(
                &self,
                store: &mut wasmtime::Store<$crate::store::StoreData>,
            ) -> wasmtime::Result<$crate::PluginInfo> {
                let info = self.keel_plugin_lifecycle().call_info(store)?;
                Ok($crate::PluginInfo { name: info.name, version: info.version })
            }

            fn configure(
                &self,
                store: &mut wasmtime::Store<$crate::store::StoreData>,
                settings: &[(String, String)],
            ) -> wasmtime::Result<Result<(), String>> {
                self.keel_plugin_lifecycle().call_configure(store, settings)
            }
        }
    };
}
pub(crate) use impl_world;
