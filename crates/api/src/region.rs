//! `Region` (cluster-scoped): one entry of the topology. The same set of Regions is
//! applied to every regional cluster; each operator recognises its own by name.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Jurisdiction, SecretReference};
use crate::condition::Condition;

/// A region of the multi-region deployment: where it is, which data-protection regimes
/// are in force there, and whether it runs workloads.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "regionstack.io",
    version = "v1alpha1",
    kind = "Region",
    status = "RegionStatus",
    shortname = "rsregion",
    category = "regionstack",
    doc = "A region of the deployment: location, data-protection regimes in force, lifecycle and how to reach its telemetry database.",
    printcolumn(name = "Country", type_ = "string", json_path = ".spec.location.country"),
    printcolumn(name = "Lifecycle", type_ = "string", json_path = ".spec.lifecycle"),
    printcolumn(name = "Jurisdictions", type_ = "string", json_path = ".spec.jurisdictions"),
    printcolumn(name = "Local", type_ = "boolean", json_path = ".status.local", priority = 1),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct RegionSpec {
    /// Human-readable name shown in dashboards, e.g. "Europe (Ireland)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub display_name: Option<String>,
    /// Where the region is. The country decides which cross-border transfer rules apply
    /// to data sent here.
    pub location: Location,
    /// Data-protection regimes in force in this region, from the built-in catalogue.
    /// A PiiDatabase may only claim regimes listed here.
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(length(min = 1))]
    pub jurisdictions: Vec<Jurisdiction>,
    /// `Planned`: declared, nothing runs there yet. `Active`: runs data stores and
    /// receives telemetry. `Draining`: being retired, no new data stores, replication
    /// moves away.
    pub lifecycle: Lifecycle,
    /// How to reach this region's telemetry (TimescaleDB/PostgreSQL) server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<RegionTelemetry>,
}

/// Physical location of a region.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, upper case (e.g. `IE`, `FR`, `IN`).
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub country: String,
    /// Cloud provider, informational (e.g. `aws`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub cloud: Option<String>,
    /// The provider's region identifier (e.g. `eu-west-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub cloud_region: Option<String>,
}

/// Lifecycle of a region.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// Declared as a possible future region; nothing runs there.
    Planned,
    /// Runs data stores and receives telemetry.
    Active,
    /// Being retired: no new data stores; traffic and replication move away.
    Draining,
}

impl Lifecycle {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Planned => "Planned",
            Lifecycle::Active => "Active",
            Lifecycle::Draining => "Draining",
        }
    }
}

/// Connection details of a region's telemetry server.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionTelemetry {
    /// Secret (in this region's cluster only) with the administrative connection to the
    /// telemetry server: keys `host`, `port`, `user`, `password`, `dbname`, optional
    /// `sslmode` and `ca.crt`. Other regions' operators never read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret_ref: Option<SecretReference>,
    /// Where peer regions reach this region's boundary database to subscribe to its
    /// anonymized export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_endpoint: Option<PublisherEndpoint>,
}

/// A network endpoint of a boundary database, as seen from other regions.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublisherEndpoint {
    /// Host name or IP address.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// TLS mode peers use to connect: `disable`, `require` or `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<SslMode>,
}

fn default_port() -> i32 {
    5432
}

/// libpq `sslmode` values regionstack supports.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS (loopback and tests only).
    Disable,
    /// TLS without certificate verification.
    Require,
    /// TLS with certificate and host name verification.
    VerifyFull,
}

/// Observed state of a Region.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready`.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// True when this is the region of the operator that wrote the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
    /// Number of PiiDatabases placed in this region (as seen in this cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_databases: Option<i32>,
    /// Number of TelemetryReplicas with this region as source or target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_replicas: Option<i32>,
}
