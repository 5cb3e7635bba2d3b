//! One regional cluster as the demo's steps (and the end-to-end suite) see it: a
//! region name and a kube client, from the demo topology or from any kubeconfig, and
//! the database connections the steps need, read from that cluster's Secrets exactly
//! as the operator reads them. Nothing here knows about the emulator, so the steps
//! run unchanged against real clusters whose databases the runner can reach.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use regionstack_api::{PiiDatabase, Region};
use regionstack_sql::ConnParams;

/// A regional cluster.
#[derive(Clone)]
pub struct RegionCluster {
    /// The region its operator serves.
    pub region: String,
    /// A client of its API server.
    pub client: kube::Client,
    /// The kubeconfig it was reached with, for printing `kubectl` commands.
    pub kubeconfig: Option<PathBuf>,
}

impl std::fmt::Debug for RegionCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionCluster")
            .field("region", &self.region)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl RegionCluster {
    /// A cluster reached through the kubeconfig file `path` (its current context).
    pub async fn from_kubeconfig(region: &str, path: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let path = path.into();
        let kubeconfig = kube::config::Kubeconfig::read_from(&path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading kubeconfig {}", path.display()))?;
        let client = kube::Client::try_from(config)?;
        Ok(Self { region: region.to_owned(), client, kubeconfig: Some(path) })
    }

    /// `kubectl --kubeconfig <file>` (or plain `kubectl`) followed by `args`.
    pub fn kubectl(&self, args: &str) -> String {
        match &self.kubeconfig {
            Some(path) => format!("kubectl --kubeconfig {} {args}", path.display()),
            None => format!("kubectl {args}"),
        }
    }

    /// The data of Secret `namespace/name`.
    pub async fn secret_data(&self, namespace: &str, name: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), namespace)
            .get(name)
            .await
            .with_context(|| format!("reading Secret {namespace}/{name} in {}", self.region))?;
        Ok(secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())
    }

    /// The admin connection to `region`'s telemetry server, from the Secret its Region
    /// names (`spec.telemetry.connectionSecretRef`), as read in this cluster.
    pub async fn telemetry_admin(&self) -> anyhow::Result<ConnParams> {
        let region = Api::<Region>::all(self.client.clone()).get(&self.region).await?;
        let secret = region
            .spec
            .telemetry
            .and_then(|t| t.connection_secret_ref)
            .with_context(|| format!("Region {} declares no telemetry connection Secret", self.region))?;
        let data = self.secret_data(&secret.namespace, &secret.name).await?;
        Ok(ConnParams::from_secret_data(&data)?)
    }

    /// The superuser connection to a PiiDatabase of this cluster: its
    /// `external.connectionSecretRef`, or for `managed` CloudNativePG's
    /// `<name>-superuser` Secret (keys `username`…, host defaulting to the `-rw`
    /// Service), as the operator reads them.
    pub async fn pii_admin(&self, db: &PiiDatabase) -> anyhow::Result<ConnParams> {
        let namespace = db.metadata.namespace.clone().unwrap_or_default();
        let name = db.metadata.name.clone().unwrap_or_default();
        if let Some(external) = &db.spec.external {
            let data = self.secret_data(&namespace, &external.connection_secret_ref.name).await?;
            return Ok(ConnParams::from_secret_data(&data)?);
        }
        if db.spec.managed.is_none() {
            bail!("PiiDatabase {namespace}/{name} is neither managed nor external");
        }
        let mut data = self.secret_data(&namespace, &format!("{name}-superuser")).await?;
        if let Some(user) = data.get("username").cloned() {
            data.entry("user".into()).or_insert(user);
        }
        data.entry("host".into()).or_insert_with(|| format!("{name}-rw.{namespace}.svc").into_bytes());
        Ok(ConnParams::from_secret_data(&data)?)
    }
}
