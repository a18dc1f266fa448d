//! raft-autopilot's stable promoter: a healthy non-voter becomes a voter
//! once it has been healthy for the server stabilization time.

use keel_sdk::autopilot::{Action, Cluster};

use crate::duration::human_ms;
use crate::health::Assessment;
use crate::membership::Membership;

/// How long a server must have been healthy before it may vote.
///
/// raft-autopilot waives the requirement until autopilot itself has run for
/// the stabilization time: before that, no server can have been watched for
/// long enough, and insisting would hold every promotion back after each
/// change of leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stabilization {
    pub(crate) configured_ms: u64,
    pub(crate) autopilot_running_ms: u64,
    pub(crate) now_ms: u64,
}

impl Stabilization {
    pub(crate) fn of(cluster: &Cluster) -> Self {
        Self {
            configured_ms: cluster.config.server_stabilization_time_ms,
            autopilot_running_ms: cluster.now_ms.saturating_sub(cluster.autopilot_started_ms),
            now_ms: cluster.now_ms,
        }
    }

    pub(crate) fn enforced(&self) -> bool {
        self.autopilot_running_ms >= self.configured_ms
    }

    pub(crate) fn required_ms(&self) -> u64 {
        if self.enforced() { self.configured_ms } else { 0 }
    }

    /// Healthy, and for long enough.
    pub(crate) fn is_stable(&self, server: &Assessment<'_>) -> bool {
        server.healthy() && server.stable_for_ms(self.now_ms) >= self.required_ms()
    }

    /// Why `server` counts as stable, for a reason string.
    pub(crate) fn explain(&self, server: &Assessment<'_>) -> String {
        let healthy_for = human_ms(server.stable_for_ms(self.now_ms));
        let configured = human_ms(self.configured_ms);
        if self.enforced() {
            format!("healthy for {healthy_for}, stabilization time {configured}")
        } else {
            format!(
                "healthy for {healthy_for}, stabilization time {configured} waived while autopilot has run only {}",
                human_ms(self.autopilot_running_ms)
            )
        }
    }
}

/// Promotes every stable non-voter that may vote, in id order. Read replicas
/// never vote.
pub(crate) fn promote_stable(
    assessments: &[Assessment<'_>],
    membership: &Membership<'_>,
    stabilization: &Stabilization,
) -> Vec<(Action, String)> {
    let mut stable: Vec<&Assessment<'_>> = assessments
        .iter()
        .filter(|a| !a.read_replica && stabilization.is_stable(a))
        .filter(|a| membership.get(a.id()).is_some_and(|m| !m.voter))
        .collect();
    stable.sort_by(|a, b| a.id().cmp(b.id()));
    stable
        .into_iter()
        .map(|a| {
            let reason = format!("promote server {}: {}", a.id(), stabilization.explain(a));
            (Action::Promote(a.id().to_owned()), reason)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::{GossipStatus, Server};

    use super::*;
    use crate::fixtures::{NOW_MS, cluster, kinds, nonvoter, promote, read_replica, server, with_status};
    use crate::health::assess;

    fn promotions(c: &Cluster) -> Vec<(Action, String)> {
        let assessed = assess(c).expect("valid");
        let membership = Membership::new(&assessed, c.config.min_quorum);
        promote_stable(&assessed, &membership, &Stabilization::of(c))
    }

    #[test]
    fn a_non_voter_healthy_for_the_stabilization_time_is_promoted() {
        let c = cluster(vec![server("s1"), nonvoter("s2")]);
        let got = promotions(&c);
        assert_eq!(kinds(&got), [promote("s2")]);
        assert_eq!(got[0].1, "promote server s2: healthy for 1000s, stabilization time 10s");
    }

    #[test]
    fn healthy_for_exactly_the_stabilization_time_is_enough() {
        let at = Server { stable_since_ms: NOW_MS - 10_000, ..nonvoter("s2") };
        let short = Server { stable_since_ms: NOW_MS - 9_999, ..nonvoter("s3") };
        let c = cluster(vec![server("s1"), at, short]);
        assert_eq!(kinds(&promotions(&c)), [promote("s2")]);
    }

    #[test]
    fn a_newly_healthy_server_waits() {
        let fresh = Server { previous_healthy: Some(false), stable_since_ms: 0, ..nonvoter("s2") };
        let first_seen = Server { previous_healthy: None, ..nonvoter("s3") };
        let c = cluster(vec![server("s1"), fresh, first_seen]);
        assert!(promotions(&c).is_empty());
    }

    #[test]
    fn unhealthy_non_voters_are_not_promoted() {
        let lagging = Server { last_index: 0, ..nonvoter("s2") };
        let c = cluster(vec![server("s1"), lagging, with_status(GossipStatus::Failed, nonvoter("s3"))]);
        assert!(promotions(&c).is_empty());
    }

    #[test]
    fn read_replicas_are_never_promoted() {
        let c = cluster(vec![server("s1"), read_replica(nonvoter("s2"))]);
        assert!(promotions(&c).is_empty());
    }

    #[test]
    fn the_stabilization_time_is_waived_until_autopilot_has_run_that_long() {
        let fresh = Server { previous_healthy: None, ..nonvoter("s2") };
        let mut young = cluster(vec![server("s1"), fresh.clone()]);
        young.autopilot_started_ms = NOW_MS - 9_999;
        let got = promotions(&young);
        assert_eq!(kinds(&got), [promote("s2")]);
        assert!(got[0].1.contains("waived while autopilot has run only 9.999s"), "{}", got[0].1);

        let mut grown = cluster(vec![server("s1"), fresh]);
        grown.autopilot_started_ms = NOW_MS - 10_000;
        assert!(promotions(&grown).is_empty());
    }

    #[test]
    fn several_stable_non_voters_are_promoted_together_in_id_order() {
        let c = cluster(vec![server("s1"), nonvoter("s4"), nonvoter("s2"), nonvoter("s3")]);
        assert_eq!(kinds(&promotions(&c)), [promote("s2"), promote("s3"), promote("s4")]);
    }

    #[test]
    fn voters_are_not_promoted_again() {
        let c = cluster(vec![server("s1"), server("s2")]);
        assert!(promotions(&c).is_empty());
    }
}
