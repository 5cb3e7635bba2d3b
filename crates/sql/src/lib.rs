//! regionstack inside the databases (DESIGN §6): given typed desired state, make a
//! PostgreSQL server conform and report what was found and done. No Kubernetes client
//! here; the operator maps custom resources and Secrets onto these types.
//!
//! - [`conn`]: connections (TLS via rustls, timeouts, `application_name`), with
//!   passwords that never reach `Debug`, errors or logs.
//! - [`ident`]: identifier quoting and generated names that fit 63 bytes.
//! - [`error`]: the error type and its bounded categories.
//! - [`telemetry`]: the anonymized boundary export (source region) and the import
//!   (target region).
//! - [`session`]: reconcile-scoped reuse of sessions ([`session::scope`]).
//! - [`pii`]: PII database guardrails, audit, repair and drift notifications.

pub mod conn;
pub mod error;
pub mod ident;
pub mod pii;
pub mod session;
pub mod telemetry;

pub use conn::{ConnParams, Password, SslMode, connect};
pub use error::SqlError;
