//! Demo steps on PII databases (DESIGN I1, I3): a rogue publication refused by the
//! guardrail, a hand-made replication slot removed by the audit, and a PiiDatabase in
//! a `Planned` region refused with `RegionNotActive`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use regionstack_api::condition::find_condition;
use regionstack_api::{ConditionStatus, Lifecycle, PiiDatabase, Region};
use regionstack_sql::connect;
use regionstack_sql::ident::quote_ident;
use serde_json::json;

use super::FIELD_MANAGER;
use super::cluster::RegionCluster;
use super::report::StepReport;

/// Title of [`rogue_publication`].
pub const ROGUE_PUBLICATION_TITLE: &str = "a rogue publication in a PII database is refused by the guardrail";
/// Title of [`rogue_slot`].
pub const ROGUE_SLOT_TITLE: &str = "a hand-made replication slot in a PII database is removed by the audit";
/// Title of [`planned_region_refuses`].
pub const PLANNED_TITLE: &str = "a Planned region refuses a PII database (RegionNotActive)";

/// Every PiiDatabase of an Active region in that region's own cluster, with that
/// cluster; an error names those that are not `Ready` (each must be, after the
/// settle step).
pub(crate) async fn own_ready_databases(
    clusters: &[RegionCluster],
) -> anyhow::Result<Vec<(&RegionCluster, PiiDatabase)>> {
    let mut out = Vec::new();
    let mut not_ready = Vec::new();
    for cluster in clusters {
        let region = Api::<Region>::all(cluster.client.clone()).get_opt(&cluster.region).await?;
        if region.is_none_or(|r| r.spec.lifecycle != Lifecycle::Active) {
            continue;
        }
        let dbs = Api::<PiiDatabase>::all(cluster.client.clone()).list(&ListParams::default()).await?;
        for db in dbs.items.into_iter().filter(|db| db.spec.region == cluster.region) {
            let ready = db.status.as_ref().and_then(|s| find_condition(&s.conditions, "Ready"));
            if ready.is_some_and(|c| c.status == ConditionStatus::True) {
                out.push((cluster, db));
            } else {
                not_ready.push(format!("[{}] {}", cluster.region, key(&db)));
            }
        }
    }
    if !not_ready.is_empty() {
        anyhow::bail!("PII databases not Ready: {}", not_ready.join(", "));
    }
    if out.is_empty() {
        anyhow::bail!("no PII database in any Active region");
    }
    Ok(out)
}

pub(crate) fn key(db: &PiiDatabase) -> String {
    format!("{}/{}", db.metadata.namespace.as_deref().unwrap_or(""), db.metadata.name.as_deref().unwrap_or(""))
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// `CREATE PUBLICATION … FOR ALL TABLES` in every Ready PII database, as its
/// superuser: refused by the guardrail (SQLSTATE 42501, a message naming the rule).
pub async fn rogue_publication(clusters: &[RegionCluster]) -> StepReport {
    let mut report = StepReport::new(ROGUE_PUBLICATION_TITLE);
    if let Err(err) = rogue_publication_into(&mut report, clusters).await {
        report.fail(format!("{err:#}"));
    }
    report
}

async fn rogue_publication_into(report: &mut StepReport, clusters: &[RegionCluster]) -> anyhow::Result<()> {
    let dbs = own_ready_databases(clusters).await?;
    let names: Vec<String> = dbs.iter().map(|(c, db)| format!("[{}] {}", c.region, key(db))).collect();
    report.say(format!("Ready PII databases: {}", names.join(", ")));
    for (cluster, db) in dbs {
        let params = cluster.pii_admin(&db).await?;
        let client = connect(&params).await?;
        let name = format!("rogue_{}", tag());
        let sql = format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(&name));
        report.say(format!("[{}] {} database {}: {sql}", cluster.region, key(&db), params.dbname));
        match client.batch_execute(&sql).await {
            Ok(()) => {
                report.fail("the publication was created");
                let _ = client.batch_execute(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(&name))).await;
            }
            Err(err) => {
                let (code, message) = err.as_db_error().map_or_else(
                    || ("none".to_owned(), err.to_string()),
                    |e| (e.code().code().to_owned(), e.message().to_owned()),
                );
                report.check(
                    code == "42501" && message.starts_with("regionstack:"),
                    format!("refused: ERROR {code}: {message}"),
                );
            }
        }
        let left: i64 =
            client.query_one("SELECT count(*) FROM pg_publication WHERE pubname = $1", &[&name]).await?.get(0);
        report.check(left == 0, "no publication exists");
    }
    Ok(())
}

/// A logical replication slot created by hand in every Ready PII database (DDL
/// triggers cannot refuse it) is removed by the operator's audit within `timeout`.
pub async fn rogue_slot(clusters: &[RegionCluster], timeout: Duration) -> StepReport {
    let mut report = StepReport::new(ROGUE_SLOT_TITLE);
    if let Err(err) = rogue_slot_into(&mut report, clusters, timeout).await {
        report.fail(format!("{err:#}"));
    }
    report
}

async fn rogue_slot_into(report: &mut StepReport, clusters: &[RegionCluster], timeout: Duration) -> anyhow::Result<()> {
    let dbs = own_ready_databases(clusters).await?;
    for (cluster, db) in dbs {
        let params = cluster.pii_admin(&db).await?;
        let client = connect(&params).await?;
        let slot = format!("rogue_{}", tag());
        client
            .query_one("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot])
            .await
            .context("creating the slot")?;
        report.say(format!("[{}] {} database {}: created slot {slot}", cluster.region, key(&db), params.dbname));
        let started = Instant::now();
        loop {
            let n: i64 = client
                .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
                .await?
                .get(0);
            if n == 0 {
                report.check(true, format!("slot {slot} removed after {:.1} s", started.elapsed().as_secs_f64()));
                break;
            }
            if started.elapsed() > timeout {
                report.fail(format!("slot {slot} still there after {} s", timeout.as_secs()));
                // Do not leave WAL retained by a slot nobody reads.
                let _ = client.query("SELECT pg_drop_replication_slot($1)", &[&slot]).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Applies a PiiDatabase for the first `Planned` region to that region's cluster and
/// waits (up to `timeout`) for `Ready=False, reason RegionNotActive`; checks that
/// nothing was installed in the database its Secret names.
pub async fn planned_region_refuses(clusters: &[RegionCluster], timeout: Duration) -> StepReport {
    let mut report = StepReport::new(PLANNED_TITLE);
    if let Err(err) = planned_into(&mut report, clusters, timeout).await {
        report.fail(format!("{err:#}"));
    }
    report
}

async fn planned_into(report: &mut StepReport, clusters: &[RegionCluster], timeout: Duration) -> anyhow::Result<()> {
    let first = clusters.first().context("no clusters")?;
    let regions = Api::<Region>::all(first.client.clone()).list(&ListParams::default()).await?;
    let planned = regions
        .items
        .into_iter()
        .find(|r| r.spec.lifecycle == Lifecycle::Planned)
        .context("the topology has no Planned region")?;
    let region = planned.metadata.name.clone().unwrap_or_default();
    let cluster = clusters.iter().find(|c| c.region == region).with_context(|| format!("no cluster for {region}"))?;
    let name = format!("customers-{region}");
    let secret = format!("customers-{region}-admin");
    let manifest = json!({
        "apiVersion": regionstack_api::API_VERSION,
        "kind": "PiiDatabase",
        "metadata": {"name": name, "namespace": "customers"},
        "spec": {
            "region": region,
            "compliance": planned.spec.jurisdictions,
            "enforcement": "Enforce",
            "external": {"connectionSecretRef": {"name": secret}}
        }
    });
    let api: Api<PiiDatabase> = Api::namespaced(cluster.client.clone(), "customers");
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&manifest))
        .await
        .with_context(|| format!("applying PiiDatabase customers/{name} to {region}"))?;
    report.say(format!("applied PiiDatabase customers/{name} (region {region}, Planned) to {region}'s cluster"));

    let started = Instant::now();
    loop {
        let db = api.get(&name).await?;
        let status = db.status.clone().unwrap_or_default();
        let ready = find_condition(&status.conditions, "Ready");
        let current = status.observed_generation == db.metadata.generation;
        if let Some(cond) =
            ready.filter(|c| current && c.status == ConditionStatus::False && c.reason == "RegionNotActive")
        {
            report.check(true, format!("Ready=False RegionNotActive: {}", cond.message));
            break;
        }
        if started.elapsed() > timeout {
            let seen = ready.map_or("no Ready condition".to_owned(), |c| {
                format!("Ready={:?} {}: {}", c.status, c.reason, c.message)
            });
            report.fail(format!("after {} s: {seen}", timeout.as_secs()));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Fail closed: nothing was installed in the database.
    let params = cluster.pii_admin(&api.get(&name).await?).await?;
    let client = connect(&params).await?;
    let guards: i64 =
        client.query_one("SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'regionstack%'", &[]).await?.get(0);
    report.check(
        guards == 0,
        format!("nothing installed in {region}'s database {} (no regionstack event trigger)", params.dbname),
    );
    Ok(())
}
