//! One region of the topology: its emulated cluster, its two PostgreSQL servers, the
//! Secrets its cluster gets, its CNPG stand-in and its operator process.
//!
//! Secrets (each in this region's cluster only, pointing at this region's servers,
//! except the replication logins):
//! - `regionstack-system/telemetry-admin` (or whatever the Region's
//!   `spec.telemetry.connectionSecretRef` names): keys `host`, `port`, `user`,
//!   `password`, `dbname=telemetry`, `sslmode=disable` of the telemetry server;
//! - `customers/customers-<region>-admin` (and any other Secret an `external`
//!   PiiDatabase of this region names): the same keys for the PII server, database
//!   `customers`;
//! - the backup credentials a `managed` PiiDatabase names: placeholders (no object
//!   store here; the CNPG stand-in takes no backups);
//! - replication logins (`username`, `password`) are written by the topology, the
//!   same in the source and target clusters.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube_emulator::KubeEmulator;

use super::manifests::SecretNeed;
use super::process::{ProcessSpec, Supervised, free_loopback_addr};
use super::{SYSTEM_NAMESPACE, cnpg, databases, objects};
use crate::PgServer;

/// How long a stopped operator may take to shut down gracefully.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One region of a running [`super::Topology`].
#[derive(Debug)]
pub struct RegionNode {
    // Declared first: dropped before the servers it talks to.
    operator: Option<Supervised>,
    health_addr: Option<SocketAddr>,
    cnpg: Option<tokio::task::JoinHandle<()>>,
    name: String,
    dir: PathBuf,
    emulator: Option<KubeEmulator>,
    pii: Arc<PgServer>,
    telemetry: Arc<PgServer>,
}

impl RegionNode {
    pub(super) fn new(
        name: String,
        dir: PathBuf,
        emulator: KubeEmulator,
        pii: Arc<PgServer>,
        telemetry: Arc<PgServer>,
    ) -> Self {
        Self { operator: None, health_addr: None, cnpg: None, name, dir, emulator: Some(emulator), pii, telemetry }
    }

    /// The region's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<state>/<region>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<state>/<region>/kubeconfig`: `kubectl --kubeconfig` it.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The kubeconfig the operator runs with: `<state>/<region>/operator-kubeconfig`
    /// (its ServiceAccount's token) under RBAC, else the admin [`Self::kubeconfig`].
    pub fn operator_kubeconfig(&self) -> PathBuf {
        if self.emulator().rbac_enabled() { self.dir.join("operator-kubeconfig") } else { self.kubeconfig() }
    }

    /// `<state>/<region>/operator.log`: the operator's stdout and stderr, across
    /// restarts.
    pub fn operator_log(&self) -> PathBuf {
        self.dir.join("operator.log")
    }

    /// The emulated cluster.
    pub fn emulator(&self) -> &KubeEmulator {
        self.emulator.as_ref().expect("running until shutdown")
    }

    /// A kube client of the region's cluster.
    pub fn client(&self) -> kube::Client {
        self.emulator().client()
    }

    /// The PII PostgreSQL server (database `customers`; managed PiiDatabases' databases).
    pub fn pii(&self) -> &PgServer {
        &self.pii
    }

    /// The telemetry PostgreSQL server (database `telemetry`; the boundary database
    /// the operator builds).
    pub fn telemetry(&self) -> &PgServer {
        &self.telemetry
    }

    /// The operator's health address (`/live`, `/ready`, `/metrics`) while it runs.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.operator.as_ref().and(self.health_addr)
    }

    /// The operator's process id while it runs.
    pub fn operator_pid(&self) -> Option<u32> {
        self.operator.as_ref().map(Supervised::pid)
    }

    pub(super) fn write_kubeconfig(&self) -> anyhow::Result<()> {
        self.emulator().write_kubeconfig(self.kubeconfig())
    }

    pub(super) async fn install_crds(&self) -> anyhow::Result<()> {
        let mut crds: Vec<_> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd).collect();
        crds.push(cnpg::crd());
        objects::install_crds(&self.client(), &crds).await?;
        objects::ensure_namespace(&self.client(), SYSTEM_NAMESPACE).await
    }

    /// Applies the RBAC objects as the admin (creating the namespaces they live in)
    /// and writes the operator's kubeconfig with its ServiceAccount's token.
    pub(super) async fn set_up_operator_rbac(&self, objects: &[serde_json::Value]) -> anyhow::Result<()> {
        let accounts: Vec<_> = objects.iter().filter(|o| o["kind"] == "ServiceAccount").collect();
        let [account] = accounts.as_slice() else {
            anyhow::bail!("the operator's RBAC objects need exactly one ServiceAccount, found {}", accounts.len());
        };
        let namespace = account.pointer("/metadata/namespace").and_then(serde_json::Value::as_str).unwrap_or("default");
        let name = account
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .context("a ServiceAccount without a name")?;
        let client = self.client();
        let namespaces: std::collections::BTreeSet<&str> = objects
            .iter()
            .filter_map(|o| o.pointer("/metadata/namespace").and_then(serde_json::Value::as_str))
            .collect();
        for ns in namespaces {
            objects::ensure_namespace(&client, ns).await?;
        }
        objects::server_side_apply(&client, objects).await.context("applying the operator's RBAC objects")?;
        let token = self.emulator().issue_token(namespace, name);
        self.emulator().write_kubeconfig_for(self.operator_kubeconfig(), &token)
    }

    pub(super) async fn provide_secrets(&self, needs: &[SecretNeed]) -> anyhow::Result<()> {
        let client = self.client();
        let telemetry = admin_keys(&self.telemetry, databases::TELEMETRY_DATABASE);
        let pii = admin_keys(&self.pii, databases::PII_DATABASE);
        let opaque = "Opaque";
        objects::apply_secret(&client, SYSTEM_NAMESPACE, "telemetry-admin", opaque, &as_refs(&telemetry)).await?;
        let own_pii = format!("customers-{}-admin", self.name);
        objects::apply_secret(&client, "customers", &own_pii, opaque, &as_refs(&pii)).await?;
        for need in needs {
            match need {
                SecretNeed::TelemetryAdmin { region, namespace, name } if *region == self.name => {
                    objects::apply_secret(&client, namespace, name, opaque, &as_refs(&telemetry)).await?;
                }
                SecretNeed::PiiAdmin { region, namespace, name } if *region == self.name => {
                    objects::apply_secret(&client, namespace, name, opaque, &as_refs(&pii)).await?;
                }
                SecretNeed::BackupCredentials { region, namespace, name } if *region == self.name => {
                    let placeholder =
                        [("ACCESS_KEY_ID", "demo-placeholder"), ("ACCESS_SECRET_KEY", "demo-placeholder")];
                    objects::apply_secret(&client, namespace, name, opaque, &placeholder).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn start_cnpg_standin(&mut self) {
        if let Some(old) = self.cnpg.take() {
            old.abort();
        }
        self.cnpg = Some(tokio::spawn(cnpg::run(self.client(), Arc::clone(&self.pii))));
    }

    pub(super) fn start_operator(&mut self, binary: &Path, extra: &[String]) -> anyhow::Result<()> {
        if self.operator.as_mut().is_some_and(|op| op.exit_status().is_none()) {
            anyhow::bail!("{}'s operator is already running", self.name);
        }
        let health_addr = free_loopback_addr()?;
        let mut args: Vec<std::ffi::OsString> = vec!["run".into(), "--region".into(), self.name.clone().into()];
        args.extend(["--kubeconfig".into(), self.operator_kubeconfig().into_os_string()]);
        args.extend(["--health-addr".into(), health_addr.to_string().into(), "--log-format".into(), "json".into()]);
        args.extend(extra.iter().map(Into::into));
        let spec = ProcessSpec {
            program: binary.to_path_buf(),
            args,
            env: Vec::new(),
            log: self.operator_log(),
            health_addr,
            ready_path: "/ready".into(),
        };
        let process = Supervised::spawn(spec).with_context(|| format!("starting {}'s operator", self.name))?;
        tracing::info!(region = %self.name, pid = process.pid(), %health_addr, "operator started");
        self.operator = Some(process);
        self.health_addr = Some(health_addr);
        Ok(())
    }

    pub(super) fn kill_operator(&mut self) {
        if let Some(process) = self.operator.take() {
            let status = process.kill();
            tracing::info!(region = %self.name, %status, "operator killed");
        }
    }

    pub(super) fn stop_operator(&mut self) {
        if let Some(process) = self.operator.take() {
            let status = process.terminate(STOP_GRACE);
            tracing::info!(region = %self.name, %status, "operator stopped");
        }
    }

    pub(super) async fn wait_operator_ready(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let name = self.name.clone();
        let process = self.operator.as_mut().with_context(|| format!("{name}'s operator is not running"))?;
        process.wait_ready(deadline).await.with_context(|| format!("{name}'s operator"))
    }

    /// Stops the CNPG stand-in and the emulator; returns the servers for the caller
    /// to stop off the async runtime.
    pub(super) async fn shutdown(mut self) -> [Arc<PgServer>; 2] {
        self.stop_operator();
        if let Some(task) = self.cnpg.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(emulator) = self.emulator.take() {
            emulator.shutdown().await;
        }
        [Arc::clone(&self.pii), Arc::clone(&self.telemetry)]
    }
}

impl Drop for RegionNode {
    fn drop(&mut self) {
        self.stop_operator();
        if let Some(task) = self.cnpg.take() {
            task.abort();
        }
    }
}

/// The admin-connection keys regionstack reads (`ConnParams::from_secret_data`).
fn admin_keys(server: &PgServer, dbname: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", server.host().to_owned()),
        ("port", server.port().to_string()),
        ("user", server.superuser().to_owned()),
        ("password", server.password().to_owned()),
        ("dbname", dbname.to_owned()),
        ("sslmode", "disable".to_owned()),
    ]
}

fn as_refs<'a>(keys: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    keys.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
