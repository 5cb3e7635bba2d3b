//! `kubectl apply` of the seed topology → every object settled in every cluster.
//!
//! Why a rewritten `regions.yaml`: the topology points every Region's publisher
//! endpoint at its loopback PostgreSQL server (testbed::topology, module docs);
//! re-applying the published examples would revert that and measure a Region spec
//! change as well. The bench applies the same four files with the endpoints the
//! topology uses, so the Regions are applied unchanged and the workload objects are
//! created, as a GitOps sync of the seed onto clusters that have the Regions would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use regionstack::demo::{RegionCluster, clusters, settled};
use regionstack_api::{PiiDatabase, TelemetryReplica};
use testbed::topology::{Topology, TopologyOptions, manifests::SEED, objects};

use super::support::poll;
use super::{Options, Table, drift, percentiles, show};

/// DESIGN §9.
const TARGET: Duration = Duration::from_secs(2);
/// How long one round may take before it counts as a timeout.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the topology, then measures `settle` and/or `drift` on it.
pub async fn topology_figures(
    binary: &Path,
    options: &Options,
    settle: bool,
    drift: bool,
    table: &mut Table,
) -> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    println!("starting the seed topology (3 regions, 6 PostgreSQL servers, 3 operators) in {}", state.path().display());
    let started = Instant::now();
    let mut topology = Topology::start(TopologyOptions::new(state.path()).operator_binary(binary)).await?;
    topology.wait_operators_ready(Instant::now() + Duration::from_secs(60)).await?;
    let clusters = clusters(&topology);
    let cold = wait_settled(&clusters, Duration::from_secs(180)).await.context("the first settle")?;
    table.info("topology start → first settle (operators cold)", show(started.elapsed()));
    println!("  settled {} after the operators were ready", show(cold));
    let outcome = async {
        if settle {
            rounds(&topology, &clusters, options, table).await?;
        }
        if drift {
            drift::run(&clusters, options, table).await?;
        }
        anyhow::Ok(())
    }
    .await;
    if outcome.is_err() {
        for node in topology.regions() {
            eprintln!(
                "tail of {}:\n{}",
                node.operator_log().display(),
                testbed::topology::process::log_tail(&node.operator_log(), 15)
            );
        }
    }
    topology.shutdown().await;
    outcome
}

async fn rounds(
    topology: &Topology,
    clusters: &[RegionCluster],
    options: &Options,
    table: &mut Table,
) -> anyhow::Result<()> {
    let dir = manifests_dir(topology)?;
    let mut samples = Vec::new();
    let mut failures = 0;
    for round in 1..=options.rounds {
        delete_workloads(clusters).await?;
        let started = Instant::now();
        let kubectls: Vec<_> = topology
            .regions()
            .iter()
            .map(|node| {
                let (kubeconfig, dir) = (node.kubeconfig(), dir.clone());
                tokio::task::spawn_blocking(move || objects::kubectl_apply(&kubeconfig, &dir))
            })
            .collect();
        for apply in kubectls {
            apply.await??;
        }
        let applied = started.elapsed();
        match wait_settled(clusters, ROUND_TIMEOUT).await {
            Ok(_) => {
                let took = started.elapsed();
                println!(
                    "  round {round}: settled {} after the apply started (kubectl took {})",
                    show(took),
                    show(applied)
                );
                samples.push(took);
            }
            Err(e) => {
                println!("  round {round}: {e:#}");
                failures += 1;
                samples.push(ROUND_TIMEOUT);
            }
        }
    }
    percentiles(table, "kubectl apply seed → all settled", &samples, TARGET, failures);
    Ok(())
}

/// Waits (polling every 25 ms) until every object of every cluster is settled;
/// returns how long it took, or the objects still waiting.
pub async fn wait_settled(clusters: &[RegionCluster], timeout: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for cluster in clusters {
            all.extend(settled::states(cluster).await?);
        }
        if !all.is_empty() && all.iter().all(|s| s.met) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            let waiting: Vec<String> = all.iter().filter(|s| !s.met).map(ToString::to_string).collect();
            anyhow::bail!("not settled within {timeout:?}:\n{}", waiting.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Deletes every PiiDatabase and TelemetryReplica in every cluster and waits until
/// their finalizers have run.
async fn delete_workloads(clusters: &[RegionCluster]) -> anyhow::Result<()> {
    let lp = ListParams::default();
    for c in clusters {
        for db in Api::<PiiDatabase>::all(c.client.clone()).list(&lp).await? {
            let ns = db.metadata.namespace.clone().unwrap_or_default();
            let _ = Api::<PiiDatabase>::namespaced(c.client.clone(), &ns)
                .delete(db.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default())
                .await?;
        }
        for r in Api::<TelemetryReplica>::all(c.client.clone()).list(&lp).await? {
            let ns = r.metadata.namespace.clone().unwrap_or_default();
            let _ = Api::<TelemetryReplica>::namespaced(c.client.clone(), &ns)
                .delete(r.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default())
                .await?;
        }
    }
    poll("the workloads deleted", Duration::from_millis(50), ROUND_TIMEOUT, || async {
        for c in clusters {
            let dbs = Api::<PiiDatabase>::all(c.client.clone()).list(&lp).await?.items.len();
            let replicas = Api::<TelemetryReplica>::all(c.client.clone()).list(&lp).await?.items.len();
            if dbs + replicas > 0 {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await
}

/// `<state>/bench-manifests/`: the seed's files, with `regions.yaml`'s publisher
/// endpoints replaced by the topology's (see the module documentation).
fn manifests_dir(topology: &Topology) -> anyhow::Result<PathBuf> {
    let dir = topology.state_dir().join("bench-manifests");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in SEED {
        let mut text = text.to_owned();
        if name == "regions.yaml" {
            for node in topology.regions() {
                let published =
                    format!("{{host: telemetry.{}.example.net, port: 5432, sslMode: verify-full}}", node.name());
                let local = format!("{{host: 127.0.0.1, port: {}, sslMode: disable}}", node.telemetry().port());
                if text.contains(&published) {
                    text = text.replace(&published, &local);
                }
            }
        }
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir)
}
