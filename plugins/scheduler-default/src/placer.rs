//! The placement loop: one allocation at a time, each on the best of a few
//! candidate nodes given everything placed and preempted before it, as
//! Nomad's generic scheduler does.
//!
//! Nodes are visited in a shuffled order (seeded by the group, so the same
//! input gives the same plan), continuing from one allocation to the next
//! where the last one stopped. Each allocation scores the first `limit`
//! nodes that can take it, Nomad's limit iterator: 2 for batch jobs,
//! `max(2, ceil(log2 n))` for services, every node for system jobs. Up to
//! three nodes with a negative score (the job's own allocations already
//! there) are passed over while others remain. So a placement costs a few
//! nodes, not the whole set; only an allocation that fits nowhere visits
//! every node, for the failure record or for preemption.

use std::collections::HashSet;

use keel_sdk::scheduler::{Allocation, Config, JobType, Node, Nodes, Placement, Plan, TaskGroup};

use crate::constraint::CompiledConstraint;
use crate::feasibility::{Screened, check, screen};
use crate::metrics::Metrics;
use crate::preemption;
use crate::resources::Res;
use crate::score;
use crate::usage::NodeUsage;

/// Candidates with a score below this are passed over while others remain.
const SKIP_BELOW: f64 = 0.0;
/// At most this many candidates are passed over per allocation.
const MAX_SKIP: usize = 3;

/// A node chosen for one allocation.
#[derive(Debug)]
struct Choice<'a> {
    /// Index into the plan's node usage.
    slot: usize,
    score: f64,
    preempt: Vec<(usize, &'a Allocation)>,
}

/// What a visit found out about a node.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Not,
    Infeasible,
    /// Feasible, with its usage at this index.
    Usage(usize),
}

/// The plan being built and what it needs to choose each node.
struct Placer<'a> {
    config: &'a Config,
    group: &'a TaskGroup,
    ask: Res,
    constraints: Vec<CompiledConstraint>,
    /// Every node, the first `drawn` of them in their shuffled order.
    order: Vec<(&'a Node, Seen)>,
    drawn: usize,
    /// The next position to visit; wraps around.
    cursor: usize,
    random: SplitMix64,
    /// How many nodes that can take an allocation are scored for it.
    limit: usize,
    /// The feasible nodes visited so far.
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
    let constraints = group.constraints.iter().map(CompiledConstraint::compile).collect::<Result<Vec<_>, _>>()?;
    let mut plan = Plan { placements: Vec::new(), failed: 0, failure: None };
    if group.count == 0 {
        return Ok(plan);
    }
    let mut placer = Placer {
        config,
        group,
        ask: Res::of(&group.resources),
        distinct_hosts: constraints.iter().position(CompiledConstraint::distinct_hosts),
        constraints,
        order: nodes.iter().map(|node| (node, Seen::Not)).collect(),
        drawn: 0,
        cursor: 0,
        random: SplitMix64::seeded_by(group),
        limit: candidate_limit(group.job_type, nodes.len()),
        usage: Vec::new(),
        preempted: HashSet::new(),
    };
    for placed in 0..group.count {
        match placer.choose() {
            Some(choice) => plan.placements.push(placer.commit(choice)),
            None => {
                // Nothing changes after a failed attempt, so the rest would
                // fail the same way.
                plan.failed = group.count - placed;
                plan.failure = Some(placer.failure());
                break;
            }
        }
    }
    Ok(plan)
}

/// Nomad's limit: the power of two choices for batch jobs, a logarithm of
/// the node count for services, and every node for system jobs (which place
/// on each node that fits).
fn candidate_limit(job_type: JobType, nodes: usize) -> usize {
    match job_type {
        JobType::Batch => 2,
        JobType::Service => (usize::BITS - nodes.saturating_sub(1).leading_zeros()).max(2) as usize,
        JobType::System | JobType::Sysbatch => nodes.max(1),
    }
}

impl<'a> Placer<'a> {
    /// The best of the next `limit` nodes where the next allocation fits as
    /// things stand, else (when the job type may preempt) the best among
    /// all nodes where preemption makes room.
    fn choose(&mut self) -> Option<Choice<'a>> {
        let mut best = None;
        let mut scored = 0;
        let mut passed_over = Vec::new();
        for _ in 0..self.order.len() {
            if scored == self.limit {
                break;
            }
            let Some(slot) = self.visit_next() else { continue };
            let usage = &self.usage[slot];
            if (self.distinct_hosts.is_some() && usage.collisions > 0) || usage.free().short_for(self.ask).is_some() {
                continue;
            }
            let score = score::combine(
                score::fit(self.config.algorithm, usage.available, usage.used.plus(self.ask)),
                [score::anti_affinity(usage.collisions, self.group.count)],
            );
            let choice = Choice { slot, score, preempt: Vec::new() };
            if score < SKIP_BELOW && passed_over.len() < MAX_SKIP {
                passed_over.push(choice);
                continue;
            }
            self.consider(&mut best, choice);
            scored += 1;
        }
        // Passed-over nodes count only when too few others could take it.
        for choice in passed_over.into_iter().take(self.limit - scored) {
            self.consider(&mut best, choice);
        }
        if best.is_none() && preemption::enabled(self.config, self.group.job_type) {
            self.visit_all();
            self.choose_preempting(&mut best);
        }
        best
    }

    /// Visits the node at the cursor, drawing it from the unshuffled rest
    /// on its first visit, and returns its usage slot when it is feasible.
    fn visit_next(&mut self) -> Option<usize> {
        let position = self.cursor;
        self.cursor = (self.cursor + 1) % self.order.len();
        if position == self.drawn {
            let pick = position + self.random.below(self.order.len() - position);
            self.order.swap(position, pick);
            self.drawn += 1;
        }
        let (node, seen) = self.order[position];
        match seen {
            Seen::Usage(slot) => Some(slot),
            Seen::Infeasible => None,
            Seen::Not => {
                let feasible = check(self.group, node, &mut self.constraints) == Screened::Feasible;
                let seen = match feasible {
                    true => {
                        self.usage.push(NodeUsage::new(node, self.group));
                        Seen::Usage(self.usage.len() - 1)
                    }
                    false => Seen::Infeasible,
                };
                self.order[position].1 = seen;
                feasible.then(|| self.usage.len() - 1)
            }
        }
    }

    /// Visits every node not visited yet, so that `usage` holds every
    /// feasible node.
    fn visit_all(&mut self) {
        while self.drawn < self.order.len() {
            self.cursor = self.drawn;
            self.visit_next();
        }
    }

    /// Why the next allocation fits nowhere, counted over every node as
    /// Nomad's AllocMetric does.
    fn failure(&mut self) -> keel_sdk::scheduler::Failure {
        self.visit_all();
        let nodes = self.order.iter().map(|(node, _)| *node);
        let mut metrics: Metrics = screen(self.group, nodes, &mut self.constraints);
        for usage in &self.usage {
            if let Some(constraint) = self.distinct_hosts
                && usage.collisions > 0
            {
                metrics.filtered(constraint);
            } else if let Some(dimension) = usage.free().short_for(self.ask) {
                metrics.exhausted(dimension);
            }
        }
        metrics.into_failure(self.constraints.iter().map(|c| c.key.as_str()))
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

    /// Keeps the higher score; of equal scores, the node visited first
    /// (Nomad's max-score iterator). The visiting order depends only on the
    /// input, so the same input always gives the same plan, and a group
    /// spread over equal nodes moves on to the next one instead of
    /// returning to one with the lowest id.
    fn consider(&self, best: &mut Option<Choice<'a>>, candidate: Choice<'a>) {
        if best.as_ref().is_none_or(|current| candidate.score > current.score) {
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

/// A small deterministic generator (SplitMix64), seeded by the group so
/// that the same input visits nodes in the same order.
struct SplitMix64(u64);

impl SplitMix64 {
    fn seeded_by(group: &TaskGroup) -> Self {
        // FNV-1a over the group's identity.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [&group.namespace, &group.job_id, &group.name] {
            for byte in part.bytes().chain([0]) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        Self(hash)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which is not zero).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}
