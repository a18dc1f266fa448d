//! Keel's plugin runtime.
//!
//! This crate owns everything between a component's bytes and a typed call
//! into it: one wasmtime [`Engine`](wasmtime::Engine) with the pooling
//! allocator and an epoch ticker ([`Runtime`]), the per-kind deadline and
//! memory cap ([`Limits`]), the compile cache in the data directory
//! ([`CompileCache`]), the bounded pool of dedicated threads every guest
//! call runs on, never a thread of the caller's async runtime (`pool.rs`),
//! a few warm instances per plugin that are replaced after a fault
//! (`instance.rs`), per-plugin [`Metrics`], and one typed facade per plugin
//! kind ([`AclPlugin`], [`AutopilotPlugin`], [`SchedulerPlugin`],
//! [`LicensePlugin`]), the set of an agent's active ones ([`Plugins`]),
//! each replaceable while calls run and each with an optional [`Shadow`],
//! the [`smoke`] cases an install must pass,
//! each facade's calls `async` and applying the fail-closed rules of the
//! design:
//!
//! - ACL: a fault denies ([`AclPlugin::allowed`] never answers `true` for a
//!   call that did not complete);
//! - license: a fault makes the license invalid;
//! - autopilot: a fault makes the round change nothing;
//! - scheduler: a fault fails the placement with a stated reason.
//!
//! It depends on `keel-contract` (the shape check and the kinds) and on
//! wasmtime; it must not depend on the server's state, HTTP or cluster
//! crates, which call into it instead.
//!
//! A call waits for its answer on a channel, so the facades work on any
//! async runtime; when every call thread is busy and the queue in front of
//! them is full, a call is refused at once with [`PluginError::Busy`].
//!
//! ```no_run
//! # async fn example() -> Result<(), keel_plugins::PluginError> {
//! use keel_plugins::{Runtime, RuntimeConfig, acl};
//!
//! let runtime = Runtime::new(RuntimeConfig::default(), None)?;
//! let bytes = std::fs::read("target/plugins/acl-nomad.wasm").expect("built by make plugins");
//! let plugin = runtime.load_acl(&bytes, &[])?;
//! let token = plugin.compile(&[acl::Policy {
//!     name: "ops".into(),
//!     rules: r#"operator { policy = "read" }"#.into(),
//! }]).await?;
//! let read = acl::Request {
//!     area: acl::Area::Operator,
//!     access: acl::Access::Level(acl::Level::Read),
//!     target: None,
//!     method: "GET".into(),
//!     path: "/v1/operator/raft/configuration".into(),
//!     namespace: "default".into(),
//!     now_ms: 1_800_000_000_000,
//! };
//! assert!(plugin.allowed(&token, &read).await);
//! // Nomad's rules depend on the policies alone: the answer lasts.
//! assert_eq!(plugin.check(&token, &read).await?.valid_for_ms, None);
//! # Ok(())
//! # }
//! ```

mod active;
mod adapt;
mod bindings;
mod cache;
mod error;
mod facade;
mod instance;
mod limits;
mod metrics;
mod pool;
mod runtime;
mod shadow;
pub mod smoke;
mod store;

pub use active::{Active, AnyPlugin, Chosen, Described, Fallbacks, Origin, Plugins, Slot, Source};
pub use cache::CompileCache;
pub use error::{Fault, FaultKind, PluginError};
pub use facade::Facade;
pub use facade::acl::{self, AclPlugin, CompiledAcl};
pub use facade::autopilot::{self, AutopilotPlugin};
pub use facade::license::{self, LicensePlugin, LicenseVerdict};
pub use facade::scheduler::{self, SchedulerPlugin};
pub use keel_contract::{Contract, Kind};
pub use limits::{KindLimits, Limits};
pub use metrics::{Metrics, MetricsSnapshot};
pub use runtime::{Runtime, RuntimeConfig};
pub use shadow::{ComparisonSnapshot, Comparisons, Disagreement, RECENT_DISAGREEMENTS, Shadow};

/// The hex SHA-256 of a component: how registries, listings and signatures
/// name it.
pub fn digest(component: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(component))
}

/// Wall-clock time in milliseconds since the Unix epoch: what `host.now-ms`
/// answers plugins, and the time of shadow records and conformance cases.
pub(crate) fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// A plugin's name and version, as it reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
}
