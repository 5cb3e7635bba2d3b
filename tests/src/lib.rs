//! Shared support of the end-to-end suite: one [`RegionCluster`] (region name + kube
//! client + kubeconfig) per regional cluster, from either
//!
//! - the emulated seed topology (`testbed::topology`: emulated clusters, real
//!   PostgreSQL, one real `regionstack run` process per region), the default; or
//! - real clusters, when `REGIONSTACK_E2E_KUBECONFIGS` lists one kubeconfig per
//!   region: `eu-west-1=/path/a,eu-west-3=/path/b,ap-south-1=/path/c` (see
//!   tests/README.md for what those clusters must already run).
//!
//! The tests talk to clusters only through these clients (and `kubectl
//! --kubeconfig`), and to databases only through the Secrets in those clusters, so
//! the same assertions hold against both.
//!
//! - [`kubectl`]: real kubectl bound to a region's kubeconfig;
//! - [`db`]: what regionstack built in the databases (census, marks, guardrails);
//! - [`scratch`]: databases, tables, Secrets and replicas a scenario makes for itself;
//! - [`scenarios`]: the operator scenarios, one `async fn` each.

pub mod db;
pub mod kubectl;
pub mod scenarios;
pub mod scratch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kube::Api;
use kube::api::ListParams;
pub use regionstack::demo::{RegionCluster, Step, StepReport};
use regionstack_api::{Lifecycle, Region};
use testbed::topology::{BIN_ENV, Topology, TopologyOptions, process::ensure_binary};

/// Environment variable listing one kubeconfig per region (`region=path,…`): run
/// against those clusters instead of the emulated topology.
pub const KUBECONFIGS_ENV: &str = "REGIONSTACK_E2E_KUBECONFIGS";

/// Extra arguments of the emulated topology's operators.
pub const AUDIT_INTERVAL_ARGS: [&str; 2] = ["--audit-interval", "2"];

/// How long a step may wait for the operators.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// The clusters under test. Dropping it stops the emulated topology (operators,
/// emulators, PostgreSQL servers), also when a test fails; a failed test keeps the
/// state directory (kubeconfigs, operator logs) and prints where it is.
pub struct E2e {
    /// One per region.
    pub clusters: Vec<RegionCluster>,
    topology: Option<Topology>,
    state: Option<tempfile::TempDir>,
}

impl E2e {
    /// The clusters of `$REGIONSTACK_E2E_KUBECONFIGS`, else a fresh emulated seed
    /// topology whose operators answer `/ready` (the `regionstack` binary is built
    /// first when missing).
    pub async fn start() -> anyhow::Result<Self> {
        if let Some(list) = std::env::var_os(KUBECONFIGS_ENV).filter(|v| !v.is_empty()) {
            let mut clusters = Vec::new();
            for (region, path) in parse_kubeconfigs(&list.to_string_lossy())? {
                clusters.push(RegionCluster::from_kubeconfig(&region, path).await?);
            }
            return Ok(Self { clusters, topology: None, state: None });
        }
        let begun = Instant::now();
        let binary = ensure_binary("regionstack", "regionstack", Some(BIN_ENV))?;
        let state = tempfile::Builder::new().prefix("regionstack-e2e-").tempdir()?;
        // The operators run as their ServiceAccount under the Helm chart's RBAC, enforced
        // by the emulators, so a permission the chart lacks fails the suite (see
        // `E2e::denied`). A short audit interval: a managed PiiDatabase is looked at
        // again after it (its CloudNativePG Cluster is not watched), and a hand-made slot
        // is found by it.
        let options =
            TopologyOptions::new(state.path()).operator_binary(binary).chart_rbac().operator_args(AUDIT_INTERVAL_ARGS);
        let started = async {
            let mut topology = Topology::start(options).await.context("starting the emulated topology")?;
            topology
                .wait_operators_ready(Instant::now() + Duration::from_secs(60))
                .await
                .context("the operators did not become ready")?;
            anyhow::Ok(topology)
        };
        match started.await {
            Ok(topology) => {
                eprintln!("e2e: emulated topology up, operators ready ({:.1} s)", begun.elapsed().as_secs_f64());
                let clusters = regionstack::demo::clusters(&topology);
                Ok(Self { clusters, topology: Some(topology), state: Some(state) })
            }
            Err(err) => Err(err.context(format!("state kept for inspection: {}", state.keep().display()))),
        }
    }

    /// The emulated topology (operator processes, servers), `None` on real clusters.
    pub fn topology(&mut self) -> Option<&mut Topology> {
        self.topology.as_mut()
    }

    /// The emulated topology, read-only (emulators, health addresses).
    pub fn topology_ref(&self) -> Option<&Topology> {
        self.topology.as_ref()
    }

    /// Fails the test with `outcome`'s error chain (and where the operator logs are)
    /// unless it held; prints how long the scenario took since `started`.
    pub fn verdict(&self, title: &str, started: Instant, outcome: anyhow::Result<()>) {
        let took = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => eprintln!("PASS {title} ({took:.1} s)"),
            Err(err) => panic!("scenario failed after {took:.1} s: {title}\n{err:#}{}", self.log_hint()),
        }
    }

    /// The cluster of `region`.
    pub fn cluster(&self, region: &str) -> &RegionCluster {
        self.clusters.iter().find(|c| c.region == region).unwrap_or_else(|| panic!("no cluster for region {region}"))
    }

    /// Runs `step` and fails the test with the step's full report unless it held.
    pub async fn assert_step(&self, step: &Step) -> StepReport {
        let report = step.run(&self.clusters, STEP_TIMEOUT).await;
        eprintln!("== {}\n{report}", report.title);
        assert!(report.passed, "step failed: {}\n{report}{}", step.title(), self.log_hint());
        report
    }

    /// Runs one scenario and fails the test with its error chain (and where the
    /// operator logs are) unless it held; prints how long it took.
    pub async fn scenario<F>(&self, title: &str, scenario: F)
    where
        F: std::future::Future<Output = anyhow::Result<()>>,
    {
        let started = Instant::now();
        let outcome = scenario.await;
        self.verdict(title, started, outcome);
    }

    /// The `Active` regions (as the first cluster's Regions say), in cluster order.
    pub async fn active_regions(&self) -> anyhow::Result<Vec<String>> {
        let first = self.clusters.first().context("no clusters")?;
        let regions = Api::<Region>::all(first.client.clone()).list(&ListParams::default()).await?;
        let active: Vec<&str> = regions
            .items
            .iter()
            .filter(|r| r.spec.lifecycle == Lifecycle::Active)
            .filter_map(|r| r.metadata.name.as_deref())
            .collect();
        Ok(self.clusters.iter().filter(|c| active.contains(&c.region.as_str())).map(|c| c.region.clone()).collect())
    }

    /// Two distinct Active regions with a cluster each, or an error.
    pub async fn two_active(&self) -> anyhow::Result<(&RegionCluster, &RegionCluster)> {
        let active = self.active_regions().await?;
        let [a, b, ..] = &active[..] else { bail!("the scenario needs two Active regions, found {active:?}") };
        Ok((self.cluster(a), self.cluster(b)))
    }

    /// Every request the emulated clusters refused the operators, as
    /// `region: record` lines (empty on real clusters).
    pub fn denied(&self) -> Vec<String> {
        self.topology
            .as_ref()
            .map(|t| t.denied().iter().map(|(region, d)| format!("{region}: {d}")).collect())
            .unwrap_or_default()
    }

    /// What the chart's RBAC grants that no operator used in this run so far, in any
    /// region (empty on real clusters). A grant counts per region (each renders its own
    /// Lease rule), so one is listed only when it went unused in every region.
    pub fn unused_permissions(&self) -> anyhow::Result<Vec<kube_emulator::Permission>> {
        let Some(topology) = &self.topology else { return Ok(Vec::new()) };
        let key = |p: &kube_emulator::Permission| {
            (p.namespace.clone(), p.api_group.clone(), p.resource.clone(), p.verb.clone(), p.non_resource_url.clone())
        };
        let mut unused: Option<Vec<kube_emulator::Permission>> = None;
        for region in topology.region_names() {
            let objects = testbed::topology::rbac::chart_rbac(&region)?;
            let here = kube_emulator::unused_permissions(&objects, &topology.access_log(&region));
            unused = Some(match unused {
                None => here,
                Some(before) => before.into_iter().filter(|p| here.iter().any(|h| key(h) == key(p))).collect(),
            });
        }
        Ok(unused.unwrap_or_default())
    }

    fn log_hint(&self) -> String {
        self.topology
            .as_ref()
            .map(|t| format!("\noperator logs: {}/<region>/operator.log", t.state_dir().display()))
            .unwrap_or_default()
    }

    /// Stops the emulated topology in order (a no-op on real clusters); removes the
    /// state directory.
    pub async fn shutdown(mut self) {
        if let Some(topology) = self.topology.take() {
            let begun = Instant::now();
            topology.shutdown().await;
            eprintln!("e2e: emulated topology stopped ({:.1} s)", begun.elapsed().as_secs_f64());
        }
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        // A failed test keeps its kubeconfigs and operator logs for a look afterwards
        // (the clusters and databases themselves stop with the topology).
        if std::thread::panicking()
            && let Some(state) = self.state.take()
        {
            eprintln!("e2e: state kept for inspection: {}", state.keep().display());
        }
    }
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `timeout`; the
/// error names `what` and the last thing the probe said.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => "not yet".to_owned(),
            Err(err) => format!("{err:#}"),
        };
        if Instant::now() >= deadline {
            bail!("{what}: not within {} s (last: {last})", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `region=path,region=path` → pairs.
pub fn parse_kubeconfigs(list: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((region, path)) = entry.split_once('=') else {
            bail!("{KUBECONFIGS_ENV}: `{entry}` is not region=path");
        };
        out.push((region.trim().to_owned(), PathBuf::from(path.trim())));
    }
    if out.is_empty() {
        bail!("{KUBECONFIGS_ENV} lists no cluster");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_lists() {
        let parsed = parse_kubeconfigs("eu-west-1=/a, eu-west-3 = /b ,").unwrap();
        assert_eq!(
            parsed,
            [("eu-west-1".to_owned(), PathBuf::from("/a")), ("eu-west-3".to_owned(), PathBuf::from("/b"))]
        );
        assert!(parse_kubeconfigs("eu-west-1").is_err());
        assert!(parse_kubeconfigs(" , ").is_err());
    }
}
