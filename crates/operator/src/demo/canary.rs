//! Demo step: the PII canary scan (DESIGN I1, I2). Distinctive personal values
//! (an email address, a person's name, an IP address, all unique to the run) are
//! written into every Active region's PII databases and, as telemetry rows, into the
//! raw source table of every replica that region exports. Once the anonymized rows
//! have arrived in every target, every table of every database of every *other*
//! region's servers is scanned for those values, and the source region's boundary
//! database for the raw telemetry values: none may be found anywhere.
//!
//! Servers are reached only through the Secrets of each region's own cluster (the
//! Region's telemetry connection, the PiiDatabases' connections, and the admin
//! Secrets the seed topology documents), so the step runs unchanged against real
//! clusters. The PII canaries (table `public.regionstack_canary`) are deleted again
//! when the step ends, whatever its outcome; the telemetry canary rows stay, one per
//! replica in each source table and, anonymized, in each target.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::Api;
use kube::api::ListParams;
use regionstack_api::condition::find_condition;
use regionstack_api::{ConditionStatus, Lifecycle, Region, TelemetryReplica};
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::{ConnParams, connect};
use serde_json::Value;

use super::cluster::RegionCluster;
use super::pii::{key, own_ready_databases};
use super::report::StepReport;
use super::telemetry::{Canary, Route, insert_canary, is_hmac, scan_database, wait_row};

/// Title of [`canary_scan`].
pub const TITLE: &str = "canary personal data of every region is found in no other region's databases";

/// The table the step writes PII canaries into, in every Ready PII database.
pub const PII_CANARY_TABLE: &str = "public.regionstack_canary";

/// An IPv6 address in the documentation range whose six last groups come from a
/// fresh UUID: unique per run, and never a substring of its own /48 network.
fn unique_ipv6() -> (String, String) {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let groups: Vec<u16> = bytes.chunks(2).take(6).map(|p| u16::from_be_bytes([p[0], p[1]]) | 0x1000).collect();
    let address = format!("2001:db8:{}", groups.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":"));
    (address, format!("2001:db8:{:x}::/48", groups[0]))
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// The personal values planted in one region's PII databases.
#[derive(Clone, Debug)]
struct PiiCanary {
    email: String,
    full_name: String,
    client_ip: String,
}

impl PiiCanary {
    fn new() -> Self {
        let tag = tag();
        Self {
            email: format!("pii.{tag}@example.org"),
            full_name: format!("Zelda Canary-{tag}"),
            client_ip: unique_ipv6().0,
        }
    }

    fn values(&self) -> [&str; 3] {
        [&self.email, &self.full_name, &self.client_ip]
    }
}

/// One telemetry canary row and where it must arrive (anonymized).
struct Travel {
    from: String,
    replica: String,
    routes: Vec<(String, Route)>,
    canary: Canary,
    network: String,
}

/// Runs the step (waits bounded by `timeout`).
pub async fn canary_scan(clusters: &[RegionCluster], timeout: Duration) -> StepReport {
    let mut report = StepReport::new(TITLE);
    let mut planted = Vec::new();
    if let Err(err) = scan_into(&mut report, clusters, timeout, &mut planted).await {
        report.fail(format!("{err:#}"));
    }
    for (params, email) in planted {
        if let Err(err) = remove_pii_canary(&params, &email).await {
            report.fail(format!("database {}: removing the PII canary {email}: {err:#}", params.dbname));
        }
    }
    report
}

/// Deletes one run's PII canary row, and the canary table once it is empty: the step
/// may run against real clusters, whose PII databases should not keep made-up
/// personal data. The table is locked first so that a concurrent run's row is never
/// dropped with it.
async fn remove_pii_canary(params: &ConnParams, email: &str) -> anyhow::Result<()> {
    let mut client = connect(params).await?;
    let tx = client.transaction().await?;
    let exists: Option<String> = tx.query_one("SELECT to_regclass($1)::text", &[&PII_CANARY_TABLE]).await?.get(0);
    if exists.is_none() {
        return Ok(());
    }
    tx.batch_execute(&format!("LOCK TABLE {PII_CANARY_TABLE} IN EXCLUSIVE MODE")).await?;
    tx.execute(&format!("DELETE FROM {PII_CANARY_TABLE} WHERE email = $1"), &[&email]).await?;
    let left: i64 = tx.query_one(&format!("SELECT count(*) FROM {PII_CANARY_TABLE}"), &[]).await?.get(0);
    if left == 0 {
        tx.batch_execute(&format!("DROP TABLE {PII_CANARY_TABLE}")).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn is_active(cluster: &RegionCluster) -> anyhow::Result<bool> {
    let region = Api::<Region>::all(cluster.client.clone()).get_opt(&cluster.region).await?;
    Ok(region.is_some_and(|r| r.spec.lifecycle == Lifecycle::Active))
}

/// Plants, waits and scans; every PII canary planted is pushed to `planted` (its
/// database and email) as soon as it is in, so that it is removed however the step ends.
async fn scan_into(
    report: &mut StepReport,
    clusters: &[RegionCluster],
    timeout: Duration,
    planted: &mut Vec<(ConnParams, String)>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    // Needles per region: what must never be found outside it.
    let mut needles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cluster, db) in own_ready_databases(clusters).await? {
        let canary = PiiCanary::new();
        let params = cluster.pii_admin(&db).await?;
        let client = connect(&params).await?;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {PII_CANARY_TABLE} (email text NOT NULL, full_name text NOT NULL,
                 client_ip inet, planted timestamptz NOT NULL DEFAULT now())"
            ))
            .await
            .context("creating the canary table")?;
        client
            .execute(
                &format!("INSERT INTO {PII_CANARY_TABLE} (email, full_name, client_ip) VALUES ($1, $2, CAST($3::text AS inet))"),
                &[&canary.email, &canary.full_name, &canary.client_ip],
            )
            .await
            .context("inserting the PII canary")?;
        planted.push((params.clone(), canary.email.clone()));
        report.say(format!(
            "[{}] {} database {}: planted {}, {:?}, {} in {PII_CANARY_TABLE}",
            cluster.region,
            key(&db),
            params.dbname,
            canary.email,
            canary.full_name,
            canary.client_ip
        ));
        needles.entry(cluster.region.clone()).or_default().extend(canary.values().map(str::to_owned));
    }

    let travels = plant_telemetry(report, clusters).await?;
    for travel in &travels {
        needles.entry(travel.from.clone()).or_default().extend(travel.canary.raw_values().map(str::to_owned));
    }
    for travel in &travels {
        for (to, route) in &travel.routes {
            let target = clusters.iter().find(|c| &c.region == to).context("target cluster")?;
            let dst = connect(&target.telemetry_admin().await?).await?;
            let left = timeout.saturating_sub(started.elapsed());
            let Some((text, row, _)) = wait_row(&dst, &route.destination, &travel.canary.firmware, left).await? else {
                report.fail(format!(
                    "{}: the canary row did not arrive in {to} {}",
                    travel.replica, route.destination_name
                ));
                continue;
            };
            report.say(format!("{}: arrived in {to} {}: {text}", travel.replica, route.destination_name));
            let anonymized = row.get("email").is_none_or(Value::is_null)
                && is_hmac(&row["device_id"], &travel.canary.device_id)
                && is_hmac(&row["user_id"], &travel.canary.user_id)
                && row["client_ip"] == travel.network.as_str();
            report.check(
                anonymized,
                format!(
                    "{}: arrived anonymized in {to} (email dropped, ids hashed, IP cut to {})",
                    travel.replica, travel.network
                ),
            );
        }
    }
    if !report.passed {
        return Ok(());
    }

    // Every database of every other region's servers.
    for cluster in clusters {
        let foreign: Vec<&str> = needles
            .iter()
            .filter(|(region, _)| **region != cluster.region)
            .flat_map(|(_, values)| values.iter().map(String::as_str))
            .collect();
        let servers = servers(report, cluster).await?;
        let from: Vec<&str> = needles.keys().filter(|r| **r != cluster.region).map(String::as_str).collect();
        if is_active(cluster).await? && servers.is_empty() {
            report.fail(format!("[{}] no database server reachable through the cluster's Secrets", cluster.region));
        }
        for (label, admin) in servers {
            scan_server(report, &cluster.region, &label, &admin, &foreign, &from.join(", ")).await?;
        }
    }
    // The source's boundary database holds only transformed values.
    for travel in &travels {
        let source = clusters.iter().find(|c| c.region == travel.from).context("source cluster")?;
        let boundary = source.telemetry_admin().await?.with_dbname(BOUNDARY_DB);
        let scan = scan_database(&boundary, &travel.canary.raw_values()).await?;
        report.check(
            scan.hits.is_empty(),
            format!(
                "[{}] {BOUNDARY_DB}: no raw canary value of {} ({} tables){}",
                travel.from,
                travel.replica,
                scan.tables,
                found(&scan.hits)
            ),
        );
    }
    Ok(())
}

fn found(hits: &[String]) -> String {
    if hits.is_empty() { String::new() } else { format!(": FOUND in {}", hits.join(", ")) }
}

/// One canary row into the source table of every Ready replica that an Active region
/// exports (in that region's own cluster).
async fn plant_telemetry(report: &mut StepReport, clusters: &[RegionCluster]) -> anyhow::Result<Vec<Travel>> {
    let mut travels = Vec::new();
    for cluster in clusters {
        if !is_active(cluster).await? {
            continue;
        }
        let replicas = Api::<TelemetryReplica>::all(cluster.client.clone()).list(&ListParams::default()).await?;
        for replica in replicas.items.iter().filter(|r| r.spec.source.region == cluster.region) {
            let name = format!(
                "{}/{}",
                replica.metadata.namespace.as_deref().unwrap_or_default(),
                replica.metadata.name.as_deref().unwrap_or_default()
            );
            let ready = replica
                .status
                .as_ref()
                .and_then(|s| find_condition(&s.conditions, "Ready"))
                .is_some_and(|c| c.status == ConditionStatus::True);
            if !ready {
                anyhow::bail!("[{}] TelemetryReplica {name} is not Ready", cluster.region);
            }
            let mut routes = Vec::new();
            for target in &replica.spec.targets {
                routes.push((target.region.clone(), Route::of(replica, &target.region)?));
            }
            let Some((_, first)) = routes.first() else { continue };
            let (address, network) = unique_ipv6();
            let canary = Canary::new(&tag(), 0).with_client_ip(address);
            let admin = cluster.telemetry_admin().await?;
            let src = connect(&admin.with_dbname(&first.source_database)).await?;
            let (text, _, _) = insert_canary(&src, &first.source_table, &canary).await?;
            report.say(format!(
                "[{}] {name}: inserted into {}.{}: {text}",
                cluster.region, first.source_database, first.source_name
            ));
            travels.push(Travel { from: cluster.region.clone(), replica: name, routes, canary, network });
        }
    }
    Ok(travels)
}

/// The database servers of `cluster`'s region reachable through its Secrets, one
/// entry per `host:port`.
async fn servers(report: &mut StepReport, cluster: &RegionCluster) -> anyhow::Result<Vec<(String, ConnParams)>> {
    let mut found: Vec<(String, ConnParams)> = Vec::new();
    let mut add = |label: String, params: ConnParams| {
        if !found.iter().any(|(_, p)| p.host == params.host && p.port == params.port) {
            found.push((label, params));
        }
    };
    if let Ok(params) = cluster.telemetry_admin().await {
        add("telemetry server (the Region's Secret)".to_owned(), params);
    }
    let dbs = Api::<regionstack_api::PiiDatabase>::all(cluster.client.clone()).list(&ListParams::default()).await?;
    for db in dbs.items.iter().filter(|db| db.spec.region == cluster.region) {
        match cluster.pii_admin(db).await {
            Ok(params) => add(format!("PII server of {}", key(db)), params),
            Err(err) => report.say(format!("[{}] {}: not reachable ({err:#})", cluster.region, key(db))),
        }
    }
    // The admin Secrets the seed topology documents (tests/README.md), for regions
    // whose Region or PiiDatabases do not name them (a Planned region).
    for (namespace, name, what) in [
        ("regionstack-system", "telemetry-admin".to_owned(), "telemetry server"),
        ("customers", format!("customers-{}-admin", cluster.region), "PII server"),
    ] {
        let Ok(data) = cluster.secret_data(namespace, &name).await else { continue };
        if let Ok(params) = ConnParams::from_secret_data(&data) {
            add(format!("{what} (Secret {namespace}/{name})"), params);
        }
    }
    Ok(found)
}

async fn scan_server(
    report: &mut StepReport,
    region: &str,
    label: &str,
    admin: &ConnParams,
    needles: &[&str],
    from: &str,
) -> anyhow::Result<()> {
    let client = connect(admin).await.with_context(|| format!("[{region}] connecting to the {label}"))?;
    let databases: Vec<String> = client
        .query("SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1", &[])
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut tables = 0;
    let mut clean = true;
    for db in &databases {
        let scan = scan_database(&admin.with_dbname(db), needles).await?;
        tables += scan.tables;
        if !scan.hits.is_empty() {
            clean = false;
            report.fail(format!("[{region}] {label}, database {db}: a canary of {from}{}", found(&scan.hits)));
        }
    }
    if clean {
        let line = format!("[{region}] {label}: no canary of {from} in {tables} tables of {}", databases.join(", "));
        report.check(true, line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_addresses_are_canonical_and_not_in_their_network_text() {
        let (a, net) = unique_ipv6();
        let (b, _) = unique_ipv6();
        assert_ne!(a, b);
        let groups: Vec<&str> = a.split(':').collect();
        assert_eq!(groups.len(), 8, "{a}");
        assert!(groups[2..].iter().all(|g| g.len() == 4 && !g.starts_with('0')), "{a}");
        assert!(net.starts_with(&format!("2001:db8:{}::", groups[2])) && net.ends_with("/48"), "{net}");
        assert!(!net.contains(&a));
    }
}
