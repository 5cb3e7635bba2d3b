//! The Kubernetes objects the topology writes into each region's cluster: CRDs,
//! namespaces, Secrets, the manifests (with real `kubectl apply` or server-side
//! apply) and the demo's publisher-endpoint override.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Client, Discovery};
use serde_json::{Value, json};

/// The field manager of everything the topology writes (the operator's own writes
/// use `regionstack`): `kubectl get … --show-managed-fields` tells them apart.
pub const FIELD_MANAGER: &str = "regionstack-demo";

/// The field manager of manifests applied server-side ([`ApplyMode::ServerSide`]):
/// not [`FIELD_MANAGER`], whose apply of the publisher endpoint alone would otherwise
/// drop every other field of the Region it applied before.
pub const MANIFEST_FIELD_MANAGER: &str = "regionstack-demo-manifests";

/// How manifests reach the clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApplyMode {
    /// `kubectl apply` when `kubectl` is on the PATH, else server-side apply.
    #[default]
    Auto,
    /// Real `kubectl --kubeconfig <region>/kubeconfig apply -f <dir>`.
    Kubectl,
    /// Server-side apply through the kube client, field manager [`MANIFEST_FIELD_MANAGER`].
    ServerSide,
    /// Not applied: the caller applies what it wants.
    Skip,
}

impl ApplyMode {
    /// `Auto` resolved: `Kubectl` when `kubectl` is on the PATH.
    #[must_use]
    pub fn resolve(self) -> Self {
        match self {
            ApplyMode::Auto if kubectl_available() => ApplyMode::Kubectl,
            ApplyMode::Auto => ApplyMode::ServerSide,
            other => other,
        }
    }
}

/// Whether `kubectl` runs.
pub fn kubectl_available() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|out| out.status.success())
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Installs (server-side apply) the CRDs.
pub async fn install_crds(client: &Client, crds: &[CustomResourceDefinition]) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().context("a CRD has a name")?;
        api.patch(&name, &apply_params(), &Patch::Apply(crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    Ok(())
}

/// Makes sure the namespace exists.
pub async fn ensure_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await?.is_some() {
        return Ok(());
    }
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    api.patch(name, &apply_params(), &Patch::Apply(&ns)).await.with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Writes a Secret (server-side apply), creating its namespace when missing.
pub async fn apply_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    ensure_namespace(client, namespace).await?;
    let data: BTreeMap<String, ByteString> =
        data.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some([("app.kubernetes.io/managed-by".to_owned(), FIELD_MANAGER.to_owned())].into()),
            ..ObjectMeta::default()
        },
        type_: Some(type_.to_owned()),
        data: Some(data),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(name, &apply_params(), &Patch::Apply(&secret))
        .await
        .with_context(|| format!("writing Secret {namespace}/{name}"))?;
    Ok(())
}

/// `kubectl --kubeconfig <kubeconfig> apply -f <dir>`; returns what kubectl printed.
pub fn kubectl_apply(kubeconfig: &Path, dir: &Path) -> anyhow::Result<String> {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("apply")
        .arg("-f")
        .arg(dir)
        .output()
        .context("running kubectl (is it on the PATH?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "kubectl --kubeconfig {} apply -f {} failed ({}):\n{stdout}{}",
            kubeconfig.display(),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// Server-side apply of every document, resolved through API discovery.
pub async fn server_side_apply(client: &Client, docs: &[Value]) -> anyhow::Result<()> {
    let discovery = Discovery::new(client.clone()).run().await.context("API discovery")?;
    for doc in docs {
        let object: DynamicObject = serde_json::from_value(doc.clone()).context("a manifest is not an object")?;
        let types = object.types.clone().context("a manifest without apiVersion/kind")?;
        let gvk = kube::api::GroupVersionKind::try_from(&types)?;
        let (resource, caps): (ApiResource, ApiCapabilities) =
            discovery.resolve_gvk(&gvk).with_context(|| format!("the API does not serve {gvk:?}"))?;
        let name = object.metadata.name.clone().context("a manifest without a name")?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Cluster => Api::all_with(client.clone(), &resource),
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                object.metadata.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
        };
        api.patch(&name, &PatchParams::apply(MANIFEST_FIELD_MANAGER).force(), &Patch::Apply(doc))
            .await
            .with_context(|| format!("applying {} {name}", gvk.kind))?;
    }
    Ok(())
}

/// Points Region `region`'s `spec.telemetry.publisherEndpoint` at `127.0.0.1:port`
/// without TLS, by server-side apply under [`FIELD_MANAGER`] (forced: it takes the
/// fields over from whoever applied the manifest).
pub async fn override_publisher_endpoint(client: &Client, region: &str, port: u16) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::erase::<regionstack_api::Region>(&()));
    let patch = json!({
        "apiVersion": regionstack_api::API_VERSION,
        "kind": "Region",
        "metadata": {"name": region},
        "spec": {"telemetry": {"publisherEndpoint": {"host": "127.0.0.1", "port": port, "sslMode": "disable"}}}
    });
    api.patch(region, &apply_params(), &Patch::Apply(&patch))
        .await
        .with_context(|| format!("overriding Region {region}'s publisher endpoint"))?;
    Ok(())
}
