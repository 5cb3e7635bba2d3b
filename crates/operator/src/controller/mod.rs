//! The three controllers (DESIGN §3, §4) and what they share.
//!
//! Every reconcile is a pipeline of small steps (after stackabletech's
//! zookeeper-operator): `validate` and `build` are pure functions of the object, the
//! Regions and the operator's own region; only `apply` (database or child objects) and
//! `status` touch the outside world. Each step has its own `thiserror` enum whose
//! variants map to a bounded [`ErrorCategory`], used as the metric label and the Event
//! reason.
//!
//! - [`context`]: what every reconcile receives (client, config, stores, metrics,
//!   event recorder, backoff state, triggers).
//! - [`error`]: the category contract and the error policy (validation errors wait
//!   for a change; transient errors back off exponentially with jitter; waits on a
//!   peer region are retried soon, a bounded number of times).
//! - [`status`]: status writes by server-side apply under [`FIELD_MANAGER`], skipped
//!   when nothing changed.
//! - [`events`]: Kubernetes Events for repairs, violations and failures.
//! - [`digest`]: catalog digests polled between audits, so that drift no database
//!   notification reports is repaired within a second.
//! - [`region`], [`pii`], [`telemetry`]: one module per kind.

pub mod context;
pub mod digest;
pub mod error;
pub mod events;
pub mod status;

pub use context::{Config, Context};
pub use error::{ErrorCategory, ReconcileError};

/// The one field manager of every write regionstack makes (server-side apply).
pub const FIELD_MANAGER: &str = "regionstack";

/// Finalizer on PiiDatabase and TelemetryReplica: the database teardown runs before
/// the object goes away (DESIGN I5).
pub const FINALIZER: &str = "regionstack.io/teardown";

/// Name of the controller in Events (`reportingController`) and logs.
pub const CONTROLLER_NAME: &str = "regionstack";

pub mod pii;
pub mod region;
pub mod telemetry;
