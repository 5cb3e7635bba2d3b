//! Builders for test fixtures, and the seed topology of DESIGN §1.
//!
//! Compiled for this crate's own tests and, for other crates, behind the `fixtures`
//! cargo feature (enable it from `[dev-dependencies]` only). Every builder starts from
//! a valid, compliant object and each method changes one thing, so a test states only
//! what matters to it:
//!
//! ```
//! use regionstack_api::fixtures::{RegionBuilder, TableBuilder, TelemetryReplicaBuilder, identifier, quasi};
//! use regionstack_api::region::Lifecycle;
//! use regionstack_api::telemetry::TimeUnit;
//! use regionstack_api::Jurisdiction;
//!
//! let region = RegionBuilder::new("eu-west-1")
//!     .country("IE")
//!     .jurisdictions([Jurisdiction::Gdpr])
//!     .lifecycle(Lifecycle::Active)
//!     .build();
//! let replica = TelemetryReplicaBuilder::new("metrics", "eu-west-1")
//!     .target("eu-west-3")
//!     .table(
//!         TableBuilder::new("device_metrics")
//!             .column(quasi("ts").truncate_time(TimeUnit::Hour))
//!             .column(identifier("device_id").hash()),
//!     )
//!     .build();
//! assert_eq!(region.spec.location.country, "IE");
//! assert_eq!(replica.spec.tables[0].columns.len(), 2);
//! ```
//!
//! The builders never validate: they are also how tests make invalid objects.

use crate::common::{Jurisdiction, LocalObjectReference, SecretReference};
use crate::pii::{
    Backup, Enforcement, ExternalDatabase, ManagedDatabase, ObjectStore, PiiDatabase, PiiDatabaseSpec, ReplicaCluster,
    Storage,
};
use crate::region::{Lifecycle, Location, PublisherEndpoint, Region, RegionSpec, RegionTelemetry, SslMode};
use crate::telemetry::{
    ColumnClass, ColumnRule, ReplicaSource, ReplicaTarget, TableExport, TelemetryReplica, TelemetryReplicaSpec,
    TimeUnit, TransferBasis, TransformKind,
};

/// Namespace the namespaced fixtures are created in unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Namespace of the operator's own Secrets in the seed topology.
pub const SYSTEM_NAMESPACE: &str = "regionstack-system";

/// Seed region in Ireland (GDPR, `Active`).
pub const EU_WEST_1: &str = "eu-west-1";
/// Seed region in France (GDPR and FDPA, `Active`).
pub const EU_WEST_3: &str = "eu-west-3";
/// Seed region in India (DPDP, `Planned`).
pub const AP_SOUTH_1: &str = "ap-south-1";

/// Builds a [`Region`]. Defaults: country `IE`, jurisdiction GDPR, `Active`, cloud
/// `aws` with the region's name as the provider region, no telemetry connection.
#[derive(Clone, Debug)]
#[must_use]
pub struct RegionBuilder {
    name: String,
    spec: RegionSpec,
}

impl RegionBuilder {
    /// A builder for the Region called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let spec = RegionSpec {
            display_name: None,
            location: Location {
                country: "IE".to_owned(),
                cloud: Some("aws".to_owned()),
                cloud_region: Some(name.clone()),
            },
            jurisdictions: vec![Jurisdiction::Gdpr],
            lifecycle: Lifecycle::Active,
            telemetry: None,
        };
        Self { name, spec }
    }

    /// Set the human-readable name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.spec.display_name = Some(display_name.into());
        self
    }

    /// Set the ISO 3166-1 alpha-2 country code (not validated).
    pub fn country(mut self, country: impl Into<String>) -> Self {
        self.spec.location.country = country.into();
        self
    }

    /// Set the cloud provider and its region identifier.
    pub fn cloud(mut self, cloud: impl Into<String>, cloud_region: impl Into<String>) -> Self {
        self.spec.location.cloud = Some(cloud.into());
        self.spec.location.cloud_region = Some(cloud_region.into());
        self
    }

    /// Replace the jurisdictions in force (an empty list is allowed here, though the
    /// CRD schema refuses it).
    pub fn jurisdictions(mut self, jurisdictions: impl IntoIterator<Item = Jurisdiction>) -> Self {
        self.spec.jurisdictions = jurisdictions.into_iter().collect();
        self
    }

    /// Set the lifecycle.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.spec.lifecycle = lifecycle;
        self
    }

    /// Declare the Secret (in `namespace` of this region's cluster) with the telemetry
    /// server's administrative connection.
    pub fn telemetry_secret(mut self, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        self.spec.telemetry.get_or_insert_with(empty_telemetry).connection_secret_ref =
            Some(SecretReference { namespace: namespace.into(), name: name.into() });
        self
    }

    /// Declare where peers reach this region's boundary database (`verify-full` TLS).
    pub fn publisher_endpoint(mut self, host: impl Into<String>, port: i32) -> Self {
        self.spec.telemetry.get_or_insert_with(empty_telemetry).publisher_endpoint =
            Some(PublisherEndpoint { host: host.into(), port, ssl_mode: Some(SslMode::VerifyFull) });
        self
    }

    /// Change anything else in the spec.
    pub fn edit(mut self, f: impl FnOnce(&mut RegionSpec)) -> Self {
        f(&mut self.spec);
        self
    }

    /// The Region.
    pub fn build(self) -> Region {
        Region::new(&self.name, self.spec)
    }
}

fn empty_telemetry() -> RegionTelemetry {
    RegionTelemetry { connection_secret_ref: None, publisher_endpoint: None }
}

/// Builds a [`PiiDatabase`]. Defaults: namespace `default`, no compliance regime, a
/// managed CloudNativePG cluster of 3 instances with 10Gi of storage, no backup and no
/// replica cluster, `Enforce` mode.
#[derive(Clone, Debug)]
#[must_use]
pub struct PiiDatabaseBuilder {
    name: String,
    namespace: String,
    spec: PiiDatabaseSpec,
}

impl PiiDatabaseBuilder {
    /// A builder for the PiiDatabase `name` placed in `region`.
    pub fn new(name: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            spec: PiiDatabaseSpec {
                region: region.into(),
                compliance: Vec::new(),
                managed: Some(default_managed()),
                external: None,
                enforcement: Enforcement::Enforce,
            },
        }
    }

    /// Set the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Replace the regimes the data falls under.
    pub fn compliance(mut self, compliance: impl IntoIterator<Item = Jurisdiction>) -> Self {
        self.spec.compliance = compliance.into_iter().collect();
        self
    }

    /// Provision a managed cluster of `instances` (replacing `external`).
    pub fn managed(mut self, instances: i32) -> Self {
        self.spec.external = None;
        self.spec.managed.get_or_insert_with(default_managed).instances = instances;
        self
    }

    /// Use an existing server reached through the Secret `secret` (replacing
    /// `managed`).
    pub fn external(mut self, secret: impl Into<String>) -> Self {
        self.spec.managed = None;
        self.spec.external =
            Some(ExternalDatabase { connection_secret_ref: LocalObjectReference { name: secret.into() } });
        self
    }

    /// Back the managed cluster up to a bucket located in `region` (creating the
    /// managed section when missing).
    pub fn backup_in(mut self, region: impl Into<String>) -> Self {
        let region = region.into();
        let destination_path = format!("s3://pii-backups-{region}/{}", self.name);
        self.spec.managed.get_or_insert_with(default_managed).backup = Some(Backup {
            object_store: ObjectStore {
                region,
                destination_path,
                endpoint_url: None,
                credentials_secret_ref: LocalObjectReference { name: "backup-credentials".to_owned() },
            },
            retention_policy: Some("30d".to_owned()),
        });
        self
    }

    /// Add a replica cluster named `name` running in `region` (creating the managed
    /// section when missing).
    pub fn replica_cluster(mut self, name: impl Into<String>, region: impl Into<String>) -> Self {
        self.spec
            .managed
            .get_or_insert_with(default_managed)
            .replica_clusters
            .push(ReplicaCluster { name: name.into(), region: region.into() });
        self
    }

    /// Set the enforcement mode.
    pub fn enforcement(mut self, enforcement: Enforcement) -> Self {
        self.spec.enforcement = enforcement;
        self
    }

    /// Change anything else in the spec (e.g. set both `managed` and `external`).
    pub fn edit(mut self, f: impl FnOnce(&mut PiiDatabaseSpec)) -> Self {
        f(&mut self.spec);
        self
    }

    /// The PiiDatabase.
    pub fn build(self) -> PiiDatabase {
        let mut db = PiiDatabase::new(&self.name, self.spec);
        db.metadata.namespace = Some(self.namespace);
        db
    }
}

fn default_managed() -> ManagedDatabase {
    ManagedDatabase {
        instances: 3,
        image_name: None,
        storage: Storage { size: "10Gi".to_owned(), storage_class: None },
        backup: None,
        replica_clusters: Vec::new(),
    }
}

/// Builds one [`ColumnRule`]. Starts as `drop`; the transform methods set the transform
/// together with its parameters (clearing the others), the parameter methods set one
/// parameter and nothing else (for rules that the API server would refuse).
#[derive(Clone, Debug)]
#[must_use]
pub struct ColumnBuilder {
    rule: ColumnRule,
}

/// A column of class `identifier` (e-mail, user id…), dropped until told otherwise.
pub fn identifier(name: impl Into<String>) -> ColumnBuilder {
    ColumnBuilder::new(name, ColumnClass::Identifier)
}

/// A column of class `quasi` (timestamp, location, IP…), dropped until told otherwise.
pub fn quasi(name: impl Into<String>) -> ColumnBuilder {
    ColumnBuilder::new(name, ColumnClass::Quasi)
}

/// A column of class `none` (a measurement), dropped until told otherwise.
pub fn measurement(name: impl Into<String>) -> ColumnBuilder {
    ColumnBuilder::new(name, ColumnClass::None)
}

impl ColumnBuilder {
    /// A rule for column `name` of `class`, with transform `drop`.
    pub fn new(name: impl Into<String>, class: ColumnClass) -> Self {
        Self {
            rule: ColumnRule {
                name: name.into(),
                class,
                transform: TransformKind::Drop,
                unit: None,
                ipv4_bits: None,
                ipv6_bits: None,
                digits: None,
                characters: None,
            },
        }
    }

    fn with(mut self, transform: TransformKind) -> Self {
        self.rule.transform = transform;
        self.rule.unit = None;
        self.rule.ipv4_bits = None;
        self.rule.ipv6_bits = None;
        self.rule.digits = None;
        self.rule.characters = None;
        self
    }

    /// Not exported.
    pub fn drop(self) -> Self {
        self.with(TransformKind::Drop)
    }

    /// Exported unchanged.
    pub fn keep(self) -> Self {
        self.with(TransformKind::Keep)
    }

    /// Exported as an HMAC-SHA256.
    pub fn hash(self) -> Self {
        self.with(TransformKind::Hash)
    }

    /// Timestamps truncated to `unit`.
    pub fn truncate_time(self, unit: TimeUnit) -> Self {
        let mut b = self.with(TransformKind::TruncateTime);
        b.rule.unit = Some(unit);
        b
    }

    /// Addresses reduced to their `v4`/`v6`-bit network prefix.
    pub fn ip_prefix(self, v4: i32, v6: i32) -> Self {
        let mut b = self.with(TransformKind::IpPrefix);
        b.rule.ipv4_bits = Some(v4);
        b.rule.ipv6_bits = Some(v6);
        b
    }

    /// Numbers rounded to `digits` decimal digits.
    pub fn round(self, digits: i32) -> Self {
        let mut b = self.with(TransformKind::Round);
        b.rule.digits = Some(digits);
        b
    }

    /// Text cut to its first `characters` characters.
    pub fn prefix(self, characters: i32) -> Self {
        let mut b = self.with(TransformKind::Prefix);
        b.rule.characters = Some(characters);
        b
    }

    /// Set the transform alone, keeping whatever parameters are set.
    pub fn transform(mut self, transform: TransformKind) -> Self {
        self.rule.transform = transform;
        self
    }

    /// Set the class.
    pub fn class(mut self, class: ColumnClass) -> Self {
        self.rule.class = class;
        self
    }

    /// Set or clear the `unit` parameter alone.
    pub fn unit(mut self, unit: Option<TimeUnit>) -> Self {
        self.rule.unit = unit;
        self
    }

    /// Set or clear the `ipv4Bits` parameter alone.
    pub fn ipv4_bits(mut self, bits: Option<i32>) -> Self {
        self.rule.ipv4_bits = bits;
        self
    }

    /// Set or clear the `ipv6Bits` parameter alone.
    pub fn ipv6_bits(mut self, bits: Option<i32>) -> Self {
        self.rule.ipv6_bits = bits;
        self
    }

    /// Set or clear the `digits` parameter alone.
    pub fn digits(mut self, digits: Option<i32>) -> Self {
        self.rule.digits = digits;
        self
    }

    /// Set or clear the `characters` parameter alone.
    pub fn characters(mut self, characters: Option<i32>) -> Self {
        self.rule.characters = characters;
        self
    }

    /// The column rule.
    pub fn build(self) -> ColumnRule {
        self.rule
    }
}

impl From<ColumnBuilder> for ColumnRule {
    fn from(b: ColumnBuilder) -> Self {
        b.build()
    }
}

/// Builds one exported table ([`TableExport`]). Defaults: schema `public`, no row
/// filter, no columns.
#[derive(Clone, Debug)]
#[must_use]
pub struct TableBuilder {
    table: TableExport,
}

impl TableBuilder {
    /// A builder for table `name` in schema `public`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            table: TableExport {
                schema: "public".to_owned(),
                name: name.into(),
                row_filter: None,
                columns: Vec::new(),
            },
        }
    }

    /// Set the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.table.schema = schema.into();
        self
    }

    /// Set the row filter text.
    pub fn row_filter(mut self, row_filter: impl Into<String>) -> Self {
        self.table.row_filter = Some(row_filter.into());
        self
    }

    /// Add one column rule.
    pub fn column(mut self, column: impl Into<ColumnRule>) -> Self {
        self.table.columns.push(column.into());
        self
    }

    /// Add several column rules.
    pub fn columns<C: Into<ColumnRule>>(mut self, columns: impl IntoIterator<Item = C>) -> Self {
        self.table.columns.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Change the rule of the column `name` (panics when there is none: a fixture bug).
    pub fn edit_column(mut self, name: &str, f: impl FnOnce(ColumnBuilder) -> ColumnBuilder) -> Self {
        let rule = self
            .table
            .columns
            .iter_mut()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("table {} has no column {name:?}", self.table.name));
        *rule = f(ColumnBuilder { rule: rule.clone() }).build();
        self
    }

    /// Remove the rule of the column `name`, if any.
    pub fn without_column(mut self, name: &str) -> Self {
        self.table.columns.retain(|c| c.name != name);
        self
    }

    /// The table export.
    pub fn build(self) -> TableExport {
        self.table
    }
}

impl From<TableBuilder> for TableExport {
    fn from(b: TableBuilder) -> Self {
        b.build()
    }
}

/// The device telemetry table of the seed topology, `public.device_metrics`:
///
/// | column | class | transform |
/// |---|---|---|
/// | `ts` | quasi | `truncateTime` hour |
/// | `device_id` | identifier | `hash` |
/// | `user_id` | identifier | `hash` |
/// | `email` | identifier | `drop` |
/// | `client_ip` | quasi | `ipPrefix` 24/48 |
/// | `latitude`, `longitude` | quasi | `round` 1 |
/// | `firmware` | none | `keep` |
/// | `temperature`, `battery` | none | `keep` |
///
/// Hashed identifiers make it pseudonymous.
pub fn device_telemetry_table() -> TableBuilder {
    TableBuilder::new("device_metrics")
        .column(quasi("ts").truncate_time(TimeUnit::Hour))
        .column(identifier("device_id").hash())
        .column(identifier("user_id").hash())
        .column(identifier("email").drop())
        .column(quasi("client_ip").ip_prefix(24, 48))
        .column(quasi("latitude").round(1))
        .column(quasi("longitude").round(1))
        .column(measurement("firmware").keep())
        .column(measurement("temperature").keep())
        .column(measurement("battery").keep())
}

/// The device telemetry table with every identifier dropped: anonymous.
pub fn anonymous_telemetry_table() -> TableBuilder {
    device_telemetry_table().edit_column("device_id", ColumnBuilder::drop).edit_column("user_id", ColumnBuilder::drop)
}

/// Builds a [`TelemetryReplica`]. Defaults: namespace `default`, source database
/// `telemetry`, no target, no table, no transfer basis, replication credentials in the
/// Secret `<name>-replication`.
#[derive(Clone, Debug)]
#[must_use]
pub struct TelemetryReplicaBuilder {
    name: String,
    namespace: String,
    spec: TelemetryReplicaSpec,
}

impl TelemetryReplicaBuilder {
    /// A builder for the TelemetryReplica `name` exporting from `source_region`.
    pub fn new(name: impl Into<String>, source_region: impl Into<String>) -> Self {
        let name = name.into();
        let secret = format!("{name}-replication");
        Self {
            name,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            spec: TelemetryReplicaSpec {
                source: ReplicaSource { region: source_region.into(), database: "telemetry".to_owned() },
                targets: Vec::new(),
                tables: Vec::new(),
                transfer_basis: None,
                replication_credentials: LocalObjectReference { name: secret },
            },
        }
    }

    /// Set the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Set the source database on the source region's telemetry server.
    pub fn source_database(mut self, database: impl Into<String>) -> Self {
        self.spec.source.database = database.into();
        self
    }

    /// Add a target region (rows stay in `regionstack_import`).
    pub fn target(mut self, region: impl Into<String>) -> Self {
        self.spec.targets.push(ReplicaTarget { region: region.into(), destination: None });
        self
    }

    /// Add a target region whose imported rows are routed into `destination`
    /// (`schema.table`).
    pub fn target_into(mut self, region: impl Into<String>, destination: impl Into<String>) -> Self {
        self.spec.targets.push(ReplicaTarget { region: region.into(), destination: Some(destination.into()) });
        self
    }

    /// Add several target regions.
    pub fn targets<S: Into<String>>(self, regions: impl IntoIterator<Item = S>) -> Self {
        regions.into_iter().fold(self, Self::target)
    }

    /// Add an exported table.
    pub fn table(mut self, table: impl Into<TableExport>) -> Self {
        self.spec.tables.push(table.into());
        self
    }

    /// Declare the legal basis for pseudonymous transfers.
    pub fn transfer_basis(mut self, basis: TransferBasis) -> Self {
        self.spec.transfer_basis = Some(basis);
        self
    }

    /// Set the name of the replication credentials Secret.
    pub fn replication_credentials(mut self, secret: impl Into<String>) -> Self {
        self.spec.replication_credentials = LocalObjectReference { name: secret.into() };
        self
    }

    /// Change anything else in the spec.
    pub fn edit(mut self, f: impl FnOnce(&mut TelemetryReplicaSpec)) -> Self {
        f(&mut self.spec);
        self
    }

    /// The TelemetryReplica.
    pub fn build(self) -> TelemetryReplica {
        let mut replica = TelemetryReplica::new(&self.name, self.spec);
        replica.metadata.namespace = Some(self.namespace);
        replica
    }
}

/// The objects of the seed topology, as they would be applied to every cluster.
#[derive(Clone, Debug)]
pub struct SeedTopology {
    /// eu-west-1 (IE, GDPR, Active), eu-west-3 (FR, GDPR + FDPA, Active), ap-south-1
    /// (IN, DPDP, Planned).
    pub regions: Vec<Region>,
    /// One PiiDatabase `customers-<region>` in each Active region, managed, backed up
    /// in its own region, under that region's regimes.
    pub pii_databases: Vec<PiiDatabase>,
    /// `device-telemetry-eu-west-1` (eu-west-1 → eu-west-3) and
    /// `device-telemetry-eu-west-3` (eu-west-3 → eu-west-1), both exporting
    /// [`device_telemetry_table`] (pseudonymous, within the EEA).
    pub replicas: Vec<TelemetryReplica>,
}

/// A seed Region with its telemetry connection declared.
fn seed_region(name: &str, display_name: &str) -> RegionBuilder {
    RegionBuilder::new(name)
        .display_name(display_name)
        .telemetry_secret(SYSTEM_NAMESPACE, "telemetry-admin")
        .publisher_endpoint(format!("boundary.{name}.telemetry.example.com"), 5432)
}

/// The deployment of DESIGN §1: three regions, a PII database in each Active one, and
/// anonymized device telemetry replicated both ways between the two EU regions. Fully
/// compliant.
pub fn seed_topology() -> SeedTopology {
    use Jurisdiction::{Dpdp, Fdpa, Gdpr};
    let regions = vec![
        seed_region(EU_WEST_1, "Europe (Ireland)").country("IE").jurisdictions([Gdpr]).lifecycle(Lifecycle::Active),
        seed_region(EU_WEST_3, "Europe (Paris)").country("FR").jurisdictions([Gdpr, Fdpa]).lifecycle(Lifecycle::Active),
        seed_region(AP_SOUTH_1, "Asia Pacific (Mumbai)")
            .country("IN")
            .jurisdictions([Dpdp])
            .lifecycle(Lifecycle::Planned),
    ]
    .into_iter()
    .map(RegionBuilder::build)
    .collect::<Vec<_>>();
    let pii_databases = regions
        .iter()
        .filter(|r| r.spec.lifecycle == Lifecycle::Active)
        .map(|r| {
            let region = r.metadata.name.clone().unwrap_or_default();
            PiiDatabaseBuilder::new(format!("customers-{region}"), region.clone())
                .compliance(r.spec.jurisdictions.iter().copied())
                .managed(3)
                .backup_in(region)
                .build()
        })
        .collect();
    let replicas = [(EU_WEST_1, EU_WEST_3), (EU_WEST_3, EU_WEST_1)]
        .into_iter()
        .map(|(source, target)| {
            TelemetryReplicaBuilder::new(format!("device-telemetry-{source}"), source)
                .target(target)
                .table(device_telemetry_table())
                .build()
        })
        .collect();
    SeedTopology { regions, pii_databases, replicas }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_topology_has_the_shape_of_design_section_1() {
        let seed = seed_topology();
        let regions: Vec<_> = seed
            .regions
            .iter()
            .map(|r| (r.metadata.name.as_deref().unwrap(), r.spec.location.country.as_str(), r.spec.lifecycle))
            .collect();
        assert_eq!(
            regions,
            [
                (EU_WEST_1, "IE", Lifecycle::Active),
                (EU_WEST_3, "FR", Lifecycle::Active),
                (AP_SOUTH_1, "IN", Lifecycle::Planned)
            ]
        );
        assert_eq!(seed.regions[1].spec.jurisdictions, [Jurisdiction::Gdpr, Jurisdiction::Fdpa]);
        let dbs: Vec<_> = seed.pii_databases.iter().map(|d| d.spec.region.as_str()).collect();
        assert_eq!(dbs, [EU_WEST_1, EU_WEST_3]);
        let replicas: Vec<_> =
            seed.replicas.iter().map(|r| (r.spec.source.region.as_str(), r.spec.targets[0].region.as_str())).collect();
        assert_eq!(replicas, [(EU_WEST_1, EU_WEST_3), (EU_WEST_3, EU_WEST_1)]);
        assert!(seed.replicas.iter().all(|r| r.metadata.namespace.as_deref() == Some(DEFAULT_NAMESPACE)));
    }

    #[test]
    fn seed_objects_round_trip_through_json() {
        let seed = seed_topology();
        for r in &seed.regions {
            let back: Region = serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
            assert_eq!(back.spec, r.spec);
        }
        for d in &seed.pii_databases {
            let back: PiiDatabase = serde_json::from_value(serde_json::to_value(d).unwrap()).unwrap();
            assert_eq!(back.spec, d.spec);
        }
        for t in &seed.replicas {
            let back: TelemetryReplica = serde_json::from_value(serde_json::to_value(t).unwrap()).unwrap();
            assert_eq!(back.spec, t.spec);
        }
    }

    #[test]
    fn transform_methods_clear_other_parameters() {
        let rule = quasi("x").round(2).ip_prefix(24, 48).build();
        assert_eq!(rule.transform, TransformKind::IpPrefix);
        assert_eq!((rule.digits, rule.ipv4_bits, rule.ipv6_bits), (None, Some(24), Some(48)));
        let stray = quasi("x").round(2).unit(Some(TimeUnit::Day)).build();
        assert_eq!((stray.digits, stray.unit), (Some(2), Some(TimeUnit::Day)));
    }

    #[test]
    fn device_table_resolves_and_wire_form_matches_design() {
        let table = device_telemetry_table().build();
        assert!(table.columns.iter().all(|c| c.resolve().is_ok()));
        let ts = serde_json::to_value(&table.columns[0]).unwrap();
        assert_eq!(
            ts,
            serde_json::json!({"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "hour"})
        );
        let ip = serde_json::to_value(&table.columns[4]).unwrap();
        assert_eq!(
            ip,
            serde_json::json!({"name": "client_ip", "class": "quasi", "transform": "ipPrefix", "ipv4Bits": 24, "ipv6Bits": 48})
        );
    }
}
