//! Shared test support: an emulated cluster with regionstack's CRDs and Regions, and
//! controllers run in-process against it (the production wiring lives in the runtime
//! module; these helpers wire only what a test needs).

#![allow(dead_code)] // each test binary uses its own subset

pub mod pii;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use regionstack_api::condition::find_condition;
use regionstack_api::{ConditionStatus, PiiDatabaseStatus, Region};

/// Log to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=regionstack=debug`).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub use testbed::poll::eventually;

/// Install regionstack's CRDs.
pub async fn install_crds(client: &Client) {
    let crds: Vec<_> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd).collect();
    testbed::topology::objects::install_crds(client, &crds).await.expect("install the CRDs");
}

/// A minimal CloudNativePG `Cluster` CRD (schema-less, status subresource): enough for
/// the API server to serve postgresql.cnpg.io/v1 clusters.
pub async fn install_cnpg_crd(client: &Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "clusters.postgresql.cnpg.io" },
        "spec": {
            "group": "postgresql.cnpg.io",
            "names": { "kind": "Cluster", "listKind": "ClusterList", "plural": "clusters", "singular": "cluster" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
            }]
        }
    }))
    .expect("CRD JSON");
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .expect("create the CloudNativePG CRD");
}

/// Create the Regions.
pub async fn create_regions(client: &Client, regions: &[Region]) {
    let api: Api<Region> = Api::all(client.clone());
    for r in regions {
        api.create(&PostParams::default(), r).await.expect("create Region");
    }
}

/// Create an Opaque Secret with `data` in `namespace`.
pub async fn create_secret(client: &Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let secret = Secret {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        data: Some(data.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect()),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .expect("create Secret");
}

/// events.k8s.io/v1 Events about the object `name` in `namespace`.
pub async fn events_about(client: &Client, namespace: &str, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let list = api.list(&kube::api::ListParams::default()).await.expect("list events");
    list.items.into_iter().filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)).collect()
}

/// `(type, reason, note)` of Events, for assertions and failure messages.
pub fn summaries(events: &[Event]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.note.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// `(status, reason)` of a PiiDatabase condition.
pub fn condition(status: Option<&PiiDatabaseStatus>, type_: &str) -> Option<(ConditionStatus, String)> {
    status.and_then(|s| find_condition(&s.conditions, type_)).map(|c| (c.status, c.reason.clone()))
}
