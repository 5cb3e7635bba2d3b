//! Watches recover on the full topology (emulated only: it needs the emulator's fault
//! injection). On one Active region's cluster, with a dedicated PiiDatabase whose
//! spec is changed with `kubectl patch` after each fault:
//! 1. every watch dropped (a clean end, as on a server timeout): resumed;
//! 2. a forced 410 Gone on the operator's PiiDatabase watch (`expire_next_watch_of`,
//!    aimed so that the in-process CloudNativePG stand-in cannot take it), then every
//!    watch dropped: counted as a watch error, the watcher lists again;
//! 3. the watch history compacted under every watcher, then every watch dropped,
//!    and the change made while the watchers are out: they resume from a version
//!    the server no longer has, get 410, and only the new LIST shows the change.
//!
//! After each: `observedGeneration` catches up with the change (and what it asks
//! for is done: Audit → Enforce installs the guardrails), `/ready` is 200 again.
//! At the end: exactly the three guardrail triggers, every replication object once
//! (census), and every object of every cluster settled.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube_emulator::KubeEmulator;
use serde_json::json;
use testbed::topology::process::http_status;

use super::TIMEOUT;
use crate::kubectl::Kubectl;
use crate::scratch::ScratchPii;
use crate::{E2e, RegionCluster, Step, db, eventually};

/// How long one fault may take to show up as a watch error.
const FAULT_SEEN: Duration = Duration::from_secs(5);

/// The scenario (see the module documentation); on real clusters it only says why
/// it does not run.
pub async fn watch_faults(e2e: &E2e) -> anyhow::Result<()> {
    let Some(topology) = e2e.topology_ref() else {
        eprintln!("watch faults: not run on real clusters (needs the emulator's fault injection)");
        return Ok(());
    };
    let (_, cluster) = e2e.two_active().await?;
    let node = topology.region(&cluster.region);
    let health = node.health_addr().with_context(|| format!("{}'s operator is not running", cluster.region))?;
    let scratch = ScratchPii::create(cluster, "watch").await?;
    let name = format!("{}-db", scratch.name);
    let outcome = check(e2e, cluster, node.emulator(), health, &scratch, &name).await;
    let cleaned = scratch.cleanup(&[&name]).await;
    let bump: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), testbed::topology::SYSTEM_NAMESPACE);
    let _ = bump.delete(&format!("{}-bump", scratch.name), &kube::api::DeleteParams::default()).await;
    outcome.and(cleaned)
}

/// The operator's `regionstack_watch_errors_total`, summed over kinds.
async fn watch_errors(health: SocketAddr) -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(health).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {health}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut body)).await??;
    Ok(body
        .lines()
        .filter(|l| l.starts_with("regionstack_watch_errors_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

async fn ready_again(region: &str, health: SocketAddr) -> anyhow::Result<()> {
    eventually(&format!("{region}'s operator /ready 200"), TIMEOUT, || async {
        Ok((http_status(health, "/ready").await? == 200).then_some(()))
    })
    .await
}

/// Applies `fault` until the operator counts a new watch error (at most 5 times: a
/// fault can miss, e.g. a bookmark may move a watcher past a compaction).
async fn until_watch_error(health: SocketAddr, what: &str, mut fault: impl FnMut()) -> anyhow::Result<()> {
    let before = watch_errors(health).await?;
    for _ in 0..5 {
        fault();
        let seen = eventually(what, FAULT_SEEN, || async { Ok((watch_errors(health).await? > before).then_some(())) });
        if seen.await.is_ok() {
            return Ok(());
        }
    }
    anyhow::bail!("{what}: the operator counted no watch error after 5 attempts")
}

async fn changed(kubectl: &Kubectl, name: &str, spec: serde_json::Value, generation: i64) -> anyhow::Result<()> {
    kubectl.patch("piidatabase", "customers", name, &json!({"spec": spec})).await?;
    let seen = kubectl.jsonpath("piidatabase", "customers", name, "{.metadata.generation}").await?;
    ensure!(seen == generation.to_string(), "{name}: generation {seen}, expected {generation}");
    kubectl.wait_condition("piidatabase", "customers", name, "Ready", ("True", "Reconciled"), TIMEOUT).await
}

async fn check(
    e2e: &E2e,
    cluster: &RegionCluster,
    emulator: &KubeEmulator,
    health: SocketAddr,
    scratch: &ScratchPii,
    name: &str,
) -> anyhow::Result<()> {
    let region = &cluster.region;
    let kubectl = Kubectl::of(cluster)?;
    kubectl.apply(&scratch.manifest(name, region, &["GDPR"], "Audit")).await?;
    kubectl.wait_condition("piidatabase", "customers", name, "Ready", ("True", "Reconciled"), TIMEOUT).await?;
    let (triggers, _) = db::guardrails(&scratch.params).await?;
    ensure!(triggers.is_empty(), "Audit mode installed guardrails: {triggers:?}");

    // 1. Every watch dropped.
    emulator.faults().drop_watches();
    changed(&kubectl, name, json!({"enforcement": "Enforce"}), 2).await.context("after dropped watches")?;
    let (triggers, _) = db::guardrails(&scratch.params).await?;
    ensure!(triggers.len() == 3, "Enforce after the dropped watches: guardrails {triggers:?}");
    ready_again(region, health).await?;

    // 2. A forced 410 Gone.
    until_watch_error(health, "a forced 410 counted", || {
        emulator.faults().expire_next_watch_of("piidatabases");
        emulator.faults().drop_watches();
    })
    .await?;
    changed(&kubectl, name, json!({"compliance": ["GDPR", "FDPA"]}), 3).await.context("after a forced 410")?;
    ready_again(region, health).await?;

    // 3. History compacted under the watchers; the change made while they are out.
    let bump: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), testbed::topology::SYSTEM_NAMESPACE);
    let bump_name = format!("{}-bump", scratch.name);
    let before = watch_errors(health).await?;
    for round in 1..=5 {
        // A write first, so that every watcher's last version is older than the
        // compacted history.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": bump_name},
                        "data": {"round": round.to_string()}});
        bump.patch(&bump_name, &PatchParams::apply("regionstack-e2e").force(), &Patch::Apply(&cm)).await?;
        emulator.compact();
        emulator.faults().drop_watches();
        if round == 1 {
            kubectl.patch("piidatabase", "customers", name, &json!({"spec": {"compliance": ["GDPR"]}})).await?;
        }
        let seen = eventually("a 410 after compaction counted", FAULT_SEEN, || async {
            Ok((watch_errors(health).await? > before).then_some(()))
        });
        if seen.await.is_ok() {
            break;
        }
    }
    ensure!(watch_errors(health).await? > before, "no watch error after compacting the history 5 times");
    let generation = kubectl.jsonpath("piidatabase", "customers", name, "{.metadata.generation}").await?;
    ensure!(generation == "4", "{name}: generation {generation}, expected 4");
    kubectl
        .wait_condition("piidatabase", "customers", name, "Ready", ("True", "Reconciled"), TIMEOUT)
        .await
        .context("after the compacted history")?;
    ready_again(region, health).await?;

    // Nothing twice, everything settled.
    let (triggers, _) = db::guardrails(&scratch.params).await?;
    ensure!(triggers.len() == 3, "guardrails after the faults: {triggers:?}");
    for c in &e2e.clusters {
        if e2e.active_regions().await?.contains(&c.region) {
            db::wait_census(c, TIMEOUT).await?;
        }
    }
    let report = Step::Settle.run(&e2e.clusters, TIMEOUT).await;
    ensure!(report.passed, "not settled after the faults:\n{report}");
    Ok(())
}
