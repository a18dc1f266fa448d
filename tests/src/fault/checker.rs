//! The checker: reads a run's history and the servers' final states and
//! lists every violation of the properties the cluster promises (DESIGN
//! §13), each with the operations that show it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::history::{Marker, Observed, Op, Outcome, Request};
use super::nemesis::{Fault, FaultKind};

/// What one server holds at the end, read with `?stale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Policy name -> rules.
    pub policies: BTreeMap<String, String>,
    /// The register's marker and `ModifyIndex`.
    pub register: (Marker, u64),
}

/// The violations found, by property; all empty is a pass.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// (a) Acknowledged policy writes missing, or with other rules, on
    /// some server.
    pub lost: Vec<String>,
    /// (b) Policies present that no client sent.
    pub phantoms: Vec<String>,
    /// (c) Policy reads that missed a write acknowledged before they began.
    pub stale_reads: Vec<String>,
    /// (d) Breaks in the chain of acknowledged CAS writes, and register
    /// reads older than a write acknowledged before they began.
    pub not_linearizable: Vec<String>,
    /// (e) Servers whose final state differs from the first server's.
    pub diverged: Vec<String>,
}

impl Verdicts {
    pub fn all(&self) -> [(&'static str, &Vec<String>); 5] {
        [
            ("(a) no acknowledged write lost", &self.lost),
            ("(b) no phantom policy", &self.phantoms),
            ("(c) no stale policy read", &self.stale_reads),
            ("(d) CAS register linearizable", &self.not_linearizable),
            ("(e) servers converge", &self.diverged),
        ]
    }

    pub fn passed(&self) -> bool {
        self.all().iter().all(|(_, found)| found.is_empty())
    }
}

/// Checks `ops` against the servers' final `states`; `initial` is the
/// register as it was before any client ran.
pub fn check(ops: &[Op], initial: (Marker, u64), states: &[State]) -> Verdicts {
    Verdicts {
        lost: lost_writes(ops, states),
        phantoms: phantoms(ops, states),
        stale_reads: stale_policy_reads(ops),
        not_linearizable: register_violations(ops, initial, states),
        diverged: divergence(states),
    }
}

fn acknowledged_policies(ops: &[Op]) -> impl Iterator<Item = (&Op, &str, &str)> {
    ops.iter().filter_map(|op| match (&op.request, &op.outcome) {
        (Request::PutPolicy { name, rules }, Outcome::Ok(_)) => Some((op, name.as_str(), rules.as_str())),
        _ => None,
    })
}

fn lost_writes(ops: &[Op], states: &[State]) -> Vec<String> {
    let mut lost = Vec::new();
    for (op, name, rules) in acknowledged_policies(ops) {
        for (server, state) in states.iter().enumerate() {
            let held = state.policies.get(name);
            if held.map(String::as_str) != Some(rules) {
                lost.push(format!("server {server} holds {held:?} for the acknowledged write {op}"));
            }
        }
    }
    lost
}

fn phantoms(ops: &[Op], states: &[State]) -> Vec<String> {
    let sent: BTreeMap<&str, &str> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Request::PutPolicy { name, rules } => Some((name.as_str(), rules.as_str())),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    for (server, state) in states.iter().enumerate() {
        for (name, rules) in &state.policies {
            if sent.get(name.as_str()) != Some(&rules.as_str()) {
                found.push(format!("server {server} holds {name:?} with {rules:?}, which no client sent"));
            }
        }
    }
    found
}

fn stale_policy_reads(ops: &[Op]) -> Vec<String> {
    let acknowledged: BTreeMap<&str, (&Op, &str)> =
        acknowledged_policies(ops).map(|(op, name, rules)| (name, (op, rules))).collect();
    let mut stale = Vec::new();
    for read in ops {
        let (Request::GetPolicy { name }, Outcome::Ok(Observed::Policy(seen))) = (&read.request, &read.outcome) else {
            continue;
        };
        let Some((write, rules)) = acknowledged.get(name.as_str()) else { continue };
        let wrong_rules = seen.as_deref().is_some_and(|seen| seen != *rules);
        if wrong_rules || (write.completed < read.invoked && seen.as_deref() != Some(*rules)) {
            stale.push(format!("read {read}\n      after write {write}"));
        }
    }
    stale
}

/// A CAS write that certainly took effect: its `cas`, the index it was
/// applied at and its marker.
struct Applied<'a> {
    op: &'a Op,
    cas: u64,
    index: u64,
    value: Marker,
}

fn register_violations(ops: &[Op], initial: (Marker, u64), states: &[State]) -> Vec<String> {
    let mut applied: Vec<Applied<'_>> = ops
        .iter()
        .filter_map(|op| match (&op.request, &op.outcome) {
            (Request::CasRegister { cas, value }, Outcome::Ok(Observed::Cas { updated: true, index })) => {
                Some(Applied { op, cas: *cas, index: *index, value: *value })
            }
            _ => None,
        })
        .collect();
    applied.sort_by_key(|write| write.index);
    let maybe: Vec<(u64, Marker)> = ops
        .iter()
        .filter_map(|op| match (&op.request, &op.outcome) {
            (Request::CasRegister { cas, value }, Outcome::Indeterminate(_)) => Some((*cas, *value)),
            _ => None,
        })
        .collect();
    let reads: Vec<(&Op, Marker, u64)> = ops
        .iter()
        .filter_map(|op| match &op.outcome {
            Outcome::Ok(Observed::Register { value, modify_index }) => Some((op, *value, *modify_index)),
            _ => None,
        })
        .collect();
    let mut found = chain_breaks(&applied, &maybe, &reads, initial);
    found.extend(stale_register_reads(&applied, &maybe, &reads, initial));
    for (server, state) in states.iter().enumerate() {
        let (value, index) = state.register;
        if let Some(last) = applied.last()
            && index < last.index
        {
            found.push(format!("server {server} ends at index {index}, before the acknowledged {}", last.op));
        }
        if !explained(value, index, &applied, &maybe, initial) {
            found.push(format!("server {server} ends with marker {value:#04x} at {index}, which no write explains"));
        }
    }
    found
}

/// Each acknowledged write must follow the one before: its `cas` is that
/// write's index, or the index of a write whose answer was lost and which
/// itself followed on from there.
fn chain_breaks(
    applied: &[Applied<'_>],
    maybe: &[(u64, Marker)],
    reads: &[(&Op, Marker, u64)],
    initial: (Marker, u64),
) -> Vec<String> {
    let mut found = Vec::new();
    let mut previous_index = initial.1;
    let mut previous: Option<&Applied<'_>> = None;
    for write in applied {
        let after = previous.map_or_else(|| "the initial register".to_owned(), |p| p.op.to_string());
        if write.index <= previous_index || write.cas < previous_index || write.cas >= write.index {
            found.push(format!("CAS write {}\n      does not follow {after}", write.op));
        } else if write.cas != previous_index {
            // The write read an index no acknowledged write produced: only a
            // write that may have been applied, sent after the previous
            // acknowledged one, explains it.
            let seen_at_cas: BTreeSet<Marker> =
                reads.iter().filter(|(_, _, index)| *index == write.cas).map(|(_, value, _)| *value).collect();
            let bridged = maybe
                .iter()
                .any(|(cas, value)| *cas >= previous_index && *cas < write.cas && seen_at_cas.contains(value));
            if !bridged {
                found.push(format!("CAS write {}\n      skips from index {previous_index} ({after})", write.op));
            }
        }
        previous_index = write.index;
        previous = Some(write);
    }
    found
}

fn stale_register_reads(
    applied: &[Applied<'_>],
    maybe: &[(u64, Marker)],
    reads: &[(&Op, Marker, u64)],
    initial: (Marker, u64),
) -> Vec<String> {
    let mut found = Vec::new();
    for (read, value, index) in reads {
        let newest_before = applied.iter().filter(|write| write.op.completed < read.invoked).max_by_key(|w| w.index);
        if let Some(write) = newest_before
            && *index < write.index
        {
            found.push(format!("register read {read}\n      is older than {}", write.op));
        }
        if !explained(*value, *index, applied, maybe, initial) {
            found.push(format!(
                "register read {read}\n      returns marker {value:#04x} at {index}, which no write explains"
            ));
        }
    }
    found
}

/// Whether marker `value` at `index` is the initial register, the
/// acknowledged write at that index, or a write whose answer was lost.
fn explained(
    value: Marker,
    index: u64,
    applied: &[Applied<'_>],
    maybe: &[(u64, Marker)],
    initial: (Marker, u64),
) -> bool {
    if (value, index) == initial {
        return true;
    }
    match applied.iter().find(|write| write.index == index) {
        Some(write) => write.value == value,
        None => maybe.iter().any(|(cas, candidate)| *candidate == value && *cas < index),
    }
}

fn divergence(states: &[State]) -> Vec<String> {
    let Some((first, rest)) = states.split_first() else { return vec!["no server answered".to_owned()] };
    let mut found = Vec::new();
    for (offset, state) in rest.iter().enumerate() {
        if state != first {
            let only_first: Vec<&String> = first.policies.keys().filter(|k| !state.policies.contains_key(*k)).collect();
            let only_other: Vec<&String> = state.policies.keys().filter(|k| !first.policies.contains_key(*k)).collect();
            found.push(format!(
                "server {} differs from server 0: register {:?} vs {:?}, only on 0: {only_first:?}, only on it: {only_other:?}",
                offset + 1,
                state.register,
                first.register
            ));
        }
    }
    found
}

/// For each fault kind, the longest time without an acknowledged write
/// from the fault's start until the next fault (or the end of the run).
pub fn write_gaps(ops: &[Op], faults: &[Fault], end: Duration) -> BTreeMap<FaultKind, Duration> {
    let mut acks: Vec<Duration> = ops.iter().filter(|op| op.is_acknowledged_write()).map(|op| op.completed).collect();
    acks.sort();
    let mut gaps = BTreeMap::new();
    for (n, fault) in faults.iter().enumerate() {
        let window_end = faults.get(n + 1).map_or(end, |next| next.began);
        let mut last = fault.began;
        let mut longest = Duration::ZERO;
        for ack in acks.iter().filter(|ack| **ack > fault.began && **ack <= window_end) {
            longest = longest.max(*ack - last);
            last = *ack;
        }
        longest = longest.max(window_end.saturating_sub(last));
        let entry = gaps.entry(fault.kind).or_insert(Duration::ZERO);
        *entry = (*entry).max(longest);
    }
    gaps
}
