//! Structured logs (DESIGN I6): JSON lines by default, each carrying the fields of
//! the current span, so every line a reconcile writes names the kind, namespace,
//! name and region it was about. `RUST_LOG` filters (default `info`).

use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// Install the process-wide subscriber. A second call (several operators in one test
/// process) keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The span of one reconcile: `kind`, `namespace` (absent for cluster-scoped kinds),
/// `object` (the object's name: JSON output already uses `name` for the span's own
/// name) and the operator's `region`.
pub fn reconcile_span(kind: &'static str, namespace: Option<&str>, object: &str, region: &str) -> tracing::Span {
    let span = tracing::info_span!("reconcile", kind, namespace = tracing::field::Empty, object, region);
    if let Some(namespace) = namespace {
        span.record("namespace", namespace);
    }
    span
}
