//! Evaluation of resources against the residency rules, given the Regions they refer
//! to. Each function is pure: the operator calls them with objects from its caches,
//! `regionstack check` with objects read from manifests, and both get the same answer.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;
use regionstack_api::pii::PiiDatabaseSpec;
use regionstack_api::region::{Lifecycle, RegionSpec};
use regionstack_api::telemetry::{ColumnClass, DataClass, TableExport, TelemetryReplicaSpec};
use regionstack_api::{PiiDatabase, ReasonCode, Region, TelemetryReplica};

use crate::catalogue::{Basis, Catalogue, TransferDecision};
use crate::classify::{check_column, table_class};
use crate::identifier::{validate_identifier, validate_source_schema};
use crate::row_filter::RowFilter;

/// One reason a resource is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable reason code.
    pub code: ReasonCode,
    /// Human-readable explanation; names the field or object concerned.
    pub message: String,
}

impl Finding {
    fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Regions by name, as the policy sees them.
#[derive(Clone, Debug, Default)]
pub struct RegionIndex<'a> {
    regions: BTreeMap<&'a str, &'a RegionSpec>,
}

impl<'a> RegionIndex<'a> {
    /// Index `(name, spec)` pairs.
    pub fn new(regions: impl IntoIterator<Item = (&'a str, &'a RegionSpec)>) -> Self {
        Self { regions: regions.into_iter().collect() }
    }

    /// Index Region objects by `metadata.name`.
    pub fn from_regions(regions: &'a [Region]) -> Self {
        Self::new(regions.iter().filter_map(|r| r.metadata.name.as_deref().map(|n| (n, &r.spec))))
    }

    /// The spec of a Region, if it exists.
    pub fn get(&self, name: &str) -> Option<&'a RegionSpec> {
        self.regions.get(name).copied()
    }

    fn require_active(&self, what: &str, name: &str, findings: &mut Vec<Finding>) -> Option<&'a RegionSpec> {
        match self.get(name) {
            None => {
                findings.push(Finding::new(
                    ReasonCode::UnknownRegion,
                    format!("{what} region {name:?} is not a known Region"),
                ));
                None
            }
            Some(r) if r.lifecycle != Lifecycle::Active => {
                findings.push(Finding::new(
                    ReasonCode::RegionNotActive,
                    format!("{what} region {name:?} is {}, not Active", r.lifecycle.as_str()),
                ));
                None
            }
            Some(r) => Some(r),
        }
    }
}

/// Findings for a Region: what its schema cannot check. Every regime declared in force
/// must be in force in the Region's country; territorial regimes (FDPA is French law,
/// DPDP Indian, GDPR the EEA's) declared elsewhere would make the policy reason about
/// rules that do not apply there. One `InvalidSpec` finding per misplaced regime.
pub fn evaluate_region(spec: &RegionSpec) -> Vec<Finding> {
    let country = spec.location.country.as_str();
    spec.jurisdictions
        .iter()
        .filter(|regime| Catalogue::scope(**regime).is_some_and(|scope| !scope.contains(&country)))
        .map(|regime| Finding::new(ReasonCode::InvalidSpec, format!("{regime} is not in force in {country}")))
        .collect()
}

/// Findings for a PiiDatabase.
pub fn evaluate_pii(spec: &PiiDatabaseSpec, regions: &RegionIndex<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if spec.compliance.is_empty() {
        findings.push(Finding::new(
            ReasonCode::InvalidSpec,
            "spec.compliance is empty: name the regimes the data falls under",
        ));
    }
    if spec.managed.is_some() == spec.external.is_some() {
        findings
            .push(Finding::new(ReasonCode::InvalidSpec, "exactly one of spec.managed or spec.external must be set"));
    }
    if let Some(region) = regions.require_active("database", &spec.region, &mut findings) {
        for regime in &spec.compliance {
            if !region.jurisdictions.contains(regime) {
                findings.push(Finding::new(
                    ReasonCode::JurisdictionNotProvided,
                    format!("compliance regime {regime} is not among the jurisdictions of region {:?}", spec.region),
                ));
            }
        }
    }
    if let Some(managed) = &spec.managed {
        for rc in &managed.replica_clusters {
            if rc.region != spec.region {
                findings.push(Finding::new(
                    ReasonCode::CrossRegionReplica,
                    format!(
                        "replica cluster {:?} would run in region {:?}; personal data may not be replicated out of {:?}",
                        rc.name, rc.region, spec.region
                    ),
                ));
            }
        }
        if let Some(backup) = &managed.backup
            && backup.object_store.region != spec.region
        {
            findings.push(Finding::new(
                ReasonCode::BackupOutOfRegion,
                format!(
                    "backups would be written to an object store in region {:?}; they must stay in {:?}",
                    backup.object_store.region, spec.region
                ),
            ));
        }
    }
    findings
}

/// The transfer decision for one target of a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetDecision {
    /// Target region name.
    pub region: String,
    /// Whether data may go there.
    pub permitted: bool,
    /// The basis relied on (`Anonymous`, `EEA`, `Adequacy`, `Unrestricted` or a
    /// declared basis); the first basis that is not EEA when several regimes apply.
    pub basis: Option<String>,
}

/// The verdict on a TelemetryReplica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaVerdict {
    /// Every finding; the replica may run only when this is empty.
    pub findings: Vec<Finding>,
    /// What the replica exports taken as a whole (the most sensitive table).
    pub data_class: DataClass,
    /// Data class per table, in spec order.
    pub tables: Vec<DataClass>,
    /// Per-target decisions, in spec order.
    pub targets: Vec<TargetDecision>,
}

impl ReplicaVerdict {
    /// True when nothing stands in the way.
    pub fn allowed(&self) -> bool {
        self.findings.is_empty()
    }
}

fn check_table(table: &TableExport, findings: &mut Vec<Finding>) -> DataClass {
    let label = format!("{}.{}", table.schema, table.name);
    if let Err(e) = validate_source_schema(&table.schema) {
        findings.push(Finding::new(ReasonCode::InvalidIdentifier, format!("table {label:?}: {e}")));
    }
    if let Err(e) = validate_identifier("table", &table.name) {
        findings.push(Finding::new(ReasonCode::InvalidIdentifier, e));
    }
    let mut seen = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(table.columns.len());
    for rule in &table.columns {
        if let Err(e) = validate_identifier("column", &rule.name) {
            findings.push(Finding::new(ReasonCode::InvalidIdentifier, format!("table {label:?}: {e}")));
        }
        if !seen.insert(rule.name.as_str()) {
            findings.push(Finding::new(
                ReasonCode::UnclassifiedColumn,
                format!("table {label:?}: column {:?} has more than one rule", rule.name),
            ));
            // The second rule is judged too: a raw keep hidden in it is still reported.
        }
        let (_, outcome, finding) = check_column(rule);
        if let Some((code, message)) = finding {
            findings.push(Finding::new(code, format!("table {label:?}: {message}")));
        }
        outcomes.push(outcome);
    }
    if table.columns.is_empty() {
        findings.push(Finding::new(ReasonCode::InvalidSpec, format!("table {label:?} declares no columns")));
    }
    if let Some(text) = &table.row_filter {
        match RowFilter::parse(text, Some(&seen)) {
            Err(e) => findings.push(Finding::new(ReasonCode::InvalidRowFilter, format!("table {label:?}: {e}"))),
            Ok(filter) => {
                // A filter on an identifier selects people, not measurements
                // (`user_id = 'u-123'` exports one person's rows), whatever the
                // identifier's own rule.
                let identifiers: BTreeSet<&str> = table
                    .columns
                    .iter()
                    .filter(|c| c.class == ColumnClass::Identifier)
                    .map(|c| c.name.as_str())
                    .collect();
                if let Some(col) = filter.columns().iter().find(|c| identifiers.contains(c.as_str())) {
                    findings.push(Finding::new(
                        ReasonCode::InvalidRowFilter,
                        format!("table {label:?}: the row filter uses identifier column {col:?}; filters may only select on quasi or non-personal columns"),
                    ));
                }
            }
        }
    }
    table_class(outcomes)
}

/// The verdict on a TelemetryReplica.
pub fn evaluate_replica(
    spec: &TelemetryReplicaSpec,
    regions: &RegionIndex<'_>,
    catalogue: &Catalogue,
) -> ReplicaVerdict {
    let mut findings = Vec::new();
    let source_name = spec.source.region.as_str();
    if let Err(e) = validate_identifier("source database", &spec.source.database) {
        findings.push(Finding::new(ReasonCode::InvalidIdentifier, e));
    }
    // A Draining source may still export: moving data away is what draining is for.
    let source = match regions.get(source_name) {
        None => {
            findings.push(Finding::new(
                ReasonCode::UnknownRegion,
                format!("source region {source_name:?} is not a known Region"),
            ));
            None
        }
        Some(r) if r.lifecycle == Lifecycle::Planned => {
            findings.push(Finding::new(
                ReasonCode::RegionNotActive,
                format!("source region {source_name:?} is Planned; nothing runs there yet"),
            ));
            None
        }
        Some(r) => Some(r),
    };

    let mut tables = Vec::with_capacity(spec.tables.len());
    let mut seen_tables = BTreeSet::new();
    for table in &spec.tables {
        if !seen_tables.insert((table.schema.as_str(), table.name.as_str())) {
            findings.push(Finding::new(
                ReasonCode::DuplicateTable,
                format!("table {}.{} is listed more than once", table.schema, table.name),
            ));
        }
        tables.push(check_table(table, &mut findings));
    }
    if spec.tables.is_empty() {
        findings.push(Finding::new(ReasonCode::InvalidSpec, "spec.tables is empty: nothing to export"));
    }
    if spec.targets.is_empty() {
        findings
            .push(Finding::new(ReasonCode::InvalidSpec, "spec.targets is empty: a replica needs at least one target"));
    }
    let data_class = tables.iter().copied().max().unwrap_or(DataClass::Anonymous);
    // Fail closed: with anything wrong in the source or the tables, no target is
    // permitted, whatever its own decision would be.
    let spec_ok = findings.is_empty();

    let mut seen_targets = BTreeSet::new();
    let mut targets = Vec::with_capacity(spec.targets.len());
    for target in &spec.targets {
        let name = target.region.as_str();
        let mut decision = TargetDecision { region: name.to_owned(), permitted: false, basis: None };
        if !seen_targets.insert(name) {
            findings.push(Finding::new(
                ReasonCode::InvalidSpec,
                format!("target region {name:?} is listed more than once"),
            ));
            targets.push(decision);
            continue;
        }
        if name == source_name {
            findings.push(Finding::new(
                ReasonCode::SelfReplication,
                format!("target region {name:?} is the source region; a replica must cross a region boundary"),
            ));
            targets.push(decision);
            continue;
        }
        let Some(target_region) = regions.require_active("target", name, &mut findings) else {
            targets.push(decision);
            continue;
        };
        match (data_class, source) {
            (DataClass::Personal, _) | (_, None) => {}
            (DataClass::Anonymous, Some(_)) => {
                if spec_ok {
                    decision.permitted = true;
                    decision.basis = Some("Anonymous".to_owned());
                }
            }
            (DataClass::Pseudonymous, Some(source)) => {
                let basis =
                    pseudonymous_basis(source, target_region, name, spec.transfer_basis, catalogue, &mut findings);
                if let Some(basis) = basis.filter(|_| spec_ok) {
                    decision.permitted = true;
                    decision.basis = Some(basis.as_str().to_owned());
                }
            }
        }
        targets.push(decision);
    }
    ReplicaVerdict { findings, data_class, tables, targets }
}

/// The basis for sending pseudonymous data from `source` to `target`, or `None` (with
/// one `TransferNotPermitted` finding per refusing regime) when a regime refuses.
fn pseudonymous_basis(
    source: &RegionSpec,
    target: &RegionSpec,
    target_name: &str,
    declared: Option<regionstack_api::telemetry::TransferBasis>,
    catalogue: &Catalogue,
    findings: &mut Vec<Finding>,
) -> Option<Basis> {
    let country = target.location.country.as_str();
    let mut basis: Option<Basis> = None;
    let mut refused = false;
    for regime in &source.jurisdictions {
        match catalogue.transfer(*regime, country, declared) {
            // Report the most demanding basis: the first one that is not plain EEA.
            TransferDecision::Allowed(b) => {
                if basis.is_none_or(|prev| prev == Basis::Eea) {
                    basis = Some(b);
                }
            }
            TransferDecision::Refused(why) => {
                refused = true;
                findings.push(Finding::new(
                    ReasonCode::TransferNotPermitted,
                    format!("pseudonymous data to target {target_name:?} ({country}): {why}"),
                ));
            }
        }
    }
    // A source with no regime of the catalogue restricts nothing.
    (!refused).then(|| basis.unwrap_or(Basis::Unrestricted))
}

/// Which kind of object a verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Region.
    Region,
    /// A PiiDatabase.
    PiiDatabase,
    /// A TelemetryReplica.
    TelemetryReplica,
}

impl Kind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Region => "Region",
            Kind::PiiDatabase => "PiiDatabase",
            Kind::TelemetryReplica => "TelemetryReplica",
        }
    }
}

/// The findings for one object of the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Kind of the object.
    pub kind: Kind,
    /// Namespace (none for cluster-scoped Regions).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Findings; empty when the object is compliant.
    pub findings: Vec<Finding>,
}

/// Everything the policy needs to judge a set of manifests or a cluster's caches.
#[derive(Clone, Copy, Debug, Default)]
pub struct World<'a> {
    /// All Regions.
    pub regions: &'a [Region],
    /// All PiiDatabases.
    pub pii_databases: &'a [PiiDatabase],
    /// All TelemetryReplicas.
    pub replicas: &'a [TelemetryReplica],
}

/// Judge every object of the world: Regions by [`evaluate_region`], the others by
/// [`evaluate_pii`] and [`evaluate_replica`].
pub fn evaluate_world(world: World<'_>, catalogue: &Catalogue) -> Vec<Verdict> {
    let index = RegionIndex::from_regions(world.regions);
    let regions = world.regions.iter().map(|r| Verdict {
        kind: Kind::Region,
        namespace: None,
        name: r.name_any(),
        findings: evaluate_region(&r.spec),
    });
    let pii = world.pii_databases.iter().map(|db| Verdict {
        kind: Kind::PiiDatabase,
        namespace: db.namespace(),
        name: db.name_any(),
        findings: evaluate_pii(&db.spec, &index),
    });
    let replicas = world.replicas.iter().map(|r| Verdict {
        kind: Kind::TelemetryReplica,
        namespace: r.namespace(),
        name: r.name_any(),
        findings: evaluate_replica(&r.spec, &index, catalogue).findings,
    });
    regions.chain(pii).chain(replicas).collect()
}
