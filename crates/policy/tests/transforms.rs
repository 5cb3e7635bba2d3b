//! Every column class × transform, and every transform parameter error, judged through
//! `evaluate_replica` (the path the operator and `regionstack check` take), not only
//! through `classify::outcome`.
//!
//! The replica goes from eu-west-1 (GDPR) to ap-south-2 (India, no adequacy): anonymous
//! data may go there, pseudonymous data only with a declared basis, so each outcome
//! shows in the verdict as a distinct set of codes.

mod support;

use regionstack_api::fixtures::{ColumnBuilder, EU_WEST_1, TableBuilder, TelemetryReplicaBuilder, measurement};
use regionstack_api::telemetry::{ColumnClass, DataClass, TimeUnit, TransferBasis, TransformKind};
use regionstack_api::{ReasonCode, TelemetryReplica};
use regionstack_policy::classify::{ColumnOutcome, outcome};
use regionstack_policy::{Catalogue, RegionIndex, ReplicaVerdict, TargetDecision, evaluate_replica};
use support::{AP_SOUTH_2, codes, sorted, world};

use ReasonCode::{PersonalDataExported, TransferNotPermitted, UnclassifiedColumn};

/// What a column rule should make of the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Allowed anywhere Active: the column leaves nothing personal.
    Anonymous,
    /// Hashed: refused to India unless a basis is declared.
    Pseudonymous,
    /// Raw personal data: refused everywhere, basis or not.
    Personal,
    /// Not a valid rule for the class.
    Unclassified,
}

/// A replica exporting `readings(<column>, temperature keep)` from eu-west-1 to
/// ap-south-2.
fn replica(column: ColumnBuilder, basis: Option<TransferBasis>) -> TelemetryReplica {
    let mut b = TelemetryReplicaBuilder::new("readings", EU_WEST_1)
        .target(AP_SOUTH_2)
        .table(TableBuilder::new("readings").column(column).column(measurement("temperature").keep()));
    if let Some(basis) = basis {
        b = b.transfer_basis(basis);
    }
    b.build()
}

fn judge(column: &ColumnBuilder, basis: Option<TransferBasis>) -> ReplicaVerdict {
    let regions = world();
    let index = RegionIndex::from_regions(&regions);
    evaluate_replica(&replica(column.clone(), basis).spec, &index, &Catalogue::new())
}

/// Check the verdict for `column`, without and with a declared basis.
fn assert_verdict(label: &str, column: &ColumnBuilder, expect: Expect) {
    let plain = judge(column, None);
    let declared = judge(column, Some(TransferBasis::StandardContractualClauses));
    let target = |permitted: bool, basis: &str| TargetDecision {
        region: AP_SOUTH_2.to_owned(),
        permitted,
        basis: permitted.then(|| basis.to_owned()),
    };
    let (codes_plain, codes_declared, class): (&[ReasonCode], &[ReasonCode], _) = match expect {
        Expect::Anonymous => (&[], &[], DataClass::Anonymous),
        Expect::Pseudonymous => (&[TransferNotPermitted], &[], DataClass::Pseudonymous),
        Expect::Personal => (&[PersonalDataExported], &[PersonalDataExported], DataClass::Personal),
        Expect::Unclassified => (&[UnclassifiedColumn], &[UnclassifiedColumn], DataClass::Anonymous),
    };
    assert_eq!(codes(&plain.findings), sorted(codes_plain), "{label}: {:#?}", plain.findings);
    assert_eq!(codes(&declared.findings), sorted(codes_declared), "{label} with a basis: {:#?}", declared.findings);
    assert_eq!(plain.allowed(), codes_plain.is_empty(), "{label}");
    if expect != Expect::Unclassified {
        // An invalid rule says nothing reliable about what the column would carry;
        // only the refusal matters there.
        assert_eq!((plain.data_class, plain.tables.as_slice()), (class, &[class][..]), "{label}");
        assert_eq!(declared.data_class, class, "{label}");
    }
    match expect {
        Expect::Anonymous => {
            assert_eq!(plain.targets, [target(true, "Anonymous")], "{label}");
            assert_eq!(declared.targets, [target(true, "Anonymous")], "{label}: anonymous data needs no basis");
        }
        Expect::Pseudonymous => {
            assert_eq!(plain.targets, [target(false, "")], "{label}");
            assert_eq!(declared.targets, [target(true, "StandardContractualClauses")], "{label}");
        }
        Expect::Personal => {
            assert_eq!(plain.targets, [target(false, "")], "{label}");
            assert_eq!(declared.targets, [target(false, "")], "{label}: no basis makes raw personal data travel");
        }
        Expect::Unclassified => {}
    }
}

type Transform = (&'static str, fn(ColumnBuilder) -> ColumnBuilder);

/// Each transform with valid parameters.
const TRANSFORMS: [Transform; 7] = [
    ("drop", ColumnBuilder::drop),
    ("keep", ColumnBuilder::keep),
    ("hash", ColumnBuilder::hash),
    ("truncateTime hour", |b| b.truncate_time(TimeUnit::Hour)),
    ("ipPrefix 24/48", |b| b.ip_prefix(24, 48)),
    ("round 1", |b| b.round(1)),
    ("prefix 3", |b| b.prefix(3)),
];

#[test]
fn every_class_and_transform_through_evaluate_replica() {
    use Expect::{Anonymous as A, Personal as P, Pseudonymous as H, Unclassified as X};
    let expected = [
        (ColumnClass::Identifier, [A, P, H, X, X, X, X]),
        (ColumnClass::Quasi, [A, P, H, A, A, A, A]),
        (ColumnClass::None, [A, A, H, A, A, A, A]),
    ];
    for (class, row) in expected {
        for ((name, transform), expect) in TRANSFORMS.iter().zip(row) {
            let column = transform(ColumnBuilder::new("c", class));
            let label = format!("{class:?} × {name}");
            assert_verdict(&label, &column, expect);
            // The evaluation agrees with the classification table it is built on.
            let resolved = column.clone().build().resolve().unwrap_or_else(|e| panic!("{label}: {e}"));
            let via_outcome = match outcome(class, resolved) {
                ColumnOutcome::Dropped | ColumnOutcome::Anonymized => A,
                ColumnOutcome::Hashed => H,
                ColumnOutcome::RawPersonal => P,
                ColumnOutcome::Invalid => X,
            };
            assert_eq!(via_outcome, expect, "{label}");
        }
    }
}

#[test]
fn every_time_unit_truncates_a_quasi_identifier() {
    for unit in [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month, TimeUnit::Year] {
        assert_verdict(
            &format!("truncateTime {unit:?}"),
            &ColumnBuilder::new("ts", ColumnClass::Quasi).truncate_time(unit),
            Expect::Anonymous,
        );
    }
}

#[test]
fn parameter_bounds_are_inclusive() {
    let quasi = |f: fn(ColumnBuilder) -> ColumnBuilder| f(ColumnBuilder::new("c", ColumnClass::Quasi));
    for (label, column) in [
        ("ipPrefix 0/0", quasi(|b| b.ip_prefix(0, 0))),
        ("round -6", quasi(|b| b.round(-6))),
        ("prefix 1", quasi(|b| b.prefix(1))),
    ] {
        assert_verdict(label, &column, Expect::Anonymous);
    }
    // The upper bounds are valid parameters. Whether a "generalization" that keeps the
    // whole value (a /32 prefix, 10 digits, 255 characters) should count as anonymous
    // is a policy question this test does not settle.
    for (label, column) in [
        ("ipPrefix 32/128", quasi(|b| b.ip_prefix(32, 128))),
        ("round 10", quasi(|b| b.round(10))),
        ("prefix 255", quasi(|b| b.prefix(255))),
    ] {
        assert!(column.build().resolve().is_ok(), "{label}");
    }
}

#[test]
fn parameter_errors_make_the_column_unclassified() {
    use ColumnClass::{None as Measurement, Quasi};
    let col = |class| ColumnBuilder::new("c", class);
    let cases: [(&str, ColumnBuilder); 19] = [
        // missing parameters
        ("truncateTime without unit", col(Quasi).transform(TransformKind::TruncateTime)),
        ("ipPrefix without bits", col(Quasi).transform(TransformKind::IpPrefix)),
        ("ipPrefix without ipv6Bits", col(Quasi).ip_prefix(24, 48).ipv6_bits(None)),
        ("ipPrefix without ipv4Bits", col(Quasi).ip_prefix(24, 48).ipv4_bits(None)),
        ("round without digits", col(Quasi).transform(TransformKind::Round)),
        ("prefix without characters", col(Measurement).transform(TransformKind::Prefix)),
        // out of range
        ("ipv4Bits 33", col(Quasi).ip_prefix(33, 48)),
        ("ipv4Bits -1", col(Quasi).ip_prefix(-1, 48)),
        ("ipv6Bits 129", col(Quasi).ip_prefix(24, 129)),
        ("digits 11", col(Quasi).round(11)),
        ("digits -7", col(Quasi).round(-7)),
        ("characters 0", col(Quasi).prefix(0)),
        ("characters 256", col(Measurement).prefix(256)),
        // a parameter given to the wrong transform
        ("round with unit", col(Quasi).round(1).unit(Some(TimeUnit::Hour))),
        ("truncateTime with characters", col(Quasi).truncate_time(TimeUnit::Day).characters(Some(3))),
        ("ipPrefix with digits", col(Quasi).ip_prefix(24, 48).digits(Some(1))),
        ("drop with ipv4Bits", col(Quasi).drop().ipv4_bits(Some(24))),
        ("keep with digits on a measurement", col(Measurement).keep().digits(Some(2))),
        ("prefix with unit", col(Measurement).prefix(2).unit(Some(TimeUnit::Minute))),
    ];
    for (label, column) in cases {
        assert!(column.clone().build().resolve().is_err(), "{label} resolves");
        assert_verdict(label, &column, Expect::Unclassified);
    }
}

#[test]
fn a_malformed_rule_never_understates_what_it_exports() {
    use ColumnClass::{Identifier, Quasi};
    // keep of an identifier or quasi-identifier is raw personal data even when a stray
    // parameter makes the rule malformed: PersonalDataExported, and no target.
    for (label, column) in [
        ("identifier keep with unit", ColumnBuilder::new("c", Identifier).keep().unit(Some(TimeUnit::Hour))),
        ("quasi keep with characters", ColumnBuilder::new("c", Quasi).keep().characters(Some(2))),
    ] {
        let verdict = judge(&column, Some(TransferBasis::StandardContractualClauses));
        assert_eq!(codes(&verdict.findings), [PersonalDataExported], "{label}: {:#?}", verdict.findings);
        assert_eq!(verdict.data_class, DataClass::Personal, "{label}");
        assert!(verdict.targets.iter().all(|t| !t.permitted), "{label}");
        assert!(verdict.findings[0].message.contains("not a parameter"), "{label}: {}", verdict.findings[0].message);
    }
    // hash with a stray parameter is still a hash: pseudonymous, so the transfer rule
    // is reported too.
    let column = ColumnBuilder::new("c", Identifier).hash().characters(Some(8));
    let verdict = judge(&column, None);
    assert_eq!(
        codes(&verdict.findings),
        sorted(&[UnclassifiedColumn, TransferNotPermitted]),
        "{:#?}",
        verdict.findings
    );
    assert_eq!(verdict.data_class, DataClass::Pseudonymous);
    assert!(verdict.targets.iter().all(|t| !t.permitted));
}

#[test]
fn a_second_rule_for_a_column_is_judged_too() {
    // A duplicate rule is refused as such, and a raw keep hidden in it is still reported.
    let regions = world();
    let index = RegionIndex::from_regions(&regions);
    let spec = TelemetryReplicaBuilder::new("readings", EU_WEST_1)
        .target(AP_SOUTH_2)
        .table(
            TableBuilder::new("readings")
                .column(ColumnBuilder::new("email", ColumnClass::Identifier).drop())
                .column(ColumnBuilder::new("email", ColumnClass::Identifier).keep()),
        )
        .build()
        .spec;
    let verdict = evaluate_replica(&spec, &index, &Catalogue::new());
    assert_eq!(
        codes(&verdict.findings),
        sorted(&[UnclassifiedColumn, PersonalDataExported]),
        "{:#?}",
        verdict.findings
    );
    assert_eq!(verdict.data_class, DataClass::Personal);
    assert!(verdict.targets.iter().all(|t| !t.permitted));
}
