//! The merged capabilities of one kind of named thing (namespaces, node
//! pools or host volumes), ready for lookups that allocate nothing.

use std::collections::BTreeMap;

use crate::capability::CapSet;
use crate::glob;

/// Exact labels and glob labels with their settled capability sets, each
/// sorted by label bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelTable {
    exact: Vec<(Box<str>, CapSet)>,
    globs: Vec<(Box<str>, CapSet)>,
}

impl LabelTable {
    /// Merges rules given as `(label, capabilities)`: the sets of one label
    /// are unioned, and a label whose union holds `deny` grants nothing.
    pub fn merge<'a>(rules: impl IntoIterator<Item = (&'a str, CapSet)>) -> Self {
        let mut merged: BTreeMap<&str, CapSet> = BTreeMap::new();
        for (label, capabilities) in rules {
            let entry = merged.entry(label).or_default();
            *entry = entry.union(capabilities);
        }
        let mut table = LabelTable::default();
        for (label, capabilities) in merged {
            let list = if label.contains('*') { &mut table.globs } else { &mut table.exact };
            list.push((label.into(), capabilities.settled()));
        }
        table
    }

    /// The capabilities that apply to `name`: its own label's if it has one,
    /// even an empty set, otherwise the closest matching glob's.
    ///
    /// Closest means the fewest characters covered by wildcards. Nomad
    /// breaks ties between equally close globs by keeping the last in byte
    /// order, a side effect of how it sorts them; this does the same so that
    /// a policy means what it meant on Nomad.
    pub fn lookup(&self, name: &str) -> Option<CapSet> {
        if let Ok(index) = self.exact.binary_search_by(|(label, _)| label.as_ref().cmp(name)) {
            return self.exact.get(index).map(|(_, capabilities)| *capabilities);
        }
        let mut closest: Option<(usize, CapSet)> = None;
        for (pattern, capabilities) in &self.globs {
            if glob::matches(pattern, name) {
                let width = glob::wildcard_width(pattern, name);
                if closest.is_none_or(|(best, _)| width <= best) {
                    closest = Some((width, *capabilities));
                }
            }
        }
        closest.map(|(_, capabilities)| capabilities)
    }

    /// Whether any label, exact or glob, grants one of `wanted`.
    pub fn any_grants(&self, wanted: CapSet) -> bool {
        self.exact.iter().chain(&self.globs).any(|(_, capabilities)| capabilities.grants_any(wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{LIST_JOBS, PolicyName, READ_JOB, SUBMIT_JOB, Scope};

    fn policy(name: PolicyName) -> CapSet {
        Scope::Namespace.expand(name).expect("namespaces take this policy")
    }

    #[test]
    fn an_exact_label_wins_over_every_glob() {
        let table = LabelTable::merge([("*", policy(PolicyName::Write)), ("prod", policy(PolicyName::Read))]);
        assert_eq!(table.lookup("prod"), Some(policy(PolicyName::Read)));
        assert_eq!(table.lookup("dev"), Some(policy(PolicyName::Write)));
    }

    #[test]
    fn an_empty_exact_label_still_shadows_the_globs() {
        let table = LabelTable::merge([("*", policy(PolicyName::Write)), ("prod", CapSet::EMPTY)]);
        assert_eq!(table.lookup("prod"), Some(CapSet::EMPTY));
    }

    #[test]
    fn the_closest_glob_wins() {
        let table = LabelTable::merge([
            ("*", policy(PolicyName::Read)),
            ("prod-*", policy(PolicyName::Write)),
            ("prod-api-*", CapSet::DENY),
        ]);
        assert_eq!(table.lookup("prod-web"), Some(policy(PolicyName::Write)));
        assert_eq!(table.lookup("prod-api-1"), Some(CapSet::DENY));
        assert_eq!(table.lookup("dev"), Some(policy(PolicyName::Read)));
        let narrow = LabelTable::merge([("prod-*", policy(PolicyName::Write))]);
        assert_eq!(narrow.lookup("dev"), None);
    }

    #[test]
    fn equally_close_globs_resolve_to_the_last_in_byte_order() {
        let table = LabelTable::merge([("a*", READ_JOB), ("*b", SUBMIT_JOB)]);
        // Both cover one byte of "ab"; "a*" sorts after "*b".
        assert_eq!(table.lookup("ab"), Some(READ_JOB));
        let swapped = LabelTable::merge([("*b", READ_JOB), ("a*", SUBMIT_JOB)]);
        assert_eq!(swapped.lookup("ab"), Some(SUBMIT_JOB));
    }

    #[test]
    fn sets_of_one_label_are_unioned_and_deny_settles_them() {
        let table =
            LabelTable::merge([("dev", READ_JOB), ("dev", SUBMIT_JOB), ("prod", READ_JOB), ("prod", CapSet::DENY)]);
        assert_eq!(table.lookup("dev"), Some(READ_JOB.union(SUBMIT_JOB)));
        assert_eq!(table.lookup("prod"), Some(CapSet::DENY));
    }

    #[test]
    fn any_grants_looks_at_every_label() {
        let table = LabelTable::merge([("a", CapSet::DENY), ("b-*", LIST_JOBS)]);
        assert!(table.any_grants(LIST_JOBS));
        assert!(!table.any_grants(READ_JOB));
        assert!(!LabelTable::default().any_grants(LIST_JOBS));
    }

    #[test]
    fn many_labels_are_found_by_search() {
        let labels: Vec<String> = (0..200).map(|n| format!("ns-{n:03}")).collect();
        let table = LabelTable::merge(labels.iter().map(|label| (label.as_str(), READ_JOB)));
        assert!(labels.iter().all(|label| table.lookup(label) == Some(READ_JOB)));
        assert_eq!(table.lookup("ns-200"), None);
    }
}
