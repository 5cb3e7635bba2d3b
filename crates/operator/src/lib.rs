//! The `regionstack` binary's library: the subcommands live here as modules so that
//! tests and benchmarks call exactly what the binary runs.
//!
//! - [`check`]: offline policy check of manifests (`regionstack check PATH...`).
//! - [`cli`]: command-line definition and dispatch.
//! - [`controller`]: the Region, PiiDatabase and TelemetryReplica controllers.
//! - `demo` (feature `demo`, default): `regionstack demo`, the seed topology on one machine.
//! - [`metrics`]: Prometheus metrics with bounded labels.
//! - [`run`]: the operator process (`regionstack run`): watches, leader election,
//!   health server and the controllers.

pub mod check;
pub mod cli;
pub mod controller;
#[cfg(feature = "demo")]
pub mod demo;
pub mod manifests;
pub mod metrics;
pub mod run;
