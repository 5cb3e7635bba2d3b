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

use super::support::{counter, poll};
use super::{Options, Table, drift, percentiles, show};

/// Environment variable: keep the topology's state (logs) in this directory.
const STATE_ENV: &str = "REGIONSTACK_BENCH_STATE";
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
    // REGIONSTACK_BENCH_STATE=<dir>: keep the state directory (operator logs) and a
    // copy of every PostgreSQL server's log there, for a timeline of the rounds.
    let kept = std::env::var_os(STATE_ENV).map(PathBuf::from);
    let temp = tempfile::tempdir()?;
    let state = kept.clone().unwrap_or_else(|| temp.path().to_owned());
    println!("starting the seed topology (3 regions, 6 PostgreSQL servers, 3 operators) in {}", state.display());
    let started = Instant::now();
    let mut topology = Topology::start(TopologyOptions::new(&state).operator_binary(binary)).await?;
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
        idle(&topology, &clusters, table).await
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
    if kept.is_some() {
        for node in topology.regions() {
            for server in [node.pii(), node.telemetry()] {
                let name = server.log_path().file_name().map(ToOwned::to_owned).unwrap_or_default();
                let role = if std::ptr::eq(server, node.pii()) { "pii" } else { "telemetry" };
                let _ = std::fs::copy(server.log_path(), node.dir().join(format!("{role}-{}", name.to_string_lossy())));
            }
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
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        println!("  round {round}: apply starts at unix {:.3}", wall.as_secs_f64());
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
        match wait_settled_last(clusters, ROUND_TIMEOUT).await {
            Ok((_, last)) => {
                let took = started.elapsed();
                println!(
                    "  round {round}: settled {} after the apply started (kubectl took {}; last: {last})",
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

/// Reconciles and status writes of each operator over 10 idle seconds: the scheduled
/// audits and resyncs only (a reconcile loop, e.g. drift checks triggering each
/// other, would show here), and no status write.
async fn idle(topology: &Topology, clusters: &[RegionCluster], table: &mut Table) -> anyhow::Result<()> {
    wait_settled(clusters, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let read = || async {
        let mut out = Vec::new();
        for node in topology.regions() {
            let addr = node.health_addr().context("an operator is not running")?;
            let reconciles = counter(addr, "regionstack_reconciles_total", &[]).await?;
            out.push((reconciles, counter(addr, "regionstack_status_writes_total", &[]).await?));
        }
        anyhow::Ok(out)
    };
    let before = read().await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = read().await?;
    let reconciles: Vec<String> = before.iter().zip(&after).map(|(b, a)| (a.0 - b.0).to_string()).collect();
    let writes: u64 = before.iter().zip(&after).map(|(b, a)| a.1 - b.1).sum();
    table.info("seed idle 10 s: reconciles per operator", reconciles.join(" / "));
    table.target("seed idle 10 s: status writes", "0", writes.to_string(), writes == 0);
    Ok(())
}

/// Waits (polling every 25 ms, the clusters at once) until every object of every cluster is settled;
/// returns how long it took, or the objects still waiting.
pub async fn wait_settled(clusters: &[RegionCluster], timeout: Duration) -> anyhow::Result<Duration> {
    Ok(wait_settled_last(clusters, timeout).await?.0)
}

/// [`wait_settled`], also naming the object that settled last.
async fn wait_settled_last(clusters: &[RegionCluster], timeout: Duration) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        // The clusters are read at once: one poll costs one round of three lists, not
        // three rounds in a row (~10 ms less lag between settling and seeing it).
        let all: Vec<settled::ObjectState> =
            futures::future::try_join_all(clusters.iter().map(settled::states)).await?.into_iter().flatten().collect();
        let waiting: Vec<&settled::ObjectState> = all.iter().filter(|s| !s.met).collect();
        if let [only] = waiting.as_slice() {
            last = format!("[{}] {}", only.cluster, only.object);
        }
        if !all.is_empty() && waiting.is_empty() {
            return Ok((started.elapsed(), last));
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
