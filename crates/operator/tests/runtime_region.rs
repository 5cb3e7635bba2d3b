//! The Region controller run by a real operator (`run_on`) against the emulator:
//! status, counts that follow PiiDatabases and TelemetryReplicas (including a
//! replica that changes its target), an invalid spec, and Region spec changes that
//! re-queue dependants.
//!
//! The dependants are placed in regions other than the operator's own so that they
//! stay inert whatever their controllers do (ForeignRegion / NotInvolved).

mod support_runtime;

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use regionstack_api::condition::find_condition;
use regionstack_api::fixtures::{
    PiiDatabaseBuilder, RegionBuilder, TelemetryReplicaBuilder, anonymous_telemetry_table,
};
use regionstack_api::{ConditionStatus, Jurisdiction, Lifecycle, PiiDatabase, Region, RegionStatus, TelemetryReplica};
use serde_json::json;
use support_runtime::{Env, Operator, eventually};

fn regions() -> Vec<Region> {
    use Jurisdiction::{Dpdp, Fdpa, Gdpr};
    vec![
        RegionBuilder::new("eu-west-1").country("IE").jurisdictions([Gdpr]).build(),
        RegionBuilder::new("eu-west-3").country("FR").jurisdictions([Gdpr, Fdpa]).build(),
        RegionBuilder::new("eu-central-1").country("DE").jurisdictions([Gdpr]).build(),
        RegionBuilder::new("ap-south-1").country("IN").jurisdictions([Dpdp]).lifecycle(Lifecycle::Planned).build(),
    ]
}

/// The status of Region `name` once `pred` holds for it.
async fn status_where(api: &Api<Region>, name: &str, what: &str, pred: impl Fn(&RegionStatus) -> bool) -> RegionStatus {
    eventually(&format!("Region {name}: {what}"), || async {
        let status = api.get(name).await.ok()?.status?;
        pred(&status).then_some(status)
    })
    .await
}

fn counts(s: &RegionStatus) -> (Option<i32>, Option<i32>) {
    (s.pii_databases, s.telemetry_replicas)
}

#[tokio::test]
async fn region_status_local_flag_and_counts_follow_dependants() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    for region in regions() {
        api.create(&PostParams::default(), &region).await.unwrap();
    }
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;

    let own = status_where(&api, "eu-west-1", "reconciled", |s| s.local.is_some()).await;
    assert_eq!(own.local, Some(true));
    let ready = find_condition(&own.conditions, "Ready").expect("Ready");
    assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::True, "Active"), "{}", ready.message);
    assert_eq!(own.observed_generation, api.get("eu-west-1").await.unwrap().metadata.generation);
    assert_eq!(counts(&own), (Some(0), Some(0)));
    let own_version = api.get("eu-west-1").await.unwrap().resource_version();
    let planned = status_where(&api, "ap-south-1", "reconciled", |s| s.local.is_some()).await;
    assert_eq!(planned.local, Some(false));
    assert_eq!(find_condition(&planned.conditions, "Ready").unwrap().reason, "Planned");

    // A PiiDatabase appears: its Region is re-counted.
    let pii: Api<PiiDatabase> = Api::namespaced(env.client.clone(), "default");
    let db = PiiDatabaseBuilder::new("customers", "eu-west-3").compliance([Jurisdiction::Gdpr]).build();
    pii.create(&PostParams::default(), &db).await.unwrap();
    status_where(&api, "eu-west-3", "one PiiDatabase", |s| counts(s) == (Some(1), Some(0))).await;

    // A replica eu-west-3 → eu-central-1, then retargeted to ap-south-1: the Region it
    // left is re-counted too.
    let replicas: Api<TelemetryReplica> = Api::namespaced(env.client.clone(), "default");
    let replica = TelemetryReplicaBuilder::new("metrics", "eu-west-3")
        .target("eu-central-1")
        .table(anonymous_telemetry_table())
        .build();
    replicas.create(&PostParams::default(), &replica).await.unwrap();
    status_where(&api, "eu-west-3", "one of each", |s| counts(s) == (Some(1), Some(1))).await;
    status_where(&api, "eu-central-1", "one replica", |s| counts(s) == (Some(0), Some(1))).await;
    let retarget = json!({"spec": {"targets": [{"region": "ap-south-1"}]}});
    replicas.patch("metrics", &PatchParams::default(), &Patch::Merge(&retarget)).await.unwrap();
    status_where(&api, "eu-central-1", "no replica any more", |s| counts(s) == (Some(0), Some(0))).await;
    status_where(&api, "ap-south-1", "one replica", |s| counts(s) == (Some(0), Some(1))).await;

    // Deletions are counted as well.
    pii.delete("customers", &DeleteParams::default()).await.unwrap();
    replicas.delete("metrics", &DeleteParams::default()).await.unwrap();
    status_where(&api, "eu-west-3", "nothing", |s| counts(s) == (Some(0), Some(0))).await;
    status_where(&api, "ap-south-1", "nothing", |s| counts(s) == (Some(0), Some(0))).await;

    // Nothing referred to eu-west-1 meanwhile: its status was not written again.
    assert_eq!(api.get("eu-west-1").await.unwrap().resource_version(), own_version);
    assert!(operator.metric("regionstack_status_writes_total", &[("kind", "Region")]).await >= 4);
    operator.stop().await;
}

#[tokio::test]
async fn invalid_region_reports_invalid_spec_and_recovers_on_fix() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    let bad = RegionBuilder::new("eu-central-1").country("DE").jurisdictions([Jurisdiction::Fdpa]).build();
    api.create(&PostParams::default(), &bad).await.unwrap();
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;

    let status = status_where(&api, "eu-central-1", "reconciled", |s| s.local.is_some()).await;
    let ready = find_condition(&status.conditions, "Ready").unwrap();
    assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::False, "InvalidSpec"));
    assert!(ready.message.contains("FDPA is not in force in DE"), "{}", ready.message);

    let fix = json!({"spec": {"jurisdictions": ["GDPR"]}});
    api.patch("eu-central-1", &PatchParams::default(), &Patch::Merge(&fix)).await.unwrap();
    let generation = api.get("eu-central-1").await.unwrap().metadata.generation;
    let status = status_where(&api, "eu-central-1", "valid again", |s| s.observed_generation == generation).await;
    assert_eq!(find_condition(&status.conditions, "Ready").unwrap().status, ConditionStatus::True);
    operator.stop().await;
}

#[tokio::test]
async fn region_spec_change_requeues_its_dependants() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    for region in regions() {
        api.create(&PostParams::default(), &region).await.unwrap();
    }
    let pii: Api<PiiDatabase> = Api::namespaced(env.client.clone(), "default");
    let db = PiiDatabaseBuilder::new("customers", "eu-west-3").compliance([Jurisdiction::Gdpr]).build();
    pii.create(&PostParams::default(), &db).await.unwrap();
    let replicas: Api<TelemetryReplica> = Api::namespaced(env.client.clone(), "default");
    let replica =
        TelemetryReplicaBuilder::new("metrics", "eu-west-3").target("eu-central-1").table(anonymous_telemetry_table());
    replicas.create(&PostParams::default(), &replica.build()).await.unwrap();
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;
    status_where(&api, "eu-west-3", "counted", |s| counts(s) == (Some(1), Some(1))).await;
    let (pii_before, replicas_before) = eventually("first reconciles of the dependants", || async {
        let (p, r) = (operator.reconciles("PiiDatabase").await, operator.reconciles("TelemetryReplica").await);
        (p >= 1 && r >= 1).then_some((p, r))
    })
    .await;

    // Draining eu-west-3 (a spec change) re-queues the PiiDatabase and the replica
    // that refer to it.
    let drain = json!({"spec": {"lifecycle": "Draining"}});
    api.patch("eu-west-3", &PatchParams::default(), &Patch::Merge(&drain)).await.unwrap();
    eventually("the dependants reconciled again", || async {
        let p = operator.reconciles("PiiDatabase").await;
        let r = operator.reconciles("TelemetryReplica").await;
        (p > pii_before && r > replicas_before).then_some(())
    })
    .await;
    let status = status_where(&api, "eu-west-3", "draining", |s| {
        find_condition(&s.conditions, "Ready").is_some_and(|c| c.reason == "Draining")
    })
    .await;
    assert_eq!(status.local, Some(false));
    operator.stop().await;
}
