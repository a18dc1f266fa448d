//! Autopilot strategies: from the cluster's facts to a health report and
//! membership actions.

use crate::bindings::exports::keel::plugin::autopilot as wit;
pub use crate::bindings::exports::keel::plugin::autopilot::{
    Action, Cluster, Config, Decision, GossipStatus, Health, PlannedAction, Server, ServerHealth, Suffrage, Upgrade,
    Zone,
};
use crate::plugin::{Adapter, Plugin, Slot};

/// An autopilot strategy.
///
/// # To ensure correctness
/// - `evaluate` is a pure function of the [`Cluster`]: the same facts give
///   the same decision.
/// - Every server in the input appears once in the health report, with a
///   `reason` an operator can act on.
/// - Actions are requests: the host refuses any that would lose quorum or
///   leave fewer voters than `min_quorum`, so a strategy cannot break a
///   cluster, but it should not ask for such actions either.
/// - A server with `read_replica` set is never promoted.
///
/// # When the host calls it
/// Once per autopilot round on the leader (every few seconds, and after a
/// membership change); the host caches nothing of the answer but the last
/// health report, which `/v1/operator/autopilot/health` shows.
pub trait AutopilotStrategy: Plugin {
    /// Runs one round.
    fn evaluate(&self, cluster: &Cluster) -> Result<Decision, String>;
}

/// Makes an [`AutopilotStrategy`] the exports of an `autopilot-strategy` component.
#[macro_export]
macro_rules! export_autopilot_strategy {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, autopilot, __export_keel_plugin_autopilot_0_3_0_cabi);
    };
}

impl<P: Slot + AutopilotStrategy> wit::Guest for Adapter<P> {
    fn evaluate(cluster: Cluster) -> Result<Decision, String> {
        Self::with(|plugin| plugin.evaluate(&cluster))
    }
}
