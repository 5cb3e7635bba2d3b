//! The `regionstack` binary's library: the subcommands live here as modules so that
//! tests and benchmarks call exactly what the binary runs.
//!
//! - [`check`]: offline policy check of manifests (`regionstack check PATH...`).
//! - [`cli`]: command-line definition and dispatch.

pub mod check;
pub mod cli;
pub mod manifests;
