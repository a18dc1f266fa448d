//! Per-plugin counters and a latency histogram, cheap enough for every call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::FaultKind;

/// Latency buckets are powers of two of nanoseconds: bucket `i` holds calls
/// that took less than `2^i` ns, up to ~2^40 ns (18 minutes).
const BUCKETS: usize = 41;

/// The counters of one plugin.
#[derive(Debug)]
pub struct Metrics {
    calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    memory_limits: AtomicU64,
    instantiations: AtomicU64,
    busy: AtomicU64,
    instantiate_nanos: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

/// A copy of a plugin's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls made, whatever their outcome.
    pub calls: u64,
    /// Calls that returned an error value (a decision, not a fault).
    pub errors: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls interrupted at their deadline.
    pub timeouts: u64,
    /// Calls stopped at the memory cap.
    pub memory_limits: u64,
    /// Instances created (the first, and one after every fault).
    pub instantiations: u64,
    /// Calls refused at once because the call queue was full.
    pub busy: u64,
    /// The mean time to create an instance (not counting `configure`).
    pub instantiate_mean: Duration,
    /// Upper bounds of the 50th and 99th latency percentiles.
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    /// Calls by latency: entry `i` counts calls that took less than `2^i`
    /// nanoseconds and at least `2^(i-1)`.
    pub latency_buckets: Vec<u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            memory_limits: AtomicU64::new(0),
            instantiations: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            instantiate_nanos: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    pub(crate) fn record_call(&self, elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = (u64::BITS - nanos.leading_zeros()) as usize;
        self.latency[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_fault(&self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::Timeout => &self.timeouts,
            FaultKind::MemoryLimit => &self.memory_limits,
            FaultKind::Trap => &self.traps,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_busy(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_instantiation(&self, elapsed: Duration) {
        self.instantiations.fetch_add(1, Ordering::Relaxed);
        self.instantiate_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let histogram: Vec<u64> = self.latency.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let instantiations = self.instantiations.load(Ordering::Relaxed);
        let instantiate_nanos = self.instantiate_nanos.load(Ordering::Relaxed);
        MetricsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            memory_limits: self.memory_limits.load(Ordering::Relaxed),
            instantiations,
            busy: self.busy.load(Ordering::Relaxed),
            instantiate_mean: Duration::from_nanos(instantiate_nanos.checked_div(instantiations).unwrap_or(0)),
            latency_p50: quantile(&histogram, 0.50),
            latency_p99: quantile(&histogram, 0.99),
            latency_buckets: histogram,
        }
    }
}

/// The upper bound of the bucket holding quantile `q`.
fn quantile(histogram: &[u64], q: f64) -> Duration {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return Duration::ZERO;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (bucket, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Duration::from_nanos(1u64 << bucket);
        }
    }
    Duration::from_nanos(1u64 << (histogram.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_quantiles() {
        let metrics = Metrics::default();
        for _ in 0..99 {
            metrics.record_call(Duration::from_nanos(300));
        }
        metrics.record_call(Duration::from_millis(2));
        metrics.record_fault(FaultKind::Timeout);
        metrics.record_error();
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.calls, 100);
        assert_eq!(snapshot.timeouts, 1);
        assert_eq!(snapshot.errors, 1);
        assert_eq!(snapshot.traps, 0);
        assert_eq!(snapshot.latency_p50, Duration::from_nanos(512));
        assert_eq!(snapshot.latency_p99, Duration::from_nanos(512));
        metrics.record_call(Duration::from_millis(2));
        assert!(metrics.snapshot().latency_p99 >= Duration::from_millis(2));
    }
}
