//! The values `/v1/metrics` reads at each request rather than as they
//! happen: Raft's position, gossip members by status, the process's
//! resources, and each plugin's counters. Names follow Nomad's where Nomad
//! has one (`nomad.raft.*`, `nomad.runtime.*`).

use std::collections::BTreeMap;

use keel_plugins::MetricsSnapshot;
use metrics::{counter, gauge};

use crate::Service;

impl Service {
    /// Sets every gauge and total that is read rather than recorded.
    pub(crate) fn refresh_metrics(&self) {
        self.raft_gauges();
        self.gossip_gauges();
        runtime_gauges(self.uptime_ms());
        for described in self.plugins.described() {
            let kind = described.kind.name();
            plugin_totals(kind, &described.info.name, &described.metrics);
            if let Some((shadow, comparisons)) = self.plugins.describe_shadow(described.kind) {
                plugin_totals(kind, &shadow.info.name, &shadow.metrics);
                let plugin = || shadow.info.name.clone();
                counter!("keel.plugin.shadow.agreements", "kind" => kind, "plugin" => plugin())
                    .absolute(comparisons.agreements);
                counter!("keel.plugin.shadow.disagreements", "kind" => kind, "plugin" => plugin())
                    .absolute(comparisons.disagreements);
                counter!("keel.plugin.shadow.faults", "kind" => kind, "plugin" => plugin())
                    .absolute(comparisons.faults);
            }
        }
    }

    fn raft_gauges(&self) {
        let Some(server) = &self.server else { return };
        let status = server.status();
        for state in ["leader", "follower", "candidate", "learner"] {
            gauge!(format!("nomad.raft.state.{state}"))
                .set(f64::from(u8::from(status.state.eq_ignore_ascii_case(state))));
        }
        gauge!("nomad.raft.term").set(status.term as f64);
        gauge!("nomad.raft.last_index").set(status.last_log_index as f64);
        gauge!("nomad.raft.commit_index").set(status.commit_index as f64);
        gauge!("nomad.raft.applied_index").set(status.applied_index as f64);
        gauge!("nomad.raft.last_snapshot_index").set(status.last_snapshot_index as f64);
        gauge!("nomad.raft.peers").set(status.num_peers as f64);
        let last_contact = if server.is_leader() { 0 } else { server.last_contact_ms() };
        gauge!("nomad.raft.leader.lastContact").set(last_contact as f64);
    }

    fn gossip_gauges(&self) {
        if self.gossip.is_none() {
            return;
        }
        let mut by_status: BTreeMap<String, usize> =
            ["alive", "leaving", "left", "failed"].into_iter().map(|status| (status.to_owned(), 0)).collect();
        for member in self.gossip_members() {
            *by_status.entry(member.status).or_default() += 1;
        }
        for (status, count) in by_status {
            gauge!("nomad.serf.members", "status" => status).set(count as f64);
        }
    }
}

/// Resident memory, threads and open files from `/proc/self`, and uptime.
fn runtime_gauges(uptime_ms: u64) {
    gauge!("nomad.runtime.uptime_seconds").set(uptime_ms as f64 / 1_000.0);
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let field = |name: &str| {
            status.lines().find_map(|line| line.strip_prefix(name)?.split_whitespace().next()?.parse::<f64>().ok())
        };
        if let Some(kib) = field("VmRSS:") {
            gauge!("nomad.runtime.resident_bytes").set(kib * 1_024.0);
        }
        if let Some(threads) = field("Threads:") {
            gauge!("nomad.runtime.num_threads").set(threads);
        }
    }
    if let Ok(files) = std::fs::read_dir("/proc/self/fd") {
        gauge!("nomad.runtime.open_files").set(files.count() as f64);
    }
}

/// A plugin's counters, kept by the plugin host, as totals.
fn plugin_totals(kind: &'static str, plugin: &str, snapshot: &MetricsSnapshot) {
    let totals = [
        ("keel.plugin.calls", snapshot.calls),
        ("keel.plugin.errors", snapshot.errors),
        ("keel.plugin.traps", snapshot.traps),
        ("keel.plugin.timeouts", snapshot.timeouts),
        ("keel.plugin.memory_limits", snapshot.memory_limits),
        ("keel.plugin.busy", snapshot.busy),
        ("keel.plugin.instantiations", snapshot.instantiations),
    ];
    for (name, total) in totals {
        counter!(name, "kind" => kind, "plugin" => plugin.to_owned()).absolute(total);
    }
}
