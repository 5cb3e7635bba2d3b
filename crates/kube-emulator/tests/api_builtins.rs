//! The built-in kinds: each can be created, read back and listed, with its content
//! intact.

mod support_api;

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support_api::start;

/// Create `body` as a `K`, then get it and find it in a list; returns what get returned.
async fn round_trip<K>(api: &Api<K>, body: Value) -> K
where
    K: kube::Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let obj: K = serde_json::from_value(body).expect("a valid object");
    let name = obj.name_any();
    let created = api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("create {name}: {e}"));
    assert!(created.uid().is_some());
    let got = api.get(&name).await.unwrap_or_else(|e| panic!("get {name}: {e}"));
    assert_eq!(got.resource_version(), created.resource_version());
    let listed = api.list(&ListParams::default()).await.unwrap_or_else(|e| panic!("list {name}: {e}"));
    assert!(listed.items.iter().any(|o| o.name_any() == name), "{name} is listed");
    got
}

#[tokio::test]
async fn core_kinds() {
    let env = start().await;
    let ns: Namespace = round_trip(&env.all(), json!({"metadata": {"name": "apps"}})).await;
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));

    let secret: Secret =
        round_trip(&env.ns("apps"), json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dmFsdWU="}}))
            .await;
    assert_eq!(secret.data.unwrap()["k"].0, b"value");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));

    let cm: ConfigMap = round_trip(&env.ns("apps"), json!({"metadata": {"name": "c"}, "data": {"a": "b"}})).await;
    assert_eq!(cm.data.unwrap()["a"], "b");

    let svc: Service = round_trip(
        &env.ns("apps"),
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 80);

    let sa: ServiceAccount =
        round_trip(&env.ns("apps"), json!({"metadata": {"name": "operator"}, "automountServiceAccountToken": false}))
            .await;
    assert_eq!(sa.automount_service_account_token, Some(false));
}

#[tokio::test]
async fn event_kinds() {
    let env = start().await;
    let core: Event = round_trip(
        &env.ns("default"),
        json!({
            "metadata": {"name": "db.1"},
            "involvedObject": {"apiVersion": "regionstack.io/v1alpha1", "kind": "PiiDatabase", "name": "db", "namespace": "default"},
            "reason": "Reconciled", "message": "ok", "type": "Normal", "count": 1,
            "source": {"component": "regionstack-operator"},
        }),
    )
    .await;
    assert_eq!(core.involved_object.kind.as_deref(), Some("PiiDatabase"));
    assert_eq!(core.reason.as_deref(), Some("Reconciled"));

    let v1: EventV1 = round_trip(
        &env.ns("default"),
        json!({
            "metadata": {"name": "db.2"},
            "eventTime": "2026-01-02T03:04:05.123456Z",
            "regarding": {"kind": "PiiDatabase", "name": "db"},
            "reason": "Reconciled", "note": "ok", "type": "Warning", "action": "Reconcile",
            "reportingController": "regionstack.io/operator", "reportingInstance": "op-1",
        }),
    )
    .await;
    assert_eq!(v1.note.as_deref(), Some("ok"));
    assert_eq!(v1.event_time.expect("eventTime").0.to_string(), "2026-01-02T03:04:05.123456Z");
}

#[tokio::test]
async fn coordination_networking_and_apps_kinds() {
    let env = start().await;
    let lease: Lease = round_trip(
        &env.ns("kube-system"),
        json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "op-1", "leaseDurationSeconds": 15, "renewTime": "2026-01-02T03:04:05.000001Z"}}),
    )
    .await;
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("op-1"));
    assert_eq!(spec.renew_time.unwrap().0.to_string(), "2026-01-02T03:04:05.000001Z");

    let policy: NetworkPolicy = round_trip(
        &env.ns("default"),
        json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
    )
    .await;
    assert_eq!(policy.metadata.generation, Some(1));
    assert_eq!(policy.spec.unwrap().policy_types.unwrap(), ["Ingress", "Egress"]);

    let deploy: Deployment = round_trip(
        &env.ns("default"),
        json!({"metadata": {"name": "web"}, "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        }}),
    )
    .await;
    assert_eq!(deploy.spec.replicas, Some(2));
    assert_eq!(deploy.metadata.generation, Some(1));

    let pdb: PodDisruptionBudget = round_trip(
        &env.ns("default"),
        json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    )
    .await;
    assert_eq!(pdb.metadata.generation, Some(1));
}

#[tokio::test]
async fn rbac_kinds() {
    let env = start().await;
    let rules = json!([{"apiGroups": ["regionstack.io"], "resources": ["regions"], "verbs": ["get", "list", "watch"]}]);
    let role: Role = round_trip(&env.ns("default"), json!({"metadata": {"name": "reader"}, "rules": rules})).await;
    assert_eq!(role.rules.unwrap()[0].verbs, ["get", "list", "watch"]);
    let cluster: ClusterRole = round_trip(&env.all(), json!({"metadata": {"name": "reader"}, "rules": rules})).await;
    assert!(cluster.namespace().is_none());
}

#[tokio::test]
async fn custom_resource_definitions() {
    let env = start().await;
    let crds: Api<CustomResourceDefinition> = env.all();
    for (_, crd) in regionstack_api::crd::all() {
        let body = serde_json::to_value(&crd).unwrap();
        let got: CustomResourceDefinition = round_trip(&crds, body).await;
        assert_eq!(got.metadata.generation, Some(1));
        let status = got.status.expect("the server writes the CRD status");
        let conditions = status.conditions.unwrap_or_default();
        for wanted in ["Established", "NamesAccepted"] {
            let c = conditions.iter().find(|c| c.type_ == wanted).unwrap_or_else(|| panic!("{wanted}"));
            assert_eq!(c.status, "True");
        }
        assert_eq!(status.accepted_names.unwrap().kind, crd.spec.names.kind);
        assert_eq!(status.stored_versions.unwrap(), ["v1alpha1"]);
    }
    assert_eq!(crds.list(&ListParams::default()).await.unwrap().items.len(), 3);
}

#[tokio::test]
async fn a_crd_must_be_named_plural_dot_group() {
    let env = start().await;
    let crds: Api<CustomResourceDefinition> = env.all();
    let (_, mut crd) = regionstack_api::crd::all().remove(0);
    crd.metadata.name = Some("wrong.regionstack.io".into());
    let s = support_api::status(crds.create(&PostParams::default(), &crd).await);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(s.message.contains("spec.names.plural"), "{}", s.message);
}

#[tokio::test]
async fn mismatched_kind_or_namespace_in_the_body_is_refused() {
    let env = start().await;
    let cms: Api<ConfigMap> = env.ns("default");
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    let path = "/api/v1/namespaces/default/configmaps";
    let s = support_api::status(env.raw(axum::http::Method::POST, path, Some("application/json"), Some(&body)).await);
    assert_eq!(s.code, 400);
    let mut other_ns = support_api::configmap("x", &[]);
    other_ns.metadata.namespace = Some("kube-system".into());
    assert_eq!(support_api::status(cms.create(&PostParams::default(), &other_ns).await).code, 400);
}

#[tokio::test]
async fn secret_string_data_is_merged_into_data() {
    use k8s_openapi::api::core::v1::Secret;
    let emulator = kube_emulator::KubeEmulator::start().await.unwrap();
    let api: kube::Api<Secret> = kube::Api::namespaced(emulator.client(), "default");
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db"},
        "data": {"user": "YWRtaW4="},
        "stringData": {"password": "s3cret"}
    }))
    .unwrap();
    let created = api.create(&kube::api::PostParams::default(), &secret).await.unwrap();
    assert!(created.string_data.is_none());
    let data = created.data.unwrap();
    assert_eq!(data["password"].0, b"s3cret");
    assert_eq!(data["user"].0, b"admin");
}
