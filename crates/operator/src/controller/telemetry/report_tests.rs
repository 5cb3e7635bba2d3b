//! Table tests of the status a side reports.

use k8s_openapi::jiff::Timestamp;
use regionstack_api::Jurisdiction;
use regionstack_api::condition::find_condition;
use regionstack_api::fixtures::{RegionBuilder, TelemetryReplicaBuilder, device_telemetry_table, identifier};
use regionstack_policy::Catalogue;
use regionstack_sql::telemetry::audit::Finding;
use regionstack_sql::telemetry::import::ImportStatus;
use regionstack_sql::telemetry::prune::PruneOutcome;

use super::super::validate::validate;
use super::*;

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn replica() -> TelemetryReplica {
    let mut r = TelemetryReplicaBuilder::new("metrics", "eu-west-1")
        .target("eu-west-3")
        .table(device_telemetry_table())
        .build();
    r.metadata.generation = Some(3);
    r
}

fn regions() -> Vec<regionstack_api::Region> {
    vec![
        RegionBuilder::new("eu-west-1").country("IE").build(),
        RegionBuilder::new("eu-west-3").country("FR").jurisdictions([Jurisdiction::Gdpr, Jurisdiction::Fdpa]).build(),
    ]
}

fn source_report(findings: Vec<Finding>) -> SourceReport {
    SourceReport {
        actions: vec![],
        repaired: vec![],
        findings,
        drift: vec![],
        prune: PruneOutcome::Skipped { reason: String::new(), handoff_rows: 0 },
    }
}

fn target_report(health: ImportHealth, lag: Option<i64>, fresh: bool) -> TargetReport {
    let action = regionstack_sql::telemetry::Action {
        database: "telemetry".into(),
        summary: "create subscription".into(),
        statement: String::new(),
    };
    TargetReport {
        actions: if fresh { vec![action] } else { vec![] },
        import: ImportStatus {
            subscription: "rs_import_x".into(),
            health,
            error_count: 0,
            lag_bytes: lag,
            slot_wal_status: None,
            action: Some("re-sync".into()),
        },
    }
}

fn reasons(s: &TelemetryReplicaStatus) -> (String, String) {
    let r = |t| find_condition(&s.conditions, t).map(|c| format!("{:?}/{}", c.status, c.reason)).unwrap();
    (r(READY), r(COMPLIANT))
}

#[test]
fn lag_buckets() {
    for (lag, want) in [
        (-5, 0),
        (0, 0),
        (LAG_FLOOR - 1, 0),
        (LAG_FLOOR, LAG_FLOOR),
        (LAG_FLOOR + 12_345, LAG_FLOOR),
        (3 * LAG_FLOOR, 2 * LAG_FLOOR),
        (i64::MAX, 1 << 62),
    ] {
        assert_eq!(lag_bucket(lag), want, "{lag}");
    }
}

#[test]
fn status_per_outcome() {
    let obj = replica();
    let rogue = Finding {
        code: ReasonCode::RogueReplication,
        object: "publication/rogue".into(),
        detail: "includes source table".into(),
    };
    let (clean, dirty) = (source_report(vec![]), source_report(vec![rogue]));
    let streaming = target_report(ImportHealth::Streaming, Some(3 * LAG_FLOOR), false);
    let starting = target_report(ImportHealth::WorkerDown, None, true);
    let down = target_report(ImportHealth::WorkerDown, None, false);
    let lost = target_report(ImportHealth::SlotLost, None, false);
    let disabled = target_report(ImportHealth::Disabled, None, false);
    let refused = "PersonalDataExported: email kept raw";
    let cases: Vec<(&str, Outcome<'_>, &str, (&str, &str))> = vec![
        ("eu-west-1", Outcome::Source(&clean), "Source", ("True/Reconciled", "True/Compliant")),
        ("eu-west-1", Outcome::Source(&dirty), "Source", ("True/Reconciled", "False/RogueReplication")),
        ("eu-west-3", Outcome::Target(&streaming), "Target", ("True/Reconciled", "True/Compliant")),
        ("eu-west-3", Outcome::Target(&starting), "Target", ("False/Provisioning", "True/Compliant")),
        ("eu-west-3", Outcome::Target(&down), "Target", ("False/WorkerDown", "True/Compliant")),
        ("eu-west-3", Outcome::Target(&lost), "Target", ("False/SlotLost", "True/Compliant")),
        ("eu-west-3", Outcome::Target(&disabled), "Target", ("False/SubscriptionDisabled", "True/Compliant")),
        ("us-east-1", Outcome::NotInvolved, "NotInvolved", ("False/ForeignRegion", "True/Compliant")),
        (
            "eu-west-1",
            Outcome::Refused { code: ReasonCode::PersonalDataExported, message: refused },
            "Source",
            ("False/PersonalDataExported", "False/PersonalDataExported"),
        ),
        (
            "eu-west-1",
            Outcome::Failed { category: "SecretMissing", message: "secret default/x: not found".into() },
            "Source",
            ("False/SecretMissing", "True/Compliant"),
        ),
    ];
    for (region, outcome, side, (ready, compliant)) in cases {
        let v = validate(&obj.spec, &regions(), &Catalogue::new(), region);
        let s = desired(&obj, &v, &outcome, region, &at(100));
        assert_eq!(format!("{:?}", s.side.unwrap()), side, "{outcome:?}");
        assert_eq!(reasons(&s), (ready.to_owned(), compliant.to_owned()), "{outcome:?}");
        assert_eq!(s.observed_generation, Some(3));
        assert!(s.conditions.iter().all(|c| c.observed_generation == Some(3)));
        let expect_publication = matches!(outcome, Outcome::Source(_) | Outcome::Target(_));
        assert_eq!(s.publication.is_some(), expect_publication, "{outcome:?}");
        assert_eq!(s.targets.len(), 1);
        assert_eq!(s.targets[0].transfer_basis.as_deref(), Some("EEA"));
    }
}

#[test]
fn target_reports_its_subscription_and_bucketed_lag() {
    let obj = replica();
    let v = validate(&obj.spec, &regions(), &Catalogue::new(), "eu-west-3");
    let r = target_report(ImportHealth::Streaming, Some(3 * LAG_FLOOR + 7), false);
    let s = desired(&obj, &v, &Outcome::Target(&r), "eu-west-3", &at(100));
    assert_eq!(s.targets[0].subscription.as_deref(), Some("rs_import_x"));
    assert_eq!(s.targets[0].lag_bytes, Some(2 * LAG_FLOOR));
    assert_eq!(s.data_class, Some(regionstack_api::DataClass::Pseudonymous));
}

#[test]
fn refused_replica_shows_no_data_class() {
    let mut obj = replica();
    obj.spec.tables[0].columns.push(identifier("phone").keep().build());
    let v = validate(&obj.spec, &regions(), &Catalogue::new(), "eu-west-1");
    let super::super::validate::Decision::Refused { code, message } = &v.decision else { panic!() };
    let s = desired(&obj, &v, &Outcome::Refused { code: *code, message }, "eu-west-1", &at(1));
    assert_eq!(s.data_class, None);
    assert!(!s.targets[0].permitted);
}

#[test]
fn recomputing_from_the_written_status_changes_nothing() {
    // The zero-writes rule: a status computed from an unchanged world equals the
    // stored one, time stamps included, even with a later `now` and another lag
    // within the same bucket.
    let mut obj = replica();
    let v = validate(&obj.spec, &regions(), &Catalogue::new(), "eu-west-3");
    let first = target_report(ImportHealth::Streaming, Some(LAG_FLOOR + 10), false);
    let written = desired(&obj, &v, &Outcome::Target(&first), "eu-west-3", &at(100));
    obj.status = Some(written.clone());
    let later = target_report(ImportHealth::Streaming, Some(LAG_FLOOR + 90_000), false);
    assert_eq!(desired(&obj, &v, &Outcome::Target(&later), "eu-west-3", &at(500)), written);
    // A failure keeps what was observed and moves Ready's transition time only.
    let failed = Outcome::Failed { category: "DatabaseUnreachable", message: "refused".into() };
    let s = desired(&obj, &v, &failed, "eu-west-3", &at(600));
    assert_eq!(s.targets, written.targets);
    assert_eq!(find_condition(&s.conditions, READY).unwrap().last_transition_time, at(600));
    assert_eq!(find_condition(&s.conditions, COMPLIANT).unwrap().last_transition_time, at(100));
}
