//! The seed topology (DESIGN §1, §8) on one machine: per region an emulated
//! Kubernetes cluster (crates/kube-emulator, in-process), a PostgreSQL server for the
//! PII database and one for the telemetry database, the Secrets the manifests refer
//! to, a stand-in for CloudNativePG ([`cnpg`]), the manifests applied, and the
//! region's operator as a real `regionstack run` process. Test and demo
//! infrastructure, never a production target.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use testbed::topology::{Topology, TopologyOptions};
//! let binary = testbed::topology::locate_binary("regionstack", "regionstack", Some(testbed::topology::BIN_ENV))?;
//! let mut topology = Topology::start(TopologyOptions::new("/tmp/rs-state").operator_binary(binary)).await?;
//! topology.wait_operators_ready(std::time::Instant::now() + std::time::Duration::from_secs(30)).await?;
//! let eu = topology.region("eu-west-1");
//! let _client = eu.client();          // kube::Client of eu-west-1's cluster
//! let _port = eu.telemetry().port();  // its telemetry PostgreSQL server
//! topology.kill_operator("eu-west-1");
//! topology.start_operator("eu-west-1")?;
//! # Ok(()) }
//! ```
//!
//! State directory: `<state>/<region>/kubeconfig` (for `kubectl --kubeconfig`),
//! `<state>/<region>/operator.log` (the operator's JSON logs), `<state>/manifests/`
//! (what was applied). The PostgreSQL servers live in their own temporary
//! directories (`PgServer::base_dir`, with `postgres.log`).
//!
//! Why the publisher endpoints are overridden: the published examples name the
//! endpoints peers would use in production (`telemetry.<region>.example.net:5432`,
//! `verify-full`). Here each region's telemetry server listens on a free loopback
//! port without TLS, so after applying the manifests the topology points every
//! Region's `spec.telemetry.publisherEndpoint` at `127.0.0.1:<port>`, `sslMode:
//! disable`, by server-side apply under its own field manager (`regionstack-demo`).
//! Re-applying the examples with `kubectl apply` reverts it.

pub mod cnpg;
pub mod databases;
pub mod manifests;
pub mod objects;
pub mod process;
pub mod rbac;
mod region;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use kube_emulator::KubeEmulator;

pub use manifests::{Manifests, SEED_REGIONS};
pub use objects::{ApplyMode, FIELD_MANAGER};
pub use process::{BIN_ENV, Supervised, locate_binary};
pub use region::RegionNode;

use crate::{Cluster, PgOptions};

/// The namespace of the operator and of each region's telemetry admin Secret.
pub const SYSTEM_NAMESPACE: &str = "regionstack-system";

/// How to start a [`Topology`].
#[derive(Clone, Debug)]
pub struct TopologyOptions {
    /// Where kubeconfigs, logs and the applied manifests go (created if missing).
    pub state_dir: PathBuf,
    /// One emulated cluster per region, in this order.
    pub regions: Vec<String>,
    /// What is applied to every cluster.
    pub manifests: Manifests,
    /// How it is applied.
    pub apply: ApplyMode,
    /// The `regionstack` binary; without it no operator is started.
    pub operator_binary: Option<PathBuf>,
    /// Extra arguments for every `regionstack run` (e.g. `--audit-interval 2`).
    pub operator_args: Vec<String>,
    /// Run the operators under RBAC: every emulator authorizes requests, the RBAC
    /// objects (exactly one ServiceAccount, plus Roles/ClusterRoles/bindings) are
    /// applied as the admin, and each operator gets `<region>/operator-kubeconfig` with
    /// the ServiceAccount's token. `None`: no authorization, operators use the admin
    /// kubeconfig.
    pub operator_rbac: Option<OperatorRbac>,
}

/// Where the RBAC objects of operators run under the emulator's RBAC come from.
#[derive(Clone, Debug)]
pub enum OperatorRbac {
    /// The Helm chart's, rendered for each region ([`rbac::chart_rbac`]).
    Chart,
    /// These objects in every region (e.g. the chart's with a permission taken away).
    Objects(Vec<serde_json::Value>),
}

impl OperatorRbac {
    /// The objects for the operator of `region`.
    pub fn objects_for(&self, region: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        match self {
            OperatorRbac::Chart => rbac::chart_rbac(region),
            OperatorRbac::Objects(objects) => Ok(objects.clone()),
        }
    }
}

impl TopologyOptions {
    /// The seed topology (three regions, `examples/` applied with kubectl when it is
    /// installed), state in `state_dir`, no operators.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            regions: SEED_REGIONS.map(str::to_owned).to_vec(),
            manifests: Manifests::Seed,
            apply: ApplyMode::Auto,
            operator_binary: None,
            operator_args: Vec::new(),
            operator_rbac: None,
        }
    }

    /// Run the operators under RBAC with `objects` in every region (see
    /// [`TopologyOptions::operator_rbac`]).
    #[must_use]
    pub fn operator_rbac(mut self, objects: Vec<serde_json::Value>) -> Self {
        self.operator_rbac = Some(OperatorRbac::Objects(objects));
        self
    }

    /// Run the operators under the Helm chart's RBAC, rendered per region.
    #[must_use]
    pub fn chart_rbac(mut self) -> Self {
        self.operator_rbac = Some(OperatorRbac::Chart);
        self
    }

    /// Start one operator process per region from `binary`.
    #[must_use]
    pub fn operator_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.operator_binary = Some(binary.into());
        self
    }

    /// Extra arguments for every operator.
    #[must_use]
    pub fn operator_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.operator_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// How manifests are applied.
    #[must_use]
    pub fn apply(mut self, mode: ApplyMode) -> Self {
        self.apply = mode;
        self
    }

    /// Which manifests are applied.
    #[must_use]
    pub fn manifests(mut self, manifests: Manifests) -> Self {
        self.manifests = manifests;
        self
    }
}

/// The running topology. Dropping it (also while a test panics) terminates and reaps
/// the operators, stops the CNPG stand-ins and the emulators, and stops the
/// PostgreSQL servers; [`Topology::shutdown`] does the same in order, waiting.
#[derive(Debug)]
pub struct Topology {
    options: TopologyOptions,
    applied_with: ApplyMode,
    regions: Vec<RegionNode>,
}

impl Topology {
    /// Starts everything (see the module documentation), in this order: PostgreSQL
    /// servers and emulated clusters, databases, CRDs (regionstack's and the CNPG
    /// stand-in's), the manifests, namespaces and Secrets, the publisher-endpoint
    /// override, the CNPG stand-ins, and last the operators (not waited for: see
    /// [`Topology::wait_operators_ready`]).
    pub async fn start(options: TopologyOptions) -> anyhow::Result<Self> {
        let started = Instant::now();
        if options.regions.is_empty() || options.regions.iter().collect::<BTreeSet<_>>().len() != options.regions.len()
        {
            bail!("a topology needs distinct regions, got {:?}", options.regions);
        }
        std::fs::create_dir_all(&options.state_dir)
            .with_context(|| format!("creating the state directory {}", options.state_dir.display()))?;
        let state_dir = std::fs::canonicalize(&options.state_dir)?;
        let options = TopologyOptions { state_dir, ..options };

        // Two servers per region, all started in parallel threads.
        let pg_options: Vec<PgOptions> = options
            .regions
            .iter()
            // No physical-replication rules in pg_hba.conf: the operator's audits flag any
            // rule that would let a login stream the server's WAL (logical replication
            // uses ordinary database rules).
            .flat_map(|r| {
                [
                    PgOptions::new(format!("{r}-pii")).no_replication_hba(),
                    // PostgreSQL 15's logical replication launcher starts apply workers
                    // at most once per wal_retrieve_retry_interval (default 5 s) for the
                    // whole server (16 tracks it per subscription): a region's import
                    // subscription, created right after its own hop-1 subscription,
                    // would wait ~5 s for its worker. See docs/runtime.md.
                    PgOptions::new(format!("{r}-telemetry"))
                        .no_replication_hba()
                        .setting("wal_retrieve_retry_interval", "500ms"),
                ]
            })
            .collect();
        let servers = tokio::task::spawn_blocking(move || {
            let servers = Cluster::start_with(pg_options)?.into_servers();
            for pair in servers.chunks(2) {
                databases::prepare_pii(&pair[0])?;
                databases::prepare_telemetry(&pair[1])?;
            }
            Ok::<_, crate::TestbedError>(servers)
        })
        .await
        .context("starting PostgreSQL")??;

        let mut regions = Vec::new();
        let mut servers = servers.into_iter();
        for name in &options.regions {
            let (Some(pii), Some(telemetry)) = (servers.next(), servers.next()) else { unreachable!("two per region") };
            let dir = options.state_dir.join(name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let config = kube_emulator::Config { rbac: options.operator_rbac.is_some(), ..Default::default() };
            let emulator =
                KubeEmulator::start_with(config, 0).await.with_context(|| format!("starting {name}'s API emulator"))?;
            let node = RegionNode::new(name.clone(), dir, emulator, Arc::new(pii), Arc::new(telemetry));
            node.write_kubeconfig()?;
            node.install_crds().await?;
            if let Some(rbac) = &options.operator_rbac {
                node.set_up_operator_rbac(&rbac.objects_for(name)?).await?;
            }
            regions.push(node);
        }
        let mut topology = Self { applied_with: options.apply.resolve(), options, regions };

        let files = topology.options.manifests.files()?;
        let docs = manifests::documents(&files)?;
        if topology.applied_with != ApplyMode::Skip {
            topology.apply_manifests(&files, &docs).await?;
        }
        topology.provide_secrets(&docs).await?;
        topology.override_publisher_endpoints().await?;
        for node in &mut topology.regions {
            node.start_cnpg_standin();
        }
        if topology.options.operator_binary.is_some() {
            for name in topology.region_names() {
                topology.start_operator(&name)?;
            }
        }
        tracing::info!(ms = started.elapsed().as_millis(), "topology started");
        Ok(topology)
    }

    /// The options it was started with (state directory resolved to an absolute path).
    pub fn options(&self) -> &TopologyOptions {
        &self.options
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.options.state_dir
    }

    /// How the manifests were applied (`Auto` resolved).
    pub fn applied_with(&self) -> ApplyMode {
        self.applied_with
    }

    /// The region names, in order.
    pub fn region_names(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.name().to_owned()).collect()
    }

    /// Every region.
    pub fn regions(&self) -> &[RegionNode] {
        &self.regions
    }

    /// The region called `name`; panics with the known names when there is none.
    pub fn region(&self, name: &str) -> &RegionNode {
        self.regions
            .iter()
            .find(|r| r.name() == name)
            .unwrap_or_else(|| panic!("no region {name:?} in the topology (regions: {:?})", self.region_names()))
    }

    fn region_mut(&mut self, name: &str) -> anyhow::Result<&mut RegionNode> {
        let names = self.region_names();
        self.regions.iter_mut().find(|r| r.name() == name).with_context(|| format!("no region {name:?} in {names:?}"))
    }

    /// Starts `region`'s operator (after [`Topology::kill_operator`] or
    /// [`Topology::stop_operator`]); its output is appended to `operator.log`.
    pub fn start_operator(&mut self, region: &str) -> anyhow::Result<()> {
        let binary =
            self.options.operator_binary.clone().context("the topology was started without an operator binary")?;
        let args = self.options.operator_args.clone();
        self.region_mut(region)?.start_operator(&binary, &args)
    }

    /// Kills `region`'s operator with SIGKILL (as a crash would) and reaps it; no-op
    /// when it is not running.
    pub fn kill_operator(&mut self, region: &str) {
        if let Ok(node) = self.region_mut(region) {
            node.kill_operator();
        }
    }

    /// Stops `region`'s operator gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop_operator(&mut self, region: &str) {
        if let Ok(node) = self.region_mut(region) {
            node.stop_operator();
        }
    }

    /// `region`'s access record: every authorization decision its emulator took for a
    /// non-admin identity (the operator's ServiceAccount under
    /// [`TopologyOptions::operator_rbac`]); empty without RBAC.
    pub fn access_log(&self, region: &str) -> Vec<kube_emulator::AccessRecord> {
        self.region(region).emulator().access_log()
    }

    /// Every denied request in every region, as `(region, record)`.
    pub fn denied(&self) -> Vec<(String, kube_emulator::AccessRecord)> {
        self.regions.iter().flat_map(|r| r.emulator().denied().into_iter().map(|d| (r.name().to_owned(), d))).collect()
    }

    /// Every region's access record together (for [`kube_emulator::unused_permissions`]).
    pub fn access_logs(&self) -> Vec<kube_emulator::AccessRecord> {
        self.regions.iter().flat_map(|r| r.emulator().access_log()).collect()
    }

    /// Waits until `region`'s operator answers `/ready` with 200.
    pub async fn wait_ready(&mut self, region: &str, deadline: Instant) -> anyhow::Result<()> {
        self.region_mut(region)?.wait_operator_ready(deadline).await
    }

    /// Waits until every operator answers `/ready` with 200.
    pub async fn wait_operators_ready(&mut self, deadline: Instant) -> anyhow::Result<()> {
        for node in &mut self.regions {
            node.wait_operator_ready(deadline).await?;
        }
        Ok(())
    }

    /// Stops everything in order and waits: operators (SIGTERM), CNPG stand-ins,
    /// emulators, PostgreSQL servers.
    pub async fn shutdown(mut self) {
        for node in &mut self.regions {
            node.stop_operator();
        }
        let regions = std::mem::take(&mut self.regions);
        let mut servers = Vec::new();
        for node in regions {
            servers.extend(node.shutdown().await);
        }
        let _ = tokio::task::spawn_blocking(move || drop(servers)).await;
    }

    async fn apply_manifests(&self, files: &[(String, String)], docs: &[serde_json::Value]) -> anyhow::Result<()> {
        let dir = self.state_dir().join("manifests");
        std::fs::create_dir_all(&dir)?;
        for (name, text) in files {
            std::fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
        for node in &self.regions {
            match self.applied_with {
                ApplyMode::Kubectl => {
                    let kubeconfig = node.kubeconfig();
                    tokio::task::spawn_blocking({
                        let dir = dir.clone();
                        move || objects::kubectl_apply(&kubeconfig, &dir)
                    })
                    .await??;
                }
                _ => objects::server_side_apply(&node.client(), docs).await?,
            }
        }
        Ok(())
    }

    /// The Secrets every region needs (module documentation of [`region`]).
    async fn provide_secrets(&self, docs: &[serde_json::Value]) -> anyhow::Result<()> {
        let needs = manifests::secret_needs(docs);
        for node in &self.regions {
            node.provide_secrets(&needs).await?;
        }
        // Replication logins: one random password per replica, the same Secret in the
        // source cluster and every target cluster.
        for need in &needs {
            if let manifests::SecretNeed::Replication { replica, namespace, name, regions } = need {
                let login = manifests::replication_login(replica);
                let password = crate::util::random_password();
                for node in self.regions.iter().filter(|n| regions.contains(n.name())) {
                    let data = [("username", login.as_str()), ("password", password.as_str())];
                    objects::apply_secret(&node.client(), namespace, name, "kubernetes.io/basic-auth", &data).await?;
                }
            }
        }
        Ok(())
    }

    /// Points every Region that declares `spec.telemetry`, in every cluster, at its
    /// region's telemetry server (`127.0.0.1:<port>`, `sslMode: disable`), under
    /// [`FIELD_MANAGER`]; see the module documentation for why. Done by
    /// [`Topology::start`] after applying the manifests; call it again after applying
    /// Regions yourself.
    pub async fn override_publisher_endpoints(&self) -> anyhow::Result<()> {
        for node in &self.regions {
            let api: kube::Api<regionstack_api::Region> = kube::Api::all(node.client());
            for owner in &self.regions {
                let declared = api.get_opt(owner.name()).await?.is_some_and(|r| r.spec.telemetry.is_some());
                if declared {
                    objects::override_publisher_endpoint(&node.client(), owner.name(), owner.telemetry().port())
                        .await?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Operators first (they hold connections to the servers), then the rest as the
        // fields drop.
        for node in &mut self.regions {
            node.stop_operator();
        }
    }
}
