//! Demo step: telemetry with personal data inserted in one region arrives anonymized
//! in another (DESIGN I2), and no raw value reaches the source's boundary database or
//! any table of the target's telemetry database.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::Api;
use regionstack_api::TelemetryReplica;
use regionstack_sql::ident::quote_ident;
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::{ConnParams, connect};
use serde_json::Value;

use super::cluster::RegionCluster;
use super::report::StepReport;

/// The raw values of one canary row: unique per run, searched for afterwards.
#[derive(Clone, Debug)]
pub struct Canary {
    /// Kept raw by the seed rules (`firmware: keep`): finds the row on the other side.
    pub firmware: String,
    /// Identifier, hashed.
    pub device_id: String,
    /// Identifier, hashed.
    pub user_id: String,
    /// Identifier, dropped.
    pub email: String,
    /// Quasi-identifier, cut to its /24.
    pub client_ip: String,
}

impl Canary {
    /// Fresh values tagged `tag`; `octet` (10..=249) ends the IPv4 address.
    pub fn new(tag: &str, octet: u8) -> Self {
        Self {
            firmware: format!("1.4.0+{tag}"),
            device_id: format!("device-{tag}"),
            user_id: format!("user-{tag}"),
            email: format!("canary.{tag}@example.com"),
            client_ip: format!("203.0.113.{}", 10 + octet % 240),
        }
    }

    /// The same canary with another client address (e.g. an IPv6 address unique per
    /// run, see [`super::canary`]).
    #[must_use]
    pub fn with_client_ip(self, client_ip: impl Into<String>) -> Self {
        Self { client_ip: client_ip.into(), ..self }
    }

    /// The values that must never leave the source database raw.
    pub fn raw_values(&self) -> [&str; 4] {
        [&self.device_id, &self.user_id, &self.email, &self.client_ip]
    }
}

fn cluster<'a>(clusters: &'a [RegionCluster], region: &str) -> anyhow::Result<&'a RegionCluster> {
    clusters.iter().find(|c| c.region == region).with_context(|| format!("no cluster for region {region}"))
}

/// The title of [`replicate`].
pub fn title(from: &str, to: &str) -> String {
    format!("telemetry with personal data inserted in {from} arrives anonymized in {to}")
}

/// Inserts a canary row into `from`'s source table of the replica from `from` to
/// `to`, waits (up to `timeout`) for it in `to`'s destination table, and checks every
/// column's rule and the absence of raw values.
pub async fn replicate(clusters: &[RegionCluster], from: &str, to: &str, timeout: Duration) -> StepReport {
    let mut report = StepReport::new(title(from, to));
    if let Err(err) = replicate_into(&mut report, clusters, from, to, timeout).await {
        report.fail(format!("{err:#}"));
    }
    report
}

async fn replicate_into(
    report: &mut StepReport,
    clusters: &[RegionCluster],
    from: &str,
    to: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let (source, target) = (cluster(clusters, from)?, cluster(clusters, to)?);
    let replicas = Api::<TelemetryReplica>::all(source.client.clone()).list(&kube::api::ListParams::default()).await?;
    let replica = replicas
        .items
        .into_iter()
        .find(|r| r.spec.source.region == from && r.spec.targets.iter().any(|t| t.region == to))
        .with_context(|| format!("no TelemetryReplica from {from} to {to} in {from}'s cluster"))?;
    let route = Route::of(&replica, to)?;
    let source_admin = source.telemetry_admin().await?;
    let src = connect(&source_admin.with_dbname(&route.source_database)).await?;
    let target_admin = target.telemetry_admin().await?;
    let dst = connect(&target_admin).await?;

    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    // The address is the one canary value that is not unique per run. Derive it from the
    // source region, not the tag: the two directions then never share an address (the
    // reverse step's scan would otherwise find the first step's row in that region's own
    // source table), and three-digit octets never match each other as substrings.
    let region_sum = from.bytes().fold(0u32, |a, b| a.wrapping_add(u32::from(b)));
    let octet = u8::try_from(100 + region_sum % 140).expect("100..240 fits a u8");
    let canary = Canary::new(&tag, octet);
    let before = insert_canary(&src, &route.source_table, &canary).await?;
    report.say(format!("inserted into {from} {}.{}: {}", route.source_database, route.source_name, before.0));

    let started = Instant::now();
    let Some(after) = wait_row(&dst, &route.destination, &canary.firmware, timeout).await? else {
        report.fail(format!(
            "the row did not arrive in {to} {}.{} within {} s",
            target_admin.dbname,
            route.destination_name,
            timeout.as_secs()
        ));
        return Ok(());
    };
    report.say(format!(
        "arrived in {to} {}.{} after {:.1} s: {}",
        target_admin.dbname,
        route.destination_name,
        started.elapsed().as_secs_f64(),
        after.0
    ));
    check_row(report, &canary, &after);

    for (what, params) in [
        (format!("{from} boundary database {BOUNDARY_DB}"), source_admin.with_dbname(BOUNDARY_DB)),
        (format!("{to} database {}", target_admin.dbname), target_admin.clone()),
    ] {
        let hits = canary_hits(&params, &canary.raw_values()).await?;
        let found = if hits.is_empty() { String::new() } else { format!(": found in {}", hits.join(", ")) };
        report.check(hits.is_empty(), format!("no raw email, user id, device id or IP anywhere in the {what}{found}"));
    }
    Ok(())
}

/// Where one replica's rows go from its source to one target: the source table and the
/// target's destination table (both quoted for SQL, and as written in the spec).
#[derive(Clone, Debug)]
pub struct Route {
    /// The source database (`spec.source.database`).
    pub source_database: String,
    /// The first table, `"schema"."name"`.
    pub source_table: String,
    /// The first table as `schema.name`, for messages.
    pub source_name: String,
    /// The target's destination table, `"schema"."name"`.
    pub destination: String,
    /// The destination as written in the spec, for messages.
    pub destination_name: String,
}

impl Route {
    /// The route of `replica`'s first table to target `to` (which must name a
    /// destination table).
    pub fn of(replica: &TelemetryReplica, to: &str) -> anyhow::Result<Self> {
        let table = replica.spec.tables.first().context("the replica has no table")?;
        let destination = replica
            .spec
            .targets
            .iter()
            .find(|t| t.region == to)
            .and_then(|t| t.destination.clone())
            .context("the replica names no destination table for this target")?;
        let (dest_schema, dest_table) = destination.split_once('.').unwrap_or(("public", &destination));
        Ok(Self {
            source_database: replica.spec.source.database.clone(),
            source_table: format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name)),
            source_name: format!("{}.{}", table.schema, table.name),
            destination: format!("{}.{}", quote_ident(dest_schema), quote_ident(dest_table)),
            destination_name: destination.clone(),
        })
    }
}

/// Inserts `canary` as one row of the seed's telemetry shape into `table`; the row as
/// stored (see [`row_json`]).
pub async fn insert_canary(
    src: &tokio_postgres::Client,
    table: &str,
    canary: &Canary,
) -> anyhow::Result<(String, Value, bool)> {
    src.execute(
        &format!(
            "INSERT INTO {table} (ts, device_id, user_id, email, client_ip, latitude, longitude, firmware, temperature, battery)
             VALUES (now(), $1, $2, $3, CAST($4::text AS inet), 48.85661, 2.35222, $5, 21.5, 87)"
        ),
        &[&canary.device_id, &canary.user_id, &canary.email, &canary.client_ip, &canary.firmware],
    )
    .await
    .context("inserting the canary row")?;
    row_json(src, table, &canary.firmware).await?.context("the inserted row is not there")
}

/// Polls `table` (every 200 ms, up to `timeout`) for the row tagged `firmware`.
pub async fn wait_row(
    dst: &tokio_postgres::Client,
    table: &str,
    firmware: &str,
    timeout: Duration,
) -> anyhow::Result<Option<(String, Value, bool)>> {
    let started = Instant::now();
    loop {
        if let Some(row) = row_json(dst, table, firmware).await? {
            return Ok(Some(row));
        }
        if started.elapsed() > timeout {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The row tagged `firmware` as JSON text (columns in table order) and parsed, plus whether its `ts` is
/// truncated to the minute.
pub async fn row_json(
    client: &tokio_postgres::Client,
    table: &str,
    firmware: &str,
) -> anyhow::Result<Option<(String, Value, bool)>> {
    let sql = format!(
        "SELECT row_to_json(t)::text, date_trunc('minute', t.ts) = t.ts FROM {table} AS t WHERE t.firmware = $1"
    );
    let row = client.query_opt(&sql, &[&firmware]).await.with_context(|| format!("reading {table}"))?;
    Ok(row.map(|row| {
        let text: String = row.get(0);
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (text, value, row.get::<_, Option<bool>>(1).unwrap_or(false))
    }))
}

/// Whether `value` is an HMAC-SHA256 in hex (64 hex digits) other than `raw`.
pub fn is_hmac(value: &Value, raw: &str) -> bool {
    value.as_str().is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) && s != raw)
}

fn check_row(report: &mut StepReport, canary: &Canary, (_, row, truncated): &(String, Value, bool)) {
    report.check(row.get("email").is_none_or(Value::is_null), "email dropped");
    report.check(is_hmac(&row["device_id"], &canary.device_id), "device_id hashed (HMAC-SHA256, hex)");
    report.check(is_hmac(&row["user_id"], &canary.user_id), "user_id hashed (HMAC-SHA256, hex)");
    report.check(row["client_ip"] == "203.0.113.0/24", format!("client_ip {} cut to 203.0.113.0/24", canary.client_ip));
    let rounded = row["latitude"].as_f64() == Some(48.9) && row["longitude"].as_f64() == Some(2.4);
    report.check(rounded, "latitude/longitude 48.85661/2.35222 rounded to 48.9/2.4");
    report.check(*truncated, "ts truncated to the minute");
    let kept = row["temperature"].as_f64() == Some(21.5) && row["battery"].as_f64() == Some(87.0);
    report.check(kept, "measurements (temperature, battery, firmware) kept");
}

/// The tables (`schema.table`) of the database
/// `params` names whose rows, cast to text, contain any of `needles`.
pub async fn canary_hits(params: &ConnParams, needles: &[&str]) -> anyhow::Result<Vec<String>> {
    Ok(scan_database(params, needles).await?.hits)
}

/// What [`scan_database`] looked at and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// How many tables were scanned.
    pub tables: usize,
    /// `schema.table: N row(s)` for each table with a match.
    pub hits: Vec<String>,
}

/// Scans every table (ordinary, partitioned, materialized view) outside the system
/// schemas of the database `params` names for rows whose text form (every column, so
/// every text-ish column) contains any of `needles`.
pub async fn scan_database(params: &ConnParams, needles: &[&str]) -> anyhow::Result<Scan> {
    let client = connect(params).await?;
    let tables = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1",
            &[],
        )
        .await?;
    let patterns: Vec<String> = needles
        .iter()
        .map(|n| format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
        .collect();
    let mut scan = Scan { tables: tables.len(), hits: Vec::new() };
    for row in tables {
        let table: String = row.get(0);
        // Quoted by PostgreSQL itself (`format('%I.%I')`).
        let sql = format!("SELECT count(*) FROM {table} AS x WHERE CAST(x AS text) LIKE ANY($1)");
        let count: i64 =
            client.query_one(&sql, &[&patterns]).await.with_context(|| format!("scanning {table}"))?.get(0);
        if count > 0 {
            scan.hits.push(format!("{table}: {count} row(s)"));
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_values_are_distinct_and_the_ip_is_not_its_network() {
        let canary = Canary::new("abc123", 0);
        assert_eq!(canary.client_ip, "203.0.113.10");
        assert!(!"203.0.113.0/24".contains(&canary.client_ip));
        assert_eq!(Canary::new("x", 255).client_ip, "203.0.113.25");
    }

    #[test]
    fn row_checks() {
        let canary = Canary::new("t", 1);
        let hash = "a".repeat(64);
        let good = serde_json::json!({"device_id": hash, "user_id": hash, "client_ip": "203.0.113.0/24",
            "latitude": 48.9, "longitude": 2.4, "temperature": 21.5, "battery": 87.0});
        let mut report = StepReport::new("t");
        check_row(&mut report, &canary, &(String::new(), good, true));
        assert!(report.passed, "{report}");
        let raw = serde_json::json!({"device_id": canary.device_id, "user_id": hash, "email": canary.email,
            "client_ip": canary.client_ip, "latitude": 48.85661, "longitude": 2.4, "temperature": 21.5, "battery": 87.0});
        let mut report = StepReport::new("t");
        check_row(&mut report, &canary, &(String::new(), raw, false));
        assert_eq!(report.lines.iter().filter(|l| l.starts_with("FAILED")).count(), 5, "{report}");
    }
}
