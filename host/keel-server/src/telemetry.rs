//! The agent's metrics. Every crate records through the `metrics` facade;
//! this module installs the process's recorder and renders what it holds
//! for `GET /v1/metrics`: Nomad's JSON shape by default, and Prometheus's
//! text format (rendered by `metrics-exporter-prometheus`) when the agent
//! runs with `telemetry { prometheus_metrics = true }`.
//!
//! One difference from Nomad, on purpose: Nomad's JSON holds its in-memory
//! sink's current 10-second interval, Keel's holds totals since the agent
//! started, so that two reads can be subtracted. A counter's `Count` is how
//! often it was incremented and `Sum` by how much in all; a sample's
//! `Count`, `Sum`, `Min`, `Max`, `Mean` and `Stddev` cover every value
//! recorded; `Rate` is `Sum` per second of the agent's life.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::{Fanout, FanoutBuilder};
use metrics_util::registry::{Registry, Storage};
use serde_json::{Map, Value, json};

/// The process's metrics: the totals behind the JSON answer and, when
/// enabled, the Prometheus recorder's handle.
pub struct Telemetry {
    totals: Arc<Registry<Key, TotalsStorage>>,
    prometheus: Option<PrometheusHandle>,
    started: Instant,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").field("prometheus", &self.prometheus.is_some()).finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Installs the process's metrics recorder: from now on, what any crate
    /// records lands here. A process has one; a second install fails.
    pub fn install(prometheus: bool) -> Result<Self, String> {
        let (telemetry, recorder) = Self::new(prometheus);
        metrics::set_global_recorder(recorder).map_err(|_| "a metrics recorder is already installed".to_owned())?;
        Ok(telemetry)
    }

    /// A telemetry and the recorder that feeds it, not installed.
    pub fn new(prometheus: bool) -> (Self, Fanout) {
        let totals = Arc::new(Registry::new(TotalsStorage));
        let fanout = FanoutBuilder::default().add_recorder(Totals(Arc::clone(&totals)));
        let (fanout, prometheus) = match prometheus {
            true => {
                let recorder = PrometheusBuilder::new().build_recorder();
                let handle = recorder.handle();
                (fanout.add_recorder(recorder), Some(handle))
            }
            false => (fanout, None),
        };
        (Self { totals, prometheus, started: Instant::now() }, fanout.build())
    }

    /// Prometheus's text exposition format, if enabled.
    pub fn prometheus(&self) -> Option<String> {
        self.prometheus.as_ref().map(|handle| {
            handle.run_upkeep();
            handle.render()
        })
    }

    /// Nomad's JSON shape: `Timestamp` (Go's time format, as Nomad writes
    /// it), `Gauges`, `Points` (always empty), `Counters` and `Samples`,
    /// each list sorted by name and labels.
    pub fn json(&self, now_ms: i64) -> Value {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let mut gauges = Vec::new();
        self.totals.visit_gauges(|key, gauge| {
            gauges.push(entry(key, [("Value", json!(f64::from_bits(gauge.load(Ordering::Relaxed))))]));
        });
        let mut counters = Vec::new();
        self.totals.visit_counters(|key, aggregate| counters.push(aggregate.entry(key, seconds)));
        let mut samples = Vec::new();
        self.totals.visit_histograms(|key, aggregate| samples.push(aggregate.entry(key, seconds)));
        for list in [&mut gauges, &mut counters, &mut samples] {
            list.sort_by_key(|entry| (entry["Name"].to_string(), entry["Labels"].to_string()));
        }
        json!({
            "Timestamp": go_time(now_ms),
            "Gauges": gauges,
            "Points": [],
            "Counters": counters,
            "Samples": samples,
        })
    }
}

/// Go's `time.Time.String()` of a UTC time rounded to the second, as
/// Nomad's `Timestamp`: `2026-12-02 08:00:00 +0000 UTC`.
fn go_time(now_ms: i64) -> String {
    let rfc3339 = keel_api::time::rfc3339_ms(now_ms.div_euclid(1_000) * 1_000);
    format!("{} +0000 UTC", rfc3339.trim_end_matches('Z').replacen('T', " ", 1))
}

/// One JSON entry: `Name`, the given fields, and `Labels`.
fn entry<const N: usize>(key: &Key, fields: [(&str, Value); N]) -> Value {
    let mut object = Map::new();
    object.insert("Name".to_owned(), json!(key.name()));
    for (name, value) in fields {
        object.insert(name.to_owned(), value);
    }
    let labels: Map<String, Value> = key.labels().map(|label| (label.key().to_owned(), json!(label.value()))).collect();
    object.insert("Labels".to_owned(), Value::Object(labels));
    Value::Object(object)
}

/// The recorder behind the JSON answer.
struct Totals(Arc<Registry<Key, TotalsStorage>>);

impl Recorder for Totals {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0.get_or_create_counter(key, |aggregate| Counter::from_arc(Arc::clone(aggregate)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0.get_or_create_gauge(key, |gauge| Gauge::from_arc(Arc::clone(gauge)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0.get_or_create_histogram(key, |aggregate| Histogram::from_arc(Arc::clone(aggregate)))
    }
}

/// Counters and samples keep an [`Aggregate`]; gauges the bits of an `f64`.
struct TotalsStorage;

impl Storage<Key> for TotalsStorage {
    type Counter = Arc<Aggregate>;
    type Gauge = Arc<GaugeBits>;
    type Histogram = Arc<Aggregate>;

    fn counter(&self, _: &Key) -> Self::Counter {
        Arc::default()
    }

    fn gauge(&self, _: &Key) -> Self::Gauge {
        Arc::default()
    }

    fn histogram(&self, _: &Key) -> Self::Histogram {
        Arc::default()
    }
}

/// A gauge's current value, as the bits of an `f64`.
#[derive(Debug, Default)]
struct GaugeBits(AtomicU64);

impl GaugeBits {
    fn load(&self, ordering: Ordering) -> u64 {
        self.0.load(ordering)
    }

    fn update(&self, change: impl Fn(f64) -> f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some(change(f64::from_bits(bits)).to_bits()));
    }
}

impl GaugeFn for GaugeBits {
    fn increment(&self, value: f64) {
        self.update(|current| current + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|current| current - value);
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// Count, sum, extremes and sum of squares of the values recorded.
#[derive(Debug, Default)]
struct Aggregate(Mutex<Stats>);

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    count: u64,
    sum: f64,
    sum_of_squares: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn add(&mut self, value: f64) {
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        if self.count == 0 || value > self.max {
            self.max = value;
        }
        self.count += 1;
        self.sum += value;
        self.sum_of_squares += value * value;
    }
}

impl Aggregate {
    fn stats(&self) -> Stats {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, value: f64) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).add(value);
    }

    /// The JSON entry, as go-metrics aggregates a sample: the sample
    /// standard deviation, and `Rate` per second over `seconds`.
    fn entry(&self, key: &Key, seconds: f64) -> Value {
        let stats = self.stats();
        let count = stats.count as f64;
        let mean = if stats.count == 0 { 0.0 } else { stats.sum / count };
        let variance =
            if stats.count < 2 { 0.0 } else { (stats.sum_of_squares - stats.sum * stats.sum / count) / (count - 1.0) };
        entry(
            key,
            [
                ("Count", json!(stats.count)),
                ("Rate", json!(stats.sum / seconds)),
                ("Sum", json!(stats.sum)),
                ("Min", json!(stats.min)),
                ("Max", json!(stats.max)),
                ("Mean", json!(mean)),
                ("Stddev", json!(variance.max(0.0).sqrt())),
            ],
        )
    }
}

impl CounterFn for Aggregate {
    fn increment(&self, value: u64) {
        self.add(value as f64);
    }

    /// A total taken from elsewhere (a plugin's call count): as if it had
    /// been counted one by one.
    fn absolute(&self, value: u64) {
        let ones = if value == 0 {
            Stats::default()
        } else {
            Stats { count: value, sum: value as f64, sum_of_squares: value as f64, min: 1.0, max: 1.0 }
        };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = ones;
    }
}

impl HistogramFn for Aggregate {
    fn record(&self, value: f64) {
        self.add(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'v>(list: &'v Value, name: &str) -> &'v Value {
        list.as_array()
            .expect("a list")
            .iter()
            .find(|entry| entry["Name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
    }

    #[test]
    fn json_has_nomads_shape_and_totals() {
        let (telemetry, recorder) = Telemetry::new(false);
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("nomad.test.requests", "route" => "/v1/x").increment(1);
            metrics::counter!("nomad.test.requests", "route" => "/v1/x").increment(2);
            metrics::gauge!("nomad.test.gauge").set(7.5);
            for value in [1.0, 2.0, 3.0] {
                metrics::histogram!("nomad.test.latency").record(value);
            }
        });
        let json = telemetry.json(1_764_662_400_250);
        assert_eq!(json["Timestamp"], "2025-12-02 08:00:00 +0000 UTC");
        assert_eq!(json["Points"], json!([]));
        assert_eq!(named(&json["Gauges"], "nomad.test.gauge")["Value"], 7.5);
        let counter = named(&json["Counters"], "nomad.test.requests");
        assert_eq!((counter["Count"].as_u64(), counter["Sum"].as_f64()), (Some(2), Some(3.0)));
        assert_eq!(counter["Labels"], json!({"route": "/v1/x"}));
        let sample = named(&json["Samples"], "nomad.test.latency");
        assert_eq!(
            (sample["Min"].as_f64(), sample["Max"].as_f64(), sample["Mean"].as_f64()),
            (Some(1.0), Some(3.0), Some(2.0))
        );
        assert_eq!(sample["Stddev"].as_f64(), Some(1.0));
        assert!(telemetry.prometheus().is_none(), "Prometheus is off unless asked for");
    }

    #[test]
    fn an_absolute_total_reads_as_counted_one_by_one() {
        let (telemetry, recorder) = Telemetry::new(true);
        metrics::with_local_recorder(&recorder, || metrics::counter!("keel.plugin.calls").absolute(40));
        let counter = named(&telemetry.json(0)["Counters"], "keel.plugin.calls").clone();
        assert_eq!((counter["Count"].as_u64(), counter["Sum"].as_f64()), (Some(40), Some(40.0)));
        let text = telemetry.prometheus().expect("enabled");
        assert!(text.contains("keel_plugin_calls 40"), "{text}");
    }
}
