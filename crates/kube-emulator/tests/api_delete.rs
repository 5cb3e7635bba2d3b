//! Deletion: finalizers, preconditions, delete-collection and namespace termination.

mod support_api;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::ResourceExt as _;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use support_api::{configmap, finalized, start, status};

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_emptied() {
    let env = start().await;
    let cms = env.cms("default");
    cms.create(&PostParams::default(), &finalized("held", &["example.com/a", "example.com/b"])).await.unwrap();
    let answer = cms.delete("held", &DeleteParams::default()).await.unwrap();
    let deleting = answer.left().expect("the object is still there, so it is returned");
    assert!(deleting.metadata.deletion_timestamp.is_some());

    let got = cms.get("held").await.unwrap();
    assert!(got.metadata.deletion_timestamp.is_some());
    assert_eq!(got.finalizers(), ["example.com/a", "example.com/b"]);
    // Deleting again changes nothing.
    let again = cms.delete("held", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(again.metadata.deletion_timestamp, got.metadata.deletion_timestamp);
    // Other writes still work while deleting; deletionTimestamp cannot be cleared.
    let pp = PatchParams::default();
    let patch = Patch::Merge(json!({"metadata": {"deletionTimestamp": null}, "data": {"k": "w"}}));
    let edited = cms.patch("held", &pp, &patch).await.unwrap();
    assert!(edited.metadata.deletion_timestamp.is_some());
    assert_eq!(edited.data.unwrap()["k"], "w");

    let one_left = Patch::Merge(json!({"metadata": {"finalizers": ["example.com/b"]}}));
    let still = cms.patch("held", &pp, &one_left).await.unwrap();
    assert_eq!(still.finalizers(), ["example.com/b"]);
    let none_left = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    cms.patch("held", &pp, &none_left).await.unwrap();
    assert_eq!(status(cms.get("held").await).code, 404, "gone once the last finalizer went");
}

#[tokio::test]
async fn no_new_finalizers_on_a_deleting_object() {
    let env = start().await;
    let cms = env.cms("default");
    cms.create(&PostParams::default(), &finalized("held", &["example.com/a"])).await.unwrap();
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let add = Patch::Merge(json!({"metadata": {"finalizers": ["example.com/a", "example.com/late"]}}));
    let s = status(cms.patch("held", &PatchParams::default(), &add).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(s.message.contains("example.com/late"), "{}", s.message);
    assert_eq!(s.details.expect("details").causes[0].field, "metadata.finalizers");
    assert_eq!(cms.get("held").await.unwrap().finalizers(), ["example.com/a"]);
    // Finalizers may be added freely before deletion.
    cms.create(&PostParams::default(), &configmap("live", &[])).await.unwrap();
    let live = cms.patch("live", &PatchParams::default(), &add).await.unwrap();
    assert_eq!(live.finalizers().len(), 2);
}

#[tokio::test]
async fn delete_preconditions() {
    let env = start().await;
    let cms = env.cms("default");
    let created = cms.create(&PostParams::default(), &configmap("p", &[])).await.unwrap();
    let updated = cms.patch("p", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": "b"}}))).await.unwrap();

    let stale = Preconditions { resource_version: created.resource_version(), uid: None };
    let s = status(cms.delete("p", &DeleteParams::default().preconditions(stale)).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(s.message.contains("Precondition failed"), "{}", s.message);
    let wrong_uid = Preconditions { resource_version: None, uid: Some("00000000-0000-0000-0000-000000000000".into()) };
    assert_eq!(status(cms.delete("p", &DeleteParams::default().preconditions(wrong_uid)).await).code, 409);
    assert!(cms.get("p").await.is_ok(), "failed preconditions delete nothing");

    let right = Preconditions { resource_version: updated.resource_version(), uid: updated.uid() };
    cms.delete("p", &DeleteParams::default().preconditions(right)).await.unwrap();
    assert_eq!(status(cms.get("p").await).code, 404);
    assert_eq!(status(cms.delete("p", &DeleteParams::default()).await).code, 404);
}

#[tokio::test]
async fn dry_run_delete_keeps_the_object() {
    let env = start().await;
    let cms = env.cms("default");
    cms.create(&PostParams::default(), &configmap("d", &[])).await.unwrap();
    cms.delete("d", &DeleteParams::default().dry_run()).await.unwrap();
    assert!(cms.get("d").await.is_ok());
}

#[tokio::test]
async fn delete_collection_honours_selectors() {
    let env = start().await;
    let cms = env.cms("default");
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        cms.create(&PostParams::default(), &support_api::labeled(name, &[("app", app)])).await.unwrap();
    }
    let deleted = cms.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=web")).await;
    let deleted = deleted.unwrap().left().expect("a list of the deleted objects");
    assert_eq!(deleted.items.len(), 2);
    let left: Vec<String> =
        cms.list(&ListParams::default()).await.unwrap().iter().map(kube::ResourceExt::name_any).collect();
    assert_eq!(left, ["c"]);
}

#[tokio::test]
async fn namespace_deletion_removes_contents_and_waits_for_finalizers() {
    let env = start().await;
    let namespaces = env.all::<Namespace>();
    env.namespace("doomed").await;
    let cms = env.cms("doomed");
    cms.create(&PostParams::default(), &configmap("plain", &[])).await.unwrap();
    cms.create(&PostParams::default(), &finalized("held", &["example.com/hold"])).await.unwrap();
    env.cms("default").create(&PostParams::default(), &configmap("elsewhere", &[])).await.unwrap();

    namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();
    let ns = namespaces.get("doomed").await.unwrap();
    assert!(ns.metadata.deletion_timestamp.is_some());
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));
    assert_eq!(status(cms.get("plain").await).code, 404, "plain content is deleted");
    let held = cms.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "finalized content is marked");
    assert!(env.cms("default").get("elsewhere").await.is_ok(), "other namespaces are untouched");

    let s = status(cms.create(&PostParams::default(), &configmap("late", &[])).await);
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert!(s.message.contains("being terminated"), "{}", s.message);

    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    cms.patch("held", &PatchParams::default(), &release).await.unwrap();
    assert_eq!(status(cms.get("held").await).code, 404);
    assert_eq!(status(namespaces.get("doomed").await).code, 404, "the empty namespace goes last");
}

#[tokio::test]
async fn empty_namespace_is_deleted_at_once() {
    let env = start().await;
    let namespaces = env.all::<Namespace>();
    env.namespace("empty").await;
    namespaces.delete("empty", &DeleteParams::default()).await.unwrap();
    assert_eq!(status(namespaces.get("empty").await).code, 404);
    // Its name can be reused, for a new namespace with a new uid.
    let again = env.namespace("empty").await;
    assert_eq!(again.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    let cm: ConfigMap = env.cms("empty").create(&PostParams::default(), &configmap("x", &[])).await.unwrap();
    assert_eq!(cm.namespace().as_deref(), Some("empty"));
}
