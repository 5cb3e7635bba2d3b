//! The scenarios themselves: one variant of [`Scenario`] per case and, in [`case`],
//! its input and exactly the verdict it expects.

use regionstack_api::fixtures::{
    AP_SOUTH_1, ColumnBuilder, EU_WEST_1, EU_WEST_3, PiiDatabaseBuilder, RegionBuilder, TableBuilder,
    TelemetryReplicaBuilder, anonymous_telemetry_table, device_telemetry_table, identifier, measurement, quasi,
    seed_topology,
};
use regionstack_api::pii::Enforcement;
use regionstack_api::telemetry::{DataClass, TimeUnit, TransferBasis, TransformKind};
use regionstack_api::{Jurisdiction, PiiDatabase, ReasonCode, Region, TelemetryReplica};
use regionstack_policy::{Catalogue, TargetDecision};

use crate::support::{AP_NORTHEAST_1, AP_SOUTH_2, EU_NORTH_1, UNKNOWN, US_EAST_1, sorted, world};

use ReasonCode::{
    BackupOutOfRegion, CrossRegionReplica, DuplicateTable, InvalidIdentifier, InvalidRowFilter, InvalidSpec,
    JurisdictionNotProvided, PersonalDataExported, RegionNotActive, SelfReplication, TransferNotPermitted,
    UnclassifiedColumn, UnknownRegion,
};

/// Declares the scenarios with their descriptions, and `Scenario::ALL` listing every
/// one of them (so adding a variant is enough to have it run).
macro_rules! scenarios {
    ($($(#[doc = $doc:expr])+ $name:ident,)+) => {
        /// One residency case.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Scenario {
            $($(#[doc = $doc])+ $name,)+
        }

        impl Scenario {
            pub const ALL: &'static [Scenario] = &[$(Scenario::$name),+];
        }
    };
}

scenarios! {
    // --- the seed topology (DESIGN §1) ---
    /// Every object of the seed topology is compliant.
    SeedTopologyIsCompliant,
    /// eu-west-1 → eu-west-3: pseudonymous device telemetry, within the EEA.
    SeedIrelandToParisIsPseudonymousWithinTheEea,
    /// eu-west-3 → eu-west-1: GDPR and FDPA both allow it within the EEA.
    SeedParisToIrelandIsPseudonymousWithinTheEea,

    // --- Region ---
    /// Regimes in force in the Region's country (GDPR and FDPA in France).
    RegionRegimesInForceAtHome,
    /// A territorial regime declared where it is not law (FDPA in Germany, DPDP in Ireland).
    RegionRegimeOutsideItsTerritory,

    // --- PiiDatabase ---
    /// Managed, backed up and replicated inside its own region, under its region's regimes.
    PiiManagedInRegion,
    /// An existing server reached through a Secret.
    PiiExternal,
    /// The database's region is not declared.
    PiiUnknownRegion,
    /// The database's region is Planned: nothing runs there yet.
    PiiPlannedRegion,
    /// The database's region is Draining: no new data stores.
    PiiDrainingRegion,
    /// FDPA and DPDP are claimed in Ireland, where only GDPR is in force.
    PiiJurisdictionNotProvided,
    /// A replica cluster in another region copies every row out of it.
    PiiCrossRegionReplica,
    /// Backups to a bucket in another region.
    PiiBackupOutOfRegion,
    /// Audit mode is judged by the same rules as Enforce.
    PiiAuditModeIsJudgedTheSame,
    /// Both `managed` and `external`.
    PiiManagedAndExternal,
    /// Neither `managed` nor `external`.
    PiiNeitherManagedNorExternal,
    /// Everything at once: each rule reports on its own.
    PiiEverythingWrong,

    // --- TelemetryReplica: data classes and transfers ---
    /// Anonymous data goes to every Active region, whatever its country.
    AnonymousToEveryActiveRegion,
    /// A DPDP restriction concerns personal data, not anonymous data.
    AnonymousIgnoresDpdpRestrictions,
    /// Pseudonymous data from GDPR Ireland to India needs a declared basis.
    PseudonymousEuToIndiaRefused,
    /// GDPR and FDPA both refuse Paris → India: one finding per regime.
    PseudonymousParisToIndiaRefusedByEachRegime,
    /// Standard contractual clauses make EU → India lawful.
    PseudonymousEuToIndiaWithStandardContractualClauses,
    /// Japan has an EU adequacy decision.
    PseudonymousEuToJapanOnAdequacy,
    /// The United States has no general adequacy decision.
    PseudonymousEuToUsRefused,
    /// A DPF certification is declared as the basis.
    PseudonymousEuToUsOnDataPrivacyFramework,
    /// Each target is decided on its own.
    PseudonymousMixedTargets,
    /// DPDP restricts nothing by default.
    PseudonymousIndiaToEuUnrestricted,
    /// A source where no regime of the catalogue is in force restricts nothing.
    PseudonymousFromARegionWithoutRegime,
    /// A country on the DPDP restricted list is refused.
    DpdpRestrictedCountryRefused,
    /// A declared basis does not lift a DPDP restriction.
    DpdpRestrictionIgnoresDeclaredBasis,
    /// The restricted list spares other countries.
    DpdpRestrictionSparesOtherCountries,

    // --- TelemetryReplica: regions ---
    /// A Planned target is refused.
    PlannedTargetRefused,
    /// A Draining target is refused.
    DrainingTargetRefused,
    /// An unknown target is refused.
    UnknownTargetRefused,
    /// A Draining source may still export: moving data away is what draining is for.
    DrainingSourceAllowed,
    /// A Planned source exports nothing.
    PlannedSourceRefused,
    /// An unknown source exports nothing.
    UnknownSourceRefused,
    /// A target equal to the source.
    SelfReplication,
    /// A target listed twice.
    DuplicateTarget,

    // --- TelemetryReplica: tables and columns ---
    /// The same source table twice.
    DuplicateTable,
    /// The same table name in two schemas is two tables.
    SameTableNameInTwoSchemas,
    /// A generalizing transform on an identifier is not a valid rule.
    GeneralizedIdentifierIsUnclassified,
    /// Two rules for one column.
    DuplicateColumnRule,
    /// truncateTime without its unit.
    MissingTransformParameter,
    /// An identifier and a quasi-identifier kept raw.
    PersonalDataExported,
    /// The replica carries its most sensitive table.
    PersonalTableAmongAnonymousOnes,
    /// A row filter calling a function.
    RowFilterWithFunctionCall,
    /// A row filter over a column the table does not declare.
    RowFilterOverUndeclaredColumn,
    /// A row filter over declared quasi and non-personal columns.
    RowFilterOverDeclaredColumns,
    /// A row filter selecting on an identifier, even a dropped one, singles people out.
    RowFilterOverIdentifier,
    /// A table name over 63 bytes.
    TableNameTooLong,
    /// Exporting from a regionstack schema.
    ReservedSchema,
    /// A control character in a column name.
    ColumnNameWithControlCharacter,
    /// An empty source database name.
    EmptySourceDatabase,
    /// Quoting makes any other name valid.
    UnicodeIdentifiersAccepted,
    /// Everything at once.
    ReplicaEverythingWrong,
}

/// What a scenario judges.
pub enum Subject {
    /// The seed topology, through `evaluate_world`.
    Seed,
    /// One Region.
    Region(Region),
    /// One PiiDatabase.
    Pii(PiiDatabase),
    /// One TelemetryReplica.
    Replica(TelemetryReplica),
}

/// A scenario's input and expected verdict.
pub struct Case {
    pub subject: Subject,
    pub regions: Vec<Region>,
    pub catalogue: Catalogue,
    /// Exactly these codes, as a multiset.
    pub codes: Vec<ReasonCode>,
    /// Data class of the whole replica, and of each table in spec order.
    pub class: Option<(DataClass, Vec<DataClass>)>,
    /// Every per-target decision, in spec order.
    pub targets: Option<Vec<TargetDecision>>,
}

impl Case {
    fn new(subject: Subject, codes: &[ReasonCode]) -> Self {
        Self {
            subject,
            regions: world(),
            catalogue: Catalogue::new(),
            codes: sorted(codes),
            class: None,
            targets: None,
        }
    }
    fn pii(db: PiiDatabase, codes: &[ReasonCode]) -> Self {
        Self::new(Subject::Pii(db), codes)
    }
    fn replica(r: TelemetryReplicaBuilder, codes: &[ReasonCode]) -> Self {
        Self::new(Subject::Replica(r.build()), codes)
    }
    fn class(mut self, class: DataClass) -> Self {
        let n = match &self.subject {
            Subject::Replica(r) => r.spec.tables.len(),
            _ => unreachable!("data classes are about replicas"),
        };
        self.class = Some((class, vec![class; n]));
        self
    }
    fn tables(mut self, class: DataClass, tables: &[DataClass]) -> Self {
        self.class = Some((class, tables.to_vec()));
        self
    }
    fn targets(mut self, targets: impl IntoIterator<Item = TargetDecision>) -> Self {
        self.targets = Some(targets.into_iter().collect());
        self
    }
    fn regions(mut self, regions: Vec<Region>) -> Self {
        self.regions = regions;
        self
    }
    fn dpdp_restricted(mut self, countries: &[&str]) -> Self {
        self.catalogue = Catalogue::new().with_dpdp_restricted(countries.iter().copied());
        self
    }
}

fn permitted(region: &str, basis: &str) -> TargetDecision {
    TargetDecision { region: region.to_owned(), permitted: true, basis: Some(basis.to_owned()) }
}

fn refused(region: &str) -> TargetDecision {
    TargetDecision { region: region.to_owned(), permitted: false, basis: None }
}

/// A pseudonymous replica of the seed's device telemetry table.
fn pseudonymous(source: &str, targets: &[&str]) -> TelemetryReplicaBuilder {
    TelemetryReplicaBuilder::new("device-telemetry", source)
        .targets(targets.iter().copied())
        .table(device_telemetry_table())
}

/// An anonymous replica: the device telemetry table with every identifier dropped.
fn anonymous(source: &str, targets: &[&str]) -> TelemetryReplicaBuilder {
    TelemetryReplicaBuilder::new("device-telemetry", source)
        .targets(targets.iter().copied())
        .table(anonymous_telemetry_table())
}

/// A PiiDatabase that is compliant in eu-west-1.
fn customers() -> PiiDatabaseBuilder {
    PiiDatabaseBuilder::new("customers", EU_WEST_1).compliance([Jurisdiction::Gdpr]).backup_in(EU_WEST_1)
}

#[allow(clippy::too_many_lines)] // one arm per scenario
pub fn case(scenario: Scenario) -> Case {
    use DataClass::{Anonymous, Personal, Pseudonymous};
    use Jurisdiction::{Dpdp, Fdpa, Gdpr};
    let seed = seed_topology();
    match scenario {
        Scenario::SeedTopologyIsCompliant => Case::new(Subject::Seed, &[]).regions(seed.regions),
        Scenario::RegionRegimesInForceAtHome => Case::new(
            Subject::Region(RegionBuilder::new("paris").country("FR").jurisdictions([Gdpr, Fdpa]).build()),
            &[],
        ),
        Scenario::RegionRegimeOutsideItsTerritory => Case::new(
            Subject::Region(RegionBuilder::new("frankfurt").country("DE").jurisdictions([Gdpr, Fdpa, Dpdp]).build()),
            &[InvalidSpec, InvalidSpec],
        ),
        Scenario::SeedIrelandToParisIsPseudonymousWithinTheEea => {
            Case::new(Subject::Replica(seed.replicas[0].clone()), &[])
                .regions(seed.regions)
                .tables(Pseudonymous, &[Pseudonymous])
                .targets([permitted(EU_WEST_3, "EEA")])
        }
        Scenario::SeedParisToIrelandIsPseudonymousWithinTheEea => {
            Case::new(Subject::Replica(seed.replicas[1].clone()), &[])
                .regions(seed.regions)
                .tables(Pseudonymous, &[Pseudonymous])
                .targets([permitted(EU_WEST_1, "EEA")])
        }

        Scenario::PiiManagedInRegion => Case::pii(
            PiiDatabaseBuilder::new("customers", EU_WEST_3)
                .compliance([Gdpr, Fdpa])
                .managed(3)
                .backup_in(EU_WEST_3)
                .replica_cluster("customers-dr", EU_WEST_3)
                .build(),
            &[],
        ),
        Scenario::PiiExternal => Case::pii(
            PiiDatabaseBuilder::new("legacy", EU_WEST_1).compliance([Gdpr]).external("legacy-conn").build(),
            &[],
        ),
        Scenario::PiiUnknownRegion => {
            Case::pii(PiiDatabaseBuilder::new("customers", UNKNOWN).compliance([Gdpr]).build(), &[UnknownRegion])
        }
        Scenario::PiiPlannedRegion => Case::pii(
            PiiDatabaseBuilder::new("customers", AP_SOUTH_1).compliance([Dpdp]).backup_in(AP_SOUTH_1).build(),
            &[RegionNotActive],
        ),
        Scenario::PiiDrainingRegion => Case::pii(
            PiiDatabaseBuilder::new("customers", EU_NORTH_1).compliance([Gdpr]).backup_in(EU_NORTH_1).build(),
            &[RegionNotActive],
        ),
        Scenario::PiiJurisdictionNotProvided => Case::pii(
            customers().compliance([Gdpr, Fdpa, Dpdp]).build(),
            &[JurisdictionNotProvided, JurisdictionNotProvided],
        ),
        Scenario::PiiCrossRegionReplica => Case::pii(
            customers().replica_cluster("dr-home", EU_WEST_1).replica_cluster("dr-paris", EU_WEST_3).build(),
            &[CrossRegionReplica],
        ),
        Scenario::PiiBackupOutOfRegion => Case::pii(customers().backup_in(EU_WEST_3).build(), &[BackupOutOfRegion]),
        Scenario::PiiAuditModeIsJudgedTheSame => Case::pii(
            customers().enforcement(Enforcement::Audit).replica_cluster("dr", AP_SOUTH_2).build(),
            &[CrossRegionReplica],
        ),
        Scenario::PiiManagedAndExternal => {
            let external = PiiDatabaseBuilder::new("x", EU_WEST_1).external("conn").build().spec.external;
            Case::pii(customers().edit(|s| s.external = external).build(), &[InvalidSpec])
        }
        Scenario::PiiNeitherManagedNorExternal => {
            Case::pii(customers().edit(|s| s.managed = None).build(), &[InvalidSpec])
        }
        Scenario::PiiEverythingWrong => {
            let external = PiiDatabaseBuilder::new("x", UNKNOWN).external("conn").build().spec.external;
            Case::pii(
                PiiDatabaseBuilder::new("customers", UNKNOWN)
                    .compliance([Fdpa])
                    .backup_in(EU_WEST_1)
                    .replica_cluster("dr", EU_WEST_3)
                    .edit(|s| s.external = external)
                    .build(),
                // Regimes are checked against a known, Active region only.
                &[InvalidSpec, UnknownRegion, CrossRegionReplica, BackupOutOfRegion],
            )
        }

        Scenario::AnonymousToEveryActiveRegion => {
            Case::replica(anonymous(EU_WEST_1, &[EU_WEST_3, AP_SOUTH_2, AP_NORTHEAST_1, US_EAST_1]), &[])
                .class(Anonymous)
                .targets([EU_WEST_3, AP_SOUTH_2, AP_NORTHEAST_1, US_EAST_1].map(|t| permitted(t, "Anonymous")))
        }
        Scenario::AnonymousIgnoresDpdpRestrictions => Case::replica(anonymous(AP_SOUTH_2, &[US_EAST_1]), &[])
            .dpdp_restricted(&["US"])
            .class(Anonymous)
            .targets([permitted(US_EAST_1, "Anonymous")]),
        Scenario::PseudonymousEuToIndiaRefused => {
            Case::replica(pseudonymous(EU_WEST_1, &[AP_SOUTH_2]), &[TransferNotPermitted])
                .class(Pseudonymous)
                .targets([refused(AP_SOUTH_2)])
        }
        Scenario::PseudonymousParisToIndiaRefusedByEachRegime => {
            Case::replica(pseudonymous(EU_WEST_3, &[AP_SOUTH_2]), &[TransferNotPermitted, TransferNotPermitted])
                .class(Pseudonymous)
                .targets([refused(AP_SOUTH_2)])
        }
        Scenario::PseudonymousEuToIndiaWithStandardContractualClauses => Case::replica(
            pseudonymous(EU_WEST_3, &[AP_SOUTH_2]).transfer_basis(TransferBasis::StandardContractualClauses),
            &[],
        )
        .class(Pseudonymous)
        .targets([permitted(AP_SOUTH_2, "StandardContractualClauses")]),
        Scenario::PseudonymousEuToJapanOnAdequacy => Case::replica(pseudonymous(EU_WEST_3, &[AP_NORTHEAST_1]), &[])
            .class(Pseudonymous)
            .targets([permitted(AP_NORTHEAST_1, "Adequacy")]),
        Scenario::PseudonymousEuToUsRefused => {
            Case::replica(pseudonymous(EU_WEST_1, &[US_EAST_1]), &[TransferNotPermitted])
                .class(Pseudonymous)
                .targets([refused(US_EAST_1)])
        }
        Scenario::PseudonymousEuToUsOnDataPrivacyFramework => Case::replica(
            pseudonymous(EU_WEST_1, &[US_EAST_1]).transfer_basis(TransferBasis::DataPrivacyFramework),
            &[],
        )
        .class(Pseudonymous)
        .targets([permitted(US_EAST_1, "DataPrivacyFramework")]),
        Scenario::PseudonymousMixedTargets => {
            Case::replica(pseudonymous(EU_WEST_1, &[EU_WEST_3, AP_SOUTH_2, AP_NORTHEAST_1]), &[TransferNotPermitted])
                .class(Pseudonymous)
                .targets([permitted(EU_WEST_3, "EEA"), refused(AP_SOUTH_2), permitted(AP_NORTHEAST_1, "Adequacy")])
        }
        Scenario::PseudonymousIndiaToEuUnrestricted => {
            Case::replica(pseudonymous(AP_SOUTH_2, &[EU_WEST_1, US_EAST_1]), &[])
                .class(Pseudonymous)
                .targets([permitted(EU_WEST_1, "Unrestricted"), permitted(US_EAST_1, "Unrestricted")])
        }
        Scenario::PseudonymousFromARegionWithoutRegime => {
            Case::replica(pseudonymous(US_EAST_1, &[EU_WEST_1, AP_SOUTH_2]), &[])
                .class(Pseudonymous)
                .targets([permitted(EU_WEST_1, "Unrestricted"), permitted(AP_SOUTH_2, "Unrestricted")])
        }
        Scenario::DpdpRestrictedCountryRefused => {
            Case::replica(pseudonymous(AP_SOUTH_2, &[US_EAST_1]), &[TransferNotPermitted])
                .dpdp_restricted(&["US"])
                .class(Pseudonymous)
                .targets([refused(US_EAST_1)])
        }
        Scenario::DpdpRestrictionIgnoresDeclaredBasis => Case::replica(
            pseudonymous(AP_SOUTH_2, &[US_EAST_1]).transfer_basis(TransferBasis::StandardContractualClauses),
            &[TransferNotPermitted],
        )
        .dpdp_restricted(&["US"])
        .class(Pseudonymous)
        .targets([refused(US_EAST_1)]),
        Scenario::DpdpRestrictionSparesOtherCountries => {
            Case::replica(pseudonymous(AP_SOUTH_2, &[EU_WEST_1, US_EAST_1, AP_NORTHEAST_1]), &[TransferNotPermitted])
                .dpdp_restricted(&["US", "CN"])
                .class(Pseudonymous)
                .targets([
                    permitted(EU_WEST_1, "Unrestricted"),
                    refused(US_EAST_1),
                    permitted(AP_NORTHEAST_1, "Unrestricted"),
                ])
        }

        Scenario::PlannedTargetRefused => Case::replica(anonymous(EU_WEST_1, &[AP_SOUTH_1]), &[RegionNotActive])
            .class(Anonymous)
            .targets([refused(AP_SOUTH_1)]),
        Scenario::DrainingTargetRefused => {
            Case::replica(anonymous(EU_WEST_1, &[EU_NORTH_1, EU_WEST_3]), &[RegionNotActive])
                .class(Anonymous)
                .targets([refused(EU_NORTH_1), permitted(EU_WEST_3, "Anonymous")])
        }
        Scenario::UnknownTargetRefused => Case::replica(anonymous(EU_WEST_1, &[UNKNOWN]), &[UnknownRegion])
            .class(Anonymous)
            .targets([refused(UNKNOWN)]),
        Scenario::DrainingSourceAllowed => Case::replica(pseudonymous(EU_NORTH_1, &[EU_WEST_1]), &[])
            .class(Pseudonymous)
            .targets([permitted(EU_WEST_1, "EEA")]),
        Scenario::PlannedSourceRefused => Case::replica(anonymous(AP_SOUTH_1, &[EU_WEST_1]), &[RegionNotActive])
            .class(Anonymous)
            .targets([refused(EU_WEST_1)]),
        Scenario::UnknownSourceRefused => Case::replica(anonymous(UNKNOWN, &[EU_WEST_1]), &[UnknownRegion])
            .class(Anonymous)
            .targets([refused(EU_WEST_1)]),
        Scenario::SelfReplication => {
            Case::replica(pseudonymous(EU_WEST_1, &[EU_WEST_1, EU_WEST_3]), &[SelfReplication])
                .targets([refused(EU_WEST_1), permitted(EU_WEST_3, "EEA")])
        }
        Scenario::DuplicateTarget => Case::replica(pseudonymous(EU_WEST_1, &[EU_WEST_3, EU_WEST_3]), &[InvalidSpec])
            .targets([permitted(EU_WEST_3, "EEA"), refused(EU_WEST_3)]),

        Scenario::DuplicateTable => {
            Case::replica(pseudonymous(EU_WEST_1, &[EU_WEST_3]).table(anonymous_telemetry_table()), &[DuplicateTable])
                .tables(Pseudonymous, &[Pseudonymous, Anonymous])
        }
        Scenario::SameTableNameInTwoSchemas => {
            Case::replica(anonymous(EU_WEST_1, &[EU_WEST_3]).table(anonymous_telemetry_table().schema("archive")), &[])
                .class(Anonymous)
        }
        Scenario::GeneralizedIdentifierIsUnclassified => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3])
                .table(TableBuilder::new("signups").column(identifier("email").prefix(3)).column(quasi("ts").drop())),
            &[UnclassifiedColumn],
        ),
        Scenario::DuplicateColumnRule => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3]).table(
                TableBuilder::new("readings")
                    .column(quasi("ts").truncate_time(TimeUnit::Hour))
                    .column(quasi("ts").truncate_time(TimeUnit::Day)),
            ),
            &[UnclassifiedColumn],
        ),
        Scenario::MissingTransformParameter => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3])
                .table(TableBuilder::new("readings").column(quasi("ts").transform(TransformKind::TruncateTime))),
            &[UnclassifiedColumn],
        ),
        Scenario::PersonalDataExported => Case::replica(
            TelemetryReplicaBuilder::new("raw", EU_WEST_1).target(EU_WEST_3).table(
                device_telemetry_table()
                    .edit_column("email", ColumnBuilder::keep)
                    .edit_column("ts", ColumnBuilder::keep),
            ),
            &[PersonalDataExported, PersonalDataExported],
        )
        .class(Personal)
        .targets([refused(EU_WEST_3)]),
        Scenario::PersonalTableAmongAnonymousOnes => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3, AP_SOUTH_2])
                .table(TableBuilder::new("sessions").column(identifier("user_id").keep()))
                .table(TableBuilder::new("errors").column(measurement("code").keep())),
            &[PersonalDataExported],
        )
        .tables(Personal, &[Anonymous, Personal, Anonymous])
        .targets([refused(EU_WEST_3), refused(AP_SOUTH_2)]),
        Scenario::RowFilterWithFunctionCall => Case::replica(
            TelemetryReplicaBuilder::new("recent", EU_WEST_1)
                .target(EU_WEST_3)
                .table(anonymous_telemetry_table().row_filter("ts > now() - interval '1 day'")),
            &[InvalidRowFilter],
        ),
        Scenario::RowFilterOverUndeclaredColumn => Case::replica(
            TelemetryReplicaBuilder::new("fast", EU_WEST_1)
                .target(EU_WEST_3)
                .table(anonymous_telemetry_table().row_filter("speed > 3")),
            &[InvalidRowFilter],
        ),
        Scenario::RowFilterOverDeclaredColumns => Case::replica(
            TelemetryReplicaBuilder::new("fleet", EU_WEST_1).target(EU_WEST_3).table(
                anonymous_telemetry_table()
                    .row_filter("temperature BETWEEN -40 AND 85 AND firmware LIKE 'v2.%' AND ts IS NOT NULL"),
            ),
            &[],
        )
        .class(Anonymous)
        .targets([permitted(EU_WEST_3, "Anonymous")]),
        Scenario::RowFilterOverIdentifier => Case::replica(
            TelemetryReplicaBuilder::new("fleet", EU_WEST_1)
                .target(EU_WEST_3)
                .table(anonymous_telemetry_table().row_filter("temperature > 20 OR email = 'someone@example.com'")),
            &[InvalidRowFilter],
        ),
        Scenario::TableNameTooLong => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3]).table(TableBuilder::new("t".repeat(64)).column(measurement("v").keep())),
            &[InvalidIdentifier],
        ),
        Scenario::ReservedSchema => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3])
                .table(TableBuilder::new("exports").schema("regionstack").column(measurement("v").keep())),
            &[InvalidIdentifier],
        ),
        Scenario::ColumnNameWithControlCharacter => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3])
                .table(TableBuilder::new("readings").column(measurement("temp\nerature").keep())),
            &[InvalidIdentifier],
        ),
        Scenario::EmptySourceDatabase => {
            Case::replica(anonymous(EU_WEST_1, &[EU_WEST_3]).source_database(""), &[InvalidIdentifier])
        }
        Scenario::UnicodeIdentifiersAccepted => Case::replica(
            anonymous(EU_WEST_1, &[EU_WEST_3]).source_database("Télémétrie").table(
                TableBuilder::new("Gerätedaten")
                    .schema("Mixed Case")
                    .column(measurement("température").keep())
                    .column(measurement("a\"quote").keep()),
            ),
            &[],
        )
        .class(Anonymous),
        Scenario::ReplicaEverythingWrong => Case::replica(
            TelemetryReplicaBuilder::new("bad", AP_SOUTH_1)
                .source_database("")
                .targets([AP_SOUTH_1, UNKNOWN, UNKNOWN, EU_NORTH_1])
                .table(
                    TableBuilder::new("readings")
                        .schema("pg_catalog")
                        .row_filter("(SELECT 1) = 1")
                        .column(identifier("email").keep())
                        .column(identifier("phone").round(0))
                        .column(quasi("ip").ip_prefix(33, 48)),
                )
                .table(TableBuilder::new("readings").schema("pg_catalog").column(measurement("v").keep())),
            &[
                InvalidIdentifier, // source database
                RegionNotActive,   // Planned source
                InvalidIdentifier, // schema of the first table
                PersonalDataExported,
                UnclassifiedColumn, // round on an identifier
                UnclassifiedColumn, // ipv4Bits 33
                InvalidRowFilter,
                DuplicateTable,
                InvalidIdentifier, // schema of the second table
                SelfReplication,
                UnknownRegion,
                InvalidSpec,     // mars-1 twice
                RegionNotActive, // Draining target
            ],
        )
        .tables(Personal, &[Personal, Anonymous])
        .targets([refused(AP_SOUTH_1), refused(UNKNOWN), refused(UNKNOWN), refused(EU_NORTH_1)]),
    }
}
