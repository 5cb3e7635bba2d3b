//! Object CRUD: identity fields, `generation`, the global `resourceVersion`,
//! optimistic concurrency, `generateName` and `Status` error bodies.

mod support_api;

use axum::http::Method;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support_api::{configmap, data, dynamic, meta, region_json, regionstack, rv, start, start_with_crds, status};

fn deployment(name: &str, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }))
    .expect("a Deployment")
}

#[tokio::test]
async fn namespaced_crud_sets_identity_fields() {
    let env = start().await;
    let cms = env.cms("default");
    let created = cms.create(&PostParams::default(), &configmap("app", &[("a", "1")])).await.unwrap();
    let uid = created.uid().expect("uid");
    assert_eq!(uid.len(), 36, "a UUID: {uid}");
    assert!(created.creation_timestamp().is_some());
    assert_eq!(created.namespace().as_deref(), Some("default"));
    assert_eq!(created.metadata.generation, None, "ConfigMaps have no generation");

    let got = cms.get("app").await.unwrap();
    assert_eq!(got.uid(), Some(uid.clone()));
    assert_eq!(data(&got)["a"], "1");

    let mut changed = got.clone();
    changed.data.get_or_insert_default().insert("b".into(), "2".into());
    let replaced = cms.replace("app", &PostParams::default(), &changed).await.unwrap();
    assert_eq!(replaced.uid(), Some(uid.clone()), "uid survives updates");
    assert_eq!(replaced.creation_timestamp(), got.creation_timestamp());
    assert!(rv(&replaced) > rv(&got));
    assert_eq!(data(&replaced).len(), 2);

    let listed = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["app"]);
    assert!(listed.metadata.resource_version.is_some());

    cms.delete("app", &DeleteParams::default()).await.unwrap();
    assert_eq!(status(cms.get("app").await).code, 404);
}

#[tokio::test]
async fn cluster_scoped_crud() {
    let env = start().await;
    let namespaces = env.all::<Namespace>();
    let ns = Namespace { metadata: meta("team-a"), ..Default::default() };
    let ns = namespaces.create(&PostParams::default(), &ns).await.unwrap();
    assert_eq!(ns.namespace(), None, "cluster-scoped objects have no namespace");
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    let names: Vec<String> =
        namespaces.list(&ListParams::default()).await.unwrap().iter().map(ResourceExt::name_any).collect();
    for builtin in ["default", "kube-system", "kube-public", "kube-node-lease", "team-a"] {
        assert!(names.contains(&builtin.to_owned()), "{names:?}");
    }

    env.install_crds().await;
    let regions = env.dynamic(&regionstack("Region"), None);
    let created = regions.create(&PostParams::default(), &dynamic(region_json("eu-west-1"))).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.namespace(), None);
    let mut edited = regions.get("eu-west-1").await.unwrap();
    edited.data["spec"]["lifecycle"] = json!("Draining");
    let replaced = regions.replace("eu-west-1", &PostParams::default(), &edited).await.unwrap();
    assert_eq!(replaced.data["spec"]["lifecycle"], "Draining");
    regions.delete("eu-west-1", &DeleteParams::default()).await.unwrap();
    assert_eq!(status(regions.get("eu-west-1").await).code, 404);
    // A namespaced URL for a cluster-scoped resource does not exist.
    assert_eq!(status(env.get_json_result("/apis/regionstack.io/v1alpha1/namespaces/default/regions").await).code, 404);
}

#[tokio::test]
async fn resource_version_is_global_and_increasing() {
    let env = start().await;
    let a = env.cms("default").create(&PostParams::default(), &configmap("a", &[])).await.unwrap();
    env.namespace("other").await;
    let b = env.cms("other").create(&PostParams::default(), &configmap("b", &[])).await.unwrap();
    assert!(rv(&b) > rv(&a), "one counter across namespaces and kinds");
    let patched = env
        .cms("default")
        .patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"x": "y"}})))
        .await
        .unwrap();
    assert!(rv(&patched) > rv(&b));
    assert!(env.emu.resource_version() >= rv(&patched));
    let list = env.cms("default").list(&ListParams::default()).await.unwrap();
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= rv(&patched));
}

#[tokio::test]
async fn stale_resource_version_is_a_conflict() {
    let env = start().await;
    let cms = env.cms("default");
    let v1 = cms.create(&PostParams::default(), &configmap("c", &[("n", "1")])).await.unwrap();
    let mut first = v1.clone();
    first.data = Some([("n".to_owned(), "2".to_owned())].into());
    cms.replace("c", &PostParams::default(), &first).await.unwrap();
    let mut stale = v1.clone();
    stale.data = Some([("n".to_owned(), "3".to_owned())].into());
    let s = status(cms.replace("c", &PostParams::default(), &stale).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(s.message.contains("the object has been modified"), "{}", s.message);
    let details = s.details.expect("details");
    assert_eq!((details.name.as_str(), details.kind.as_str()), ("c", "configmaps"));
    assert_eq!(data(&cms.get("c").await.unwrap())["n"], "2", "the stale write was not stored");
    // A merge patch carrying a stale resourceVersion conflicts too.
    let patch = Patch::Merge(json!({"metadata": {"resourceVersion": v1.resource_version()}, "data": {"n": "4"}}));
    assert_eq!(status(cms.patch("c", &PatchParams::default(), &patch).await).code, 409);
}

#[tokio::test]
async fn generate_name_makes_unique_names() {
    let env = start().await;
    let cms = env.cms("default");
    let mut cm = ConfigMap::default();
    cm.metadata.generate_name = Some("job-".into());
    let a = cms.create(&PostParams::default(), &cm).await.unwrap();
    let b = cms.create(&PostParams::default(), &cm).await.unwrap();
    let (a, b) = (a.name_any(), b.name_any());
    assert!(a.starts_with("job-") && a.len() == "job-".len() + 5, "{a}");
    assert_ne!(a, b);
    assert_eq!(cms.list(&ListParams::default()).await.unwrap().items.len(), 2);
}

#[tokio::test]
async fn errors_are_status_bodies() {
    let env = start().await;
    let cms = env.cms("default");
    let s = status(cms.get("missing").await);
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
    assert_eq!(s.message, "configmaps \"missing\" not found");
    let d = s.details.expect("details");
    assert_eq!((d.name.as_str(), d.group.as_str(), d.kind.as_str()), ("missing", "", "configmaps"));

    cms.create(&PostParams::default(), &configmap("dup", &[])).await.unwrap();
    let s = status(cms.create(&PostParams::default(), &configmap("dup", &[])).await);
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(s.details.expect("details").name, "dup");

    let s = status(cms.create(&PostParams::default(), &ConfigMap::default()).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let causes = s.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!((causes[0].field.as_str(), causes[0].reason.as_str()), ("metadata.name", "FieldValueRequired"));

    // A missing namespace is reported as the namespace being not found.
    let s = status(env.cms("nowhere").create(&PostParams::default(), &configmap("x", &[])).await);
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
    let d = s.details.expect("details");
    assert_eq!((d.name.as_str(), d.kind.as_str()), ("nowhere", "namespaces"));

    // Unknown resources are 404 too.
    let s = status(env.get_json_result("/api/v1/namespaces/default/widgets").await);
    assert_eq!(s.code, 404);
}

#[tokio::test]
async fn no_op_update_keeps_resource_version() {
    let env = start().await;
    let cms = env.cms("default");
    let created = cms.create(&PostParams::default(), &configmap("same", &[("a", "1")])).await.unwrap();
    let replaced = cms.replace("same", &PostParams::default(), &created).await.unwrap();
    assert_eq!(replaced.resource_version(), created.resource_version());
    let patched = cms.patch("same", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": "1"}}))).await;
    assert_eq!(patched.unwrap().resource_version(), created.resource_version());
    assert_eq!(env.emu.resource_version(), rv(&created), "nothing was written");
}

#[tokio::test]
async fn generation_moves_on_spec_changes_only() {
    let env = start().await;
    let deploys = env.ns::<Deployment>("default");
    let d = deploys.create(&PostParams::default(), &deployment("web", "web:1")).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let pp = PatchParams::default();
    let labels = deploys.patch("web", &pp, &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))).await.unwrap();
    assert_eq!(labels.metadata.generation, Some(1), "metadata-only change");
    assert!(rv(&labels) > rv(&d));
    let st = deploys.patch_status("web", &pp, &Patch::Merge(json!({"status": {"replicas": 1}}))).await.unwrap();
    assert_eq!(st.metadata.generation, Some(1), "status-only change");
    assert_eq!(st.status.and_then(|s| s.replicas), Some(1));
    let spec = deploys.patch("web", &pp, &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    assert_eq!(spec.metadata.generation, Some(2), "spec change");
    // Status sent to the main resource is ignored, so it does not move generation either.
    let ignored = deploys.patch("web", &pp, &Patch::Merge(json!({"status": {"replicas": 7}}))).await.unwrap();
    assert_eq!(ignored.metadata.generation, Some(2));
    assert_eq!(ignored.status.and_then(|s| s.replicas), Some(1));
}

#[tokio::test]
async fn generation_of_custom_resources() {
    let env = start_with_crds().await;
    let regions = env.dynamic(&regionstack("Region"), None);
    regions.create(&PostParams::default(), &dynamic(region_json("r"))).await.unwrap();
    let pp = PatchParams::default();
    let status_patch = Patch::Merge(json!({"status": {"local": true}}));
    let after_status = regions.patch_status("r", &pp, &status_patch).await.unwrap();
    assert_eq!(after_status.metadata.generation, Some(1));
    let label_patch = Patch::Merge(json!({"metadata": {"annotations": {"note": "x"}}}));
    assert_eq!(regions.patch("r", &pp, &label_patch).await.unwrap().metadata.generation, Some(1));
    let spec_patch = Patch::Merge(json!({"spec": {"lifecycle": "Planned"}}));
    assert_eq!(regions.patch("r", &pp, &spec_patch).await.unwrap().metadata.generation, Some(2));
    // Clients cannot set generation themselves.
    let forged = Patch::Merge(json!({"metadata": {"generation": 40}}));
    assert_eq!(regions.patch("r", &pp, &forged).await.unwrap().metadata.generation, Some(2));
}

#[tokio::test]
async fn dry_run_stores_nothing() {
    let env = start().await;
    let cms = env.cms("default");
    let before = env.emu.resource_version();
    let pp = PostParams { dry_run: true, ..PostParams::default() };
    let answered = cms.create(&pp, &configmap("ghost", &[("a", "1")])).await.unwrap();
    assert_eq!(answered.name_any(), "ghost");
    assert_eq!(status(cms.get("ghost").await).code, 404);
    assert_eq!(env.emu.resource_version(), before);
}

#[tokio::test]
async fn methods_a_url_does_not_support_are_405() {
    let env = start().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}});
    let named = "/api/v1/namespaces/default/configmaps/y";
    let s = status(env.raw(Method::POST, named, Some("application/json"), Some(&body)).await);
    assert_eq!((s.code, s.reason.as_str()), (405, "MethodNotAllowed"));
    assert_eq!(status(env.cms("default").get("y").await).code, 404, "nothing was created");
    // A namespaced object needs a namespace in its URL.
    let s = status(env.raw(Method::GET, "/api/v1/configmaps/y", None, None).await);
    assert_eq!(s.code, 405);
}
