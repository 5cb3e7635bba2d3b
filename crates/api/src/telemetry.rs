//! `TelemetryReplica` (namespaced): anonymized replication of telemetry tables from a
//! source region to target regions. Every exported column carries an explicit rule;
//! the source operator builds the boundary export, each target operator its import.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::LocalObjectReference;
use crate::condition::Condition;

/// Anonymized replication of telemetry tables from one region to others.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "regionstack.io",
    version = "v1alpha1",
    kind = "TelemetryReplica",
    namespaced,
    status = "TelemetryReplicaStatus",
    shortname = "telrep",
    category = "regionstack",
    doc = "Anonymized replication of telemetry tables from a source region to target regions.",
    printcolumn(name = "Source", type_ = "string", json_path = ".spec.source.region"),
    printcolumn(name = "Targets", type_ = "string", json_path = ".spec.targets[*].region"),
    printcolumn(name = "Data class", type_ = "string", json_path = ".status.dataClass"),
    printcolumn(name = "Side", type_ = "string", json_path = ".status.side", priority = 1),
    printcolumn(
        name = "Compliant",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"ResidencyCompliant\")].status"
    ),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryReplicaSpec {
    /// Where the telemetry is written by the application.
    pub source: ReplicaSource,
    /// Regions that receive the anonymized export. At least one, no region twice.
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["region".into()]),
        validation = Rule::new("self.all(t, self.exists_one(u, u.region == t.region))").message("a target region is listed more than once")
    )]
    #[schemars(length(min = 1, max = 16))]
    pub targets: Vec<ReplicaTarget>,
    /// Source tables to export, each with a rule for every column it exports.
    #[schemars(length(min = 1, max = 64))]
    pub tables: Vec<TableExport>,
    /// Legal basis declared for pseudonymous (hashed) data going to a country its
    /// source regimes do not allow by default. Not needed for anonymous data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_basis: Option<TransferBasis>,
    /// Secret, with the same name in the source and every target cluster, holding the
    /// replication login of this replica's publication (keys `username`, `password`).
    /// It can read this replica's export tables and nothing else.
    pub replication_credentials: LocalObjectReference,
}

/// The source side of a replica.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSource {
    /// Region whose telemetry server holds the source tables.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub region: String,
    /// Database on the telemetry server that holds the source tables.
    #[serde(default = "default_source_database")]
    #[schemars(length(min = 1, max = 63))]
    pub database: String,
}

fn default_source_database() -> String {
    "telemetry".to_owned()
}

/// One receiving region.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaTarget {
    /// Name of the target Region.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub region: String,
    /// Table in the target's telemetry database that imported rows are routed into
    /// (`schema.table`); rows stay in `regionstack_import` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 127))]
    pub destination: Option<String>,
}

/// One exported source table.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableExport {
    /// Schema of the source table.
    #[serde(default = "default_schema")]
    #[schemars(length(min = 1, max = 63))]
    pub schema: String,
    /// Name of the source table.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Optional single SQL boolean expression selecting the rows to export, over
    /// declared columns only: comparisons, AND/OR/NOT, IN, BETWEEN, IS [NOT] NULL,
    /// LIKE and literals. No function calls or subqueries. It is parsed, never pasted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub row_filter: Option<String>,
    /// A rule for every column of the source table. Columns not listed are not
    /// exported, and a column added to the table later is reported, not exported.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(min = 1, max = 256))]
    pub columns: Vec<ColumnRule>,
}

fn default_schema() -> String {
    "public".to_owned()
}

/// How one column is classified and transformed before it leaves the region.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.transform == 'truncateTime' ? has(self.unit) : !has(self.unit)").message("unit is required with transform truncateTime and allowed with no other").field_path(".unit"),
    validation = Rule::new("self.transform == 'ipPrefix' ? (has(self.ipv4Bits) && has(self.ipv6Bits)) : !(has(self.ipv4Bits) || has(self.ipv6Bits))").message("ipv4Bits and ipv6Bits are required with transform ipPrefix and allowed with no other"),
    validation = Rule::new("self.transform == 'round' ? has(self.digits) : !has(self.digits)").message("digits is required with transform round and allowed with no other").field_path(".digits"),
    validation = Rule::new("self.transform == 'prefix' ? has(self.characters) : !has(self.characters)").message("characters is required with transform prefix and allowed with no other").field_path(".characters")
)]
pub struct ColumnRule {
    /// Column name in the source table.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Data class: `identifier` (e-mail, user id, phone), `quasi` (postcode, birth
    /// date, location, timestamp, IP address) or `none` (measurements).
    pub class: ColumnClass,
    /// What leaves the region. `identifier`: `drop` or `hash`. `quasi`: `drop`, `hash`
    /// or a generalizing transform. `none`: `keep` or any transform.
    pub transform: TransformKind,
    /// `truncateTime` only: the unit timestamps are truncated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<TimeUnit>,
    /// `ipPrefix` only: IPv4 prefix length kept (0–32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 32))]
    pub ipv4_bits: Option<i32>,
    /// `ipPrefix` only: IPv6 prefix length kept (0–128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 128))]
    pub ipv6_bits: Option<i32>,
    /// `round` only: decimal digits kept (negative rounds to tens, hundreds…), -6 to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -6, max = 10))]
    pub digits: Option<i32>,
    /// `prefix` only: leading characters kept (1–255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 255))]
    pub characters: Option<i32>,
}

/// Data class of a column.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum ColumnClass {
    /// Directly identifies a person (e-mail, user id, phone number).
    Identifier,
    /// Identifies a person in combination (postcode, birth date, location, timestamp, IP).
    Quasi,
    /// Not personal (measurements).
    None,
}

/// Transform applied to a column at the boundary.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum TransformKind {
    /// Not exported at all.
    Drop,
    /// Exported unchanged.
    Keep,
    /// HMAC-SHA256 with a key that exists only in the source region's boundary database.
    Hash,
    /// Timestamp truncated to `unit`.
    TruncateTime,
    /// IP address reduced to its network prefix.
    IpPrefix,
    /// Number rounded to `digits`.
    Round,
    /// Text reduced to its first `characters` characters.
    Prefix,
}

/// Units for `truncateTime` (PostgreSQL `date_trunc` fields).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum TimeUnit {
    /// Truncate to the minute.
    Minute,
    /// Truncate to the hour.
    Hour,
    /// Truncate to the day.
    Day,
    /// Truncate to the ISO week.
    Week,
    /// Truncate to the month.
    Month,
    /// Truncate to the year.
    Year,
}

impl TimeUnit {
    /// The `date_trunc` field name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }
}

/// A column rule resolved into one typed transform, parameters included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// Not exported.
    Drop,
    /// Exported unchanged.
    Keep,
    /// HMAC-SHA256, hex.
    Hash,
    /// `date_trunc(unit, value)`.
    TruncateTime(TimeUnit),
    /// Network prefix of an address.
    IpPrefix {
        /// IPv4 prefix length.
        v4: i32,
        /// IPv6 prefix length.
        v6: i32,
    },
    /// `round(value, digits)`.
    Round(i32),
    /// `left(value, n)`.
    Prefix(i32),
}

impl Transform {
    /// True when the output still carries the raw value.
    pub fn is_raw(self) -> bool {
        matches!(self, Transform::Keep)
    }

    /// True for the generalizing transforms (`truncateTime`, `ipPrefix`, `round`,
    /// `prefix`).
    pub fn is_generalizing(self) -> bool {
        matches!(
            self,
            Transform::TruncateTime(_) | Transform::IpPrefix { .. } | Transform::Round(_) | Transform::Prefix(_)
        )
    }
}

impl ColumnRule {
    /// Resolve the flat wire form into a typed transform, checking that the transform's
    /// parameters are present, in range and not given to another transform. The API
    /// server enforces the same with CEL; this keeps offline checks equally strict.
    pub fn resolve(&self) -> Result<Transform, String> {
        let extra = |allowed: &[&str]| -> Result<(), String> {
            let given = [
                ("unit", self.unit.is_some()),
                ("ipv4Bits", self.ipv4_bits.is_some()),
                ("ipv6Bits", self.ipv6_bits.is_some()),
                ("digits", self.digits.is_some()),
                ("characters", self.characters.is_some()),
            ];
            match given.iter().find(|(name, set)| *set && !allowed.contains(name)) {
                Some((name, _)) => Err(format!("{name} is not a parameter of transform {}", self.transform.as_str())),
                None => Ok(()),
            }
        };
        let missing = |name: &str| format!("transform {} needs {name}", self.transform.as_str());
        match self.transform {
            TransformKind::Drop => extra(&[]).map(|()| Transform::Drop),
            TransformKind::Keep => extra(&[]).map(|()| Transform::Keep),
            TransformKind::Hash => extra(&[]).map(|()| Transform::Hash),
            TransformKind::TruncateTime => {
                extra(&["unit"])?;
                self.unit.map(Transform::TruncateTime).ok_or_else(|| missing("unit"))
            }
            TransformKind::IpPrefix => {
                extra(&["ipv4Bits", "ipv6Bits"])?;
                let v4 = self.ipv4_bits.ok_or_else(|| missing("ipv4Bits"))?;
                let v6 = self.ipv6_bits.ok_or_else(|| missing("ipv6Bits"))?;
                if !(0..=32).contains(&v4) || !(0..=128).contains(&v6) {
                    return Err(format!("ipPrefix lengths out of range (ipv4Bits 0-32, ipv6Bits 0-128): {v4}/{v6}"));
                }
                Ok(Transform::IpPrefix { v4, v6 })
            }
            TransformKind::Round => {
                extra(&["digits"])?;
                let digits = self.digits.ok_or_else(|| missing("digits"))?;
                if !(-6..=10).contains(&digits) {
                    return Err(format!("round digits out of range (-6 to 10): {digits}"));
                }
                Ok(Transform::Round(digits))
            }
            TransformKind::Prefix => {
                extra(&["characters"])?;
                let n = self.characters.ok_or_else(|| missing("characters"))?;
                if !(1..=255).contains(&n) {
                    return Err(format!("prefix characters out of range (1-255): {n}"));
                }
                Ok(Transform::Prefix(n))
            }
        }
    }
}

impl TransformKind {
    /// Every transform, in declaration order (for table tests and generators).
    pub const ALL: [TransformKind; 7] = [
        TransformKind::Drop,
        TransformKind::Keep,
        TransformKind::Hash,
        TransformKind::TruncateTime,
        TransformKind::IpPrefix,
        TransformKind::Round,
        TransformKind::Prefix,
    ];

    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            TransformKind::Drop => "drop",
            TransformKind::Keep => "keep",
            TransformKind::Hash => "hash",
            TransformKind::TruncateTime => "truncateTime",
            TransformKind::IpPrefix => "ipPrefix",
            TransformKind::Round => "round",
            TransformKind::Prefix => "prefix",
        }
    }
}

impl ColumnClass {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnClass::Identifier => "identifier",
            ColumnClass::Quasi => "quasi",
            ColumnClass::None => "none",
        }
    }
}

/// A legal basis for transferring pseudonymous data to a country without an adequacy
/// decision (GDPR Art. 46).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferBasis {
    /// Standard contractual clauses adopted by the Commission (Art. 46(2)(c)).
    StandardContractualClauses,
    /// Binding corporate rules approved by a supervisory authority (Art. 47).
    BindingCorporateRules,
    /// An approved code of conduct with binding commitments (Art. 46(2)(e)).
    CodeOfConduct,
    /// An approved certification mechanism (Art. 46(2)(f)).
    Certification,
    /// The recipient is certified under the EU-US Data Privacy Framework.
    DataPrivacyFramework,
}

impl TransferBasis {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferBasis::StandardContractualClauses => "StandardContractualClauses",
            TransferBasis::BindingCorporateRules => "BindingCorporateRules",
            TransferBasis::CodeOfConduct => "CodeOfConduct",
            TransferBasis::Certification => "Certification",
            TransferBasis::DataPrivacyFramework => "DataPrivacyFramework",
        }
    }
}

/// What an exported table carries, in the sense of DESIGN §5.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum DataClass {
    /// No column identifies anyone, even in combination with the key.
    Anonymous,
    /// Some column is hashed: personal data in law (GDPR recital 26).
    Pseudonymous,
    /// An identifier or quasi-identifier is kept raw; never exported.
    Personal,
}

impl DataClass {
    /// The name used in status.
    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Anonymous => "anonymous",
            DataClass::Pseudonymous => "pseudonymous",
            DataClass::Personal => "personal",
        }
    }
}

/// Which side of a replica this cluster's operator serves.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaSide {
    /// The source region: builds the boundary export and its publication.
    Source,
    /// A target region: builds the import and its subscription.
    Target,
    /// Neither source nor target: nothing is built here.
    NotInvolved,
}

/// Observed state of one target of a replica.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    /// Target region.
    pub region: String,
    /// Whether the transfer to this target is permitted by policy.
    pub permitted: bool,
    /// The basis the transfer relies on: `Anonymous`, `EEA`, `Adequacy`, `Unrestricted`
    /// or a declared transfer basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_basis: Option<String>,
    /// Subscription name in the target's telemetry database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// Replication lag in bytes of WAL not yet confirmed by the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<i64>,
}

/// Observed state of a TelemetryReplica, for the side served in this cluster.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryReplicaStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of this cluster's side: `Ready` and `ResidencyCompliant`.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The side this cluster's operator serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<ReplicaSide>,
    /// Data class of what travels: `anonymous` or `pseudonymous` (never `personal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_class: Option<DataClass>,
    /// Name of the cross-region publication in the source's boundary database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<String>,
    /// Per-target transfer decision, subscription and lag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["region".into()]))]
    pub targets: Vec<TargetStatus>,
}
