//! Property tests of the residency policy and of row filters.
//!
//! Replica specs are generated over the test world (Active, Planned, Draining and
//! unknown regions, EEA, adequacy and other countries), with random tables, columns,
//! classes, transforms, parameters (valid most of the time, anything otherwise), row
//! filters, targets, transfer bases and DPDP restricted lists.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};
use regionstack_api::fixtures::TelemetryReplicaBuilder;
use regionstack_api::region::Lifecycle;
use regionstack_api::telemetry::{
    ColumnClass, ColumnRule, TableExport, TelemetryReplicaSpec, TimeUnit, TransferBasis, Transform, TransformKind,
};
use regionstack_api::{DataClass, ReasonCode, Region};
use regionstack_policy::row_filter::{CmpOp, FilterExpr, Literal};
use regionstack_policy::{Catalogue, RegionIndex, ReplicaVerdict, RowFilter, World, evaluate_replica, evaluate_world};
use support::{ACTIVE, NAMES, world};

// ---------------------------------------------------------------------------------
// Generators of replica specs
// ---------------------------------------------------------------------------------

const COLUMN_NAMES: [&str; 10] =
    ["ts", "device_id", "user_id", "email", "client_ip", "latitude", "longitude", "firmware", "temperature", "battery"];

fn class() -> impl Strategy<Value = ColumnClass> {
    prop_oneof![1 => Just(ColumnClass::Identifier), 1 => Just(ColumnClass::Quasi), 2 => Just(ColumnClass::None)]
}

fn time_unit() -> impl Strategy<Value = TimeUnit> {
    select(vec![TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month, TimeUnit::Year])
}

fn transform_kind() -> impl Strategy<Value = TransformKind> {
    select(TransformKind::ALL.to_vec())
}

fn rule(name: &str, class: ColumnClass, transform: TransformKind) -> ColumnRule {
    ColumnRule {
        name: name.to_owned(),
        class,
        transform,
        unit: None,
        ipv4_bits: None,
        ipv6_bits: None,
        digits: None,
        characters: None,
    }
}

/// A transform with parameters in range, and nothing else set.
fn well_formed(name: String, class: ColumnClass) -> impl Strategy<Value = ColumnRule> {
    let base = move |t| rule(&name, class, t);
    prop_oneof![
        Just(base(TransformKind::Drop)),
        Just(base(TransformKind::Keep)),
        Just(base(TransformKind::Hash)),
        time_unit().prop_map({
            let base = base.clone();
            move |u| ColumnRule { unit: Some(u), ..base(TransformKind::TruncateTime) }
        }),
        (0..=32, 0..=128).prop_map({
            let base = base.clone();
            move |(v4, v6)| ColumnRule { ipv4_bits: Some(v4), ipv6_bits: Some(v6), ..base(TransformKind::IpPrefix) }
        }),
        (-6..=10).prop_map({
            let base = base.clone();
            move |d| ColumnRule { digits: Some(d), ..base(TransformKind::Round) }
        }),
        (1..=255).prop_map(move |n| ColumnRule { characters: Some(n), ..base(TransformKind::Prefix) }),
    ]
}

/// Any transform with any parameters, in range or not.
fn anything(name: String, class: ColumnClass) -> impl Strategy<Value = ColumnRule> {
    (
        transform_kind(),
        proptest::option::of(time_unit()),
        proptest::option::of(-4..40i32),
        proptest::option::of(-4..140i32),
        proptest::option::of(-10..14i32),
        proptest::option::of(-2..300i32),
    )
        .prop_map(move |(transform, unit, ipv4_bits, ipv6_bits, digits, characters)| ColumnRule {
            unit,
            ipv4_bits,
            ipv6_bits,
            digits,
            characters,
            ..rule(&name, class, transform)
        })
}

fn column(name: &'static str) -> impl Strategy<Value = ColumnRule> {
    class().prop_flat_map(move |class| {
        // Identifiers mostly get one of their two valid rules and parameters are mostly
        // in range, so that a fair share of the generated replicas is allowed and the
        // properties are not vacuous (see
        // `generated_specs_cover_both_sides_of_each_property`).
        if class == ColumnClass::Identifier {
            prop_oneof![
                6 => Just(rule(name, class, TransformKind::Drop)),
                6 => Just(rule(name, class, TransformKind::Hash)),
                2 => Just(rule(name, class, TransformKind::Keep)),
                1 => well_formed(name.to_owned(), class),
                1 => anything(name.to_owned(), class),
            ]
            .boxed()
        } else {
            prop_oneof![20 => well_formed(name.to_owned(), class), 1 => anything(name.to_owned(), class)].boxed()
        }
    })
}

/// Row filters over the column pool: valid ones (over columns the table may or may not
/// declare) and invalid ones.
fn row_filter() -> impl Strategy<Value = Option<String>> {
    let filters = vec![
        "temperature > 20",
        "firmware LIKE 'v2.%' AND battery IS NOT NULL",
        "device_id IN ('a', 'b')",
        "ts BETWEEN '2024-01-01' AND '2025-01-01' OR NOT latitude < -10.5",
        "now() > ts",
        "temperature > (SELECT 1)",
        "battery > 1; DROP TABLE x",
        "",
    ];
    prop_oneof![8 => Just(None), 2 => select(filters).prop_map(|f| Some(f.to_owned()))]
}

fn table() -> impl Strategy<Value = TableExport> {
    let schema = prop_oneof![48 => Just("public"), 1 => Just("metrics"), 1 => Just("pg_catalog")];
    let name = prop_oneof![
        48 => select(vec!["device_metrics", "readings", "events", "sessions", "errors", "boots"]),
        1 => Just("a_table_name_that_is_far_too_long_for_postgresql_to_store_in_full"),
        1 => Just("tab\tle"),
    ];
    let columns = subsequence(COLUMN_NAMES.to_vec(), 1..=5)
        .prop_flat_map(|names| names.into_iter().map(column).collect::<Vec<_>>());
    // Now and then, a second rule for a column that already has one.
    let duplicate = prop_oneof![19 => Just(None), 1 => (0..5usize, class(), transform_kind()).prop_map(Some)];
    (schema, name, row_filter(), columns, duplicate).prop_map(|(schema, name, row_filter, mut columns, duplicate)| {
        if let Some((i, class, transform)) = duplicate {
            let again = rule(&columns[i % columns.len()].name, class, transform);
            columns.push(again);
        }
        TableExport { schema: schema.to_owned(), name: name.to_owned(), row_filter, columns }
    })
}

fn basis() -> impl Strategy<Value = Option<TransferBasis>> {
    proptest::option::of(select(vec![
        TransferBasis::StandardContractualClauses,
        TransferBasis::BindingCorporateRules,
        TransferBasis::CodeOfConduct,
        TransferBasis::Certification,
        TransferBasis::DataPrivacyFramework,
    ]))
}

fn replica_spec() -> impl Strategy<Value = TelemetryReplicaSpec> {
    // Mostly an Active source with distinct Active targets elsewhere; otherwise any
    // region name (Planned, Draining, unknown, the source itself, twice…).
    let source = prop_oneof![6 => select(ACTIVE.to_vec()), 1 => select(NAMES.to_vec())];
    source
        .prop_flat_map(|source| {
            let elsewhere: Vec<&str> = ACTIVE.into_iter().filter(|n| *n != source).collect();
            let targets = prop_oneof![
                8 => subsequence(elsewhere, 1..=3),
                1 => proptest::collection::vec(select(NAMES.to_vec()), 1..=3),
            ];
            let database = prop_oneof![49 => Just("telemetry"), 1 => Just("")];
            (Just(source), database, targets, proptest::collection::vec(table(), 1..=2), basis())
        })
        .prop_map(|(source, database, targets, tables, basis)| {
            TelemetryReplicaBuilder::new("generated", source)
                .source_database(database)
                .targets(targets)
                .edit(|spec| {
                    spec.tables = tables;
                    spec.transfer_basis = basis;
                })
                .build()
                .spec
        })
}

fn catalogue() -> impl Strategy<Value = Vec<&'static str>> {
    select(vec![vec![], vec!["US"], vec!["IE", "FR"], vec!["IN", "JP", "SE"]])
}

fn keeps_personal_data_raw(spec: &TelemetryReplicaSpec) -> bool {
    spec.tables.iter().flat_map(|t| &t.columns).any(|c| {
        let personal = matches!(c.class, ColumnClass::Identifier | ColumnClass::Quasi);
        // `keep` fails closed: even with stray parameters the rule asks for raw export.
        let raw_keep = personal && c.transform == TransformKind::Keep;
        // An ipPrefix keeping all 32 / 128 bits is the whole address; an ipPrefix rule
        // that does not resolve is refused as UnclassifiedColumn instead.
        let full_prefix = c.class == ColumnClass::Quasi
            && matches!(c.resolve(), Ok(Transform::IpPrefix { v4, v6 }) if v4 >= 32 || v6 >= 128);
        raw_keep || full_prefix
    })
}

/// Every run explores the same cases, so CI is deterministic; `PROPTEST_RNG_SEED`
/// and `PROPTEST_CASES` still explore further by hand (they override the default).
fn deterministic() -> ProptestConfig {
    let config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        return config;
    }
    ProptestConfig { rng_seed: RngSeed::Fixed(0x7265_6769_6f6e), ..config }
}

fn judge(spec: &TelemetryReplicaSpec, regions: &[Region], restricted: &[&str]) -> ReplicaVerdict {
    let index = RegionIndex::from_regions(regions);
    evaluate_replica(spec, &index, &Catalogue::new().with_dpdp_restricted(restricted.iter().copied()))
}

proptest! {
    #![proptest_config(deterministic())]
    /// DESIGN I2/§5: an identifier or quasi-identifier kept raw is never exported, to
    /// any target, whatever else the spec says.
    #[test]
    fn raw_personal_data_is_never_exported(spec in replica_spec(), restricted in catalogue()) {
        let regions = world();
        let verdict = judge(&spec, &regions, &restricted);
        if keeps_personal_data_raw(&spec) {
            prop_assert!(!verdict.allowed());
            prop_assert!(
                verdict.findings.iter().any(|f| f.code == ReasonCode::PersonalDataExported),
                "no PersonalDataExported in {:#?}", verdict.findings
            );
            prop_assert!(verdict.targets.iter().all(|t| !t.permitted), "{:#?}", verdict.targets);
            prop_assert_eq!(verdict.data_class, DataClass::Personal);
        } else {
            prop_assert!(verdict.findings.iter().all(|f| f.code != ReasonCode::PersonalDataExported));
            prop_assert_ne!(verdict.data_class, DataClass::Personal);
        }
    }

    /// An allowed replica sends no personal data, and only to Active regions other than
    /// its source, each with a basis.
    #[test]
    fn allowed_replicas_only_cross_to_permitted_targets(spec in replica_spec(), restricted in catalogue()) {
        let regions = world();
        let verdict = judge(&spec, &regions, &restricted);
        if verdict.allowed() {
            prop_assert_ne!(verdict.data_class, DataClass::Personal);
            prop_assert_eq!(verdict.targets.len(), spec.targets.len());
            for t in &verdict.targets {
                prop_assert!(t.permitted, "{:?}", t);
                prop_assert!(t.basis.is_some(), "{:?}", t);
                prop_assert_ne!(&t.region, &spec.source.region);
                let region = regions.iter().find(|r| r.metadata.name.as_deref() == Some(&t.region));
                prop_assert_eq!(region.map(|r| r.spec.lifecycle), Some(Lifecycle::Active));
            }
            let source = regions.iter().find(|r| r.metadata.name.as_deref() == Some(&spec.source.region));
            prop_assert!(source.is_some_and(|r| r.spec.lifecycle != Lifecycle::Planned));
        }
    }

    /// The verdict is internally consistent, uses only offline-decidable codes, and is
    /// the same through `evaluate_world`.
    #[test]
    fn verdicts_are_consistent(spec in replica_spec(), restricted in catalogue()) {
        let regions = world();
        let verdict = judge(&spec, &regions, &restricted);
        prop_assert_eq!(verdict.tables.len(), spec.tables.len());
        prop_assert_eq!(verdict.targets.len(), spec.targets.len());
        prop_assert_eq!(verdict.data_class, verdict.tables.iter().copied().max().unwrap_or(DataClass::Anonymous));
        for (decision, target) in verdict.targets.iter().zip(&spec.targets) {
            prop_assert_eq!(&decision.region, &target.region);
            prop_assert_eq!(decision.permitted, decision.basis.is_some());
            if decision.permitted {
                prop_assert_ne!(verdict.data_class, DataClass::Personal);
                prop_assert_eq!(decision.basis.as_deref() == Some("Anonymous"), verdict.data_class == DataClass::Anonymous);
            }
        }
        for f in &verdict.findings {
            prop_assert!(f.code.offline_decidable(), "{:?}", f);
            prop_assert!(!f.message.is_empty());
        }
        prop_assert_eq!(&judge(&spec, &regions, &restricted), &verdict, "not deterministic");
        let replicas = [TelemetryReplicaBuilder::new("generated", "x").edit(|s| *s = spec.clone()).build()];
        let restricted_catalogue = Catalogue::new().with_dpdp_restricted(restricted.iter().copied());
        let world = World { regions: &regions, pii_databases: &[], replicas: &replicas };
        let via_world = evaluate_world(world, &restricted_catalogue);
        prop_assert_eq!(&via_world.last().expect("a verdict").findings, &verdict.findings);
    }

    /// DESIGN §5: anonymous data may go to any Active region (other than the source),
    /// from an Active or Draining source, whatever the catalogue or declared basis —
    /// provided nothing is wrong with the spec itself.
    #[test]
    fn anonymous_data_goes_to_every_active_region(spec in replica_spec(), restricted in catalogue()) {
        let regions = world();
        let verdict = judge(&spec, &regions, &restricted);
        let lifecycle = |name: &str| {
            regions.iter().find(|r| r.metadata.name.as_deref() == Some(name)).map(|r| r.spec.lifecycle)
        };
        let source_runs = matches!(lifecycle(&spec.source.region), Some(Lifecycle::Active | Lifecycle::Draining));
        // Findings about the spec itself (tables, columns, filters) block every target:
        // the policy fails closed. Only per-target findings leave other targets alone.
        let per_target = |f: &regionstack_policy::Finding| {
            matches!(f.code, ReasonCode::SelfReplication | ReasonCode::UnknownRegion | ReasonCode::RegionNotActive)
                || (f.code == ReasonCode::InvalidSpec && f.message.starts_with("target region"))
        };
        let spec_level = verdict.findings.iter().any(|f| !per_target(f));
        if verdict.data_class == DataClass::Anonymous && source_runs {
            let mut seen = BTreeSet::new();
            for (decision, target) in verdict.targets.iter().zip(&spec.targets) {
                let first = seen.insert(target.region.as_str());
                let expected = first
                    && !spec_level
                    && target.region != spec.source.region
                    && lifecycle(&target.region) == Some(Lifecycle::Active);
                prop_assert_eq!(decision.permitted, expected, "{:?}", decision);
            }
        }
    }
}

/// The generators must produce both sides of each property, or the properties above
/// prove nothing. Sampled with a fixed seed.
#[test]
fn generated_specs_cover_both_sides_of_each_property() {
    let regions = world();
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = (replica_spec(), catalogue());
    let (mut allowed, mut raw, mut pseudonymous_allowed, mut cross_region_allowed) = (0, 0, 0, 0);
    let samples = 2000;
    for _ in 0..samples {
        let (spec, restricted) = strategy.new_tree(&mut runner).expect("a spec").current();
        let verdict = judge(&spec, &regions, &restricted);
        if verdict.allowed() {
            allowed += 1;
            if verdict.data_class == DataClass::Pseudonymous {
                pseudonymous_allowed += 1;
            }
            if verdict.targets.iter().any(|t| t.permitted) {
                cross_region_allowed += 1;
            }
        }
        if keeps_personal_data_raw(&spec) {
            raw += 1;
        }
    }
    // About 28 %, 13 % and 29 % with this seed.
    assert!(allowed * 10 >= samples, "only {allowed} of {samples} generated specs are allowed");
    assert!(pseudonymous_allowed * 20 >= samples, "only {pseudonymous_allowed} allowed pseudonymous specs");
    assert_eq!(cross_region_allowed, allowed, "an allowed spec always has a permitted target");
    assert!(raw * 10 >= samples, "only {raw} of {samples} generated specs keep personal data raw");
    assert!(raw * 5 <= samples * 4, "{raw} of {samples} generated specs keep personal data raw");
}

// ---------------------------------------------------------------------------------
// Row filters
// ---------------------------------------------------------------------------------

fn column_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_][a-z0-9_]{0,10}",
        1 => "[A-Za-z0-9 _\"'.;()\\-é€]{1,12}",
        1 => select(vec!["select", "from", "and", "null", "true", "Mixed", "user id", "a\"b", "--x", "ts"]).prop_map(str::to_owned),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        "-?(0|[1-9][0-9]{0,8})(\\.[0-9]{1,4})?([eE][0-9]{1,2})?".prop_map(Literal::Number),
        "[^\\x00]{0,16}".prop_map(Literal::Text),
        select(vec!["'", "''", "\\", "\\'", "--", "/*", "*/", ";", "$$", "%_", "\n"])
            .prop_map(|s| Literal::Text(s.to_owned())),
    ]
}

fn operand() -> impl Strategy<Value = FilterExpr> {
    prop_oneof![column_name().prop_map(FilterExpr::Column), literal().prop_map(FilterExpr::Literal)]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    select(vec![CmpOp::Eq, CmpOp::NotEq, CmpOp::Lt, CmpOp::LtEq, CmpOp::Gt, CmpOp::GtEq])
}

/// A condition over `inner` expressions (operands at the leaves).
fn condition(inner: BoxedStrategy<FilterExpr>) -> impl Strategy<Value = FilterExpr> {
    prop_oneof![
        (inner.clone(), cmp_op(), inner.clone()).prop_map(|(l, op, r)| FilterExpr::Compare(
            Box::new(l),
            op,
            Box::new(r)
        )),
        (inner.clone(), any::<bool>()).prop_map(|(e, negated)| FilterExpr::IsNull { expr: Box::new(e), negated }),
        (inner.clone(), proptest::collection::vec(literal().prop_map(FilterExpr::Literal), 1..4), any::<bool>())
            .prop_map(|(e, list, negated)| FilterExpr::In { expr: Box::new(e), list, negated }),
        (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(|(e, low, high, negated)| {
            FilterExpr::Between { expr: Box::new(e), low: Box::new(low), high: Box::new(high), negated }
        }),
        (inner.clone(), inner, any::<bool>()).prop_map(|(e, p, negated)| FilterExpr::Like {
            expr: Box::new(e),
            pattern: Box::new(p),
            negated
        }),
    ]
}

/// A row filter tree of the shape the parser produces: a condition at the root.
fn filter() -> impl Strategy<Value = RowFilter> {
    let leaf_conditions = condition(operand().boxed());
    let expr = leaf_conditions.prop_recursive(4, 48, 3, |inner| {
        let inner = prop_oneof![2 => inner, 1 => operand()].boxed();
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| FilterExpr::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| FilterExpr::Or(Box::new(l), Box::new(r))),
            inner.clone().prop_map(|e| FilterExpr::Not(Box::new(e))),
            condition(inner),
        ]
    });
    expr.prop_filter("a bare column or literal is not a filter", |e| {
        !matches!(e, FilterExpr::Column(_) | FilterExpr::Literal(_))
    })
    .prop_map(|expr| RowFilter { expr })
}

/// Text that looks like SQL more often than arbitrary strings do.
fn sql_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "(", ")", "NOT", "AND", "OR", "IN", "BETWEEN", "IS", "NULL", "LIKE", "ILIKE", "ESCAPE", "=", "<>", "!=", "<",
        ">=", "+", "-", "*", "/", "||", "::", ",", ";", "--", "/*", "*/", "'a'", "''", "E'\\x41'", "$1", "$$x$$", "1",
        "-1", "1e5", ".5", "TRUE", "ts", "\"Ts\"", "t.ts", "now()", "SELECT", "EXISTS", "ANY", "ARRAY[1]", "CASE",
        "WHEN", "THEN", "END", "COLLATE", "\"C\"", "@", "#", "?", "[", "]", "{", "}", "\\", "\0", "é",
    ];
    proptest::collection::vec(select(tokens), 0..40).prop_map(|t| t.join(" "))
}

fn assert_accepted_filters_round_trip(text: &str) -> Result<(), TestCaseError> {
    let columns: BTreeSet<&str> = COLUMN_NAMES.into_iter().collect();
    for cols in [None, Some(&columns)] {
        if let Ok(f) = RowFilter::parse(text, cols) {
            let sql = f.to_sql();
            let again = RowFilter::parse(&sql, cols);
            prop_assert_eq!(again, Ok(f), "{:?} rendered as {:?}", text, sql);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(deterministic())]
    /// Rendering is faithful: the SQL of a filter parses back to the same tree, and it
    /// needs exactly the filter's columns.
    #[test]
    fn rendered_filters_parse_back_to_the_same_tree(f in filter()) {
        let sql = f.to_sql();
        prop_assert_eq!(RowFilter::parse(&sql, None), Ok(f.clone()), "{}", sql);
        let columns = f.columns();
        let declared: BTreeSet<&str> = columns.iter().map(String::as_str).collect();
        prop_assert_eq!(RowFilter::parse(&sql, Some(&declared)), Ok(f.clone()));
        if let Some(missing) = columns.iter().next() {
            let fewer: BTreeSet<&str> = declared.iter().copied().filter(|c| c != missing).collect();
            prop_assert!(RowFilter::parse(&sql, Some(&fewer)).is_err(), "{} needs {:?}", sql, missing);
        }
    }

    /// Arbitrary text never makes the parser panic; whatever it accepts round-trips.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        assert_accepted_filters_round_trip(&text)?;
    }

    /// SQL-like token soup never makes the parser panic; whatever it accepts
    /// round-trips.
    #[test]
    fn sql_like_text_never_panics(text in sql_soup()) {
        assert_accepted_filters_round_trip(&text)?;
    }
}

#[test]
fn pathological_filters_are_refused_without_overflowing() {
    use regionstack_policy::row_filter::{MAX_DEPTH, MAX_LENGTH};
    let within_length = |sep: &str| {
        let mut chain = "a".to_owned();
        while chain.len() + sep.len() < MAX_LENGTH {
            chain.push_str(sep);
            chain.push('a');
        }
        chain
    };
    let refused = [
        format!("{}ts = 1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}ts = 1", "NOT ".repeat(5000)),
        // Flat chains as long as the CRD allows parse into trees thousands of levels
        // deep (this one overflowed a test thread's stack in a debug build).
        within_length(" OR "),
        within_length("+"),
        within_length(" AND "),
        format!("{} = 1", "a = ".repeat(1000)),
        // Longer than the CRD allows: refused before `sqlparser` builds (and
        // recursively drops) a tree deep enough to overflow the stack.
        vec!["a"; 100_000].join(" OR "),
        format!("ts IN ({})", vec!["1"; 2000].join(", ")),
    ];
    for text in &refused {
        assert!(RowFilter::parse(text, None).is_err(), "{}…", &text[..40.min(text.len())]);
    }
    // Within the limits, long filters are accepted and their SQL reads back the same.
    let longest_chain = vec!["ts = 1"; MAX_DEPTH - 1].join(" OR ");
    let list = format!("ts IN ({})", vec!["1"; 600].join(", "));
    let deep = format!("{}ts = 1{}", "(".repeat(MAX_DEPTH - 3), ")".repeat(MAX_DEPTH - 3));
    for text in [longest_chain, list, deep] {
        assert!(text.len() <= MAX_LENGTH);
        let f = RowFilter::parse(&text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(RowFilter::parse(&f.to_sql(), None), Ok(f), "{text}");
    }
}

#[test]
fn in_lists_hold_literals_only_even_in_parentheses() {
    for text in ["ts IN ((battery))", "ts IN (NOT battery)", "ts IN (1, (battery = 2))"] {
        let err = RowFilter::parse(text, None).expect_err(text);
        assert!(err.0.contains("literals"), "{text}: {err}");
    }
    for text in ["ts IN ((1), -2, ('x'), NULL, TRUE)", "ts NOT IN ((-1.5))"] {
        let f = RowFilter::parse(text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(RowFilter::parse(&f.to_sql(), None), Ok(f), "{text}");
    }
}
