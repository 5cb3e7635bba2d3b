//! The `regionstack.io/v1alpha1` API: the three custom resources (`Region`,
//! `PiiDatabase`, `TelemetryReplica`), their metav1-style conditions and the stable
//! reason codes shared by the operator, the policy engine and `regionstack check`.
//!
//! This crate does no I/O. It owns the wire format: every `///` comment on a spec or
//! status field becomes the CRD description that `kubectl explain` shows, and the CEL
//! rules (`x-kubernetes-validations`) attached here are what the API server enforces
//! before the operator ever sees an object.

// `#[kube(printcolumn(...))]` repeats `type_ = "string"` by design; clippy reads the
// repeated key as a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

pub mod common;
pub mod condition;
pub mod crd;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod pii;
pub mod reason;
pub mod region;
pub mod telemetry;

pub use common::{Jurisdiction, LocalObjectReference, SecretReference};
pub use condition::{Condition, ConditionStatus};
pub use pii::{PiiDatabase, PiiDatabaseSpec, PiiDatabaseStatus};
pub use reason::ReasonCode;
pub use region::{Lifecycle, Region, RegionSpec, RegionStatus};
pub use telemetry::{
    ColumnClass, ColumnRule, DataClass, TelemetryReplica, TelemetryReplicaSpec, TelemetryReplicaStatus, TransformKind,
};

/// The API group of every regionstack resource.
pub const GROUP: &str = "regionstack.io";
/// The API version served by this crate.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as it appears in manifests.
pub const API_VERSION: &str = "regionstack.io/v1alpha1";
/// The `kubectl get regionstack` category shared by all three kinds.
pub const CATEGORY: &str = "regionstack";
