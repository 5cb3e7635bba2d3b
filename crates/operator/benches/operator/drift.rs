//! Drift → repaired, timed from the drift's commit until the catalog shows the
//! repair (polled every 5 ms on a separate connection).
//!
//! - rogue publication: `ALTER EVENT TRIGGER <guard> DISABLE; CREATE PUBLICATION …
//!   FOR ALL TABLES` in one statement batch (a superuser bypassing the guardrail);
//!   repaired = the publication is gone and the guard is enabled again (`A`).
//! - dropped guardrail: `DROP EVENT TRIGGER <guard>`; repaired = it exists, enabled.
//! - rogue slot: `pg_create_logical_replication_slot`; repaired = the slot is gone.
//! - altered export: one more source column in the hop-1 publication's column list
//!   (source telemetry database of the first replica's source region); repaired = the
//!   column list is what it was.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kube::Api;
use kube::api::ListParams;
use regionstack::demo::RegionCluster;
use regionstack_api::{PiiDatabase, TelemetryReplica};
use regionstack_sql::ident::{quote_ident, quote_literal};
use tokio_postgres::Client;

use super::settle::wait_settled;
use super::{Options, Table, percentiles};

/// DESIGN §9.
const TARGET: Duration = Duration::from_secs(1);
/// How long one repair may take before it counts as a timeout (the scheduled audit
/// runs every 10 s, the replica resync every 15 s).
const TIMEOUT: Duration = Duration::from_secs(40);
const GUARD: &str = "regionstack_guard_replication";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Publication,
    Guardrail,
    Slot,
    Export,
}

impl Kind {
    fn figure(self) -> &'static str {
        match self {
            Kind::Publication => "rogue publication → dropped",
            Kind::Guardrail => "dropped guardrail → reinstalled",
            Kind::Slot => "rogue slot → dropped",
            Kind::Export => "altered export → repaired",
        }
    }
}

/// Measures every kind of drift `options.rounds` times.
pub async fn run(clusters: &[RegionCluster], options: &Options, table: &mut Table) -> anyhow::Result<()> {
    let (pii_cluster, db) = own_database(clusters).await?;
    let pii = regionstack_sql::connect(&pii_cluster.pii_admin(&db).await?).await?;
    let (source_cluster, source_db) = source_replica(clusters).await?;
    let telemetry = regionstack_sql::connect(&source_cluster.telemetry_admin().await?.with_dbname(&source_db)).await?;
    println!(
        "drift in [{}] PiiDatabase {} and in [{}]'s source database {source_db}",
        pii_cluster.region,
        db.metadata.name.as_deref().unwrap_or_default(),
        source_cluster.region
    );
    for kind in [Kind::Publication, Kind::Guardrail, Kind::Slot, Kind::Export] {
        let mut samples = Vec::new();
        let mut failures = 0;
        for round in 1..=options.rounds {
            // Start each round from a settled topology (the previous repair's Events
            // and status are written by then).
            wait_settled(clusters, Duration::from_secs(60)).await?;
            let client = if matches!(kind, Kind::Export) { &telemetry } else { &pii };
            let tag = format!("bench_{round}_{}", std::process::id());
            match once(client, kind, &tag).await {
                Ok(took) => samples.push(took),
                Err(e) => {
                    println!("  {} round {round}: {e:#}", kind.figure());
                    failures += 1;
                    samples.push(TIMEOUT);
                }
            }
        }
        println!("  {}: {:?}", kind.figure(), samples.iter().map(Duration::as_millis).collect::<Vec<_>>());
        percentiles(table, kind.figure(), &samples, TARGET, failures);
    }
    Ok(())
}

/// Provokes `kind` and returns how long the repair took.
async fn once(client: &Client, kind: Kind, tag: &str) -> anyhow::Result<Duration> {
    let guard_enabled = format!(
        "SELECT count(*) = 1 FROM pg_event_trigger WHERE evtname = {} AND evtenabled = 'A'",
        quote_literal(GUARD)
    );
    let (check, started) = match kind {
        Kind::Publication => {
            let name = quote_ident(&format!("rogue_{tag}"));
            client
                .batch_execute(&format!(
                    "ALTER EVENT TRIGGER {GUARD} DISABLE; CREATE PUBLICATION {name} FOR ALL TABLES"
                ))
                .await?;
            let started = Instant::now();
            let gone = format!(
                "SELECT count(*) = 0 FROM pg_publication WHERE pubname = {}",
                quote_literal(&format!("rogue_{tag}"))
            );
            (format!("SELECT ({gone}) AND ({guard_enabled})"), started)
        }
        Kind::Guardrail => {
            client.batch_execute(&format!("DROP EVENT TRIGGER {GUARD}")).await?;
            (guard_enabled, Instant::now())
        }
        Kind::Slot => {
            let slot = format!("rogue_{tag}");
            client.query_one("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot]).await?;
            let started = Instant::now();
            (
                format!("SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name = {}", quote_literal(&slot)),
                started,
            )
        }
        Kind::Export => {
            let (publication, before) = alter_export(client).await?;
            let started = Instant::now();
            let now = format!(
                "SELECT coalesce(string_agg(attnames::text, ';'), '') = {} FROM pg_publication_tables WHERE pubname = {}",
                quote_literal(&before),
                quote_literal(&publication)
            );
            (now, started)
        }
    };
    loop {
        let repaired: bool = client.query_one(&check, &[]).await?.get(0);
        if repaired {
            return Ok(started.elapsed());
        }
        if started.elapsed() > TIMEOUT {
            bail!("not repaired within {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Adds one source column to the hop-1 publication's column list (same row filter).
/// Returns the publication and its column lists before, as compared afterwards.
async fn alter_export(client: &Client) -> anyhow::Result<(String, String)> {
    let publication: String = client
        .query_one(
            "SELECT pubname::text FROM pg_publication WHERE pubname LIKE 'rs_hop1%' ORDER BY pubname LIMIT 1",
            &[],
        )
        .await
        .context("no hop-1 publication in the source database")?
        .get(0);
    let before: String = client
        .query_one(
            "SELECT coalesce(string_agg(attnames::text, ';'), '') FROM pg_publication_tables WHERE pubname = $1",
            &[&publication],
        )
        .await?
        .get(0);
    let row = client
        .query_one(
            "SELECT schemaname::text, tablename::text, attnames::text[], rowfilter FROM pg_publication_tables \
             WHERE pubname = $1 ORDER BY 1, 2 LIMIT 1",
            &[&publication],
        )
        .await?;
    let (schema, table, columns, filter): (String, String, Vec<String>, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&table));
    let extra: String = client
        .query_one(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 \
             AND NOT attisdropped AND NOT (attname::text = ANY($2)) ORDER BY attnum LIMIT 1",
            &[&qualified, &columns],
        )
        .await
        .context("the hop-1 publication already publishes every column")?
        .get(0);
    let list: Vec<String> = columns.iter().chain([&extra]).map(|c| quote_ident(c)).collect();
    // The row filter comes from pg_get_expr: the catalog's own rendering.
    let filter = filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default();
    let sql =
        format!("ALTER PUBLICATION {} SET TABLE {qualified} ({}){filter}", quote_ident(&publication), list.join(", "));
    client.batch_execute(&sql).await.with_context(|| format!("altering the export: {sql}"))?;
    Ok((publication, before))
}

/// The first Active region's own PiiDatabase (Ready after the settle).
async fn own_database(clusters: &[RegionCluster]) -> anyhow::Result<(&RegionCluster, PiiDatabase)> {
    for cluster in clusters {
        let dbs = Api::<PiiDatabase>::all(cluster.client.clone()).list(&ListParams::default()).await?;
        if let Some(db) = dbs.items.into_iter().find(|db| db.spec.region == cluster.region) {
            let region = Api::<regionstack_api::Region>::all(cluster.client.clone()).get(&cluster.region).await?;
            if region.spec.lifecycle == regionstack_api::Lifecycle::Active {
                return Ok((cluster, db));
            }
        }
    }
    bail!("no PiiDatabase in an Active region's own cluster")
}

/// The cluster of the first TelemetryReplica's source region, and its source database.
async fn source_replica(clusters: &[RegionCluster]) -> anyhow::Result<(&RegionCluster, String)> {
    for cluster in clusters {
        let replicas = Api::<TelemetryReplica>::all(cluster.client.clone()).list(&ListParams::default()).await?;
        if let Some(r) = replicas.items.into_iter().find(|r| r.spec.source.region == cluster.region) {
            return Ok((cluster, r.spec.source.database.clone()));
        }
    }
    bail!("no TelemetryReplica sourced in its own cluster")
}
