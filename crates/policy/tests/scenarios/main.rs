//! Table-driven residency scenarios (DESIGN §2, §4, §5): one [`Scenario`] per case,
//! each stating exactly which reason codes the verdict carries (a missing or an extra
//! code fails), and for replicas the data class and every per-target decision.
//!
//! Every offline-decidable reason code is produced by at least one scenario
//! ([`every_offline_decidable_code_is_covered`]).

mod cases;
#[path = "../support/mod.rs"]
mod support;

use cases::{Scenario, Subject, case};
use regionstack_api::ReasonCode;
use regionstack_api::fixtures::{AP_SOUTH_1, seed_topology};
use regionstack_api::region::Lifecycle;
use regionstack_policy::{Kind, RegionIndex, World, evaluate_pii, evaluate_region, evaluate_replica, evaluate_world};
use support::{EU_NORTH_1, codes, world};

/// Judge a case and compare the verdict with what it expects; `Err` says how it differs.
fn check(scenario: Scenario) -> Result<(), String> {
    let case = case(scenario);
    let index = RegionIndex::from_regions(&case.regions);
    match &case.subject {
        Subject::Seed => {
            let seed = seed_topology();
            let world = World { regions: &case.regions, pii_databases: &seed.pii_databases, replicas: &seed.replicas };
            let verdicts = evaluate_world(world, &case.catalogue);
            let kinds: Vec<_> = verdicts.iter().map(|v| v.kind).collect();
            let want = [Kind::Region; 3].into_iter().chain([Kind::PiiDatabase; 2]).chain([Kind::TelemetryReplica; 2]);
            if !kinds.iter().copied().eq(want) {
                return Err(format!("unexpected verdicts {kinds:?}"));
            }
            for v in verdicts {
                if codes(&v.findings) != case.codes {
                    return Err(format!("{} {}: {:?}", v.kind.as_str(), v.name, v.findings));
                }
            }
        }
        Subject::Region(region) => {
            let findings = evaluate_region(&region.spec);
            if codes(&findings) != case.codes {
                return Err(format!("codes {:?}, expected {:?}; findings {findings:#?}", codes(&findings), case.codes));
            }
            let regions = [region.clone()];
            let world = World { regions: &regions, pii_databases: &[], replicas: &[] };
            let via_world = evaluate_world(world, &case.catalogue).pop().expect("one verdict per object");
            if via_world.findings != findings || via_world.kind != Kind::Region {
                return Err(format!("evaluate_world disagrees: {via_world:?}"));
            }
        }
        Subject::Pii(db) => {
            let findings = evaluate_pii(&db.spec, &index);
            if codes(&findings) != case.codes {
                return Err(format!("codes {:?}, expected {:?}; findings {findings:#?}", codes(&findings), case.codes));
            }
            // The world entry point reaches the same verdict.
            let dbs = [db.clone()];
            let world = World { regions: &case.regions, pii_databases: &dbs, replicas: &[] };
            let via_world = evaluate_world(world, &case.catalogue).pop().expect("one verdict per object");
            if via_world.findings != findings || via_world.kind != Kind::PiiDatabase {
                return Err(format!("evaluate_world disagrees: {via_world:?}"));
            }
        }
        Subject::Replica(replica) => {
            let verdict = evaluate_replica(&replica.spec, &index, &case.catalogue);
            if codes(&verdict.findings) != case.codes {
                return Err(format!(
                    "codes {:?}, expected {:?}; findings {:#?}",
                    codes(&verdict.findings),
                    case.codes,
                    verdict.findings
                ));
            }
            if verdict.allowed() != case.codes.is_empty() {
                return Err("allowed() disagrees with the findings".to_owned());
            }
            if let Some((class, tables)) = &case.class
                && (verdict.data_class != *class || verdict.tables != *tables)
            {
                return Err(format!(
                    "data class {:?} / tables {:?}, expected {class:?} / {tables:?}",
                    verdict.data_class, verdict.tables
                ));
            }
            if let Some(targets) = &case.targets
                && verdict.targets != *targets
            {
                return Err(format!("targets {:#?}, expected {targets:#?}", verdict.targets));
            }
            if verdict.targets.len() != replica.spec.targets.len() {
                return Err("one decision per target expected".to_owned());
            }
            let replicas = [replica.clone()];
            let world = World { regions: &case.regions, pii_databases: &[], replicas: &replicas };
            let via_world = evaluate_world(world, &case.catalogue).pop().expect("one verdict per object");
            if via_world.findings != verdict.findings || via_world.kind != Kind::TelemetryReplica {
                return Err(format!("evaluate_world disagrees: {via_world:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_scenario_gets_exactly_its_expected_verdict() {
    let failures: Vec<String> =
        Scenario::ALL.iter().filter_map(|s| check(*s).err().map(|why| format!("{s:?}: {why}"))).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        Scenario::ALL.len(),
        failures.join("\n")
    );
}

#[test]
fn every_offline_decidable_code_is_covered() {
    let covered: Vec<ReasonCode> = Scenario::ALL.iter().flat_map(|s| case(*s).codes).collect();
    for code in ReasonCode::ALL.iter().filter(|c| c.offline_decidable()) {
        assert!(covered.contains(code), "no scenario produces {code}");
    }
    for code in &covered {
        assert!(code.offline_decidable(), "{code} is not decidable offline yet a scenario expects it");
    }
}

#[test]
fn every_scenario_that_refuses_says_why_in_words() {
    for scenario in Scenario::ALL {
        let case = case(*scenario);
        let index = RegionIndex::from_regions(&case.regions);
        let findings = match &case.subject {
            Subject::Seed => continue,
            Subject::Region(region) => evaluate_region(&region.spec),
            Subject::Pii(db) => evaluate_pii(&db.spec, &index),
            Subject::Replica(r) => evaluate_replica(&r.spec, &index, &case.catalogue).findings,
        };
        for f in findings {
            assert!(f.message.len() > 20, "{scenario:?}: {} has a terse message {:?}", f.code, f.message);
        }
    }
}

#[test]
fn the_test_world_is_what_the_scenarios_assume() {
    let regions = world();
    let summary: Vec<_> = regions
        .iter()
        .map(|r| (r.metadata.name.clone().unwrap(), r.spec.location.country.clone(), r.spec.lifecycle))
        .collect();
    let names: Vec<_> = summary.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(names, support::NAMES[..7]);
    let active: Vec<_> = summary.iter().filter(|(.., l)| *l == Lifecycle::Active).map(|(n, ..)| n.as_str()).collect();
    assert_eq!(active, support::ACTIVE);
    assert!(summary.contains(&(EU_NORTH_1.to_owned(), "SE".to_owned(), Lifecycle::Draining)));
    assert!(summary.contains(&(AP_SOUTH_1.to_owned(), "IN".to_owned(), Lifecycle::Planned)));
}
