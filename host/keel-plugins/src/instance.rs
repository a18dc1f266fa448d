//! Warm instances: one live instance per loaded plugin, reused from call to
//! call, thrown away and replaced after any fault.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Engine, Store, Trap};

use crate::store::StoreData;
use crate::{Fault, FaultKind, KindLimits, Metrics, PluginError, PluginInfo};
use keel_contract::Kind;

/// What the runtime needs from one world's generated bindings.
pub(crate) trait World: Sized + Send + 'static {
    const KIND: Kind;
    /// The pre-instantiated component (`<World>Pre`): linked once, cheap to instantiate.
    type Pre: Send + Sync;

    fn pre(linker: &wasmtime::component::Linker<StoreData>, component: &Component) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<StoreData>) -> wasmtime::Result<Self>;
    fn info(&self, store: &mut Store<StoreData>) -> wasmtime::Result<PluginInfo>;
    fn configure(
        &self,
        store: &mut Store<StoreData>,
        settings: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>>;
}

/// A live instance and the store it lives in.
pub(crate) struct Live<W> {
    pub(crate) store: Store<StoreData>,
    pub(crate) bindings: W,
    /// Which instance this is; bumped on every replacement, so that handles
    /// into an old instance (compiled ACLs) can be recognised as stale.
    pub(crate) generation: u64,
}

/// One loaded plugin: its linked component and, between calls, its warm instance.
pub(crate) struct Warm<W: World> {
    engine: Engine,
    pre: W::Pre,
    info: PluginInfo,
    settings: Vec<(String, String)>,
    limits: KindLimits,
    epoch_tick: Duration,
    pub(crate) metrics: Metrics,
    live: Mutex<(Option<Live<W>>, u64)>,
}

impl<W: World> Warm<W> {
    /// Links the component, creates the first instance and configures it, so
    /// that a plugin that refuses its settings is refused at load time.
    pub(crate) fn start(
        engine: &Engine,
        linker: &wasmtime::component::Linker<StoreData>,
        component: &Component,
        settings: &[(String, String)],
        limits: KindLimits,
        epoch_tick: Duration,
    ) -> Result<Self, PluginError> {
        let instantiate_error =
            |e: wasmtime::Error| PluginError::Instantiate { kind: W::KIND, detail: format!("{e:#}") };
        let pre = W::pre(linker, component).map_err(instantiate_error)?;
        let mut warm = Self {
            engine: engine.clone(),
            pre,
            // Until the plugin names itself, its log lines are tagged with its kind.
            info: PluginInfo { name: format!("{} plugin", W::KIND), version: String::new() },
            settings: settings.to_vec(),
            limits,
            epoch_tick,
            metrics: Metrics::default(),
            live: Mutex::new((None, 0)),
        };
        let mut live = warm.instantiate(0)?;
        warm.info = warm.guard(&mut live, "info", |bindings, store| bindings.info(store))?;
        live.store.data_mut().set_plugin(warm.info.name.clone());
        warm.configure(&mut live)?;
        warm.live = Mutex::new((Some(live), 0));
        Ok(warm)
    }

    pub(crate) fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Runs `call` on the warm instance, creating one if there is none. A
    /// fault throws the instance away; the next call gets a fresh one.
    pub(crate) fn call<R>(
        &self,
        function: &'static str,
        call: impl FnOnce(&W, &mut Store<StoreData>, u64) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let mut slot = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (live, generation) = &mut *slot;
        let current = match live {
            Some(current) => current,
            None => {
                *generation += 1;
                let mut fresh = self.instantiate(*generation)?;
                self.configure(&mut fresh)?;
                live.insert(fresh)
            }
        };
        let started = Instant::now();
        let current_generation = current.generation;
        let result = self.guard(current, function, |bindings, store| call(bindings, store, current_generation));
        self.metrics.record_call(started.elapsed());
        if result.is_err() {
            *live = None;
        }
        result
    }

    fn instantiate(&self, generation: u64) -> Result<Live<W>, PluginError> {
        let mut store = Store::new(&self.engine, StoreData::new(self.info.name.clone(), self.limits.memory_max_bytes));
        store.limiter(|data| data);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let started = Instant::now();
        let bindings = W::instantiate(&self.pre, &mut store)
            .map_err(|e| PluginError::Instantiate { kind: W::KIND, detail: format!("{e:#}") })?;
        self.metrics.record_instantiation(started.elapsed());
        Ok(Live { store, bindings, generation })
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

/// Implements [`World`] for one generated world: `$world` is the module in
/// `bindings`, `$ty` the world's type, `$pre` its `Pre` type and `$lifecycle`
/// the accessor of its `lifecycle` export.
macro_rules! impl_world {
    ($kind:expr, $world:ident, $ty:ident, $pre:ident) => {
        impl $crate::instance::World for $crate::bindings::$world::$ty {
            const KIND: keel_contract::Kind = $kind;
            type Pre = $crate::bindings::$world::$pre<$crate::store::StoreData>;

            fn pre(
                linker: &wasmtime::component::Linker<$crate::store::StoreData>,
                component: &wasmtime::component::Component,
            ) -> wasmtime::Result<Self::Pre> {
                $crate::bindings::$world::$pre::new(linker.instantiate_pre(component)?)
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
