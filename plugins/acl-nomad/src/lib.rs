//! # acl-nomad: Nomad's ACL policy language as a Keel plugin
//!
//! This crate owns Keel's default ACL decisions: it reads policies written
//! in Nomad's rule language (HCL or JSON), checks them, merges the policies
//! of one token with deny winning, and answers each access question from
//! bitsets without allocating. It depends on `keel-sdk` for the plugin
//! contract and on serde/serde_json for JSON; the HCL subset policies use is
//! parsed here. It must build for `wasm32-unknown-unknown` without WASI, and
//! it keeps no state between calls: every `compile` reads its policies anew.
//!
//! Where things are:
//!
//! - [`NomadAcl`] (this file): the plugin, its settings and its exports.
//! - `hcl` and `json`: the two syntaxes, parsed into the tree of `document`.
//! - `decode`: what the blocks mean, with every check, into the `rules` model.
//! - `capability`: capability bitsets and the policy shorthands.
//! - `compiled` ([`MergedAcl`]), `label_table` and `glob`: merging and lookups.
//!
//! ```
//! use keel_sdk::Plugin;
//! use keel_sdk::acl::{Access, AclPolicy, Area, CompiledAcl, Level, Policy, Request, Verdict};
//!
//! let plugin = acl_nomad::NomadAcl::configure(&[]).expect("no settings is valid");
//! let dev = Policy { name: "dev".into(), rules: r#"namespace "dev-*" { policy = "write" }"#.into() };
//! let acl = plugin.compile(&[dev]).expect("valid rules");
//! let submit = Request {
//!     target: Some("dev-api".into()),
//!     ..keel_sdk::testing::request(Area::Namespace, Access::Capability("submit-job".into()))
//! };
//! // Nomad's rules depend on the policies alone: answers last.
//! assert_eq!(acl.allowed(&submit), Verdict::lasting(true));
//! assert!(!acl.allowed(&Request { target: None, ..submit }).allow);
//! assert_eq!(
//!     plugin.validate(r#"agent { policy = "admin" }"#).unwrap_err(),
//!     "parse rules: 1:18: invalid agent policy \"admin\"; expected deny, read or write",
//! );
//! ```

mod capability;
mod compiled;
mod decode;
mod document;
mod error;
mod glob;
mod hcl;
mod json;
mod label_table;
mod rules;

use keel_sdk::acl::{AclPolicy, Policy};
use keel_sdk::{Plugin, PluginInfo};

pub use crate::compiled::MergedAcl;
use crate::rules::Rules;

/// The default ACL plugin: Nomad's policy language. It takes no settings.
#[derive(Debug)]
pub struct NomadAcl;

impl Plugin for NomadAcl {
    fn info() -> PluginInfo {
        PluginInfo::new("acl-nomad", env!("CARGO_PKG_VERSION"))
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        keel_sdk::refuse_settings(settings).map(|()| NomadAcl)
    }
}

impl AclPolicy for NomadAcl {
    type Acl = MergedAcl;

    fn validate(&self, rules: &str) -> Result<(), String> {
        Rules::parse(rules).map(drop).map_err(|error| format!("parse rules: {error}"))
    }

    fn compile(&self, policies: &[Policy]) -> Result<MergedAcl, String> {
        let rules = policies
            .iter()
            .map(|policy| {
                Rules::parse(&policy.rules).map_err(|error| format!("policy {:?}: parse rules: {error}", policy.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MergedAcl::merge(&rules))
    }
}

keel_sdk::export_acl_policy!(NomadAcl);

#[cfg(test)]
mod tests;
