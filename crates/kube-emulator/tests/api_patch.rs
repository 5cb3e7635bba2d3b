//! PATCH flavours other than apply: JSON merge patch, JSON patch and strategic merge
//! patch.

mod support_api;

use axum::http::Method;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt as _;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support_api::{configmap, data, dynamic, pii_json, regionstack, start, start_with_crds, status};

fn json_patch(ops: Value) -> Patch<()> {
    Patch::Json(serde_json::from_value(ops).expect("a JSON patch"))
}

#[tokio::test]
async fn merge_patch_adds_replaces_and_deletes_keys() {
    let env = start().await;
    let cms = env.cms("default");
    let mut cm = configmap("m", &[("keep", "1"), ("drop", "2"), ("change", "3")]);
    cm.metadata.labels = Some([("app".to_owned(), "x".to_owned())].into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let patch = json!({"metadata": {"labels": {"tier": "db"}}, "data": {"drop": null, "change": "4", "new": "5"}});
    let patched = cms.patch("m", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    let want = [("change", "4"), ("keep", "1"), ("new", "5")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(data(&patched), want.into());
    assert_eq!(patched.labels().len(), 2, "labels merge: {:?}", patched.labels());
    // A patch of a missing object is a 404.
    let s = status(cms.patch("nope", &PatchParams::default(), &Patch::Merge(json!({}))).await);
    assert_eq!(s.code, 404);
}

#[tokio::test]
async fn json_patch_applies_operations_in_order() {
    let env = start().await;
    let cms = env.cms("default");
    cms.create(&PostParams::default(), &configmap("j", &[("a", "1"), ("b", "2")])).await.unwrap();
    let ops = json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "copy", "from": "/data/c", "path": "/data/d"},
    ]);
    let patched = cms.patch("j", &PatchParams::default(), &json_patch(ops)).await.unwrap();
    let want = [("a", "10"), ("c", "3"), ("d", "3")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(data(&patched), want.into());
}

#[tokio::test]
async fn failing_json_patch_changes_nothing() {
    let env = start().await;
    let cms = env.cms("default");
    let created = cms.create(&PostParams::default(), &configmap("j", &[("a", "1")])).await.unwrap();
    let ops = json!([
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "test", "path": "/data/a", "value": "1"},
    ]);
    let s = status(cms.patch("j", &PatchParams::default(), &json_patch(ops)).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{}", s.message);
    let got = cms.get("j").await.unwrap();
    assert_eq!(data(&got)["a"], "1");
    assert_eq!(got.resource_version(), created.resource_version());
    // Removing a missing path fails the same way.
    let s = status(
        cms.patch("j", &PatchParams::default(), &json_patch(json!([{"op": "remove", "path": "/data/zz"}]))).await,
    );
    assert_eq!(s.code, 422);
    assert_eq!(env.emu.resource_version(), support_api::rv(&created));
}

#[tokio::test]
async fn strategic_merge_merges_containers_by_name() {
    let env = start().await;
    let deploys = env.ns::<Deployment>("default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]},
                    {"name": "proxy", "image": "proxy:1"},
                ]},
            },
        },
    }))
    .unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "web:2"},
        {"name": "logger", "image": "log:1"},
    ]}}}});
    let patched = deploys.patch("web", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let containers = patched.spec.template.spec.unwrap().containers;
    let got: Vec<(&str, &str)> =
        containers.iter().map(|c| (c.name.as_str(), c.image.as_deref().unwrap_or_default())).collect();
    assert_eq!(got, [("web", "web:2"), ("proxy", "proxy:1"), ("logger", "log:1")]);
    assert_eq!(containers[0].ports.as_ref().map(Vec::len), Some(1), "untouched fields of a merged element stay");

    let delete = json!({"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}});
    let patched = deploys.patch("web", &PatchParams::default(), &Patch::Strategic(delete)).await.unwrap();
    let names: Vec<String> = patched.spec.template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["web", "logger"]);
    // The same list sent as a merge patch replaces it.
    let merge = json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}]}}}});
    let replaced = deploys.patch("web", &PatchParams::default(), &Patch::Merge(merge)).await.unwrap();
    assert_eq!(replaced.spec.template.spec.unwrap().containers.len(), 1);
}

#[tokio::test]
async fn strategic_merge_on_a_custom_resource_is_unsupported() {
    let env = start_with_crds().await;
    let dbs = env.dynamic(&regionstack("PiiDatabase"), Some("default"));
    let created = dbs.create(&PostParams::default(), &dynamic(pii_json("db", "eu-west-1"))).await.unwrap();
    let patch = Patch::Strategic(json!({"spec": {"enforcement": "Audit"}}));
    let s = status(dbs.patch("db", &PatchParams::default(), &patch).await);
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));
    assert_eq!(dbs.get("db").await.unwrap().resource_version(), created.resource_version());
}

#[tokio::test]
async fn unknown_patch_content_type_is_415() {
    let env = start().await;
    env.cms("default").create(&PostParams::default(), &configmap("c", &[])).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps/c";
    let s = status(env.raw(Method::PATCH, path, Some("text/plain"), Some(&json!({}))).await);
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));
    let s = status(env.raw(Method::PATCH, path, Some("application/merge-patch+json"), Some(&json!("text"))).await);
    assert!(s.code == 400 || s.code == 422, "a non-object patch result is refused: {s:?}");
}
