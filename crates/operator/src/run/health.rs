//! The health server: `/live`, `/ready` and `/metrics` on `--health-addr` (axum, in
//! the operator's own runtime).
//!
//! - `/live` is 200 while the operator's loops run: the leader-election loop ticks
//!   at least every renew period and records a heartbeat; a heartbeat older than the
//!   liveness grace (at least [`LIVENESS_GRACE`]; a wedged runtime, a deadlock)
//!   answers 503 so the kubelet restarts the Pod.
//! - `/ready` is 200 only once every watch has listed its objects and while none is
//!   failing; otherwise 503 with one line per unhealthy watch. Leadership is not part
//!   of readiness: a standby with warm caches is ready to take over.
//! - `/metrics` is the OpenMetrics exposition of [`Metrics`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// How stale the loop heartbeat may be before `/live` fails, at least.
pub const LIVENESS_GRACE: Duration = Duration::from_secs(60);

/// Longest error text shown by `/ready` (errors name URLs, never secrets).
const MAX_ERROR: usize = 200;

#[derive(Clone, Debug, Default)]
struct WatchState {
    synced: bool,
    failing: Option<String>,
}

/// Health of the operator's loops, shared by the watches, the elector and the server.
#[derive(Debug)]
pub struct Health {
    watches: Mutex<BTreeMap<&'static str, WatchState>>,
    heartbeat: Mutex<Instant>,
    grace: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(LIVENESS_GRACE)
    }
}

impl Health {
    /// Health whose heartbeat may be `grace` old (never less than [`LIVENESS_GRACE`]).
    pub fn new(grace: Duration) -> Self {
        Self { watches: Mutex::default(), heartbeat: Mutex::new(Instant::now()), grace: grace.max(LIVENESS_GRACE) }
    }

    /// Track the watch of `kind` (not synced yet).
    pub fn register(&self, kind: &'static str) {
        self.watches.lock().expect("health lock").entry(kind).or_default();
    }

    /// The watch of `kind` listed every object: synced and healthy.
    pub fn synced(&self, kind: &'static str) {
        let mut watches = self.watches.lock().expect("health lock");
        let state = watches.entry(kind).or_default();
        if state.failing.take().is_some() {
            tracing::info!(kind, "watch recovered");
        }
        state.synced = true;
    }

    /// The watch of `kind` failed; it stays failing until it has listed again.
    pub fn failed(&self, kind: &'static str, error: &str) {
        let mut text: String = error.chars().take(MAX_ERROR).collect();
        if text.len() < error.len() {
            text.push_str("...");
        }
        self.watches.lock().expect("health lock").entry(kind).or_default().failing = Some(text);
    }

    /// `Ok` when ready, else one line per unhealthy watch.
    pub fn readiness(&self) -> Result<(), String> {
        let watches = self.watches.lock().expect("health lock");
        let problems: Vec<String> = watches
            .iter()
            .filter_map(|(kind, state)| match (&state.failing, state.synced) {
                (Some(error), _) => Some(format!("watch {kind} failing: {error}")),
                (None, false) => Some(format!("watch {kind} not synced yet")),
                (None, true) => None,
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
    }

    /// Record that the operator's loops are turning.
    pub fn beat(&self) {
        *self.heartbeat.lock().expect("health lock") = Instant::now();
    }

    /// Whether the last heartbeat is recent enough.
    pub fn alive(&self) -> bool {
        self.heartbeat.lock().expect("health lock").elapsed() < self.grace
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The health router.
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics })
}

async fn live(State(state): State<AppState>) -> impl IntoResponse {
    if state.health.alive() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "operator loop stalled\n".to_owned())
    }
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.health.readiness() {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(problems) => (StatusCode::SERVICE_UNAVAILABLE, format!("{problems}\n")),
    }
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_watches() {
        let h = Health::default();
        h.register("Region");
        h.register("PiiDatabase");
        assert_eq!(h.readiness().unwrap_err(), "watch PiiDatabase not synced yet\nwatch Region not synced yet");
        h.synced("Region");
        h.synced("PiiDatabase");
        assert!(h.readiness().is_ok());
        h.failed("Region", &"x".repeat(500));
        let err = h.readiness().unwrap_err();
        assert!(err.starts_with("watch Region failing: xxx") && err.ends_with("...") && err.len() < 250, "{err}");
        h.synced("Region");
        assert!(h.readiness().is_ok());
        assert!(h.alive());
    }
}
