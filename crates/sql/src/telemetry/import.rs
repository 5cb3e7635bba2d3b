//! Target region: import tables shaped like the source's export tables, the
//! subscription to the source boundary database, optional routing into a
//! destination table, and status (lag, health).

use std::collections::BTreeSet;

use tokio_postgres::Client;

use super::{Action, Exec, IMPORT_SCHEMA, Names, comment, exists};
use crate::conn::{ConnParams, Password};
use crate::error::SqlError;
use crate::ident::{checked, quote_ident, quote_literal};
use crate::session::session;

/// Desired state of one replica's import in a target region.
#[derive(Clone, Debug)]
pub struct ImportSpec {
    /// Replica name (the same as on the source side).
    pub replica: String,
    /// This (target) region's name: part of the subscription and slot names.
    pub target_region: String,
    /// The source boundary database, reached with the replica's replication login.
    pub source: ConnParams,
    /// Source tables (`schema`, `table`) of the replica.
    pub tables: Vec<(String, String)>,
    /// `schema.table` that imported rows are routed into; only with one table.
    pub destination: Option<String>,
}

/// How [`apply_import`] says that an export table does not exist (yet) at the source.
const EXPORT_TABLE_MISSING: &str = "not found in the source boundary database";

/// Whether `err`, returned by [`apply_import`] for `spec`, means the source side is
/// not ready yet rather than broken: the source boundary database could not be
/// reached with the replication login (the source region's operator has not created
/// the login or the database yet, or the server is down), or an export table is
/// missing there. A fresh replica sees this until the source has built its export.
pub fn source_pending(err: &SqlError, spec: &ImportSpec) -> bool {
    match err {
        SqlError::Connect { host, port, dbname, .. } => {
            *host == spec.source.host && *port == spec.source.port && *dbname == spec.source.dbname
        }
        SqlError::Invalid(message) => message.starts_with("export table ") && message.ends_with(EXPORT_TABLE_MISSING),
        SqlError::Query { .. } | SqlError::Tls(_) => false,
    }
}

/// Columns `(name, type)` of a table, read from the catalog.
async fn shape(c: &Client, schema: &str, table: &str) -> Result<Vec<(String, String)>, SqlError> {
    let rows = c
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = $1 AND t.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .map_err(SqlError::query("reading table columns"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn split_destination(d: &str) -> Result<(String, String), SqlError> {
    let (s, t) = d.split_once('.').unwrap_or(("public", d));
    checked("schema", s)?;
    checked("table", t)?;
    Ok((s.to_owned(), t.to_owned()))
}

/// Make the import conform in the database `admin` names (a superuser there). The
/// export tables' shapes are read from the source boundary database over the
/// replication login. Returns the statements executed.
///
/// When the source re-renders an export (spec change, schema drift), the export
/// table gains, loses or retypes columns and hop 2 carries the new shape at once.
/// Until this function runs again, the target's apply worker fails on a new column
/// ("missing replicated column") and retries; nothing is lost, rows wait in the slot.
/// Run it again promptly (the operator does on every spec change): it adds and
/// retypes import columns in place, keeps columns the export dropped, and re-renders
/// the routing function, whose destination table must have any new column.
pub async fn apply_import(admin: &ConnParams, spec: &ImportSpec) -> Result<Vec<Action>, SqlError> {
    let names = Names::new(&spec.replica);
    let mark = names.mark();
    if spec.destination.is_some() && spec.tables.len() != 1 {
        return Err(SqlError::Invalid("a destination table needs a replica with exactly one table".into()));
    }
    let remote = session(&spec.source).await?;
    let client = session(admin).await?;
    let mut actions = Vec::new();
    let mut ex = Exec { client: &client, database: admin.dbname.clone(), actions: &mut actions };
    if !exists(&client, "schema", "SELECT 1 FROM pg_namespace WHERE nspname = $1", &[IMPORT_SCHEMA]).await? {
        let s = quote_ident(IMPORT_SCHEMA);
        let sql =
            format!("CREATE SCHEMA {s}; REVOKE ALL ON SCHEMA {s} FROM PUBLIC; {}", comment("SCHEMA", &s, super::MARK));
        ex.run("create import schema", &sql).await?;
    }
    for (schema, table) in &spec.tables {
        let name = names.export_table(schema, table);
        let want = shape(&remote, IMPORT_SCHEMA, &name).await?;
        if want.is_empty() {
            return Err(SqlError::Invalid(format!("export table {name} {EXPORT_TABLE_MISSING}")));
        }
        let local = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&name));
        let have = shape(&client, IMPORT_SCHEMA, &name).await?;
        if have.is_empty() {
            let cols = want.iter().map(|(n, t)| format!("{} {t}", quote_ident(n))).collect::<Vec<_>>().join(", ");
            let sql = format!("CREATE TABLE {local} ({cols}); {}", comment("TABLE", &local, &mark));
            ex.run(&format!("create import table {name}"), &sql).await?;
        } else {
            // The export changed shape (spec change or source schema drift). Add the
            // new columns and retype changed ones (CAST: imported rows are data; a
            // failing cast is reported, nothing is lost). Columns the export no longer
            // has stay (NULL in new rows): the subscription ignores them.
            let mut alter = Vec::new();
            for (n, t) in &want {
                let q = quote_ident(n);
                match have.iter().find(|(h, _)| h == n) {
                    None => alter.push(format!("ALTER TABLE {local} ADD COLUMN {q} {t}")),
                    Some((_, ht)) if ht != t => {
                        alter.push(format!("ALTER TABLE {local} ALTER COLUMN {q} TYPE {t} USING CAST({q} AS {t})"));
                    }
                    Some(_) => {}
                }
            }
            if !alter.is_empty() {
                ex.run(&format!("reshape import table {name} like the export"), &alter.join("; ")).await?;
            }
        }
        // Never subscribe into a hypertable; a hypertable destination is reached by routing.
        super::handoff::check_import_target(&client, &name, spec.destination.as_deref()).await?;
        if let Some(dest) = &spec.destination {
            ensure_route(&mut ex, &names, &local, &name, &want, dest).await?;
        }
    }
    let sub = names.import_subscription(&spec.target_region);
    let subscribed =
        exists(&client, "subscription", "SELECT 1 FROM pg_subscription WHERE subname = $1", &[&sub]).await?;
    if subscribed {
        // The publication's table set changed (a table added to or removed from the
        // replica): refresh; new tables are copied (rows not yet pruned at the source).
        let published = super::export::published_tables(&remote, &names.hop2()).await?;
        if published != subscribed_tables(&client, &sub).await? {
            // Not in a transaction block: one statement alone.
            let sql = format!("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = true)", quote_ident(&sub));
            ex.run(&format!("refresh subscription {sub} (published tables changed)"), &sql).await?;
        }
    } else {
        // The slot first, over the replication login, outside any local transaction.
        // CREATE SUBSCRIPTION creating it would wait, inside this server's
        // transaction, for every transaction on the source server to end: with two
        // regions importing from each other at the same moment, each waits for the
        // other's CREATE SUBSCRIPTION until statement_timeout (seen in the operator
        // benchmark as imports failing every retry).
        ensure_remote_slot(&remote, &sub).await?;
        await_launcher_window(&client).await?;
        let make = |info: &str| {
            // copy_data = true: export rows not yet pruned when the target subscribes
            // are copied once, consistently with the new slot (no duplicates).
            format!(
                "CREATE SUBSCRIPTION {s} CONNECTION {} PUBLICATION {} \
                 WITH (create_slot = false, slot_name = {}, copy_data = true, binary = true)",
                quote_literal(info),
                quote_ident(&names.hop2()),
                quote_literal(&sub),
                s = quote_ident(&sub)
            )
        };
        let shown = ConnParams { password: Password::new("****"), ..spec.source.clone() }.libpq_conninfo();
        ex.run_redacted(&format!("create subscription {sub}"), &make(&spec.source.libpq_conninfo()), &make(&shown))
            .await?;
    }
    drop_removed(&mut ex, &remote, &names, spec, &sub).await?;
    Ok(actions)
}

/// The longest [`await_launcher_window`] waits; a longer window (e.g. the default
/// `wal_retrieve_retry_interval` of 5 s) is not waited for: the subscription is
/// created at once and its worker starts a full interval later, as without the wait.
pub const LAUNCHER_WINDOW_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// On PostgreSQL 15, wait until the logical replication launcher may start a worker
/// again before creating a subscription.
///
/// PostgreSQL 15's launcher starts apply workers at most once per
/// `wal_retrieve_retry_interval` for the whole server, and when it is woken inside
/// that interval (the commit of `CREATE SUBSCRIPTION` wakes it) it sleeps a *full*
/// interval again. A subscription created 0.1–0.4 s after another worker of the same
/// server started (in the seed topology: the import right after the region's own
/// hop-1 subscription) therefore got its worker an interval after its own commit
/// (measured: 0.53–0.56 s with 500 ms). Created when the interval since the last
/// apply worker start (`pg_stat_activity.backend_start` of the running apply
/// workers) has passed, the commit's wake-up starts it at once: the worker starts at
/// the end of the window instead of an interval after the commit. PostgreSQL 16
/// limits starts per subscription (a new one starts at once): no wait there.
async fn await_launcher_window(client: &Client) -> Result<(), SqlError> {
    let row = client
        .query_opt(
            "SELECT (SELECT extract(epoch FROM max(a.backend_start)
                        + current_setting('wal_retrieve_retry_interval')::interval - clock_timestamp())::float8
                     FROM pg_stat_subscription s JOIN pg_stat_activity a ON a.pid = s.pid WHERE s.relid IS NULL)
             WHERE current_setting('server_version_num')::int < 160000",
            &[],
        )
        .await
        .map_err(SqlError::query("reading the replication launcher's start window"))?;
    // No row (PostgreSQL 16 or later) or no running apply worker: nothing to wait for.
    let remaining = row.and_then(|row| row.get::<_, Option<f64>>(0));
    if let Some(seconds) = remaining.filter(|s| *s > 0.0) {
        let wait = std::time::Duration::from_secs_f64(seconds);
        if wait <= LAUNCHER_WINDOW_MAX {
            tracing::debug!(wait_ms = wait.as_millis(), "waiting for the replication launcher's start window");
            tokio::time::sleep(wait).await;
        }
    }
    Ok(())
}

/// Create the logical slot `slot` (pgoutput) in the source boundary database unless
/// it exists (left by an earlier attempt whose CREATE SUBSCRIPTION failed: reused).
async fn ensure_remote_slot(remote: &Client, slot: &str) -> Result<(), SqlError> {
    let present = exists(remote, "slot", "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", &[slot]).await?;
    if !present {
        remote
            .query_one("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot])
            .await
            .map_err(SqlError::query(format!("create slot {slot} in the source boundary database")))?;
    }
    Ok(())
}

/// `(schema, table)` of the tables a subscription replicates into (`pg_subscription_rel`).
async fn subscribed_tables(c: &Client, sub: &str) -> Result<BTreeSet<(String, String)>, SqlError> {
    let rows = c
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_subscription_rel r JOIN pg_class c ON c.oid = r.srrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.srsubid = (SELECT oid FROM pg_subscription WHERE subname = $1)",
            &[&sub],
        )
        .await
        .map_err(SqlError::query("reading subscribed tables"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Drop the import tables (and routing functions) of tables removed from the
/// replica: only tables marked as this replica's, and only once the subscription has
/// applied everything the source sent before (rows of a removed table still in flight
/// would otherwise stop the apply worker). Deferred to the next apply otherwise.
async fn drop_removed(
    ex: &mut Exec<'_>,
    remote: &Client,
    names: &Names,
    spec: &ImportSpec,
    sub: &str,
) -> Result<(), SqlError> {
    let keep: BTreeSet<String> = spec.tables.iter().map(|(s, t)| names.export_table(s, t)).collect();
    let rows = ex
        .client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') = $2 ORDER BY 1",
            &[&IMPORT_SCHEMA, &names.mark()],
        )
        .await
        .map_err(SqlError::query("listing import tables"))?;
    let removed: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).filter(|n| !keep.contains(n)).collect();
    if removed.is_empty() || !super::wait_caught_up(remote, sub, 30).await? {
        return Ok(());
    }
    for name in removed {
        let local = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&name));
        ex.run(&format!("drop import table {name} (removed from the replica)"), &format!("DROP TABLE {local}")).await?;
        let fname = names.route_function(IMPORT_SCHEMA, &name);
        let f = "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2";
        if exists(ex.client, "route function", f, &[IMPORT_SCHEMA, &fname]).await? {
            let sql = format!("DROP FUNCTION {}.{}()", quote_ident(IMPORT_SCHEMA), quote_ident(&fname));
            ex.run("drop routing function", &sql).await?;
        }
    }
    Ok(())
}

async fn ensure_route(
    ex: &mut Exec<'_>,
    names: &Names,
    local: &str,
    name: &str,
    cols: &[(String, String)],
    dest: &str,
) -> Result<(), SqlError> {
    let (ds, dt) = split_destination(dest)?;
    let dest_cols = shape(ex.client, &ds, &dt).await?;
    if dest_cols.is_empty() {
        return Err(SqlError::Invalid(format!("destination table {dest} does not exist")));
    }
    if let Some((missing, _)) = cols.iter().find(|(n, _)| !dest_cols.iter().any(|(d, _)| d == n)) {
        return Err(SqlError::Invalid(format!("destination table {dest} has no column {missing:?}")));
    }
    let list = cols.iter().map(|(n, _)| quote_ident(n)).collect::<Vec<_>>().join(", ");
    let values = cols.iter().map(|(n, _)| format!("NEW.{}", quote_ident(n))).collect::<Vec<_>>().join(", ");
    let body = format!(
        "\nBEGIN\n  INSERT INTO {}.{} ({list}) VALUES ({values});\n  RETURN NULL;\nEND\n",
        quote_ident(&ds),
        quote_ident(&dt)
    );
    let fname = names.route_function(IMPORT_SCHEMA, name);
    let function = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&fname));
    let same = "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = $1 AND p.proname = $2 AND p.prosrc = $3";
    if !exists(ex.client, "route function", same, &[IMPORT_SCHEMA, &fname, &body]).await? {
        let sql = format!(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql \
             SET search_path = pg_catalog, pg_temp AS {}; REVOKE ALL ON FUNCTION {function}() FROM PUBLIC; {}",
            quote_literal(&body),
            comment("FUNCTION", &format!("{function}()"), &names.mark())
        );
        ex.run(&format!("create or replace routing function into {dest}"), &sql).await?;
    }
    let trig =
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'regionstack_route' AND tgenabled = 'A'";
    if !exists(ex.client, "route trigger", trig, &[local]).await? {
        let sql = format!(
            "DROP TRIGGER IF EXISTS regionstack_route ON {local}; \
             CREATE TRIGGER regionstack_route BEFORE INSERT ON {local} FOR EACH ROW EXECUTE FUNCTION {function}(); \
             ALTER TABLE {local} ENABLE ALWAYS TRIGGER regionstack_route"
        );
        ex.run(&format!("create routing trigger into {dest}"), &sql).await?;
    }
    Ok(())
}

/// Remove the subscription (and its slot on the source when reachable), the import
/// tables and routing functions of this replica; the schema when it is empty.
/// Destination tables and their rows stay.
pub async fn teardown_import(admin: &ConnParams, spec: &ImportSpec) -> Result<Vec<Action>, SqlError> {
    let names = Names::new(&spec.replica);
    let client = session(admin).await?;
    let mut actions = Vec::new();
    let mut ex = Exec { client: &client, database: admin.dbname.clone(), actions: &mut actions };
    let sub = names.import_subscription(&spec.target_region);
    if exists(&client, "subscription", "SELECT 1 FROM pg_subscription WHERE subname = $1", &[&sub]).await? {
        let q = quote_ident(&sub);
        if let Err(e) = ex.run(&format!("drop subscription {sub}"), &format!("DROP SUBSCRIPTION {q}")).await {
            // Source unreachable: detach the slot (reported, to be dropped on the source).
            tracing::warn!(error = %e, "dropping the subscription with its slot failed; detaching the slot");
            let sql = format!(
                "ALTER SUBSCRIPTION {q} DISABLE; ALTER SUBSCRIPTION {q} SET (slot_name = NONE); DROP SUBSCRIPTION {q}"
            );
            ex.run(&format!("drop subscription {sub}, leaving slot {sub} on the source"), &sql).await?;
        }
    }
    for (schema, table) in &spec.tables {
        let name = names.export_table(schema, table);
        let fname = names.route_function(IMPORT_SCHEMA, &name);
        let local = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&name));
        let t = "SELECT 1 FROM pg_class WHERE oid = to_regclass($1) AND obj_description(oid, 'pg_class') = $2";
        if exists(&client, "import table", t, &[&local, &names.mark()]).await? {
            ex.run(&format!("drop import table {name}"), &format!("DROP TABLE {local}")).await?;
        }
        let f = "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2";
        if exists(&client, "route function", f, &[IMPORT_SCHEMA, &fname]).await? {
            let sql = format!("DROP FUNCTION {}.{}()", quote_ident(IMPORT_SCHEMA), quote_ident(&fname));
            ex.run("drop routing function", &sql).await?;
        }
    }
    let s = "SELECT 1 FROM pg_namespace n WHERE nspname = $1 AND obj_description(n.oid, 'pg_namespace') = $2
             AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)
             AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)";
    if exists(&client, "schema", s, &[IMPORT_SCHEMA, super::MARK]).await? {
        ex.run("drop import schema", &format!("DROP SCHEMA {}", quote_ident(IMPORT_SCHEMA))).await?;
    }
    Ok(actions)
}

/// Health of an import subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportHealth {
    /// Enabled and its apply worker runs.
    Streaming,
    /// Enabled, but no apply worker is running (starting, or failing and retrying).
    WorkerDown,
    /// Disabled (by hand, or by `disable_on_error` after an apply error).
    Disabled,
    /// The slot on the source was lost (WAL removed): re-sync needed, no retry helps.
    SlotLost,
    /// No subscription.
    Missing,
}

/// Structured status of one import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportStatus {
    /// Subscription name.
    pub subscription: String,
    /// Health.
    pub health: ImportHealth,
    /// Apply and sync errors counted by `pg_stat_subscription_stats`.
    pub error_count: i64,
    /// Bytes of source WAL not yet confirmed by this subscription (from the source
    /// slot), when the source was reachable.
    pub lag_bytes: Option<i64>,
    /// The slot's `wal_status` on the source (`reserved`, `extended`, `unreserved`, `lost`).
    pub slot_wal_status: Option<String>,
    /// What to do, when something is wrong.
    pub action: Option<String>,
}

/// Whether the apply worker of the import's subscription runs (`pg_stat_subscription`
/// has its process; table synchronization workers do not count).
const WORKER_RUNNING: &str = "SELECT 1 FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid
     WHERE s.subname = $1 AND w.pid IS NOT NULL AND w.relid IS NULL";

/// Wait, for at most `timeout`, until the apply worker of the import's subscription
/// runs; `true` once it does. One local connection, polled every 20 ms.
///
/// Why wait here rather than report and look again later: a new subscription's
/// worker is started by the server's logical replication launcher, typically within
/// `wal_retrieve_retry_interval` of `CREATE SUBSCRIPTION` (PostgreSQL 15 rate-limits
/// starts server-wide). A caller that re-runs the whole apply to notice it pays two
/// logins per look and notices it up to a retry interval late; this notices it within
/// 20 ms for the price of one catalog query per poll.
pub async fn wait_for_worker(
    admin: &ConnParams,
    spec: &ImportSpec,
    timeout: std::time::Duration,
) -> Result<bool, SqlError> {
    let sub = Names::new(&spec.replica).import_subscription(&spec.target_region);
    let client = session(admin).await?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if exists(&client, "apply worker", WORKER_RUNNING, &[&sub]).await? {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Read the import's status: the local subscription, and (best effort, over the
/// replication login) its slot on the source.
pub async fn import_status(admin: &ConnParams, spec: &ImportSpec) -> Result<ImportStatus, SqlError> {
    let names = Names::new(&spec.replica);
    let sub = names.import_subscription(&spec.target_region);
    let client = session(admin).await?;
    let row = client
        .query_opt(
            "SELECT s.subenabled, EXISTS (SELECT 1 FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL AND w.relid IS NULL),
                    coalesce((SELECT apply_error_count + sync_error_count FROM pg_stat_subscription_stats t WHERE t.subid = s.oid), 0)
             FROM pg_subscription s WHERE s.subname = $1",
            &[&sub],
        )
        .await
        .map_err(SqlError::query("reading subscription status"))?;
    let Some(row) = row else {
        let action = Some("apply the import".to_owned());
        return Ok(ImportStatus {
            subscription: sub,
            health: ImportHealth::Missing,
            error_count: 0,
            lag_bytes: None,
            slot_wal_status: None,
            action,
        });
    };
    let (enabled, running, error_count): (bool, bool, i64) = (row.get(0), row.get(1), row.get(2));
    let (mut lag_bytes, mut slot_wal_status) = (None, None);
    if let Ok(remote) = session(&spec.source).await
        && let Ok(Some(r)) = remote
            .query_opt(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status FROM pg_replication_slots WHERE slot_name = $1",
                &[&sub],
            )
            .await
    {
        lag_bytes = r.get(0);
        slot_wal_status = r.get(1);
    }
    let health = match (slot_wal_status.as_deref(), enabled, running) {
        (Some("lost"), _, _) => ImportHealth::SlotLost,
        (_, false, _) => ImportHealth::Disabled,
        (_, true, false) => ImportHealth::WorkerDown,
        (_, true, true) => ImportHealth::Streaming,
    };
    let action = match health {
        ImportHealth::SlotLost => {
            Some("re-sync: tear the import down and apply it again (rows since the loss are missing)".into())
        }
        ImportHealth::Disabled => {
            Some("inspect the server log for the apply error, then ALTER SUBSCRIPTION ... ENABLE".into())
        }
        _ => None,
    };
    Ok(ImportStatus { subscription: sub, health, error_count, lag_bytes, slot_wal_status, action })
}
