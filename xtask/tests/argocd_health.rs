//! The Argo CD health checks (`docs/argocd/health/*.lua`) executed on Lua 5.1 — the
//! language of Argo CD's gopher-lua — against objects in every state, with only the
//! libraries Argo CD opens. Region and TelemetryReplica statuses come from the
//! operator's own status functions, so a changed reason string fails here; the
//! PiiDatabase's are built with the reasons its controller writes (documented in
//! crates/operator/src/controller/pii/status.rs).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use mlua::{Lua, LuaOptions, LuaSerdeExt, StdLib, Table};
use regionstack::controller::region::{Counts, desired_status};
use regionstack::controller::telemetry::apply::{SourceReport, TargetReport};
use regionstack::controller::telemetry::report::{self, Outcome};
use regionstack::controller::telemetry::validate::validate;
use regionstack_api::fixtures::{PiiDatabaseBuilder, RegionBuilder, TelemetryReplicaBuilder, device_telemetry_table};
use regionstack_api::pii::Violation;
use regionstack_api::region::Lifecycle;
use regionstack_api::{Condition, ConditionStatus, Jurisdiction, PiiDatabase, PiiDatabaseStatus, ReasonCode, Region};
use regionstack_api::{TelemetryReplica, TelemetryReplicaStatus};
use regionstack_policy::Catalogue;
use regionstack_sql::telemetry::audit::Finding;
use regionstack_sql::telemetry::import::{ImportHealth, ImportStatus};
use regionstack_sql::telemetry::prune::PruneOutcome;
use serde_json::Value;
use xtask::workspace_root;

fn now() -> Time {
    Time(Timestamp::from_second(1_800_000_000).unwrap())
}

/// JSON `null` never reaches Argo CD's scripts as a value (absent fields are nil);
/// drop nulls so that mlua does not turn them into a light userdata.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Run the health check of `script` (file name under docs/argocd/health/) on `obj`:
/// `(status, message)`.
fn health(script: &str, obj: &impl serde::Serialize) -> (String, String) {
    let path = workspace_root().join("docs/argocd/health").join(script);
    let code = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::new()).unwrap();
    let mut json = serde_json::to_value(obj).unwrap();
    strip_nulls(&mut json);
    lua.globals().set("obj", lua.to_value(&json).unwrap()).unwrap();
    let hs: Table = lua.load(&code).set_name(script).eval().unwrap_or_else(|e| panic!("{script} failed: {e}"));
    let status: String = hs.get("status").unwrap();
    let message: String = hs.get("message").unwrap();
    assert!(
        ["Healthy", "Progressing", "Degraded", "Suspended"].contains(&status.as_str()),
        "{script} returned an unknown status {status:?}"
    );
    (status, message)
}

#[track_caller]
fn expect(case: &str, got: (String, String), status: &str, message_contains: &str) {
    let (got_status, message) = got;
    assert_eq!(got_status, status, "{case}: message {message:?}");
    assert!(message.contains(message_contains), "{case}: message {message:?} lacks {message_contains:?}");
}

// ----- Region -------------------------------------------------------------------

fn region(lifecycle: Lifecycle) -> Region {
    let mut r = RegionBuilder::new("ap-south-1").country("IN").jurisdictions([Jurisdiction::Dpdp]).build();
    r.spec.lifecycle = lifecycle;
    r.metadata.generation = Some(1);
    r
}

fn with_status(mut r: Region, problems: &[&str]) -> Region {
    let problems: Vec<String> = problems.iter().map(|p| (*p).to_owned()).collect();
    r.status = Some(desired_status(&r, false, &problems, Counts::default(), now()));
    r
}

#[test]
fn region_states() {
    let h = |r: &Region| health("region.lua", r);
    expect("active", h(&with_status(region(Lifecycle::Active), &[])), "Healthy", "Active");
    expect("planned", h(&with_status(region(Lifecycle::Planned), &[])), "Suspended", "Planned");
    expect("draining", h(&with_status(region(Lifecycle::Draining), &[])), "Suspended", "Draining");
    expect(
        "invalid",
        h(&with_status(region(Lifecycle::Active), &["FDPA is not in force in IN"])),
        "Degraded",
        "InvalidSpec",
    );
    expect("no status", h(&region(Lifecycle::Active)), "Progressing", "waiting for the regionstack operator");
    // Planned → Active edited: the operator has not seen generation 2 yet.
    let mut edited = with_status(region(Lifecycle::Planned), &[]);
    edited.spec.lifecycle = Lifecycle::Active;
    edited.metadata.generation = Some(2);
    expect("spec changed", h(&edited), "Progressing", "generation 2");
    let mut deleting = with_status(region(Lifecycle::Active), &[]);
    deleting.metadata.deletion_timestamp = Some(now());
    expect("deleting", h(&deleting), "Progressing", "being deleted");
}

// ----- PiiDatabase --------------------------------------------------------------

type Verdict<'a> = (ConditionStatus, &'a str);

fn pii(ready: Verdict<'_>, compliant: Option<Verdict<'_>>) -> PiiDatabase {
    let mut db = PiiDatabaseBuilder::new("customers", "eu-west-1").external("customers-admin").build();
    db.metadata.generation = Some(4);
    let mut conditions = vec![Condition::new("Ready", ready.0, ready.1, format!("ready {}", ready.1), Some(4), now())];
    if let Some((status, reason)) = compliant {
        conditions.push(Condition::new("ResidencyCompliant", status, reason, format!("rc {reason}"), Some(4), now()));
    }
    db.status = Some(PiiDatabaseStatus { observed_generation: Some(4), conditions, ..PiiDatabaseStatus::default() });
    db
}

#[test]
fn pii_database_states() {
    use ConditionStatus::{False, True, Unknown};
    let h = |db: &PiiDatabase| health("piidatabase.lua", db);
    expect("compliant", h(&pii((True, "Reconciled"), Some((True, "Compliant")))), "Healthy", "Reconciled");
    let mut dirty = pii((True, "Reconciled"), Some((False, "RogueReplication")));
    dirty.status.as_mut().unwrap().violations.push(Violation {
        code: ReasonCode::RogueReplication,
        object: "publication/leak".into(),
        detail: "FOR ALL TABLES".into(),
        first_seen: now(),
    });
    expect("violations", h(&dirty), "Degraded", "RogueReplication");
    expect("not audited", h(&pii((True, "Reconciled"), None)), "Progressing", "first residency audit");
    expect(
        "provisioning",
        h(&pii((False, "Provisioning"), Some((Unknown, "NotAudited")))),
        "Progressing",
        "Provisioning",
    );
    expect("foreign", h(&pii((False, "ForeignRegion"), Some((True, "Compliant")))), "Healthy", "ForeignRegion");
    for refusal in ["UnknownRegion", "RegionNotActive", "JurisdictionNotProvided", "BackupOutOfRegion"] {
        expect(refusal, h(&pii((False, refusal), Some((False, refusal)))), "Degraded", refusal);
    }
    for failure in ["ProvisionerMissing", "SecretMissing", "DatabaseUnreachable", "DatabaseError"] {
        expect(failure, h(&pii((False, failure), Some((True, "Compliant")))), "Degraded", failure);
    }
    expect("ready unknown", h(&pii((Unknown, "Starting"), None)), "Progressing", "Ready condition");
    let mut stale = pii((True, "Reconciled"), Some((True, "Compliant")));
    stale.metadata.generation = Some(5);
    expect("stale", h(&stale), "Progressing", "generation 5");
    let mut fresh = pii((True, "Reconciled"), None);
    fresh.status = None;
    expect("no status", h(&fresh), "Progressing", "report status");
    let mut deleting = pii((True, "Reconciled"), Some((True, "Compliant")));
    deleting.metadata.deletion_timestamp = Some(now());
    expect("deleting", h(&deleting), "Progressing", "being deleted");
}

// ----- TelemetryReplica ---------------------------------------------------------

fn regions() -> Vec<Region> {
    vec![
        RegionBuilder::new("eu-west-1").country("IE").build(),
        RegionBuilder::new("eu-west-3").country("FR").jurisdictions([Jurisdiction::Gdpr, Jurisdiction::Fdpa]).build(),
        RegionBuilder::new("eu-central-1").country("DE").build(),
        RegionBuilder::new("ap-south-1")
            .country("IN")
            .jurisdictions([Jurisdiction::Dpdp])
            .lifecycle(Lifecycle::Planned)
            .build(),
    ]
}

fn replica(target: &str) -> TelemetryReplica {
    let mut r =
        TelemetryReplicaBuilder::new("metrics", "eu-west-1").target(target).table(device_telemetry_table()).build();
    r.metadata.generation = Some(2);
    r
}

/// The status the operator of `own` writes for `obj` after `outcome`.
fn replica_status(obj: &TelemetryReplica, own: &str, outcome: &Outcome<'_>) -> TelemetryReplica {
    let v = validate(&obj.spec, &regions(), &Catalogue::new(), own);
    let mut obj = obj.clone();
    let status: TelemetryReplicaStatus = report::desired(&obj, &v, outcome, own, &now());
    obj.status = Some(status);
    obj
}

fn target_report(health: ImportHealth, fresh: bool) -> TargetReport {
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
            error_count: 2,
            lag_bytes: Some(0),
            slot_wal_status: None,
            action: Some("re-sync".into()),
        },
    }
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

#[test]
fn telemetry_replica_states() {
    let h = |r: &TelemetryReplica| health("telemetryreplica.lua", r);
    let ok = replica("eu-west-3");
    let clean = source_report(vec![]);
    expect("source built", h(&replica_status(&ok, "eu-west-1", &Outcome::Source(&clean))), "Healthy", "Source side");
    let rogue = source_report(vec![Finding {
        code: ReasonCode::RogueReplication,
        object: "publication/rogue".into(),
        detail: "publishes the source table".into(),
    }]);
    expect(
        "rogue publication",
        h(&replica_status(&ok, "eu-west-1", &Outcome::Source(&rogue))),
        "Degraded",
        "RogueReplication",
    );
    let streaming = target_report(ImportHealth::Streaming, false);
    expect("streaming", h(&replica_status(&ok, "eu-west-3", &Outcome::Target(&streaming))), "Healthy", "Target side");
    let starting = target_report(ImportHealth::WorkerDown, true);
    expect(
        "starting",
        h(&replica_status(&ok, "eu-west-3", &Outcome::Target(&starting))),
        "Progressing",
        report::PROVISIONING,
    );
    for (import, reason) in [
        (ImportHealth::WorkerDown, report::WORKER_DOWN),
        (ImportHealth::Disabled, report::SUBSCRIPTION_DISABLED),
        (ImportHealth::SlotLost, report::SLOT_LOST),
    ] {
        let r = target_report(import, false);
        expect(reason, h(&replica_status(&ok, "eu-west-3", &Outcome::Target(&r))), "Degraded", reason);
    }
    expect("not involved", h(&replica_status(&ok, "eu-central-1", &Outcome::NotInvolved)), "Healthy", "ForeignRegion");
    // A target that is Planned: refused on every side, and visible as such even in a
    // cluster that serves neither side.
    let planned = replica("ap-south-1");
    expect(
        "refused, not involved",
        h(&replica_status(&planned, "eu-central-1", &Outcome::NotInvolved)),
        "Degraded",
        "RegionNotActive",
    );
    let message = "RegionNotActive: target region \"ap-south-1\" is Planned, not Active";
    expect(
        "refused, source",
        h(&replica_status(&planned, "eu-west-1", &Outcome::Refused { code: ReasonCode::RegionNotActive, message })),
        "Degraded",
        "RegionNotActive",
    );
    let failed = Outcome::Failed { category: "DatabaseUnreachable", message: "cannot connect".into() };
    expect("unreachable", h(&replica_status(&ok, "eu-west-1", &failed)), "Degraded", "DatabaseUnreachable");
    let mut stale = replica_status(&ok, "eu-west-1", &Outcome::Source(&clean));
    stale.metadata.generation = Some(3);
    expect("stale", h(&stale), "Progressing", "generation 3");
    expect("no status", h(&ok), "Progressing", "report status");
}
