//! What regionstack built inside the databases, read through the Secrets of each
//! region's own cluster (as on real clusters): the logical replication objects
//! (publications, slots, subscriptions) it owns, the objects it marked as one
//! replica's, and the PII guardrails.
//!
//! The census compares the replication objects found on a region's telemetry server
//! with exactly those its replicas call for: a duplicate (a second slot after a
//! restart), a leftover (a subscription a deletion forgot) or a missing object all
//! make it fail.

use std::collections::BTreeSet;

use anyhow::Context as _;
use kube::Api;
use kube::api::ListParams;
use regionstack_api::TelemetryReplica;
use regionstack_api::condition::find_condition;
use regionstack_api::{ConditionStatus, telemetry::ReplicaSide};
use regionstack_sql::telemetry::{BOUNDARY_DB, MARK, Names};
use regionstack_sql::{ConnParams, connect};

use crate::RegionCluster;

/// `namespace/name`: the replica id the operator derives names from.
pub fn replica_id(replica: &TelemetryReplica) -> String {
    format!(
        "{}/{}",
        replica.metadata.namespace.as_deref().unwrap_or("default"),
        replica.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The databases of the server `admin` reaches (those that accept connections).
pub async fn databases(admin: &ConnParams) -> anyhow::Result<Vec<String>> {
    let client = connect(admin).await?;
    let rows = client
        .query("SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1", &[])
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// Every replication object regionstack names (`rs_…`) on the server `admin` reaches:
/// `publication <db>/<name>`, `slot <db>/<name>`, `subscription <db>/<name>`, sorted;
/// a duplicate shows up as an entry no replica calls for.
pub async fn replication_objects(admin: &ConnParams) -> anyhow::Result<Vec<String>> {
    let client = connect(admin).await?;
    let mut out = Vec::new();
    let slots = client
        .query(
            "SELECT coalesce(database::text, '-'), slot_name::text FROM pg_replication_slots WHERE slot_name LIKE 'rs\\_%'",
            &[],
        )
        .await?;
    out.extend(slots.iter().map(|r| format!("slot {}/{}", r.get::<_, String>(0), r.get::<_, String>(1))));
    let subs = client
        .query(
            "SELECT d.datname::text, s.subname::text FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
              WHERE s.subname LIKE 'rs\\_%'",
            &[],
        )
        .await?;
    out.extend(subs.iter().map(|r| format!("subscription {}/{}", r.get::<_, String>(0), r.get::<_, String>(1))));
    for db in databases(admin).await? {
        let c = connect(&admin.with_dbname(&db)).await?;
        let pubs = c.query("SELECT pubname::text FROM pg_publication WHERE pubname LIKE 'rs\\_%'", &[]).await?;
        out.extend(pubs.iter().map(|r| format!("publication {db}/{}", r.get::<_, String>(0))));
    }
    out.sort();
    Ok(out)
}

/// The replication objects one replica calls for on `region`'s telemetry server, whose
/// admin connection names `local_db` (where imports live).
pub fn expected_for(replica: &TelemetryReplica, region: &str, local_db: &str) -> Vec<String> {
    let names = Names::new(&replica_id(replica));
    let mut out = Vec::new();
    if replica.spec.source.region == region {
        let (db, hop1) = (&replica.spec.source.database, names.hop1());
        out.push(format!("publication {db}/{hop1}"));
        out.push(format!("slot {db}/{hop1}"));
        out.push(format!("subscription {BOUNDARY_DB}/{hop1}"));
        out.push(format!("publication {BOUNDARY_DB}/{}", names.hop2()));
        for target in &replica.spec.targets {
            out.push(format!("slot {BOUNDARY_DB}/{}", names.import_subscription(&target.region)));
        }
    }
    if replica.spec.targets.iter().any(|t| t.region == region) {
        out.push(format!("subscription {local_db}/{}", names.import_subscription(region)));
    }
    out
}

fn serving(replica: &TelemetryReplica) -> bool {
    let Some(status) = &replica.status else { return false };
    let ready = find_condition(&status.conditions, "Ready").is_some_and(|c| c.status == ConditionStatus::True);
    replica.metadata.deletion_timestamp.is_none()
        && ready
        && matches!(status.side, Some(ReplicaSide::Source | ReplicaSide::Target))
}

/// The census of `cluster`'s region: the replication objects found on its telemetry
/// server must be exactly those its serving replicas call for. Ok with a one-line
/// summary, or an error listing what is missing and what is extra.
pub async fn census(cluster: &RegionCluster) -> anyhow::Result<String> {
    let admin = cluster.telemetry_admin().await?;
    let replicas = Api::<TelemetryReplica>::all(cluster.client.clone()).list(&ListParams::default()).await?;
    let serving: Vec<&TelemetryReplica> = replicas.items.iter().filter(|r| serving(r)).collect();
    let expected: BTreeSet<String> =
        serving.iter().flat_map(|r| expected_for(r, &cluster.region, &admin.dbname)).collect();
    let found = replication_objects(&admin).await?;
    let distinct: BTreeSet<String> = found.iter().cloned().collect();
    let missing: Vec<&String> = expected.difference(&distinct).collect();
    let extra: Vec<&String> = distinct.difference(&expected).collect();
    anyhow::ensure!(
        missing.is_empty() && extra.is_empty() && distinct.len() == found.len(),
        "[{}] replication objects differ from what its {} serving replicas call for: missing {missing:?}, extra {extra:?} (found {found:?})",
        cluster.region,
        serving.len()
    );
    Ok(format!(
        "[{}] exactly one of each of the {} replication objects its {} serving replicas call for",
        cluster.region,
        found.len(),
        serving.len()
    ))
}

/// Polls [`census`] until it holds (replicas still converging, e.g. right after the
/// topology started, call for objects they have not built or reported yet); the
/// error is the last difference. A duplicate or leftover never goes away by itself,
/// so it still fails, after `timeout`.
pub async fn wait_census(cluster: &RegionCluster, timeout: std::time::Duration) -> anyhow::Result<String> {
    crate::eventually(&format!("[{}] census", cluster.region), timeout, || async { census(cluster).await.map(Some) })
        .await
}

/// Everything carrying `replica_id`'s mark (`regionstack:<id>`) on the server `admin`
/// reaches: relations, functions and publications in every database, and roles.
pub async fn marked_objects(admin: &ConnParams, replica_id: &str) -> anyhow::Result<Vec<String>> {
    let mark = format!("{MARK}{replica_id}");
    let mut out = Vec::new();
    let client = connect(admin).await?;
    let roles = client
        .query("SELECT rolname::text FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = $1", &[&mark])
        .await?;
    out.extend(roles.iter().map(|r| format!("role {}", r.get::<_, String>(0))));
    for db in databases(admin).await? {
        let c = connect(&admin.with_dbname(&db)).await.with_context(|| format!("connecting to {db}"))?;
        let rows = c
            .query(
                "SELECT 'relation ' || c.oid::regclass::text FROM pg_class c WHERE obj_description(c.oid, 'pg_class') = $1
                 UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE obj_description(p.oid, 'pg_proc') = $1
                 UNION ALL SELECT 'publication ' || pubname FROM pg_publication WHERE obj_description(oid, 'pg_publication') = $1",
                &[&mark],
            )
            .await?;
        out.extend(rows.iter().map(|r| format!("{db}: {}", r.get::<_, String>(0))));
    }
    Ok(out)
}

/// The names of regionstack's event triggers (the PII guardrails) in a database,
/// and whether its `regionstack` schema exists.
pub async fn guardrails(params: &ConnParams) -> anyhow::Result<(Vec<String>, bool)> {
    let client = connect(params).await?;
    let triggers = client
        .query("SELECT evtname::text FROM pg_event_trigger WHERE evtname LIKE 'regionstack%' ORDER BY 1", &[])
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let schema = client.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = 'regionstack'", &[]).await?.is_some();
    Ok((triggers, schema))
}

/// `SELECT count(*) FROM <table>` (a quoted name).
pub async fn count(params: &ConnParams, table: &str) -> anyhow::Result<i64> {
    let client = connect(params).await?;
    Ok(client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0))
}
