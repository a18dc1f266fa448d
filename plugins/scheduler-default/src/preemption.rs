//! Choosing which running allocations to stop so that an allocation fits
//! on a node, as Nomad's preemptor does: lowest priorities first, within a
//! priority the allocation closest in size to what is still missing, then
//! dropping any choice the others already cover.

use keel_sdk::scheduler::{Allocation, Config, JobType};

use crate::resources::{Dimension, Res};

/// Whether the scheduler configuration lets jobs of this type preempt.
pub(crate) fn enabled(config: &Config, job_type: JobType) -> bool {
    match job_type {
        JobType::Service => config.preempt_service,
        JobType::Batch => config.preempt_batch,
        JobType::System => config.preempt_system,
        JobType::Sysbatch => config.preempt_sysbatch,
    }
}

/// The allocations to stop so that `ask` fits beside `free`, from
/// `candidates` (already known to be preemptible), or `None` when stopping
/// all of them would not be enough.
pub(crate) fn choose<'a>(
    mut candidates: Vec<(usize, &'a Allocation)>,
    free: Res,
    ask: Res,
) -> Option<Vec<(usize, &'a Allocation)>> {
    let need = ask.minus(free);
    let mut chosen: Vec<(usize, &'a Allocation)> = Vec::new();
    let mut freed = Res::default();
    candidates.sort_by(|(_, a), (_, b)| a.priority.cmp(&b.priority).then_with(|| a.id.cmp(&b.id)));
    let mut rest = candidates.as_slice();
    while !freed.holds(need) && !rest.is_empty() {
        let priority = rest[0].1.priority;
        let split = rest.iter().position(|(_, a)| a.priority != priority).unwrap_or(rest.len());
        let (mut tier, later) = (rest[..split].to_vec(), &rest[split..]);
        rest = later;
        while !freed.holds(need) {
            let missing = need.minus(freed);
            let best = tier
                .iter()
                .enumerate()
                .filter(|(_, (_, a))| helps(missing, Res::of(&a.resources)))
                .min_by(|(_, (_, a)), (_, (_, b))| {
                    distance(missing, Res::of(&a.resources)).total_cmp(&distance(missing, Res::of(&b.resources)))
                })
                .map(|(at, _)| at);
            let Some(at) = best else { break };
            let pick = tier.remove(at);
            freed = freed.plus(Res::of(&pick.1.resources));
            chosen.push(pick);
        }
    }
    if !freed.holds(need) {
        return None;
    }
    // Highest priorities were chosen last; drop those the rest cover.
    for at in (0..chosen.len()).rev() {
        let without = freed.minus(Res::of(&chosen[at].1.resources));
        if without.holds(need) {
            freed = without;
            chosen.remove(at);
        }
    }
    Some(chosen)
}

/// Whether an allocation frees anything still missing.
fn helps(missing: Res, resources: Res) -> bool {
    Dimension::ALL.into_iter().any(|d| missing.get(d) > 0 && resources.get(d) > 0)
}

/// Nomad's basicResourceDistance: how far an allocation's size is from
/// what is missing, each dimension relative to the missing amount.
fn distance(missing: Res, resources: Res) -> f64 {
    Dimension::ALL
        .into_iter()
        .filter(|&d| missing.get(d) > 0)
        .map(|d| {
            let want = missing.get(d) as f64;
            let coordinate = (want - resources.get(d) as f64) / want;
            coordinate * coordinate
        })
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{alloc, config, res};

    fn pick(allocs: &[Allocation], free: Res, ask: Res) -> Option<Vec<&str>> {
        let candidates = allocs.iter().enumerate().collect();
        choose(candidates, free, ask).map(|chosen| chosen.into_iter().map(|(_, a)| a.id.as_str()).collect())
    }

    fn cpu(mhz: u64) -> Res {
        Res { cpu: mhz, memory: 0, disk: 0 }
    }

    #[test]
    fn the_flag_follows_the_job_type() {
        let mut c = config();
        for job_type in [JobType::Service, JobType::Batch, JobType::System, JobType::Sysbatch] {
            assert!(!enabled(&c, job_type));
        }
        c.preempt_batch = true;
        assert!(enabled(&c, JobType::Batch));
        assert!(!enabled(&c, JobType::Service) && !enabled(&c, JobType::System) && !enabled(&c, JobType::Sysbatch));
        let all = Config { preempt_service: true, preempt_system: true, preempt_sysbatch: true, ..config() };
        assert!(enabled(&all, JobType::Service) && enabled(&all, JobType::System) && enabled(&all, JobType::Sysbatch));
    }

    #[test]
    fn lowest_priorities_go_first() {
        let allocs =
            [alloc("p30", 30, res(1000, 0, 0)), alloc("p10", 10, res(1000, 0, 0)), alloc("p20", 20, res(1000, 0, 0))];
        assert_eq!(pick(&allocs, cpu(0), cpu(2000)), Some(vec!["p10", "p20"]));
    }

    #[test]
    fn within_a_priority_the_closest_size_goes_first() {
        let allocs = [
            alloc("small", 10, res(200, 0, 0)),
            alloc("exact", 10, res(1000, 0, 0)),
            alloc("big", 10, res(3000, 0, 0)),
        ];
        assert_eq!(pick(&allocs, cpu(0), cpu(1000)), Some(vec!["exact"]));
    }

    #[test]
    fn choices_the_others_cover_are_dropped() {
        // The low one cannot cover the need alone; the higher one can.
        let allocs = [alloc("low", 10, res(500, 0, 0)), alloc("high", 20, res(2000, 0, 0))];
        assert_eq!(pick(&allocs, cpu(0), cpu(1500)), Some(vec!["high"]));
    }

    #[test]
    fn allocations_that_free_nothing_missing_are_left_alone() {
        let allocs = [alloc("memory-only", 10, res(0, 4000, 0)), alloc("cpu", 10, res(1000, 0, 0))];
        assert_eq!(pick(&allocs, cpu(0), cpu(1000)), Some(vec!["cpu"]));
    }

    #[test]
    fn every_dimension_must_be_covered() {
        let allocs = [
            alloc("cpu", 10, res(1000, 0, 0)),
            alloc("memory", 10, res(0, 1000, 0)),
            alloc("disk", 10, res(0, 0, 1000)),
        ];
        assert_eq!(
            pick(&allocs, Res::default(), Res { cpu: 500, memory: 500, disk: 500 }),
            Some(vec!["cpu", "disk", "memory"])
        );
        assert_eq!(pick(&allocs[..2], Res::default(), Res { cpu: 500, memory: 500, disk: 500 }), None);
    }

    #[test]
    fn what_is_already_free_counts() {
        let allocs = [alloc("a", 10, res(600, 0, 0))];
        assert_eq!(pick(&allocs, cpu(500), cpu(1000)), Some(vec!["a"]));
        assert_eq!(pick(&allocs, cpu(300), cpu(1000)), None);
    }
}
