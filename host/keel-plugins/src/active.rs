//! The agent's four active plugins, one per kind, each replaceable while
//! calls run: a call takes the current plugin ([`Slot::get`]) and keeps it
//! until it returns, so calls in flight finish on the plugin they started
//! with and the next call uses the new one. No call sees a mix. A slot may
//! also hold a shadow ([`Shadow`]): a candidate asked the same questions
//! beside the active plugin, whose answers are compared and never used.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::facade::Facade;
use crate::shadow::{ComparisonSnapshot, Comparisons, Shadow};
use crate::{
    AclPlugin, AutopilotPlugin, Kind, LicensePlugin, MetricsSnapshot, PluginError, PluginInfo, Runtime, SchedulerPlugin,
};

/// Where an active plugin came from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Installed through the cluster's plugin registry.
    Installed,
    /// Named by the agent's configuration (`--plugin`, `plugin "KIND" { path }`).
    Configured,
    /// Built into the binary.
    Embedded,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Installed => "installed",
            Source::Configured => "configured",
            Source::Embedded => "embedded",
        }
    }
}

/// What identifies an active plugin's component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: Source,
    /// Hex SHA-256 of the component.
    pub digest: String,
    /// The Raft index that activated it; 0 unless installed.
    pub index: u64,
}

impl Origin {
    /// The origin of `component` from `source`, activated at `index`.
    pub fn of(source: Source, component: &[u8], index: u64) -> Self {
        Self { source, digest: crate::digest(component), index }
    }
}

/// A loaded plugin of any kind.
pub enum AnyPlugin {
    Acl(AclPlugin),
    Autopilot(AutopilotPlugin),
    Scheduler(SchedulerPlugin),
    License(LicensePlugin),
}

impl AnyPlugin {
    /// What every kind tells about itself.
    pub fn facade(&self) -> &dyn Facade {
        match self {
            AnyPlugin::Acl(plugin) => plugin,
            AnyPlugin::Autopilot(plugin) => plugin,
            AnyPlugin::Scheduler(plugin) => plugin,
            AnyPlugin::License(plugin) => plugin,
        }
    }

    pub fn info(&self) -> &PluginInfo {
        self.facade().info()
    }

    /// The contract version the component speaks.
    pub fn contract(&self) -> crate::Contract {
        self.facade().contract()
    }
}

impl std::fmt::Debug for AnyPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.info();
        write!(f, "AnyPlugin({} {})", info.name, info.version)
    }
}

/// Tells plugins apart across activations, so that what was computed with
/// one (a compiled ACL) is never used with another.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// One active plugin with its origin.
pub struct Active<P> {
    pub plugin: P,
    pub origin: Origin,
    generation: u64,
    activated: Instant,
}

impl<P> Active<P> {
    pub fn new(plugin: P, origin: Origin) -> Self {
        Self { plugin, origin, generation: GENERATIONS.fetch_add(1, Ordering::Relaxed), activated: Instant::now() }
    }

    /// A number no other activation in this process has.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How long ago this server made it active.
    pub fn active_for(&self) -> Duration {
        self.activated.elapsed()
    }
}

impl<P> std::ops::Deref for Active<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.plugin
    }
}

/// The place one kind's active plugin is kept, and its shadow if it has one.
pub struct Slot<P> {
    current: RwLock<Arc<Active<P>>>,
    shadow: RwLock<Option<Arc<Shadow<P>>>>,
}

impl<P> Slot<P> {
    fn new(active: Active<P>) -> Self {
        Self { current: RwLock::new(Arc::new(active)), shadow: RwLock::new(None) }
    }

    /// The plugin to make the next call with.
    pub fn get(&self) -> Arc<Active<P>> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The shadow to ask the same questions, if there is one.
    pub fn shadow(&self) -> Option<Arc<Shadow<P>>> {
        self.shadow.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, active: Active<P>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(active);
    }

    fn set_shadow(&self, shadow: Option<Active<P>>) {
        *self.shadow.write().unwrap_or_else(PoisonError::into_inner) =
            shadow.map(|plugin| Arc::new(Shadow { plugin, record: Comparisons::default() }));
    }
}

/// One kind's slot as listings and the registry see it, whatever its kind.
trait SlotView: Send + Sync {
    fn describe(&self, kind: Kind) -> Described;
    fn describe_shadow(&self, kind: Kind) -> Option<(Described, ComparisonSnapshot)>;
    fn clear_shadow(&self);
}

impl<P: Facade> SlotView for Slot<P> {
    fn describe(&self, kind: Kind) -> Described {
        Described::of(kind, &self.get())
    }

    fn describe_shadow(&self, kind: Kind) -> Option<(Described, ComparisonSnapshot)> {
        self.shadow().map(|shadow| (Described::of(kind, &shadow.plugin), shadow.record.snapshot()))
    }

    fn clear_shadow(&self) {
        self.set_shadow(None);
    }
}

/// One kind's active (or shadow) plugin as listings show it.
#[derive(Debug, Clone)]
pub struct Described {
    pub kind: Kind,
    pub info: PluginInfo,
    /// The contract version the component speaks.
    pub contract: crate::Contract,
    pub origin: Origin,
    pub metrics: MetricsSnapshot,
    /// How long ago this server activated it.
    pub active_for: Duration,
}

impl Described {
    fn of<P: Facade>(kind: Kind, active: &Active<P>) -> Self {
        Described {
            kind,
            info: active.info().clone(),
            contract: active.contract(),
            origin: active.origin.clone(),
            metrics: active.metrics().snapshot(),
            active_for: active.active_for(),
        }
    }
}

/// The four active plugins of an agent.
pub struct Plugins {
    pub acl: Slot<AclPlugin>,
    pub autopilot: Slot<AutopilotPlugin>,
    pub scheduler: Slot<SchedulerPlugin>,
    pub license: Slot<LicensePlugin>,
}

impl Plugins {
    /// Loads each kind's plugin from what `chosen` holds for it.
    pub fn load(runtime: &Runtime, chosen: &Fallbacks) -> Result<Self, PluginError> {
        fn slot<P>(
            chosen: &Chosen,
            load: impl FnOnce(&[u8], &[(String, String)]) -> Result<P, PluginError>,
        ) -> Result<Slot<P>, PluginError> {
            Ok(Slot::new(Active::new(load(&chosen.component, &chosen.settings)?, chosen.origin())))
        }
        Ok(Self {
            acl: slot(&chosen.acl, |c, s| runtime.load_acl(c, s))?,
            autopilot: slot(&chosen.autopilot, |c, s| runtime.load_autopilot(c, s))?,
            scheduler: slot(&chosen.scheduler, |c, s| runtime.load_scheduler(c, s))?,
            license: slot(&chosen.license, |c, s| runtime.load_license(c, s))?,
        })
    }

    fn slot(&self, kind: Kind) -> &dyn SlotView {
        match kind {
            Kind::Acl => &self.acl,
            Kind::Autopilot => &self.autopilot,
            Kind::Scheduler => &self.scheduler,
            Kind::License => &self.license,
        }
    }

    /// Makes `plugin` the active plugin of its kind.
    pub fn activate(&self, plugin: AnyPlugin, origin: Origin) {
        match plugin {
            AnyPlugin::Acl(plugin) => self.acl.set(Active::new(plugin, origin)),
            AnyPlugin::Autopilot(plugin) => self.autopilot.set(Active::new(plugin, origin)),
            AnyPlugin::Scheduler(plugin) => self.scheduler.set(Active::new(plugin, origin)),
            AnyPlugin::License(plugin) => self.license.set(Active::new(plugin, origin)),
        }
    }

    /// Makes `plugin` the shadow of its kind, with no comparisons yet.
    pub fn shadow(&self, plugin: AnyPlugin, origin: Origin) {
        match plugin {
            AnyPlugin::Acl(plugin) => self.acl.set_shadow(Some(Active::new(plugin, origin))),
            AnyPlugin::Autopilot(plugin) => self.autopilot.set_shadow(Some(Active::new(plugin, origin))),
            AnyPlugin::Scheduler(plugin) => self.scheduler.set_shadow(Some(Active::new(plugin, origin))),
            AnyPlugin::License(plugin) => self.license.set_shadow(Some(Active::new(plugin, origin))),
        }
    }

    /// Stops shadowing `kind`.
    pub fn clear_shadow(&self, kind: Kind) {
        self.slot(kind).clear_shadow();
    }

    /// The Raft index that activated one kind's plugin (0 for a server's
    /// own plugin that nothing in the registry replaced).
    pub fn origin_index(&self, kind: Kind) -> u64 {
        self.origin(kind).index
    }

    /// Where one kind's active plugin came from.
    pub fn origin(&self, kind: Kind) -> Origin {
        self.slot(kind).describe(kind).origin
    }

    /// Where one kind's shadow came from, if it has one.
    pub fn shadow_origin(&self, kind: Kind) -> Option<Origin> {
        self.slot(kind).describe_shadow(kind).map(|(described, _)| described.origin)
    }

    /// One kind's active plugin with its identity and counters.
    pub fn describe_kind(&self, kind: Kind) -> Described {
        self.slot(kind).describe(kind)
    }

    /// One kind's shadow with its counters and comparisons, if it has one.
    pub fn describe_shadow(&self, kind: Kind) -> Option<(Described, ComparisonSnapshot)> {
        self.slot(kind).describe_shadow(kind)
    }

    /// Every kind's active plugin with its identity and counters.
    pub fn described(&self) -> Vec<Described> {
        Kind::ALL.into_iter().map(|kind| self.describe_kind(kind)).collect()
    }

    /// One line naming every active plugin, for the start-up log.
    pub fn describe(&self) -> String {
        self.described()
            .iter()
            .map(|d| format!("{}={} {} ({})", d.kind, d.info.name, d.info.version, d.origin.source.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A server's own plugin of one kind: what enforces while nothing is
/// installed in the cluster.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub component: std::sync::Arc<[u8]>,
    pub settings: Vec<(String, String)>,
    /// [`Source::Configured`] or [`Source::Embedded`].
    pub source: Source,
}

impl Chosen {
    /// The component at `path` (`Source::Configured`), else `embedded`.
    pub fn read(
        path: Option<&std::path::Path>,
        embedded: &[u8],
        settings: Vec<(String, String)>,
    ) -> std::io::Result<Self> {
        let (component, source) = match path {
            Some(path) => (std::fs::read(path)?.into(), Source::Configured),
            None => (embedded.into(), Source::Embedded),
        };
        Ok(Self { component, settings, source })
    }

    pub fn origin(&self) -> Origin {
        Origin::of(self.source, &self.component, 0)
    }
}

/// A server's own plugin of every kind.
#[derive(Debug, Clone)]
pub struct Fallbacks {
    pub acl: Chosen,
    pub autopilot: Chosen,
    pub scheduler: Chosen,
    pub license: Chosen,
}

impl Fallbacks {
    /// Each kind's plugin, as `choose` gives it.
    pub fn choose<E>(mut choose: impl FnMut(Kind) -> Result<Chosen, E>) -> Result<Self, E> {
        Ok(Self {
            acl: choose(Kind::Acl)?,
            autopilot: choose(Kind::Autopilot)?,
            scheduler: choose(Kind::Scheduler)?,
            license: choose(Kind::License)?,
        })
    }

    pub fn get(&self, kind: Kind) -> &Chosen {
        match kind {
            Kind::Acl => &self.acl,
            Kind::Autopilot => &self.autopilot,
            Kind::Scheduler => &self.scheduler,
            Kind::License => &self.license,
        }
    }
}
