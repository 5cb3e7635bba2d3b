//! 1,000 objects against one emulator and one operator process (`--region
//! eu-west-1`), none of which needs a database, in a mix that exercises every
//! no-database path of both controllers:
//!
//! | share | PiiDatabase | TelemetryReplica |
//! | --- | --- | --- |
//! | 80 % | of eu-west-3 or eu-central-1: `ForeignRegion` | eu-west-3 → eu-central-1: `NotInvolved` |
//! | 20 % | of eu-west-1, compliance DPDP: `JurisdictionNotProvided` | eu-west-1 → ap-south-1 (Planned): refused |
//!
//! (Regions: the seed's three plus eu-central-1, Active, so that valid replicas exist
//! between two regions that are not the operator's.) Objects are spread over 10
//! namespaces and created by 16 concurrent writers.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use regionstack_api::{PiiDatabase, Region, TelemetryReplica};
use serde_json::json;
use testbed::topology::objects;
use testbed::topology::process::{ProcessSpec, Supervised, free_loopback_addr};

use super::support::{counter, memory_kib, poll};
use super::{Options, Table, show};

const REGION: &str = "eu-west-1";
const NAMESPACES: usize = 10;
const WRITERS: usize = 16;
const RSS_TARGET_KIB: u64 = 32 * 1024;
const RATE_TARGET: f64 = 500.0;

const REGIONS: &str = "
- {name: eu-west-1, country: IE, jurisdictions: [GDPR], lifecycle: Active}
- {name: eu-west-3, country: FR, jurisdictions: [GDPR, FDPA], lifecycle: Active}
- {name: eu-central-1, country: DE, jurisdictions: [GDPR], lifecycle: Active}
- {name: ap-south-1, country: IN, jurisdictions: [DPDP], lifecycle: Planned}
";

fn pii(i: usize) -> serde_json::Value {
    let (region, compliance) = match i % 5 {
        0 => (REGION, "DPDP"),
        1 | 3 => ("eu-west-3", "GDPR"),
        _ => ("eu-central-1", "GDPR"),
    };
    json!({
        "apiVersion": regionstack_api::API_VERSION, "kind": "PiiDatabase",
        "metadata": {"name": format!("customers-{i}"), "namespace": format!("team-{}", i % NAMESPACES)},
        "spec": {"region": region, "compliance": [compliance], "enforcement": "Enforce",
                 "external": {"connectionSecretRef": {"name": format!("customers-{i}-admin")}}}
    })
}

fn replica(i: usize) -> serde_json::Value {
    let (source, target) = if i.is_multiple_of(5) { (REGION, "ap-south-1") } else { ("eu-west-3", "eu-central-1") };
    let col = |name: &str, class: &str, transform: &str| json!({"name": name, "class": class, "transform": transform});
    json!({
        "apiVersion": regionstack_api::API_VERSION, "kind": "TelemetryReplica",
        "metadata": {"name": format!("devices-{i}"), "namespace": format!("team-{}", i % NAMESPACES)},
        "spec": {
            "source": {"region": source}, "targets": [{"region": target}],
            "replicationCredentials": {"name": format!("devices-{i}-replication")},
            "tables": [{"name": format!("device_metrics_{i}"),
                        "rowFilter": "firmware NOT LIKE 'dev-%' AND temperature BETWEEN -40 AND 125",
                        "columns": [col("ts", "quasi", "hash"), col("device_id", "identifier", "hash"),
                                    col("email", "identifier", "drop"), col("firmware", "none", "keep"),
                                    col("temperature", "none", "keep")]}]
        }
    })
}

/// Runs the scale figures.
pub async fn run(binary: &Path, options: &Options, table: &mut Table) -> anyhow::Result<()> {
    let n = options.objects;
    let state = tempfile::tempdir()?;
    let emulator = kube_emulator::KubeEmulator::start().await?;
    let client = emulator.client();
    let kubeconfig = state.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig)?;
    let crds: Vec<_> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd).collect();
    objects::install_crds(&client, &crds).await?;
    for ns in std::iter::once("regionstack-system".to_owned()).chain((0..NAMESPACES).map(|i| format!("team-{i}"))) {
        objects::ensure_namespace(&client, &ns).await?;
    }
    let regions: Vec<serde_json::Value> = serde_norway::from_str(REGIONS)?;
    for r in &regions {
        let region = json!({
            "apiVersion": regionstack_api::API_VERSION, "kind": "Region", "metadata": {"name": r["name"]},
            "spec": {"location": {"country": r["country"]}, "jurisdictions": r["jurisdictions"], "lifecycle": r["lifecycle"]}
        });
        let region: Region = serde_json::from_value(region)?;
        Api::<Region>::all(client.clone()).create(&PostParams::default(), &region).await?;
    }

    let health = free_loopback_addr()?;
    let args = ["run", "--region", REGION, "--kubeconfig"].map(Into::into).into_iter().chain([
        kubeconfig.clone().into_os_string(),
        "--health-addr".into(),
        health.to_string().into(),
        "--log-format".into(),
        "json".into(),
    ]);
    let log = state.path().join("operator.log");
    let spec = ProcessSpec {
        program: binary.to_path_buf(),
        args: args.collect(),
        env: vec![("RUST_LOG".into(), "warn".into())],
        log: log.clone(),
        health_addr: health,
        ready_path: "/ready".into(),
    };
    let mut operator = Supervised::spawn(spec)?;
    operator.wait_ready(Instant::now() + Duration::from_secs(30)).await?;
    let pid = operator.pid();
    let (rss0, _) = memory_kib(pid)?;
    println!("scale: operator pid {pid} ready, VmRSS {} MiB with 4 Regions; creating {n} objects", rss0 / 1024);

    let result = measure(&client, health, pid, n, options, table).await;
    if result.is_err() {
        eprintln!("tail of {}:\n{}", log.display(), testbed::topology::process::log_tail(&log, 20));
    }
    drop(operator);
    emulator.shutdown().await;
    result
}

async fn reconciles(health: std::net::SocketAddr) -> anyhow::Result<u64> {
    let pii = counter(health, "regionstack_reconciles_total", &[("kind", "PiiDatabase")]).await?;
    let replicas = counter(health, "regionstack_reconciles_total", &[("kind", "TelemetryReplica")]).await?;
    Ok(pii + replicas)
}

async fn measure(
    client: &kube::Client,
    health: std::net::SocketAddr,
    pid: u32,
    n: usize,
    options: &Options,
    table: &mut Table,
) -> anyhow::Result<()> {
    let before = reconciles(health).await?;
    let started = Instant::now();
    let writes = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let ns = format!("team-{}", (i / 2) % NAMESPACES);
                if i % 2 == 0 {
                    let obj: PiiDatabase = serde_json::from_value(pii(i / 2))?;
                    Api::<PiiDatabase>::namespaced(client, &ns).create(&PostParams::default(), &obj).await?;
                } else {
                    let obj: TelemetryReplica = serde_json::from_value(replica(i / 2))?;
                    Api::<TelemetryReplica>::namespaced(client, &ns).create(&PostParams::default(), &obj).await?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await;
    writes.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let created = started.elapsed();
    poll("every object reconciled", Duration::from_millis(100), Duration::from_secs(300), || async {
        Ok((settled_objects(client).await? == n).then_some(()))
    })
    .await?;
    let all = started.elapsed();
    let done = reconciles(health).await? - before;
    table.info(format!("{n} objects: create (16 writers)"), show(created));
    table.info(format!("{n} objects: create → all reconciled"), show(all));
    #[allow(clippy::cast_precision_loss)]
    table.info("reconciles/s while creating", format!("{:.0} ({done} reconciles)", done as f64 / all.as_secs_f64()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, hwm) = memory_kib(pid)?;
    table.target(format!("RSS settled, {n} objects (VmRSS)"), "< 32 MiB", mib(rss), rss < RSS_TARGET_KIB);

    let window = if options.quick { Duration::from_secs(15) } else { Duration::from_secs(60) };
    println!("  idle window: {}", show(window));
    let w0 = counter(health, "regionstack_status_writes_total", &[]).await?;
    let r0 = reconciles(health).await?;
    tokio::time::sleep(window).await;
    let w1 = counter(health, "regionstack_status_writes_total", &[]).await?;
    let r1 = reconciles(health).await?;
    #[allow(clippy::cast_precision_loss)]
    let per_minute = (w1 - w0) as f64 * 60.0 / window.as_secs_f64();
    let scaled = if options.quick { " (15 s window × 4)" } else { "" };
    table.target("idle status writes per minute", "0", format!("{per_minute:.0}{scaled}"), w1 == w0);
    table.info("idle reconciles in the window", format!("{}", r1 - r0));

    // Forced re-queue: every Region's spec changes; each object refers to at least one.
    let r0 = reconciles(health).await?;
    let started = Instant::now();
    let api = Api::<Region>::all(client.clone());
    for region in api.list(&ListParams::default()).await? {
        let name = region.metadata.name.clone().unwrap_or_default();
        let patch = json!({"spec": {"displayName": format!("bench {}", started.elapsed().as_nanos())}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    let (count, last) = quiesce(health, r0, n).await?;
    let took = last.duration_since(started);
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / took.as_secs_f64();
    table.target(
        format!("forced re-queue of {n}: reconciles/s"),
        "≥ 500/s",
        format!("{rate:.0} ({count} in {})", show(took)),
        rate >= RATE_TARGET && count >= n as u64,
    );
    let (rss_end, hwm_end) = memory_kib(pid)?;
    table.target("RSS after the re-queue (VmRSS)", "< 32 MiB", mib(rss_end), rss_end < RSS_TARGET_KIB);
    let peak = hwm.max(hwm_end);
    table.target("peak RSS (VmHWM)", "< 32 MiB", mib(peak), peak < RSS_TARGET_KIB);
    Ok(())
}

/// Waits until at least `n` reconciles happened after `from` and the count has not
/// moved for a second; returns the count and when it last moved.
async fn quiesce(health: std::net::SocketAddr, from: u64, n: usize) -> anyhow::Result<(u64, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut seen, mut last) = (from, Instant::now());
    loop {
        let now = reconciles(health).await?;
        if now != seen {
            (seen, last) = (now, Instant::now());
        }
        if seen - from >= n as u64 && last.elapsed() > Duration::from_secs(1) {
            return Ok((seen - from, last));
        }
        anyhow::ensure!(Instant::now() < deadline, "only {} of {n} objects re-queued within 120 s", seen - from);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Objects whose status reports their current generation with a `Ready` condition.
async fn settled_objects(client: &kube::Client) -> anyhow::Result<usize> {
    let lp = ListParams::default();
    let ready = |generation: Option<i64>, observed: Option<i64>, conditions: &[regionstack_api::Condition]| {
        generation == observed && conditions.iter().any(|c| c.type_ == "Ready")
    };
    let dbs = Api::<PiiDatabase>::all(client.clone()).list(&lp).await.context("listing PiiDatabases")?;
    let replicas = Api::<TelemetryReplica>::all(client.clone()).list(&lp).await.context("listing replicas")?;
    let a = dbs
        .items
        .iter()
        .filter(|d| {
            d.status.as_ref().is_some_and(|s| ready(d.metadata.generation, s.observed_generation, &s.conditions))
        })
        .count();
    let b = replicas
        .items
        .iter()
        .filter(|r| {
            r.status.as_ref().is_some_and(|s| ready(r.metadata.generation, s.observed_generation, &s.conditions))
        })
        .count();
    Ok(a + b)
}

fn mib(kib: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = kib as f64 / 1024.0;
    format!("{m:.1} MiB")
}
