//! Fixtures shared by the `api_*` integration tests: an emulator per test, raw HTTP
//! requests through `kube::Client`, error unpacking and small object builders.

#![allow(dead_code)]

use std::collections::BTreeMap;

use axum::http::{Method, Request, header};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, PostParams};
use kube::core::Status;
use kube::{Client, Resource as _, ResourceExt as _};
use kube_emulator::KubeEmulator;
use serde_json::{Value, json};

/// A running emulator and a client for it. Dropping it stops the server.
pub struct Env {
    /// The emulator (kept alive for the test's duration).
    pub emu: KubeEmulator,
    /// A `kube::Client` speaking HTTP to it.
    pub client: Client,
}

impl Env {
    /// A typed `Api` in `namespace`.
    pub fn ns<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// A typed `Api` for a cluster-scoped kind (or all namespaces).
    pub fn all<K>(&self) -> Api<K>
    where
        K: kube::Resource,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }

    /// ConfigMaps in `namespace`.
    pub fn cms(&self, namespace: &str) -> Api<ConfigMap> {
        self.ns(namespace)
    }

    /// A dynamic `Api` for a regionstack kind, in `namespace` when given.
    pub fn dynamic(&self, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    /// A raw request; JSON in, JSON out.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, kube::Error> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let body = body.map(|b| serde_json::to_vec(b).expect("JSON")).unwrap_or_default();
        self.client.request::<Value>(req.body(body).expect("a valid request")).await
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.raw(Method::GET, path, None, None).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path`, keeping the error.
    pub async fn get_json_result(&self, path: &str) -> Result<Value, kube::Error> {
        self.raw(Method::GET, path, None, None).await
    }

    /// `GET path` with an `Accept` header, as JSON.
    pub async fn get_accept(&self, path: &str, accept: &str) -> Value {
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::ACCEPT, accept)
            .body(Vec::new())
            .expect("a valid request");
        self.client.request::<Value>(req).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Create a namespace.
    pub async fn namespace(&self, name: &str) -> Namespace {
        let ns = Namespace { metadata: meta(name), ..Namespace::default() };
        self.all::<Namespace>().create(&PostParams::default(), &ns).await.expect("create namespace")
    }

    /// Create the regionstack CRDs (Region, PiiDatabase, TelemetryReplica).
    pub async fn install_crds(&self) {
        let crds: Api<CustomResourceDefinition> = self.all();
        for (_, crd) in regionstack_api::crd::all() {
            crds.create(&PostParams::default(), &crd).await.expect("create CRD");
        }
    }
}

/// Start an emulator for one test.
pub async fn start() -> Env {
    let emu = KubeEmulator::start().await.expect("the emulator starts");
    let client = emu.client();
    Env { emu, client }
}

/// Start an emulator with the regionstack CRDs installed.
pub async fn start_with_crds() -> Env {
    let env = start().await;
    env.install_crds().await;
    env
}

/// The `Status` of a failed request (panics on success or a non-API error).
pub fn status<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// `ObjectMeta` with a name.
pub fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() }
}

/// A ConfigMap with `data`.
pub fn configmap(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(name),
        data: Some(data.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        ..ConfigMap::default()
    }
}

/// A ConfigMap with labels.
pub fn labeled(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = configmap(name, &[]);
    cm.metadata.labels = Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    cm
}

/// A ConfigMap holding the finalizers given.
pub fn finalized(name: &str, finalizers: &[&str]) -> ConfigMap {
    let mut cm = configmap(name, &[("k", "v")]);
    cm.metadata.finalizers = Some(finalizers.iter().map(|f| (*f).to_owned()).collect());
    cm
}

/// A ConfigMap owned by `owner` (a dependent for garbage collection tests).
pub fn owned_by(name: &str, owner: &ConfigMap) -> ConfigMap {
    let mut cm = configmap(name, &[]);
    cm.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).expect("the owner has a name and uid")]);
    cm
}

/// `metadata.resourceVersion` as a number.
pub fn rv<K: kube::Resource>(obj: &K) -> u64 {
    obj.resource_version().expect("stored objects have a resourceVersion").parse().expect("numeric resourceVersion")
}

/// `data` of a ConfigMap as sorted pairs.
pub fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

/// The `ApiResource` of a regionstack kind (`Region`, `PiiDatabase`, `TelemetryReplica`).
pub fn regionstack(kind: &str) -> ApiResource {
    let plural = format!("{}s", kind.to_lowercase());
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("regionstack.io", "v1alpha1", kind), &plural)
}

/// A minimal valid PiiDatabase as JSON (no defaulted fields set).
pub fn pii_json(name: &str, region: &str) -> Value {
    json!({
        "apiVersion": "regionstack.io/v1alpha1",
        "kind": "PiiDatabase",
        "metadata": {"name": name},
        "spec": {
            "region": region,
            "compliance": ["GDPR"],
            "managed": {"storage": {"size": "10Gi"}},
        },
    })
}

/// A minimal valid Region as JSON.
pub fn region_json(name: &str) -> Value {
    json!({
        "apiVersion": "regionstack.io/v1alpha1",
        "kind": "Region",
        "metadata": {"name": name},
        "spec": {"location": {"country": "IE"}, "jurisdictions": ["GDPR"], "lifecycle": "Active"},
    })
}

/// A `DynamicObject` from JSON.
pub fn dynamic(value: Value) -> DynamicObject {
    serde_json::from_value(value).expect("a valid object")
}

/// Owner and manager names of `metadata.managedFields`, with operation and subresource.
pub fn managers(meta: &ObjectMeta) -> Vec<(String, String, String)> {
    meta.managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
                m.subresource.clone().unwrap_or_default(),
            )
        })
        .collect()
}
