//! Owner-reference garbage collection with the three propagation policies.

mod support_api;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource as _, ResourceExt as _};
use serde_json::json;
use support_api::{Env, configmap, finalized, owned_by, start, status};

/// An owner and two dependents, one of which owns a third object.
async fn family(env: &Env) -> Api<ConfigMap> {
    let cms = env.cms("default");
    let owner = cms.create(&PostParams::default(), &configmap("owner", &[])).await.unwrap();
    let child = cms.create(&PostParams::default(), &owned_by("child", &owner)).await.unwrap();
    cms.create(&PostParams::default(), &owned_by("sibling", &owner)).await.unwrap();
    cms.create(&PostParams::default(), &owned_by("grandchild", &child)).await.unwrap();
    cms
}

async fn exists(cms: &Api<ConfigMap>, name: &str) -> bool {
    match cms.get_opt(name).await {
        Ok(found) => found.is_some(),
        Err(e) => panic!("get {name}: {e}"),
    }
}

#[tokio::test]
async fn background_deletion_removes_dependents_transitively() {
    let env = start().await;
    let cms = family(&env).await;
    cms.create(&PostParams::default(), &configmap("stranger", &[])).await.unwrap();
    cms.delete("owner", &DeleteParams::background()).await.unwrap();
    for name in ["owner", "child", "sibling", "grandchild"] {
        assert!(!exists(&cms, name).await, "{name} should be gone");
    }
    assert!(exists(&cms, "stranger").await);
}

#[tokio::test]
async fn the_default_policy_is_background() {
    let env = start().await;
    let cms = family(&env).await;
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    assert!(!exists(&cms, "child").await);
    assert!(!exists(&cms, "grandchild").await);
}

#[tokio::test]
async fn a_dependent_with_another_live_owner_survives() {
    let env = start().await;
    let cms = env.cms("default");
    let a = cms.create(&PostParams::default(), &configmap("a", &[])).await.unwrap();
    let b = cms.create(&PostParams::default(), &configmap("b", &[])).await.unwrap();
    let mut shared = owned_by("shared", &a);
    let mut second: OwnerReference = b.owner_ref(&()).unwrap();
    second.controller = None;
    shared.metadata.owner_references.as_mut().unwrap().push(second);
    cms.create(&PostParams::default(), &shared).await.unwrap();
    cms.delete("a", &DeleteParams::background()).await.unwrap();
    assert!(exists(&cms, "shared").await, "b still owns it");
    cms.delete("b", &DeleteParams::background()).await.unwrap();
    assert!(!exists(&cms, "shared").await, "its last owner is gone");
}

#[tokio::test]
async fn foreground_deletion_waits_for_dependents() {
    let env = start().await;
    let cms = env.cms("default");
    let owner = cms.create(&PostParams::default(), &configmap("owner", &[])).await.unwrap();
    cms.create(&PostParams::default(), &owned_by("plain", &owner)).await.unwrap();
    let mut held = owned_by("held", &owner);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();

    let answer = cms.delete("owner", &DeleteParams::foreground()).await.unwrap();
    let deleting = answer.left().expect("the owner stays while dependents remain");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert!(deleting.finalizers().contains(&"foregroundDeletion".to_owned()), "{:?}", deleting.finalizers());

    assert!(!exists(&cms, "plain").await, "dependents are deleted first");
    let held = cms.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "the held dependent is being deleted");
    let owner = cms.get("owner").await.unwrap();
    assert!(owner.finalizers().contains(&"foregroundDeletion".to_owned()));

    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    cms.patch("held", &PatchParams::default(), &release).await.unwrap();
    assert!(!exists(&cms, "held").await);
    assert!(!exists(&cms, "owner").await, "the owner goes once its dependents are gone");
}

#[tokio::test]
async fn foreground_deletion_keeps_the_owners_own_finalizers() {
    let env = start().await;
    let cms = env.cms("default");
    let owner = cms.create(&PostParams::default(), &finalized("owner", &["example.com/mine"])).await.unwrap();
    cms.create(&PostParams::default(), &owned_by("child", &owner)).await.unwrap();
    cms.delete("owner", &DeleteParams::foreground()).await.unwrap();
    assert!(!exists(&cms, "child").await);
    let owner = cms.get("owner").await.unwrap();
    assert_eq!(owner.finalizers(), ["example.com/mine"], "foregroundDeletion is released, the owner's own stays");
    cms.patch("owner", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": []}}))).await.unwrap();
    assert!(!exists(&cms, "owner").await);
}

#[tokio::test]
async fn foreground_deletion_without_dependents_is_immediate() {
    let env = start().await;
    let cms = env.cms("default");
    cms.create(&PostParams::default(), &configmap("alone", &[])).await.unwrap();
    cms.delete("alone", &DeleteParams::foreground()).await.unwrap();
    assert!(!exists(&cms, "alone").await);
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let env = start().await;
    let cms = family(&env).await;
    let child_uid = cms.get("child").await.unwrap().uid();
    cms.delete("owner", &DeleteParams::orphan()).await.unwrap();
    assert!(!exists(&cms, "owner").await);
    for name in ["child", "sibling"] {
        let orphan = cms.get(name).await.unwrap();
        assert!(orphan.owner_references().is_empty(), "{name}: {:?}", orphan.owner_references());
        assert!(orphan.metadata.deletion_timestamp.is_none());
    }
    let grandchild = cms.get("grandchild").await.unwrap();
    assert_eq!(grandchild.owner_references()[0].uid, child_uid.unwrap(), "references to other owners stay");
}

#[tokio::test]
async fn dependents_of_a_missing_owner_are_collected() {
    let env = start().await;
    let cms = env.cms("default");
    let owner = cms.create(&PostParams::default(), &configmap("owner", &[])).await.unwrap();
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    // A dependent created after its owner is gone (a controller acting on a stale cache).
    cms.create(&PostParams::default(), &owned_by("late", &owner)).await.unwrap();
    assert!(!exists(&cms, "late").await);
    assert_eq!(status(cms.get("late").await).code, 404);
}
