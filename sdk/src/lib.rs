//! # keel-sdk: write Keel policy plugins in Rust
//!
//! Keel runs four of its policies as WebAssembly components: ACL decisions,
//! the autopilot strategy, the scheduler algorithm and license validation.
//! This crate is everything a plugin author depends on:
//!
//! - one trait per plugin kind, with plain Rust types: [`acl::AclPolicy`],
//!   [`autopilot::AutopilotStrategy`], [`scheduler::SchedulerAlgorithm`] and
//!   [`license::LicenseValidator`], each on top of [`Plugin`];
//! - one export macro per kind ([`export_acl_policy!`],
//!   [`export_autopilot_strategy!`], [`export_scheduler_algorithm!`],
//!   [`export_license_validator!`]) that turns an implementation into the
//!   exports of its WIT world;
//! - the host imports, [`log`] and [`now_ms`];
//! - [`version::Version`], versions ordered as hashicorp/go-version orders
//!   them, for strategies and constraints that compare server or node
//!   versions;
//! - a native mode: off `wasm32`, the host imports are served by this crate
//!   (see [`testing`]), so a plugin's logic is tested with plain `cargo test`.
//!
//! The crate owns the guest side of the `keel:plugin@0.3.0` contract in
//! `wit/`. It depends on wit-bindgen only and must stay buildable for
//! `wasm32-unknown-unknown` without WASI.
//!
//! ## Example: an ACL policy where everyone may read and nobody may write
//!
//! ```
//! use keel_sdk::acl::{Access, AclPolicy, CompiledAcl, Level, Policy, Request, Verdict};
//! use keel_sdk::{Plugin, PluginInfo};
//!
//! pub struct ReadOnly;
//!
//! impl Plugin for ReadOnly {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("acl-read-only", "0.1.0")
//!     }
//!
//!     fn configure(settings: &[(String, String)]) -> Result<Self, String> {
//!         keel_sdk::refuse_settings(settings).map(|()| ReadOnly)
//!     }
//! }
//!
//! pub struct Everything;
//!
//! impl CompiledAcl for Everything {
//!     fn allowed(&self, request: &Request) -> Verdict {
//!         Verdict::lasting(matches!(request.access, Access::Level(Level::Read | Level::List)))
//!     }
//! }
//!
//! impl AclPolicy for ReadOnly {
//!     type Acl = Everything;
//!
//!     fn validate(&self, _rules: &str) -> Result<(), String> {
//!         Ok(())
//!     }
//!
//!     fn compile(&self, _policies: &[Policy]) -> Result<Everything, String> {
//!         keel_sdk::log(keel_sdk::LogLevel::Debug, "compiled a read-only acl");
//!         Ok(Everything)
//!     }
//! }
//!
//! // In a `cdylib` crate, this makes `ReadOnly` the component's exports.
//! keel_sdk::export_acl_policy!(ReadOnly);
//!
//! // And the logic is tested natively:
//! # fn main() {
//! use keel_sdk::acl::Area;
//! let plugin = ReadOnly::configure(&[]).unwrap();
//! let acl = plugin.compile(&[]).unwrap();
//! let read = keel_sdk::testing::request(Area::Operator, Access::Level(Level::Read));
//! let write = Request { access: Access::Level(Level::Write), method: "PUT".into(), ..read.clone() };
//! assert_eq!(acl.allowed(&read), Verdict::lasting(true));
//! assert!(!acl.allowed(&write).allow);
//! assert_eq!(keel_sdk::testing::take_logs().len(), 1);
//! # }
//! ```
//!
//! Build it with `make plugins` from the Keel repository (or `keel plugin
//! build`), and check it with `keel plugin check target/plugins/NAME.wasm`.

#[doc(hidden)]
pub mod bindings;

pub mod acl;
pub mod autopilot;
mod host;
pub mod license;
mod plugin;
pub mod scheduler;
pub mod testing;
pub mod version;

pub use host::{LogLevel, log, now_ms};
pub use plugin::{Plugin, PluginInfo, refuse_settings};

/// Support for the export macros; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::{Adapter, Slot};
}
