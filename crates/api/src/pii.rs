//! `PiiDatabase` (namespaced): a PostgreSQL database holding personal data that must
//! never leave `spec.region`. Only the operator of that region acts on it; every other
//! operator reports it as `ForeignRegion`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Jurisdiction, LocalObjectReference};
use crate::condition::Condition;
use crate::reason::ReasonCode;

/// A PostgreSQL database holding personal data, pinned to one region, with residency
/// guardrails installed inside it and audited continuously.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "regionstack.io",
    version = "v1alpha1",
    kind = "PiiDatabase",
    namespaced,
    status = "PiiDatabaseStatus",
    shortname = "piidb",
    category = "regionstack",
    doc = "A PostgreSQL database holding personal data (PII) that never leaves its region.",
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.enforcement"),
    printcolumn(
        name = "Compliant",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"ResidencyCompliant\")].status"
    ),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.managed) != has(self.external)").message("exactly one of managed or external must be set"))]
#[serde(rename_all = "camelCase")]
pub struct PiiDatabaseSpec {
    /// Name of the Region this database lives in. Immutable: moving personal data to
    /// another region is a migration, not an edit.
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable"))]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub region: String,
    /// Data-protection regimes the data falls under. Each must be among the Region's
    /// jurisdictions.
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(length(min = 1))]
    pub compliance: Vec<Jurisdiction>,
    /// Provision a CloudNativePG `Cluster` pinned to the region. Exclusive with
    /// `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedDatabase>,
    /// Use an existing PostgreSQL server reached through a connection Secret. Exclusive
    /// with `managed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDatabase>,
    /// `Enforce` installs guardrails and repairs violations; `Audit` only reports them.
    #[serde(default)]
    pub enforcement: Enforcement,
}

/// What the operator does about residency violations inside the database.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Enforcement {
    /// Install guardrails, repair violations, report them.
    #[default]
    Enforce,
    /// Report violations only; change nothing inside the database.
    Audit,
}

/// A CloudNativePG cluster rendered by the operator.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDatabase {
    /// Number of PostgreSQL instances (primary plus in-region standbys).
    #[serde(default = "default_instances")]
    #[schemars(range(min = 1, max = 9))]
    pub instances: i32,
    /// PostgreSQL container image; the CloudNativePG default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub image_name: Option<String>,
    /// Persistent storage of each instance.
    pub storage: Storage,
    /// Continuous backup. The object store must be declared in the database's own
    /// region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// Replica clusters (CloudNativePG distributed topology) kept of this database, for
    /// disaster recovery inside the region. A replica cluster in another region copies
    /// every row out of it and is refused with `CrossRegionReplica`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 8))]
    pub replica_clusters: Vec<ReplicaCluster>,
}

fn default_instances() -> i32 {
    3
}

/// Persistent volume settings.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// Volume size as a Kubernetes quantity, e.g. `10Gi`.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"))]
    pub size: String,
    /// StorageClass of the volumes; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub storage_class: Option<String>,
}

/// Continuous backup to an object store.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Where backups and WAL archives are written.
    pub object_store: ObjectStore,
    /// How long backups are kept, e.g. `30d` (days, weeks or months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[1-9][0-9]*[dwm]$"))]
    pub retention_policy: Option<String>,
}

/// An S3-compatible object store.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStore {
    /// Name of the Region in which the bucket physically lives. It must equal the
    /// database's region, or the backup is refused with `BackupOutOfRegion`.
    #[schemars(length(min = 1, max = 63))]
    pub region: String,
    /// Bucket and prefix, e.g. `s3://pii-backups-eu-west-1/orders`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^(s3|gs|https?)://"))]
    pub destination_path: String,
    /// Endpoint of the object store when it is not the provider default.
    #[serde(default, rename = "endpointURL", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub endpoint_url: Option<String>,
    /// Secret in the same namespace with the object store credentials.
    pub credentials_secret_ref: LocalObjectReference,
}

/// A replica cluster of a managed database.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCluster {
    /// Name of the replica cluster.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Region the replica cluster runs in; must be the database's region.
    #[schemars(length(min = 1, max = 63))]
    pub region: String,
}

/// An existing PostgreSQL database.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDatabase {
    /// Secret in the same namespace with keys `host`, `port`, `user`, `password`,
    /// `dbname`, optional `sslmode` and `ca.crt`. The login needs the privileges to
    /// create event triggers (a superuser on self-hosted PostgreSQL).
    pub connection_secret_ref: LocalObjectReference,
}

/// One residency finding inside a database.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// Reason code, e.g. `RogueReplication` or `GuardrailMissing`.
    pub code: ReasonCode,
    /// The database object concerned, e.g. `publication/leak`.
    pub object: String,
    /// What was found and, in `Enforce` mode, what was done about it.
    pub detail: String,
    /// When the violation was first seen.
    pub first_seen: Time,
}

/// Observed state of a PiiDatabase.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PiiDatabaseStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` and `ResidencyCompliant`.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Current residency findings; empty when compliant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// When the database was last audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_audit_time: Option<Time>,
    /// `host:port/dbname` of the database (never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}
