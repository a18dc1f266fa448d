//! One node's resources as a plan fills it: what it has, what runs on it,
//! what the plan has placed there and which allocations it has preempted.

use keel_sdk::scheduler::{Allocation, Node, TaskGroup};

use crate::resources::Res;

/// Nomad preempts only allocations at least this much lower in priority.
pub(crate) const PRIORITY_DELTA: u64 = 10;

/// A feasible node and what the plan has done to it so far.
#[derive(Debug, Clone)]
pub(crate) struct NodeUsage<'a> {
    pub(crate) node: &'a Node,
    /// Capacity less reservations.
    pub(crate) available: Res,
    /// Running allocations not preempted, plus the plan's placements.
    pub(crate) used: Res,
    /// Allocations of the group's own job and group, running or planned.
    pub(crate) collisions: u32,
    /// Per running allocation, whether the plan preempts it.
    preempted: Vec<bool>,
}

impl<'a> NodeUsage<'a> {
    pub(crate) fn new(node: &'a Node, group: &TaskGroup) -> Self {
        let used = node.allocations.iter().fold(Res::default(), |sum, a| sum.plus(Res::of(&a.resources)));
        let collisions = node.allocations.iter().filter(|a| same_group(a, group)).count();
        Self {
            node,
            available: Res::of(&node.capacity).minus(Res::of(&node.reserved)),
            used,
            collisions: u32::try_from(collisions).unwrap_or(u32::MAX),
            preempted: vec![false; node.allocations.len()],
        }
    }

    pub(crate) fn free(&self) -> Res {
        self.available.minus(self.used)
    }

    /// Running allocations the group may preempt: not yet preempted, of
    /// another job, and at least [`PRIORITY_DELTA`] lower in priority.
    pub(crate) fn preemptible<'s>(
        &'s self,
        group: &'s TaskGroup,
    ) -> impl Iterator<Item = (usize, &'a Allocation)> + 's {
        let floor = u64::from(group.priority);
        self.node.allocations.iter().enumerate().filter(move |(i, a)| {
            !self.preempted[*i] && !same_job(a, group) && u64::from(a.priority) + PRIORITY_DELTA <= floor
        })
    }

    /// Records one placement of `ask`, stopping the allocations at
    /// `preempt` (indices into the node's allocations) to make room.
    pub(crate) fn place(&mut self, ask: Res, preempt: &[usize]) {
        for &i in preempt {
            if let (Some(flag), Some(alloc)) = (self.preempted.get_mut(i), self.node.allocations.get(i))
                && !*flag
            {
                *flag = true;
                self.used = self.used.minus(Res::of(&alloc.resources));
            }
        }
        self.used = self.used.plus(ask);
        self.collisions = self.collisions.saturating_add(1);
    }
}

fn same_job(a: &Allocation, group: &TaskGroup) -> bool {
    a.namespace == group.namespace && a.job_id == group.job_id
}

fn same_group(a: &Allocation, group: &TaskGroup) -> bool {
    same_job(a, group) && a.task_group == group.name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{alloc, group, node, res, running, sibling};

    #[test]
    fn free_is_capacity_less_reserved_and_running() {
        let mut n = running(node("n1"), vec![alloc("a", 10, res(1000, 1000, 1000)), sibling("s")]);
        n.reserved = res(100, 192, 0);
        let g = group(1);
        let usage = NodeUsage::new(&n, &g);
        assert_eq!(
            usage.free(),
            Res { cpu: 4000 - 100 - 1000 - 500, memory: 8192 - 192 - 1000 - 256, disk: 100_000 - 1300 }
        );
        assert_eq!(usage.collisions, 1);
    }

    #[test]
    fn only_allocations_ten_priorities_lower_of_other_jobs_are_preemptible() {
        let n = running(
            node("n1"),
            vec![
                alloc("p40", 40, res(1, 1, 1)),
                alloc("p41", 41, res(1, 1, 1)),
                alloc("p0", 0, res(1, 1, 1)),
                sibling("own"),
            ],
        );
        let mut g = group(1);
        g.priority = 50;
        let usage = NodeUsage::new(&n, &g);
        let ids: Vec<&str> = usage.preemptible(&g).map(|(_, a)| a.id.as_str()).collect();
        assert_eq!(ids, ["p40", "p0"]);
    }

    #[test]
    fn placing_adds_the_ask_and_frees_the_preempted_once() {
        let n = running(node("n1"), vec![alloc("a", 10, res(3000, 0, 0))]);
        let g = group(1);
        let mut usage = NodeUsage::new(&n, &g);
        usage.place(Res::of(&res(3500, 0, 0)), &[0]);
        assert_eq!(usage.used.cpu, 3500);
        usage.place(Res::default(), &[0]);
        assert_eq!(usage.used.cpu, 3500, "a preempted allocation is freed only once");
        assert_eq!(usage.preemptible(&g).count(), 0);
        assert_eq!(usage.collisions, 2);
    }
}
