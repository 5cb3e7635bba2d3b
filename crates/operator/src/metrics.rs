//! Prometheus metrics (prometheus-client), served on `/metrics`.
//!
//! Every label is bounded: `kind` (3 values), `result` (ok/error), `category` (the
//! fixed error categories), `code` (reason codes), `target_region` (the Regions of the
//! topology). No object names: a platform with 1,000 replicas must not get 1,000
//! series per metric.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of reconcile counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `Region`, `PiiDatabase` or `TelemetryReplica`.
    pub kind: &'static str,
    /// `ok` or `error`.
    pub result: &'static str,
}

/// Labels of error counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The kind.
    pub kind: &'static str,
    /// The bounded error category.
    pub category: &'static str,
}

/// Labels of per-kind histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind.
    pub kind: &'static str,
}

/// Labels of audit findings and repairs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// The kind whose audit found it.
    pub kind: &'static str,
    /// The reason code.
    pub code: &'static str,
}

/// Labels of replication lag.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LagLabels {
    /// The target region (bounded by the topology).
    pub target_region: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The operator's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: HistogramFamily<KindLabels>,
    findings: Family<CodeLabels, Gauge>,
    repairs: Family<CodeLabels, Counter>,
    status_writes: Family<KindLabels, Counter>,
    lag: Family<LagLabels, Gauge>,
    watch_restarts: Family<KindLabels, Counter>,
    leader: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("regionstack");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration: HistogramFamily<KindLabels> = Family::new_with_constructor(duration_histogram);
        let findings = Family::<CodeLabels, Gauge>::default();
        let repairs = Family::<CodeLabels, Counter>::default();
        let status_writes = Family::<KindLabels, Counter>::default();
        let lag = Family::<LagLabels, Gauge>::default();
        let watch_restarts = Family::<KindLabels, Counter>::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles finished, by kind and result", reconciles.clone());
        registry.register("reconcile_errors", "Reconcile errors, by kind and bounded category", errors.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration, by kind", duration.clone());
        registry.register("audit_findings", "Findings of the latest audits, by kind and reason code", findings.clone());
        registry.register("repairs", "Repairs made, by kind and reason code", repairs.clone());
        registry.register("status_writes", "Status writes made, by kind", status_writes.clone());
        registry.register("replication_lag_bytes", "Largest replication lag into a target region", lag.clone());
        registry.register("watch_errors", "Watch errors (each followed by a re-list), by kind", watch_restarts.clone());
        registry.register("leader", "1 while this process holds the leader Lease", leader.clone());
        Self { registry, reconciles, errors, duration, findings, repairs, status_writes, lag, watch_restarts, leader }
    }
}

impl Metrics {
    /// Record one finished reconcile.
    pub fn reconciled(&self, kind: &'static str, took: Duration, error: Option<&'static str>) {
        let result = if error.is_some() { "error" } else { "ok" };
        self.reconciles.get_or_create(&ReconcileLabels { kind, result }).inc();
        self.duration.get_or_create(&KindLabels { kind }).observe(took.as_secs_f64());
        if let Some(category) = error {
            self.errors.get_or_create(&ErrorLabels { kind, category }).inc();
        }
    }

    /// Set the number of findings with `code` seen by the latest audits of `kind`.
    pub fn set_findings(&self, kind: &'static str, code: &'static str, n: i64) {
        self.findings.get_or_create(&CodeLabels { kind, code }).set(n);
    }

    /// Count one repair.
    pub fn repaired(&self, kind: &'static str, code: &'static str) {
        self.repairs.get_or_create(&CodeLabels { kind, code }).inc();
    }

    /// Count one status write.
    pub fn status_written(&self, kind: &'static str) {
        self.status_writes.get_or_create(&KindLabels { kind }).inc();
    }

    /// Set the replication lag into `target_region`.
    pub fn set_lag(&self, target_region: &str, bytes: i64) {
        self.lag.get_or_create(&LagLabels { target_region: target_region.to_owned() }).set(bytes);
    }

    /// Count a watch error of `kind`.
    pub fn watch_error(&self, kind: &'static str) {
        self.watch_restarts.get_or_create(&KindLabels { kind }).inc();
    }

    /// Record whether this process leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Total status writes of `kind` so far (used by benchmarks and tests).
    pub fn status_writes(&self, kind: &'static str) -> u64 {
        self.status_writes.get_or_create(&KindLabels { kind }).get()
    }

    /// Total reconciles of `kind` so far, both results.
    pub fn reconcile_count(&self, kind: &'static str) -> u64 {
        ["ok", "error"]
            .iter()
            .map(|result| self.reconciles.get_or_create(&ReconcileLabels { kind, result }).get())
            .sum()
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
