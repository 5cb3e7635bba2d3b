//! Table tests of the Region controller's pure steps.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use regionstack_api::condition::find_condition;
use regionstack_api::fixtures::{PiiDatabaseBuilder, RegionBuilder, TelemetryReplicaBuilder};
use regionstack_api::{ConditionStatus, Jurisdiction, Lifecycle, Region};

use super::*;

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

#[test]
fn validate_checks_territorial_scope() {
    use Jurisdiction::{Dpdp, Fdpa, Gdpr};
    let cases: &[(&str, &[Jurisdiction], usize)] = &[
        ("IE", &[Gdpr], 0),
        ("FR", &[Gdpr, Fdpa], 0),
        ("IN", &[Dpdp], 0),
        ("IE", &[Gdpr, Fdpa], 1),
        ("US", &[Gdpr, Dpdp], 2),
    ];
    for (country, regimes, problems) in cases {
        let region = RegionBuilder::new("r").country(*country).jurisdictions(regimes.iter().copied()).build();
        let found = validate(&region.spec);
        assert_eq!(found.len(), *problems, "{country} {regimes:?}: {found:?}");
    }
    let region = RegionBuilder::new("r").country("DE").jurisdictions([Fdpa]).build();
    assert_eq!(validate(&region.spec), ["FDPA is not in force in DE"]);
}

#[test]
fn count_matches_references() {
    let pii: Vec<_> = [("a", "eu-west-1"), ("b", "eu-west-1"), ("c", "eu-west-3")]
        .into_iter()
        .map(|(name, region)| Arc::new(PiiDatabaseBuilder::new(name, region).build()))
        .collect();
    let replicas: Vec<_> = [
        TelemetryReplicaBuilder::new("x", "eu-west-1").target("eu-west-3").build(),
        TelemetryReplicaBuilder::new("y", "eu-west-3").target("eu-west-1").target("ap-south-1").build(),
        TelemetryReplicaBuilder::new("z", "eu-west-3").target("us-east-1").build(),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let cases = [("eu-west-1", 2, 2), ("eu-west-3", 1, 3), ("ap-south-1", 0, 1), ("nowhere", 0, 0)];
    for (region, pii_databases, telemetry_replicas) in cases {
        assert_eq!(count(region, &pii, &replicas), Counts { pii_databases, telemetry_replicas }, "{region}");
    }
}

fn with_generation(mut region: Region, generation: i64) -> Region {
    region.metadata.generation = Some(generation);
    region
}

#[test]
fn desired_status_table() {
    let counts = Counts { pii_databases: 2, telemetry_replicas: 1 };
    // (lifecycle, local, problems) → (status, reason)
    let cases: &[(Lifecycle, bool, &[&str], ConditionStatus, &str)] = &[
        (Lifecycle::Active, true, &[], ConditionStatus::True, "Active"),
        (Lifecycle::Planned, false, &[], ConditionStatus::True, "Planned"),
        (Lifecycle::Draining, false, &[], ConditionStatus::True, "Draining"),
        (Lifecycle::Active, true, &["FDPA is not in force in DE"], ConditionStatus::False, "InvalidSpec"),
    ];
    for (lifecycle, local, problems, status, reason) in cases {
        let region = with_generation(RegionBuilder::new("r").lifecycle(*lifecycle).build(), 3);
        let problems: Vec<String> = problems.iter().map(|p| (*p).to_owned()).collect();
        let got = desired_status(&region, *local, &problems, counts, at(100));
        assert_eq!(got.local, Some(*local));
        assert_eq!(got.observed_generation, Some(3));
        assert_eq!((got.pii_databases, got.telemetry_replicas), (Some(2), Some(1)));
        let ready = find_condition(&got.conditions, READY).expect("Ready");
        assert_eq!((ready.status, ready.reason.as_str()), (*status, *reason), "{lifecycle:?} {problems:?}");
        assert_eq!(ready.observed_generation, Some(3));
        if let Some(problem) = problems.first() {
            assert!(ready.message.contains(problem.as_str()), "{}", ready.message);
        }
    }
}

#[test]
fn unchanged_world_yields_the_stored_status() {
    let counts = Counts { pii_databases: 1, telemetry_replicas: 0 };
    let mut region = with_generation(RegionBuilder::new("r").build(), 1);
    let first = desired_status(&region, true, &[], counts, at(100));
    region.status = Some(first.clone());
    // Later, nothing changed: same status, the transition time is kept.
    assert_eq!(desired_status(&region, true, &[], counts, at(200)), first);
    // A count changes: only the count moves.
    let more = desired_status(&region, true, &[], Counts { pii_databases: 2, ..counts }, at(300));
    assert_eq!(more.pii_databases, Some(2));
    assert_eq!(more.conditions, first.conditions);
    // Ready flips: the transition time moves.
    let invalid = desired_status(&region, true, &["x".to_owned()], counts, at(400));
    assert_eq!(find_condition(&invalid.conditions, READY).unwrap().last_transition_time, at(400));
}
