//! Custom resources: serving from a CRD, schema validation, defaulting, pruning,
//! strict field validation, CEL rules and CRD deletion.

mod support_api;

use axum::http::Method;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use regionstack_api::fixtures::{PiiDatabaseBuilder, RegionBuilder, TelemetryReplicaBuilder, quasi};
use regionstack_api::{Jurisdiction, PiiDatabase, Region, TelemetryReplica};
use serde_json::{Value, json};
use support_api::{Env, dynamic, pii_json, regionstack, start, start_with_crds, status};

const PII_PATH: &str = "/apis/regionstack.io/v1alpha1/namespaces/default/piidatabases";

/// `(field, reason)` of each cause, sorted.
fn causes(s: &Status) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        s.details.iter().flat_map(|d| d.causes.iter()).map(|c| (c.field.clone(), c.reason.clone())).collect();
    out.sort();
    out
}

async fn create_pii(env: &Env, body: Value) -> Result<Value, kube::Error> {
    env.raw(Method::POST, PII_PATH, Some("application/json"), Some(&body)).await
}

#[tokio::test]
async fn creating_crds_serves_their_resources() {
    let env = start().await;
    assert_eq!(status(env.get_json_result(PII_PATH).await).code, 404);
    assert_eq!(status(env.get_json_result("/apis/regionstack.io").await).code, 404);
    env.install_crds().await;

    let seed = regionstack_api::fixtures::seed_topology();
    let regions: Api<Region> = env.all();
    for r in &seed.regions {
        regions.create(&PostParams::default(), r).await.unwrap();
    }
    let dbs: Api<PiiDatabase> = env.ns("default");
    for db in &seed.pii_databases {
        dbs.create(&PostParams::default(), db).await.unwrap();
    }
    let replicas: Api<TelemetryReplica> = env.ns("default");
    for r in &seed.replicas {
        replicas.create(&PostParams::default(), r).await.unwrap();
    }
    assert_eq!(regions.list(&ListParams::default()).await.unwrap().items.len(), 3);
    let got = dbs.get("customers-eu-west-1").await.unwrap();
    assert_eq!(got.spec, seed.pii_databases[0].spec, "the typed seed object round-trips unchanged");
    assert_eq!(replicas.list(&ListParams::default()).await.unwrap().items.len(), 2);
    let group = env.get_json("/apis/regionstack.io").await;
    assert_eq!(group["preferredVersion"]["groupVersion"], "regionstack.io/v1alpha1");
}

#[tokio::test]
async fn schema_violations_are_422_with_field_causes() {
    let env = start_with_crds().await;
    let mut body = pii_json("bad", "EU_WEST");
    body["spec"]["compliance"] = json!(["GDPR", "XX"]);
    body["spec"]["managed"]["instances"] = json!(10);
    body["spec"]["managed"]["storage"] = json!({"size": 10});
    body["spec"]["enforcement"] = json!("Sometimes");
    let s = status(create_pii(&env, body).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(s.message.starts_with("PiiDatabase.regionstack.io \"bad\" is invalid: ["), "{}", s.message);
    let d = s.details.as_ref().expect("details");
    assert_eq!((d.name.as_str(), d.group.as_str(), d.kind.as_str()), ("bad", "regionstack.io", "PiiDatabase"));
    // Schema errors keep CEL rules from running, which is reported on the root.
    let want = [
        ("<nil>", "FieldValueInvalid"),
        ("spec.compliance[1]", "FieldValueNotSupported"),
        ("spec.enforcement", "FieldValueNotSupported"),
        ("spec.managed.instances", "FieldValueInvalid"),
        ("spec.managed.storage.size", "FieldValueTypeInvalid"),
        ("spec.region", "FieldValueInvalid"),
    ];
    assert_eq!(causes(&s), want.map(|(f, r)| (f.to_owned(), r.to_owned())));
    assert!(s.message.contains("spec.managed.instances: Invalid value: 10"), "{}", s.message);
    assert!(s.message.contains("some validation rules were not checked"), "{}", s.message);
    assert_eq!(status(env.get_json_result(&format!("{PII_PATH}/bad")).await).code, 404, "nothing stored");
}

#[tokio::test]
async fn required_and_length_violations() {
    let env = start_with_crds().await;
    let mut body = pii_json("bad", "eu-west-1");
    body["spec"].as_object_mut().unwrap().remove("region");
    body["spec"]["compliance"] = json!([]);
    body["spec"]["managed"]["instances"] = json!(0);
    let s = status(create_pii(&env, body).await);
    let want = [
        ("<nil>", "FieldValueInvalid"),
        ("spec.compliance", "FieldValueInvalid"),
        ("spec.managed.instances", "FieldValueInvalid"),
        ("spec.region", "FieldValueRequired"),
    ];
    assert_eq!(causes(&s), want.map(|(f, r)| (f.to_owned(), r.to_owned())));
    assert!(s.message.contains("spec.managed.instances in body should be greater than or equal to 1"), "{}", s.message);

    let long = "a".repeat(64);
    let s = status(create_pii(&env, pii_json("bad", &long)).await);
    assert!(causes(&s).contains(&("spec.region".to_owned(), "FieldValueTooLong".to_owned())), "{:?}", causes(&s));
    let regions = env.dynamic(&regionstack("Region"), None);
    let mut region = support_api::region_json("r");
    region["spec"]["location"]["country"] = json!("ireland");
    let s = status(regions.create(&PostParams::default(), &dynamic(region)).await);
    assert_eq!(causes(&s), [("spec.location.country".to_owned(), "FieldValueInvalid".to_owned())]);
    assert!(s.message.contains("should match '^[A-Z]{2}$'"), "{}", s.message);
}

#[tokio::test]
async fn defaults_are_applied() {
    let env = start_with_crds().await;
    let created = create_pii(&env, pii_json("db", "eu-west-1")).await.unwrap();
    assert_eq!(created["spec"]["enforcement"], "Enforce");
    assert_eq!(created["spec"]["managed"]["instances"], 3);
    let mut region = support_api::region_json("r");
    region["spec"]["telemetry"] = json!({"publisherEndpoint": {"host": "boundary.example.com"}});
    let regions = env.dynamic(&regionstack("Region"), None);
    let r = regions.create(&PostParams::default(), &dynamic(region)).await.unwrap();
    assert_eq!(r.data["spec"]["telemetry"]["publisherEndpoint"]["port"], 5432);
    // Defaults apply on updates too.
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let patch =
        Patch::Json::<()>(serde_json::from_value(json!([{"op": "remove", "path": "/spec/enforcement"}])).unwrap());
    let patched = dbs.patch("db", &PatchParams::default(), &patch).await.unwrap();
    assert_eq!(patched.data["spec"]["enforcement"], "Enforce");
}

#[tokio::test]
async fn unknown_fields_are_pruned_or_refused_when_strict() {
    let env = start_with_crds().await;
    let mut body = pii_json("db", "eu-west-1");
    body["spec"]["bogus"] = json!(1);
    body["spec"]["managed"]["storage"]["color"] = json!("blue");
    body["extra"] = json!({"x": 1});
    body["metadata"]["labels"] = json!({"kept": "yes"});
    let strict = format!("{PII_PATH}?fieldValidation=Strict");
    let s = status(env.raw(Method::POST, &strict, Some("application/json"), Some(&body)).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
    assert!(s.message.contains("strict decoding error") && s.message.contains("bogus"), "{}", s.message);
    assert!(s.message.contains("color") && s.message.contains("extra"), "{}", s.message);

    let created = create_pii(&env, body).await.unwrap();
    assert!(created["spec"].get("bogus").is_none());
    assert!(created["spec"]["managed"]["storage"].get("color").is_none());
    assert!(created.get("extra").is_none());
    assert_eq!(created["metadata"]["labels"]["kept"], "yes", "metadata is not pruned");

    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let patch = Patch::Merge(json!({"spec": {"bogus": 2}}));
    let s = status(dbs.patch("db", &PatchParams::default().validation_strict(), &patch).await);
    assert_eq!(s.code, 400);
    let lax = dbs.patch("db", &PatchParams::default(), &patch).await.unwrap();
    assert!(lax.data["spec"].get("bogus").is_none());
    assert_eq!(lax.resource_version(), created["metadata"]["resourceVersion"].as_str().map(str::to_owned));
}

#[tokio::test]
async fn cel_rules_are_enforced() {
    let env = start_with_crds().await;
    let both = PiiDatabaseBuilder::new("both", "eu-west-1")
        .compliance([Jurisdiction::Gdpr])
        .edit(|s| {
            s.external = Some(regionstack_api::pii::ExternalDatabase {
                connection_secret_ref: regionstack_api::LocalObjectReference { name: "conn".into() },
            });
        })
        .build();
    let dbs: Api<PiiDatabase> = env.ns("default");
    let s = status(dbs.create(&PostParams::default(), &both).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(s.message.contains("exactly one of managed or external must be set"), "{}", s.message);
    assert_eq!(causes(&s), [("spec".to_owned(), "FieldValueInvalid".to_owned())]);

    let bad_column = TelemetryReplicaBuilder::new("r", "eu-west-1")
        .target("eu-west-3")
        .table(
            regionstack_api::fixtures::TableBuilder::new("t")
                .column(quasi("ts").hash().unit(Some(regionstack_api::telemetry::TimeUnit::Hour))),
        )
        .build();
    let replicas: Api<TelemetryReplica> = env.ns("default");
    let s = status(replicas.create(&PostParams::default(), &bad_column).await);
    assert_eq!(s.code, 422);
    assert!(s.message.contains("unit is required with transform truncateTime"), "{}", s.message);
    assert!(causes(&s).iter().any(|(f, _)| f == "spec.tables[0].columns[0].unit"), "{:?}", causes(&s));
}

#[tokio::test]
async fn region_of_a_pii_database_is_immutable() {
    let env = start_with_crds().await;
    let dbs: Api<PiiDatabase> = env.ns("default");
    // Transition rules do not apply on create: any region is fine.
    dbs.create(
        &PostParams::default(),
        &PiiDatabaseBuilder::new("db", "ap-south-1").compliance([Jurisdiction::Dpdp]).build(),
    )
    .await
    .unwrap();
    let move_it = Patch::Merge(json!({"spec": {"region": "eu-west-1"}}));
    let s = status(dbs.patch("db", &PatchParams::default(), &move_it).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(
        s.message.contains(
            "PiiDatabase.regionstack.io \"db\" is invalid: spec.region: Invalid value: \"string\": region is immutable"
        ),
        "{}",
        s.message
    );
    let mut replaced = dbs.get("db").await.unwrap();
    replaced.spec.region = "eu-west-3".into();
    assert_eq!(status(dbs.replace("db", &PostParams::default(), &replaced).await).code, 422);
    // Other fields stay editable.
    let other = Patch::Merge(json!({"spec": {"enforcement": "Audit"}}));
    let audited = dbs.patch("db", &PatchParams::default(), &other).await.unwrap();
    assert_eq!(audited.spec.region, "ap-south-1");
}

#[tokio::test]
async fn typed_and_dynamic_clients_see_the_same_objects() {
    let env = start_with_crds().await;
    let regions: Api<Region> = env.all();
    regions.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").country("IE").build()).await.unwrap();
    let dynamic_regions = env.dynamic(&regionstack("Region"), None);
    let d = dynamic_regions.get("eu-west-1").await.unwrap();
    assert_eq!(d.types.as_ref().unwrap().kind, "Region");
    assert_eq!(d.data["spec"]["location"]["country"], "IE");
}

#[tokio::test]
async fn deleting_a_crd_stops_serving_it() {
    let env = start_with_crds().await;
    create_pii(&env, pii_json("db", "eu-west-1")).await.unwrap();
    let crds: Api<CustomResourceDefinition> = env.all();
    crds.delete("piidatabases.regionstack.io", &DeleteParams::default()).await.unwrap();
    assert_eq!(status(crds.get("piidatabases.regionstack.io").await).code, 404);
    assert_eq!(status(env.get_json_result(PII_PATH).await).code, 404);
    let resources = env.get_json("/apis/regionstack.io/v1alpha1").await;
    let names: Vec<&str> =
        resources["resources"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(!names.contains(&"piidatabases"), "{names:?}");
    assert!(names.contains(&"regions"), "the other CRDs are still served");

    // Re-creating the CRD serves an empty resource: the old objects went with it.
    let (_, crd) = regionstack_api::crd::all().into_iter().find(|(f, _)| *f == "piidatabase.yaml").unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let list = env.get_json(PII_PATH).await;
    assert_eq!(list["items"], json!([]), "{list}");
}

#[tokio::test]
async fn crd_deletion_waits_for_finalized_objects() {
    let env = start_with_crds().await;
    let mut held = pii_json("held", "eu-west-1");
    held["metadata"]["finalizers"] = json!(["regionstack.io/cleanup"]);
    create_pii(&env, held).await.unwrap();
    let crds: Api<CustomResourceDefinition> = env.all();
    crds.delete("piidatabases.regionstack.io", &DeleteParams::default()).await.unwrap();

    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let deleting = dbs.get("held").await.expect("still served while an object is held");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    dbs.patch("held", &PatchParams::default(), &release).await.unwrap();
    assert_eq!(status(env.get_json_result(PII_PATH).await).code, 404);
}
