//! What a run found, printed as counts, verdicts and write gaps.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::checker::Verdicts;
use super::history::{Op, Outcome};
use super::nemesis::{Fault, FaultKind};

/// How many violations of one property are printed in full.
const SHOWN_PER_PROPERTY: usize = 20;

/// A run's history, faults and the checker's findings.
#[derive(Debug)]
pub struct Report {
    pub ops: Vec<Op>,
    /// Operations that did not fit in the history.
    pub dropped: usize,
    /// Beats on which a client had its bound in flight and sent nothing.
    pub skipped: usize,
    pub faults: Vec<Fault>,
    pub verdicts: Verdicts,
    /// The longest time without an acknowledged write after each kind of
    /// fault.
    pub gaps: BTreeMap<FaultKind, Duration>,
    pub nemesis_stopped: Duration,
    pub end: Duration,
}

impl Report {
    /// Operations by kind and outcome.
    pub fn counts(&self) -> BTreeMap<(&'static str, &'static str), usize> {
        let mut counts = BTreeMap::new();
        for op in &self.ops {
            *counts.entry((op.request.kind(), op.outcome.kind())).or_insert(0) += 1;
        }
        counts
    }

    /// Acknowledged writes that were sent after the nemesis stopped.
    pub fn writes_after_nemesis(&self) -> usize {
        self.ops.iter().filter(|op| op.invoked >= self.nemesis_stopped && op.is_acknowledged_write()).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fault run: {:.1}s, nemesis stopped at {:.1}s",
            self.end.as_secs_f64(),
            self.nemesis_stopped.as_secs_f64()
        )?;
        writeln!(
            f,
            "operations ({} recorded, {} dropped, {} beats skipped at the in-flight bound):",
            self.ops.len(),
            self.dropped,
            self.skipped
        )?;
        for ((kind, outcome), count) in self.counts() {
            writeln!(f, "  {kind:<14} {outcome:<14} {count:>7}")?;
        }
        writeln!(f, "faults ({}):", self.faults.len())?;
        for kind in FaultKind::ALL {
            let of_kind: Vec<&Fault> = self.faults.iter().filter(|fault| fault.kind == kind).collect();
            let unknown = of_kind.iter().filter(|fault| !fault.leader_known).count();
            let gap = self.gaps.get(&kind).map_or("-".to_owned(), |gap| format!("{:.2}s", gap.as_secs_f64()));
            writeln!(
                f,
                "  {:<14} {:>4} (leader unknown {unknown}), longest write gap {gap}",
                kind.name(),
                of_kind.len()
            )?;
        }
        for fault in &self.faults {
            writeln!(
                f,
                "    {:>8.3}s..{:>8.3}s {} on server {}",
                fault.began.as_secs_f64(),
                fault.healed.as_secs_f64(),
                fault.kind.name(),
                fault.server
            )?;
        }
        let indeterminate = self.ops.iter().filter(|op| matches!(op.outcome, Outcome::Indeterminate(_))).count();
        writeln!(
            f,
            "indeterminate operations: {indeterminate}; acknowledged writes after the nemesis: {}",
            self.writes_after_nemesis()
        )?;
        writeln!(f, "verdicts:")?;
        for (property, found) in self.verdicts.all() {
            let verdict = if found.is_empty() { "ok".to_owned() } else { format!("VIOLATED ({})", found.len()) };
            writeln!(f, "  {property:<32} {verdict}")?;
            for violation in found.iter().take(SHOWN_PER_PROPERTY) {
                writeln!(f, "    {violation}")?;
            }
        }
        Ok(())
    }
}
