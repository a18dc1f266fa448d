//! The default plugins, embedded at build time (see `build.rs`).

use keel_plugins::Kind;

/// The default component of `kind`.
pub fn default_component(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Acl => include_bytes!(env!("KEEL_PLUGIN_ACL_NOMAD")),
        Kind::Autopilot => include_bytes!(env!("KEEL_PLUGIN_AUTOPILOT_DEFAULT")),
        Kind::Scheduler => include_bytes!(env!("KEEL_PLUGIN_SCHEDULER_DEFAULT")),
        Kind::License => include_bytes!(env!("KEEL_PLUGIN_LICENSE_ED25519")),
    }
}
