//! What one placement attempt saw, kept the way Nomad's AllocMetric keeps
//! it, and turned into the plan's failure record when the attempt fails.

use std::collections::BTreeMap;

use keel_sdk::scheduler::Failure;

use crate::resources::Dimension;

/// The counts of one attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metrics {
    pub(crate) nodes_evaluated: u32,
    pub(crate) nodes_in_pool: u32,
    nodes_filtered: u32,
    nodes_available: BTreeMap<String, u32>,
    /// Per constraint, in the group's order.
    filtered_by: Vec<u32>,
    nodes_exhausted: u32,
    exhausted_by: [u32; 3],
}

impl Metrics {
    pub(crate) fn new(constraints: usize) -> Self {
        Self { filtered_by: vec![0; constraints], ..Self::default() }
    }

    /// A ready, eligible node of the group's pool and datacenters.
    pub(crate) fn available(&mut self, datacenter: &str) {
        self.nodes_in_pool += 1;
        self.nodes_evaluated += 1;
        match self.nodes_available.get_mut(datacenter) {
            Some(count) => *count += 1,
            None => {
                self.nodes_available.insert(datacenter.to_owned(), 1);
            }
        }
    }

    /// A node that constraint `index` ruled out.
    pub(crate) fn filtered(&mut self, index: usize) {
        self.nodes_filtered += 1;
        if let Some(count) = self.filtered_by.get_mut(index) {
            *count += 1;
        }
    }

    /// A feasible node without room in `dimension`.
    pub(crate) fn exhausted(&mut self, dimension: Dimension) {
        self.nodes_exhausted += 1;
        self.exhausted_by[dimension.index()] += 1;
    }

    /// The failure record. `keys` names the constraints in the group's
    /// order; constraints written twice share one entry.
    pub(crate) fn into_failure<'k>(self, keys: impl IntoIterator<Item = &'k str>) -> Failure {
        let mut constraint_filtered: Vec<(String, u32)> = Vec::new();
        for (key, count) in keys.into_iter().zip(self.filtered_by) {
            if count == 0 {
                continue;
            }
            match constraint_filtered.iter_mut().find(|(k, _)| k == key) {
                Some((_, total)) => *total += count,
                None => constraint_filtered.push((key.to_owned(), count)),
            }
        }
        Failure {
            nodes_evaluated: self.nodes_evaluated,
            nodes_filtered: self.nodes_filtered,
            nodes_in_pool: self.nodes_in_pool,
            nodes_available: self.nodes_available.into_iter().collect(),
            constraint_filtered,
            nodes_exhausted: self.nodes_exhausted,
            dimension_exhausted: Dimension::ALL
                .into_iter()
                .filter(|d| self.exhausted_by[d.index()] > 0)
                .map(|d| (d.name().to_owned(), self.exhausted_by[d.index()]))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_the_failure_record() {
        let mut m = Metrics::new(3);
        m.available("dc2");
        m.available("dc1");
        m.available("dc2");
        m.filtered(0);
        m.filtered(2);
        m.filtered(2);
        m.exhausted(Dimension::Memory);
        let failure = m.into_failure(["a = 1", "b = 2", "a = 1"]);
        assert_eq!(failure.nodes_evaluated, 3);
        assert_eq!(failure.nodes_in_pool, 3);
        assert_eq!(failure.nodes_filtered, 3);
        assert_eq!(failure.nodes_available, [("dc1".to_owned(), 1), ("dc2".to_owned(), 2)]);
        assert_eq!(failure.constraint_filtered, [("a = 1".to_owned(), 3)]);
        assert_eq!(failure.nodes_exhausted, 1);
        assert_eq!(failure.dimension_exhausted, [("memory".to_owned(), 1)]);
    }
}
