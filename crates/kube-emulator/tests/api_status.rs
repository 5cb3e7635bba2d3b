//! The status subresource: main-resource writes keep the stored status, `/status`
//! writes change only the status.

mod support_api;

use axum::http::Method;
use kube::ResourceExt as _;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use support_api::{dynamic, pii_json, regionstack, rv, start_with_crds, status};

#[tokio::test]
async fn create_and_main_writes_ignore_status() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let mut body = pii_json("db", "eu-west-1");
    body["status"] = json!({"endpoint": "forged:5432/db"});
    let created = dbs.create(&PostParams::default(), &dynamic(body)).await.unwrap();
    assert!(created.data.get("status").is_none(), "status is dropped on create: {:?}", created.data);

    let pp = PatchParams::default();
    dbs.patch_status("db", &pp, &Patch::Merge(json!({"status": {"endpoint": "real:5432/db"}}))).await.unwrap();

    let mut edited = dbs.get("db").await.unwrap();
    edited.data["spec"]["enforcement"] = json!("Audit");
    edited.data["status"]["endpoint"] = json!("changed-by-main");
    let replaced = dbs.replace("db", &PostParams::default(), &edited).await.unwrap();
    assert_eq!(replaced.data["spec"]["enforcement"], "Audit", "the spec change is kept");
    assert_eq!(replaced.data["status"]["endpoint"], "real:5432/db", "the status change is not");

    let patch = Patch::Merge(json!({"status": null}));
    let patched = dbs.patch("db", &pp, &patch).await.unwrap();
    assert_eq!(patched.data["status"]["endpoint"], "real:5432/db");
    assert_eq!(patched.resource_version(), replaced.resource_version(), "a status-only main write is a no-op");
}

#[tokio::test]
async fn status_writes_touch_only_status() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let created = dbs.create(&PostParams::default(), &dynamic(pii_json("db", "eu-west-1"))).await.unwrap();

    let mut obj = created.clone();
    obj.data["spec"]["enforcement"] = json!("Audit");
    obj.labels_mut().insert("sneaky".into(), "yes".into());
    obj.data["status"] = json!({"observedGeneration": 1, "endpoint": "h:5432/db"});
    let written = dbs.replace_status("db", &PostParams::default(), &obj).await.unwrap();
    assert_eq!(written.data["status"]["endpoint"], "h:5432/db");
    assert_eq!(written.data["spec"]["enforcement"], "Enforce", "spec is not written through /status");
    assert!(written.labels().get("sneaky").is_none(), "metadata is not written through /status");
    assert!(rv(&written) > rv(&created));

    let pp = PatchParams::default();
    let patch = Patch::Merge(json!({"spec": {"enforcement": "Audit"}, "status": {"endpoint": "h2:5432/db"}}));
    let patched = dbs.patch_status("db", &pp, &patch).await.unwrap();
    assert_eq!(patched.data["status"]["endpoint"], "h2:5432/db");
    assert_eq!(patched.data["status"]["observedGeneration"], 1, "a merge patch keeps other status fields");
    assert_eq!(patched.data["spec"]["enforcement"], "Enforce");
    assert_eq!(patched.metadata.generation, Some(1));

    let got = dbs.get_status("db").await.unwrap();
    assert_eq!(got.data["status"]["endpoint"], "h2:5432/db");
}

#[tokio::test]
async fn status_of_a_stale_version_conflicts() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let created = dbs.create(&PostParams::default(), &dynamic(pii_json("db", "eu-west-1"))).await.unwrap();
    dbs.patch("db", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}))).await.unwrap();
    let mut stale = created;
    stale.data["status"] = json!({"endpoint": "x"});
    let s = status(dbs.replace_status("db", &PostParams::default(), &stale).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn kinds_without_the_subresource_have_no_status_endpoint() {
    let env = start_with_crds().await;
    env.cms("default").create(&PostParams::default(), &support_api::configmap("c", &[])).await.unwrap();
    let s = status(env.raw(Method::GET, "/api/v1/namespaces/default/configmaps/c/status", None, None).await);
    assert_eq!(s.code, 404);
    // The status of a missing object is a 404 for the object.
    let s = status(env.dynamic(&regionstack("Region"), None).get_status("nope").await);
    assert_eq!((s.code, s.details.expect("details").name.as_str()), (404, "nope"));
}
