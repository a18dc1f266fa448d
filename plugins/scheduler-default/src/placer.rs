//! The placement loop: one allocation at a time, each on the best node
//! given everything placed and preempted before it, as Nomad's generic
//! scheduler does.

use std::collections::HashSet;

use keel_sdk::scheduler::{Allocation, Config, Nodes, Placement, Plan, TaskGroup};

use crate::constraint::CompiledConstraint;
use crate::feasibility::screen;
use crate::metrics::Metrics;
use crate::preemption;
use crate::resources::Res;
use crate::score;
use crate::usage::NodeUsage;

/// A node chosen for one allocation.
#[derive(Debug)]
struct Choice<'a> {
    /// Index into the plan's node usage.
    slot: usize,
    score: f64,
    preempt: Vec<(usize, &'a Allocation)>,
}

/// The plan being built and what it needs to choose each node.
struct Placer<'a> {
    config: &'a Config,
    group: &'a TaskGroup,
    ask: Res,
    usage: Vec<NodeUsage<'a>>,
    /// The enabled `distinct_hosts` constraint, if any.
    distinct_hosts: Option<usize>,
    /// Allocations already preempted, by id: an id listed on two nodes is
    /// still stopped only once.
    preempted: HashSet<&'a str>,
}

/// Places `group.count` allocations. Fails only on invalid input: a
/// constraint that cannot be compiled, or a node with an empty id.
pub(crate) fn place(config: &Config, group: &TaskGroup, nodes: &Nodes) -> Result<Plan, String> {
    if let Some(node) = nodes.get("") {
        return Err(format!("place: node {:?} has an empty id", node.name));
    }
    let mut constraints = group.constraints.iter().map(CompiledConstraint::compile).collect::<Result<Vec<_>, _>>()?;
    let mut plan = Plan { placements: Vec::new(), failed: 0, failure: None };
    if group.count == 0 {
        return Ok(plan);
    }
    let screened = screen(group, nodes, &mut constraints);
    let mut placer = Placer {
        config,
        group,
        ask: Res::of(&group.resources),
        usage: screened.feasible.iter().map(|node| NodeUsage::new(node, group)).collect(),
        distinct_hosts: constraints.iter().position(CompiledConstraint::distinct_hosts),
        preempted: HashSet::new(),
    };
    for placed in 0..group.count {
        let mut metrics = screened.metrics.clone();
        match placer.choose(&mut metrics) {
            Some(choice) => plan.placements.push(placer.commit(choice)),
            None => {
                // Nothing changes after a failed attempt, so the rest would
                // fail the same way.
                plan.failed = group.count - placed;
                plan.failure = Some(metrics.into_failure(constraints.iter().map(|c| c.key.as_str())));
                break;
            }
        }
    }
    Ok(plan)
}

impl<'a> Placer<'a> {
    /// The best node for the next allocation: among nodes where it fits as
    /// things stand, else (when the job type may preempt) among nodes where
    /// preemption makes room.
    fn choose(&self, metrics: &mut Metrics) -> Option<Choice<'a>> {
        let mut best = None;
        for (slot, usage) in self.usage.iter().enumerate() {
            if let Some(constraint) = self.distinct_hosts
                && usage.collisions > 0
            {
                metrics.filtered(constraint);
                continue;
            }
            if let Some(dimension) = usage.free().short_for(self.ask) {
                metrics.exhausted(dimension);
                continue;
            }
            let score = score::combine(
                score::fit(self.config.algorithm, usage.available, usage.used.plus(self.ask)),
                [score::anti_affinity(usage.collisions, self.group.count)],
            );
            self.consider(&mut best, Choice { slot, score, preempt: Vec::new() });
        }
        if best.is_none() && preemption::enabled(self.config, self.group.job_type) {
            self.choose_preempting(&mut best);
        }
        best
    }

    fn choose_preempting(&self, best: &mut Option<Choice<'a>>) {
        for (slot, usage) in self.usage.iter().enumerate() {
            if self.distinct_hosts.is_some() && usage.collisions > 0 {
                continue;
            }
            let candidates: Vec<(usize, &'a Allocation)> =
                usage.preemptible(self.group).filter(|(_, a)| !self.preempted.contains(a.id.as_str())).collect();
            let Some(preempt) = preemption::choose(candidates, usage.free(), self.ask) else {
                continue;
            };
            let freed = preempt.iter().fold(Res::default(), |sum, (_, a)| sum.plus(Res::of(&a.resources)));
            let priorities: Vec<u32> = preempt.iter().map(|(_, a)| a.priority).collect();
            let score = score::combine(
                score::fit(self.config.algorithm, usage.available, usage.used.minus(freed).plus(self.ask)),
                [score::anti_affinity(usage.collisions, self.group.count), score::preemption(&priorities)],
            );
            self.consider(best, Choice { slot, score, preempt });
        }
    }

    /// Keeps the higher score; equal scores go to the lower node id so
    /// that the same input always gives the same plan.
    fn consider(&self, best: &mut Option<Choice<'a>>, candidate: Choice<'a>) {
        let better = match best {
            None => true,
            Some(current) => {
                candidate.score > current.score
                    || (candidate.score == current.score
                        && self.usage[candidate.slot].node.id < self.usage[current.slot].node.id)
            }
        };
        if better {
            *best = Some(candidate);
        }
    }

    /// Records the choice in the plan's usage and returns its placement.
    fn commit(&mut self, choice: Choice<'a>) -> Placement {
        let indices: Vec<usize> = choice.preempt.iter().map(|(i, _)| *i).collect();
        let usage = &mut self.usage[choice.slot];
        usage.place(self.ask, &indices);
        self.preempted.extend(choice.preempt.iter().map(|(_, a)| a.id.as_str()));
        Placement {
            node_id: usage.node.id.clone(),
            score: choice.score,
            preempted: choice.preempt.iter().map(|(_, a)| a.id.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
