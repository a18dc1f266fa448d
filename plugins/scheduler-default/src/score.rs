//! Node scores, as Nomad's rank iterators compute them: a fit score from
//! the proposed utilization, a job anti-affinity penalty, and a preemption
//! score, averaged.

use keel_sdk::scheduler::Algorithm;

use crate::resources::Res;

/// The highest raw fit score: both free fractions at zero give 20 - 2.
const MAX_FIT_SCORE: f64 = 18.0;

/// Nomad's ScoreFitBinPack (or ScoreFitSpread) normalized to 0..1.
///
/// `available` is the node's capacity less its reservations; `proposed` is
/// what would be in use with the new allocation. Binpack favours nodes
/// that end up full, spread favours nodes that stay empty; only CPU and
/// memory count, as in Nomad.
pub(crate) fn fit(algorithm: Algorithm, available: Res, proposed: Res) -> f64 {
    let total = 10f64.powf(free_fraction(proposed.cpu, available.cpu))
        + 10f64.powf(free_fraction(proposed.memory, available.memory));
    let raw = match algorithm {
        Algorithm::Binpack => 20.0 - total,
        Algorithm::Spread => total - 2.0,
    };
    raw.clamp(0.0, MAX_FIT_SCORE) / MAX_FIT_SCORE
}

/// The share of `total` left free with `used` in use, in 0..1. A dimension
/// the node has none of counts as full.
fn free_fraction(used: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    // Resource figures are far below 2^52, so the conversions are exact.
    let fraction = 1.0 - used as f64 / total as f64;
    fraction.clamp(0.0, 1.0)
}

/// Nomad's job anti-affinity: a penalty for each allocation of the same
/// job and group already on the node, scaled by the group's count. `None`
/// when there is nothing to penalize, which leaves it out of the average.
pub(crate) fn anti_affinity(collisions: u32, count: u32) -> Option<f64> {
    (collisions > 0 && count > 0).then(|| -(f64::from(collisions) + 1.0) / f64::from(count))
}

/// Nomad's preemption score: a logistic curve of the preempted
/// allocations' net priority, near 1 for low priorities and 0.5 at 2048.
pub(crate) fn preemption(priorities: &[u32]) -> Option<f64> {
    let max = priorities.iter().copied().max()?;
    let sum: f64 = priorities.iter().map(|&p| f64::from(p)).sum();
    let max = f64::from(max);
    // The highest priority dominates; the rest add their average weight.
    let net = if max > 0.0 { max + sum / max } else { 0.0 };
    Some(1.0 / (1.0 + (0.0048 * (net - 2048.0)).exp()))
}

/// The final score: the mean of the scores that apply.
pub(crate) fn combine(fit: f64, others: impl IntoIterator<Item = Option<f64>>) -> f64 {
    let (sum, n) = others.into_iter().flatten().fold((fit, 1.0), |(sum, n), s| (sum + s, n + 1.0));
    sum / n
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: Res = Res { cpu: 4000, memory: 8000, disk: 0 };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn binpack_follows_nomads_formula() {
        // Half of each used: 20 - 2 * 10^0.5.
        let half = fit(Algorithm::Binpack, NODE, Res { cpu: 2000, memory: 4000, disk: 0 });
        assert!(close(half, (20.0 - 2.0 * 10f64.sqrt()) / 18.0), "{half}");
        assert!(close(fit(Algorithm::Binpack, NODE, NODE), 1.0), "a full node is a perfect fit");
        assert!(close(fit(Algorithm::Binpack, NODE, Res::default()), 0.0), "an empty node is the worst");
    }

    #[test]
    fn spread_is_binpacks_mirror() {
        let used = Res { cpu: 1000, memory: 6000, disk: 0 };
        let binpack = fit(Algorithm::Binpack, NODE, used);
        let spread = fit(Algorithm::Spread, NODE, used);
        assert!(close(binpack + spread, 1.0), "{binpack} + {spread}");
        assert!(close(fit(Algorithm::Spread, NODE, Res::default()), 1.0));
    }

    #[test]
    fn fuller_nodes_win_binpack_and_emptier_ones_win_spread() {
        let light = Res { cpu: 500, memory: 500, disk: 0 };
        let heavy = Res { cpu: 3500, memory: 7000, disk: 0 };
        assert!(fit(Algorithm::Binpack, NODE, heavy) > fit(Algorithm::Binpack, NODE, light));
        assert!(fit(Algorithm::Spread, NODE, light) > fit(Algorithm::Spread, NODE, heavy));
    }

    #[test]
    fn a_node_with_nothing_counts_as_full_not_as_a_division_by_zero() {
        let score = fit(Algorithm::Binpack, Res::default(), Res::default());
        assert!(score.is_finite() && close(score, 1.0));
    }

    #[test]
    fn anti_affinity_grows_with_collisions() {
        assert_eq!(anti_affinity(0, 3), None);
        assert_eq!(anti_affinity(1, 4), Some(-0.5));
        assert_eq!(anti_affinity(3, 4), Some(-1.0));
    }

    #[test]
    fn preemption_prefers_low_priorities() {
        assert_eq!(preemption(&[]), None);
        let low = preemption(&[10, 10]).expect("score");
        let high = preemption(&[90]).expect("score");
        assert!(low > high && low < 1.0 && high > 0.5, "{low} {high}");
        assert!(preemption(&[0]).is_some_and(f64::is_finite));
    }

    #[test]
    fn scores_average_what_applies() {
        assert!(close(combine(0.8, [None, None]), 0.8));
        assert!(close(combine(0.8, [Some(-0.4), None]), 0.2));
    }
}
