//! Server-side apply: field ownership in `managedFields`, conflicts and `force`,
//! removal of fields a manager stops applying, and apply to the status subresource.

mod support_api;

use axum::http::Method;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt as _;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use support_api::{configmap, data, managers, pii_json, regionstack, start, start_with_crds, status};

fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

fn strings(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn apply_creates_and_records_managers() {
    let env = start().await;
    let cms = env.cms("default");
    let a =
        cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "1"), ("y", "2")]))).await.unwrap();
    assert_eq!(data(&a), strings(&[("x", "1"), ("y", "2")]));
    assert_eq!(managers(&a.metadata), [("alice".into(), "Apply".into(), String::new())]);
    let fields = a.metadata.managed_fields.as_ref().unwrap()[0].fields_v1.as_ref().unwrap().0.clone();
    assert_eq!(fields["f:data"], json!({"f:x": {}, "f:y": {}}));

    let b = cms.patch("cfg", &apply("bob"), &Patch::Apply(configmap("cfg", &[("z", "3")]))).await.unwrap();
    assert_eq!(data(&b), strings(&[("x", "1"), ("y", "2"), ("z", "3")]), "applies of different fields merge");
    let names: Vec<String> = managers(&b.metadata).into_iter().map(|(m, ..)| m).collect();
    assert_eq!(names, ["alice", "bob"]);

    // Re-applying the same configuration writes nothing.
    let again = cms.patch("cfg", &apply("bob"), &Patch::Apply(configmap("cfg", &[("z", "3")]))).await.unwrap();
    assert_eq!(again.resource_version(), b.resource_version());
    // Apply needs a field manager.
    let anonymous = PatchParams { field_manager: None, ..apply("x") };
    assert_eq!(status(cms.patch("cfg", &anonymous, &Patch::Apply(configmap("cfg", &[]))).await).code, 400);
    // An apply configuration must be an object.
    let path = "/api/v1/namespaces/default/configmaps/cfg?fieldManager=alice";
    let s = status(env.raw(Method::PATCH, path, Some("application/apply-patch+yaml"), Some(&json!("text"))).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
    assert!(cms.get("cfg").await.is_ok(), "the server survived");
}

#[tokio::test]
async fn conflicting_apply_is_409_unless_forced() {
    let env = start().await;
    let cms = env.cms("default");
    cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "1")]))).await.unwrap();
    // The same value is no conflict: ownership is shared.
    cms.patch("cfg", &apply("carol"), &Patch::Apply(configmap("cfg", &[("x", "1")]))).await.unwrap();

    let s = status(cms.patch("cfg", &apply("bob"), &Patch::Apply(configmap("cfg", &[("x", "9")]))).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(s.message.starts_with("Apply failed with 2 conflicts"), "{}", s.message);
    assert!(s.message.contains("\"alice\"") && s.message.contains(".data.x"), "{}", s.message);
    let causes = s.details.expect("details").causes;
    assert_eq!(causes.len(), 2);
    assert!(causes.iter().all(|c| c.reason == "FieldManagerConflict" && c.field == ".data.x"), "{causes:?}");
    assert_eq!(data(&cms.get("cfg").await.unwrap())["x"], "1", "nothing was written");

    let forced = cms.patch("cfg", &apply("bob").force(), &Patch::Apply(configmap("cfg", &[("x", "9")]))).await.unwrap();
    assert_eq!(data(&forced)["x"], "9");
    let owners: Vec<String> = managers(&forced.metadata).into_iter().map(|(m, ..)| m).collect();
    assert_eq!(owners, ["bob"], "forcing took the field from everyone else");
    // Now alice conflicts with bob.
    let s = status(cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "1")]))).await);
    assert_eq!(s.code, 409);
    assert!(s.message.contains("conflict with \"bob\""), "{}", s.message);
}

#[tokio::test]
async fn updates_own_fields_too() {
    let env = start().await;
    let cms = env.cms("default");
    let pp = PostParams { field_manager: Some("creator".into()), ..PostParams::default() };
    let created = cms.create(&pp, &configmap("cfg", &[("x", "1")])).await.unwrap();
    assert_eq!(managers(&created.metadata), [("creator".into(), "Update".into(), String::new())]);
    let s = status(cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "2")]))).await);
    assert_eq!(s.code, 409);
    assert!(s.message.contains("conflict with \"creator\" using v1: .data.x"), "{}", s.message);
    // A merge patch by another manager takes the field over without conflict.
    let merge = PatchParams { field_manager: Some("editor".into()), ..PatchParams::default() };
    let patched = cms.patch("cfg", &merge, &Patch::Merge(json!({"data": {"x": "3"}}))).await.unwrap();
    let owners: Vec<String> = managers(&patched.metadata).into_iter().map(|(m, ..)| m).collect();
    assert_eq!(owners, ["editor"], "creator lost its only field");
}

#[tokio::test]
async fn fields_no_longer_applied_are_removed_unless_owned_elsewhere() {
    let env = start().await;
    let cms = env.cms("default");
    let full = configmap("cfg", &[("x", "1"), ("y", "2"), ("z", "3")]);
    cms.patch("cfg", &apply("alice"), &Patch::Apply(full)).await.unwrap();
    cms.patch("cfg", &apply("bob"), &Patch::Apply(configmap("cfg", &[("z", "3")]))).await.unwrap();

    let narrowed = cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "1")]))).await.unwrap();
    assert_eq!(data(&narrowed), strings(&[("x", "1"), ("z", "3")]), "y went, z is still bob's");

    let mut labels: ConfigMap = configmap("cfg", &[("x", "1")]);
    labels.metadata.labels = Some(strings(&[("team", "a")]));
    let labelled = cms.patch("cfg", &apply("alice"), &Patch::Apply(labels)).await.unwrap();
    assert_eq!(labelled.labels().get("team").map(String::as_str), Some("a"));
    let unlabelled = cms.patch("cfg", &apply("alice"), &Patch::Apply(configmap("cfg", &[("x", "1")]))).await.unwrap();
    assert!(unlabelled.labels().is_empty(), "{:?}", unlabelled.labels());

    let gone = cms.patch("cfg", &apply("bob"), &Patch::Apply(configmap("cfg", &[]))).await.unwrap();
    assert_eq!(data(&gone), strings(&[("x", "1")]));
}

#[tokio::test]
async fn apply_to_status_subresource() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let spec = support_api::dynamic(pii_json("db", "eu-west-1"));
    let pp = apply("regionstack-operator");
    // The status of a missing object cannot be applied.
    let status_body = json!({
        "apiVersion": "regionstack.io/v1alpha1",
        "kind": "PiiDatabase",
        "metadata": {"name": "db"},
        "status": {"endpoint": "db.eu:5432/app", "observedGeneration": 1},
    });
    assert_eq!(status(dbs.patch_status("db", &pp, &Patch::Apply(&status_body)).await).code, 404);

    let created = dbs.patch("db", &apply("gitops"), &Patch::Apply(&spec)).await.unwrap();
    assert!(created.data.get("status").is_none());
    let with_status = dbs.patch_status("db", &pp, &Patch::Apply(&status_body)).await.unwrap();
    assert_eq!(with_status.data["status"]["endpoint"], "db.eu:5432/app");
    assert_eq!(with_status.data["spec"], created.data["spec"], "the spec is untouched");
    assert_eq!(with_status.metadata.generation, Some(1));
    let entries = managers(&with_status.metadata);
    assert!(entries.contains(&("gitops".into(), "Apply".into(), String::new())), "{entries:?}");
    assert!(entries.contains(&("regionstack-operator".into(), "Apply".into(), "status".into())), "{entries:?}");

    // A status field in a main-resource apply is ignored.
    let mut spec_with_status = pii_json("db", "eu-west-1");
    spec_with_status["status"] = json!({"endpoint": "forged"});
    let reapplied = dbs.patch("db", &apply("gitops"), &Patch::Apply(&spec_with_status)).await.unwrap();
    assert_eq!(reapplied.data["status"]["endpoint"], "db.eu:5432/app");

    // Dropping a status field from the status apply removes it.
    let mut endpoint_only = status_body.clone();
    endpoint_only["status"] = json!({"endpoint": "db.eu:5432/app"});
    let narrowed = dbs.patch_status("db", &pp, &Patch::Apply(&endpoint_only)).await.unwrap();
    assert!(narrowed.data["status"].get("observedGeneration").is_none(), "{}", narrowed.data["status"]);
}

#[tokio::test]
async fn list_map_elements_are_owned_per_key() {
    let env = start_with_crds().await;
    let seed = regionstack_api::fixtures::seed_topology();
    let replica = seed.replicas[0].clone();
    let name = replica.name_any();
    let replicas: kube::Api<regionstack_api::TelemetryReplica> = env.ns("default");
    replicas.patch(&name, &apply("gitops"), &Patch::Apply(&replica)).await.unwrap();

    let extra = |targets: serde_json::Value| json!({"apiVersion": "regionstack.io/v1alpha1", "kind": "TelemetryReplica", "spec": {"targets": targets}});
    let both = replicas.patch(&name, &apply("ops"), &Patch::Apply(extra(json!([{"region": "ap-south-1"}])))).await;
    let regions = |r: &regionstack_api::TelemetryReplica| -> Vec<String> {
        r.spec.targets.iter().map(|t| t.region.clone()).collect()
    };
    assert_eq!(regions(&both.unwrap()), ["eu-west-3", "ap-south-1"], "elements merge by their key");

    // ops may add a field to gitops' element: the element's key is shared, the field is new.
    let routed = extra(json!([{"region": "eu-west-3", "destination": "public.metrics"}]));
    let routed = replicas.patch(&name, &apply("ops"), &Patch::Apply(routed)).await.unwrap();
    assert_eq!(regions(&routed), ["eu-west-3"], "ops stopped applying ap-south-1, which only it owned");
    assert_eq!(routed.spec.targets[0].destination.as_deref(), Some("public.metrics"));

    let retarget = extra(json!([{"region": "eu-west-3", "destination": "public.other"}]));
    let s = status(replicas.patch(&name, &apply("gitops"), &Patch::Apply(retarget)).await);
    assert!(s.message.contains(".spec.targets[region=\"eu-west-3\"].destination"), "{}", s.message);
}

#[tokio::test]
async fn re_applying_the_same_configuration_writes_nothing() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    // The configuration leaves defaulted fields (enforcement, instances) to the server.
    let spec = support_api::dynamic(pii_json("db", "eu-west-1"));
    let first = dbs.patch("db", &apply("gitops"), &Patch::Apply(&spec)).await.unwrap();
    assert_eq!(first.data["spec"]["enforcement"], "Enforce");
    let second = dbs.patch("db", &apply("gitops"), &Patch::Apply(&spec)).await.unwrap();
    assert_eq!(second.resource_version(), first.resource_version());

    let status_body = json!({
        "apiVersion": "regionstack.io/v1alpha1",
        "kind": "PiiDatabase",
        "status": {"observedGeneration": 1, "conditions": [{
            "type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }]},
    });
    let op = apply("regionstack-operator").force();
    let with_status = dbs.patch_status("db", &op, &Patch::Apply(&status_body)).await.unwrap();
    assert!(support_api::rv(&with_status) > support_api::rv(&second));
    let again = dbs.patch_status("db", &op, &Patch::Apply(&status_body)).await.unwrap();
    assert_eq!(again.resource_version(), with_status.resource_version(), "a controller's steady state is quiet");
}
