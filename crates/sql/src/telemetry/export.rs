//! Source region: hop 1 (source database → boundary database, same server) and hop 2
//! (the publication of export tables and its replication login).

use std::collections::BTreeSet;

use regionstack_api::telemetry::TableExport;
use regionstack_policy::row_filter::RowFilter;
use tokio_postgres::Client;

use super::boundary::{self, StagePlan};
use super::transforms::render;
use super::{Action, BOUNDARY_DB, Exec, IMPORT_SCHEMA, Names, exists};
use crate::conn::{ConnParams, Password};
use crate::error::SqlError;
use crate::ident::{checked, quote_ident, quote_literal};
use crate::session::session;

/// Desired state of one replica's export in the source region.
#[derive(Clone, Debug)]
pub struct ExportSpec {
    /// Replica name (unique in the region; all generated names derive from it).
    pub replica: String,
    /// Database holding the source tables.
    pub source_database: String,
    /// Exported tables with a rule for every exported column.
    pub tables: Vec<TableExport>,
    /// Hop-2 replication login (from the replica's credentials Secret).
    pub login: String,
    /// Its password.
    pub password: Password,
    /// Whether hop 1 goes through hand-off tables (`Auto`: for hypertables).
    pub handoff: super::handoff::HandoffMode,
}

/// Resolve the spec's tables against the source catalog: every rule names an
/// existing column, transforms fit the column types, the row filter parses over the
/// table's columns. Nothing is executed.
pub async fn plan_tables(source: &Client, spec: &ExportSpec) -> Result<Vec<(StagePlan, Option<RowFilter>)>, SqlError> {
    let names = Names::new(&spec.replica);
    let mut out = Vec::new();
    for t in &spec.tables {
        checked("schema", &t.schema)?;
        checked("table", &t.name)?;
        let cols = boundary::source_columns(source, &t.schema, &t.name).await?;
        let mut needed = Vec::new();
        let mut output = Vec::new();
        for rule in &t.columns {
            checked("column", &rule.name)?;
            let transform = rule.resolve().map_err(SqlError::Invalid)?;
            // A declared column removed from the source is not exported (the export is
            // re-rendered without it); `check_source_schema` reports it.
            let Some(col) = cols.iter().find(|c| c.name == rule.name) else {
                tracing::warn!(schema = %t.schema, table = %t.name, column = %rule.name, "declared column missing in the source");
                continue;
            };
            if let Some(r) = render(col, transform)? {
                needed.push(col.clone());
                output.push(r);
            }
        }
        if output.is_empty() {
            return Err(SqlError::Invalid(format!("{}.{} exports no column", t.schema, t.name)));
        }
        let all: BTreeSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let filter = t
            .row_filter
            .as_deref()
            .map(|f| RowFilter::parse(f, Some(&all)))
            .transpose()
            .map_err(|e| SqlError::Invalid(format!("row filter of {}.{}: {e}", t.schema, t.name)))?;
        out.push((
            StagePlan {
                schema: t.schema.clone(),
                table: t.name.clone(),
                needed,
                output,
                export_table: names.export_table(&t.schema, &t.name),
                function: names.stage_function(&t.schema, &t.name),
            },
            filter,
        ));
    }
    Ok(out)
}

/// The hop-1 publication: needed columns only, the row filter rendered from its
/// parsed tree, inserts only.
pub fn hop1_publication_sql(names: &Names, plans: &[(StagePlan, Option<RowFilter>)]) -> String {
    let tables = super::hop1::table_list(plans);
    format!("CREATE PUBLICATION {} FOR {tables} WITH (publish = 'insert')", quote_ident(&names.hop1()))
}

/// Make the export conform. `admin` is a superuser of the region's telemetry server
/// (any database); hop 1 connects with the same login to the source database over
/// `admin.host`/`admin.port`, as seen from the server itself. Returns the statements
/// executed: none when everything was already in place.
///
/// A changed table set converges: both publications are set to the current tables
/// (the hop-1 subscription is refreshed), and a table no longer in the spec loses its
/// staging table, export table, trigger function and hand-off objects (only those
/// marked as this replica's), once hop 1 has delivered its last rows (deferred to the
/// next apply when it has not within 30 s).
pub async fn apply_export(admin: &ConnParams, spec: &ExportSpec) -> Result<Vec<Action>, SqlError> {
    let names = Names::new(&spec.replica);
    checked("role", &spec.login)?;
    let src_params = admin.with_dbname(&spec.source_database);
    let source = session(&src_params).await?;
    // As hop 1 publishes them: hand-off tables in place of their source tables.
    let (handoffs, plans) = super::handoff::hop1_plans(&source, spec).await?;
    super::audit::refuse_unknown_columns(admin, &source, spec).await?;
    let mut actions = Vec::new();
    boundary::ensure_database(admin, BOUNDARY_DB, &mut actions).await?;
    let bparams = admin.with_dbname(BOUNDARY_DB);
    let bclient = session(&bparams).await?;
    let mut b = Exec { client: &bclient, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
    boundary::ensure_shared(&mut b).await?;
    // Tables removed from the spec: dropped once hop 1 no longer publishes them.
    let removed = removed_tables(&bclient, &names, spec).await?;
    for (plan, _) in &plans {
        boundary::ensure_stage(&mut b, &names, plan).await?;
    }
    ensure_hop2(&mut b, &names, spec, &plans).await?;
    drop(b);
    lock_down_login(admin, &spec.login, &mut actions).await?;

    // Hop 1: publication and slot in the source database, then the subscription.
    let mut s = Exec { client: &source, database: spec.source_database.clone(), actions: &mut actions };
    let hop1 = names.hop1();
    // Created, or re-rendered in place (spec change, schema drift, outside alteration).
    super::handoff::ensure_source(&mut s, &names, &handoffs).await?;
    let refresh = super::hop1::ensure(&mut s, &names, &plans).await?;
    let slot_q = "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1";
    let sub_q = "SELECT 1 FROM pg_subscription WHERE subname = $1";
    let subscribed = exists(&bclient, "subscription", sub_q, &[&hop1]).await?;
    if !subscribed && !exists(&source, "slot", slot_q, &[&hop1]).await? {
        // A subscription cannot create its slot on its own server (CREATE SUBSCRIPTION
        // would wait for its own transaction): the slot is created beforehand.
        let sql = format!("SELECT pg_create_logical_replication_slot({}, 'pgoutput')", quote_literal(&hop1));
        s.run(&format!("create hop-1 slot {hop1}"), &sql).await?;
    }
    if !subscribed {
        let conninfo = src_params.libpq_conninfo();
        let redacted = ConnParams { password: Password::new("****"), ..src_params.clone() }.libpq_conninfo();
        // copy_data = false: the export starts when it is created (no backfill of the
        // table's history; a re-created export never duplicates rows).
        let make = |info: &str| {
            format!(
                "CREATE SUBSCRIPTION {h} CONNECTION {} PUBLICATION {h} WITH (create_slot = false, slot_name = {}, copy_data = false, binary = true)",
                quote_literal(info),
                quote_literal(&hop1),
                h = quote_ident(&hop1)
            )
        };
        let mut b = Exec { client: &bclient, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
        b.run_redacted(&format!("create hop-1 subscription {hop1}"), &make(&conninfo), &make(&redacted)).await?;
    } else if refresh {
        let sql = format!("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = false)", quote_ident(&hop1));
        let mut b = Exec { client: &bclient, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
        b.run("refresh hop-1 subscription (published tables changed)", &sql).await?;
    }
    // Rows of a removed table decoded before hop 1 stopped publishing it still reach
    // its staging table: drop it only once the hop-1 subscription has caught up.
    if !removed.is_empty() && super::wait_caught_up(&source, &hop1, 30).await? {
        let mut b = Exec { client: &bclient, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
        for (schema, table) in &removed {
            super::handoff::drop_boundary_stage(&mut b, &names, schema, table).await?;
            boundary::drop_stage(&mut b, &names, schema, table).await?;
        }
        let mut s = Exec { client: &source, database: spec.source_database.clone(), actions: &mut actions };
        for (schema, table) in &removed {
            super::handoff::drop_source(&mut s, &names, schema, table).await?;
        }
    }
    Ok(actions)
}

async fn ensure_hop2(
    b: &mut Exec<'_>,
    names: &Names,
    spec: &ExportSpec,
    plans: &[(StagePlan, Option<RowFilter>)],
) -> Result<(), SqlError> {
    let c = b.client;
    let login = quote_ident(&spec.login);
    if exists(c, "role", "SELECT 1 FROM pg_roles WHERE rolname = $1", &[&spec.login]).await? {
        // The Secret changed: rotate (idempotent, the password never in a statement).
        super::login::ensure_password(b, &spec.login, &spec.password).await?;
    } else {
        let make = |pw: &str| {
            format!(
                "CREATE ROLE {login} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS PASSWORD {}; {}",
                quote_literal(pw),
                super::comment("ROLE", &login, &names.mark())
            )
        };
        b.run_redacted(
            &format!("create replication login {}", spec.login),
            // A SCRAM verifier, stored as is: the password never appears in a statement.
            &make(&super::login::verifier(spec.password.expose())?),
            &make("****"),
        )
        .await?;
    }
    let q = "SELECT 1 FROM pg_database d WHERE d.datname = current_database()
             AND has_schema_privilege($1, $2, 'USAGE') AND pg_catalog.aclcontains(d.datacl, makeaclitem(
                 (SELECT oid FROM pg_roles WHERE rolname = $1), d.datdba, 'CONNECT', false))";
    if !exists(c, "grants", q, &[&spec.login, IMPORT_SCHEMA]).await? {
        let sql = format!(
            "REVOKE CONNECT ON DATABASE {db} FROM PUBLIC; GRANT CONNECT ON DATABASE {db} TO {login}; \
             GRANT USAGE ON SCHEMA {} TO {login}",
            quote_ident(IMPORT_SCHEMA),
            db = quote_ident(BOUNDARY_DB),
        );
        b.run("grant the replication login the boundary database", &sql).await?;
    }
    for (p, _) in plans {
        let t = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&p.export_table));
        if !exists(c, "select grant", "SELECT 1 WHERE has_table_privilege($1, $2, 'SELECT')", &[&spec.login, &t])
            .await?
        {
            b.run("grant select on export table", &format!("GRANT SELECT ON TABLE {t} TO {login}")).await?;
        }
    }
    let hop2 = names.hop2();
    let tables = plans
        .iter()
        .map(|(p, _)| format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&p.export_table)))
        .collect::<Vec<_>>()
        .join(", ");
    if exists(c, "publication", "SELECT 1 FROM pg_publication WHERE pubname = $1", &[&hop2]).await? {
        // The spec's table set changed: publish exactly the current export tables.
        let want: BTreeSet<(String, String)> =
            plans.iter().map(|(p, _)| (IMPORT_SCHEMA.to_owned(), p.export_table.clone())).collect();
        if published_tables(c, &hop2).await? != want {
            let sql = format!("ALTER PUBLICATION {} SET TABLE {tables}", quote_ident(&hop2));
            b.run(&format!("set the tables of hop-2 publication {hop2}"), &sql).await?;
        }
    } else {
        let sql = format!("CREATE PUBLICATION {} FOR TABLE {tables} WITH (publish = 'insert')", quote_ident(&hop2));
        b.run(&format!("create hop-2 publication {hop2}"), &sql).await?;
    }
    Ok(())
}

/// `(schema, table)` of every table a publication publishes (`pg_publication_tables`).
pub(crate) async fn published_tables(c: &Client, pubname: &str) -> Result<BTreeSet<(String, String)>, SqlError> {
    let rows = c
        .query("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", &[&pubname])
        .await
        .map_err(SqlError::query("reading published tables"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Source tables `(schema, table)` this replica still has a staging table for in the
/// boundary database (marked as its own) but the spec no longer lists.
async fn removed_tables(b: &Client, names: &Names, spec: &ExportSpec) -> Result<Vec<(String, String)>, SqlError> {
    let rows = b
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') = $1
               AND n.nspname NOT IN ('regionstack', $2, $3) ORDER BY 1, 2",
            &[&names.mark(), &IMPORT_SCHEMA, &super::handoff::HANDOFF_SCHEMA],
        )
        .await
        .map_err(SqlError::query("listing staging tables"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(s, t)| !spec.tables.iter().any(|x| &x.schema == s && &x.name == t))
        .collect())
}

/// Confine the replication login to the boundary database. PostgreSQL has no
/// per-role "deny": a database whose CONNECT is granted to PUBLIC admits every role.
/// For each other database that admits the login, CONNECT is granted explicitly to
/// every login role that has it now and revoked from PUBLIC, so existing logins keep
/// working. Roles created later need an explicit `GRANT CONNECT` (reported as an
/// action); an equivalent `pg_hba.conf` reject rule is the alternative where the
/// platform manages pg_hba.
async fn lock_down_login(admin: &ConnParams, login: &str, actions: &mut Vec<Action>) -> Result<(), SqlError> {
    let client = session(admin).await?;
    let rows = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datallowconn AND datname <> $2
             AND has_database_privilege($1, oid, 'CONNECT') ORDER BY datname",
            &[&login, &BOUNDARY_DB],
        )
        .await
        .map_err(SqlError::query("listing databases the login can connect to"))?;
    let mut ex = Exec { client: &client, database: admin.dbname.clone(), actions };
    for row in rows {
        let db: String = row.get(0);
        let qdb = quote_ident(&db);
        let sql = format!(
            "DO $do$ DECLARE r record; BEGIN
               FOR r IN SELECT rolname FROM pg_roles WHERE rolcanlogin AND NOT rolsuper AND rolname <> {l}
                          AND has_database_privilege(oid, {d}, 'CONNECT') LOOP
                 EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', {d}, r.rolname);
               END LOOP;
             END $do$; REVOKE CONNECT ON DATABASE {qdb} FROM PUBLIC",
            l = quote_literal(login),
            d = quote_literal(&db),
        );
        ex.run(&format!("confine replication login: revoke CONNECT on {db} from PUBLIC, keep existing logins"), &sql)
            .await?;
        if exists(&client, "connect", "SELECT 1 WHERE has_database_privilege($1, $2, 'CONNECT')", &[login, &db]).await?
        {
            return Err(SqlError::Invalid(format!(
                "role {login} still has CONNECT on {db} through a grant regionstack did not make"
            )));
        }
    }
    Ok(())
}

/// Remove everything `apply_export` built for this replica: the hop-1 subscription
/// (which drops its slot), publication and slot, the hop-2 publication, staging and
/// export tables, trigger functions and the replication login. The boundary
/// database, key and function stay (other replicas share them); see
/// [`drop_boundary`]. Source tables and rows are never touched.
pub async fn teardown_export(admin: &ConnParams, spec: &ExportSpec) -> Result<Vec<Action>, SqlError> {
    let names = Names::new(&spec.replica);
    let hop1 = names.hop1();
    let mut actions = Vec::new();
    let admin_client = session(admin).await?;
    let has_boundary =
        exists(&admin_client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await?;
    if has_boundary {
        let bclient = session(&admin.with_dbname(BOUNDARY_DB)).await?;
        let mut b = Exec { client: &bclient, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
        if exists(&bclient, "subscription", "SELECT 1 FROM pg_subscription WHERE subname = $1", &[&hop1]).await? {
            b.run("drop hop-1 subscription", &format!("DROP SUBSCRIPTION {}", quote_ident(&hop1))).await?;
        }
        let hop2 = names.hop2();
        if exists(&bclient, "publication", "SELECT 1 FROM pg_publication WHERE pubname = $1", &[&hop2]).await? {
            b.run("drop hop-2 publication", &format!("DROP PUBLICATION {}", quote_ident(&hop2))).await?;
        }
        for t in &spec.tables {
            // The hand-off staging table first: its trigger uses the stage function.
            super::handoff::drop_boundary_stage(&mut b, &names, &t.schema, &t.name).await?;
            boundary::drop_stage(&mut b, &names, &t.schema, &t.name).await?;
        }
        let role = "SELECT 1 FROM pg_roles r WHERE rolname = $1 AND shobj_description(r.oid, 'pg_authid') = $2";
        if exists(&bclient, "role", role, &[&spec.login, &names.mark()]).await? {
            let l = quote_ident(&spec.login);
            // DROP OWNED revokes its grants here and on shared objects (databases).
            b.run("drop replication login", &format!("DROP OWNED BY {l}; DROP ROLE {l}")).await?;
        }
    }
    let source = session(&admin.with_dbname(&spec.source_database)).await?;
    let mut s = Exec { client: &source, database: spec.source_database.clone(), actions: &mut actions };
    if exists(&source, "publication", "SELECT 1 FROM pg_publication WHERE pubname = $1", &[&hop1]).await? {
        s.run("drop hop-1 publication", &format!("DROP PUBLICATION {}", quote_ident(&hop1))).await?;
    }
    if exists(&source, "slot", "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", &[&hop1])
        .await?
    {
        s.run("drop hop-1 slot", &format!("SELECT pg_drop_replication_slot({})", quote_literal(&hop1))).await?;
    }
    for t in &spec.tables {
        super::handoff::drop_source(&mut s, &names, &t.schema, &t.name).await?;
    }
    Ok(actions)
}

/// Drop the boundary database when no replica uses it any more (no table in it
/// carries a replica mark). Returns the actions executed.
pub async fn drop_boundary(admin: &ConnParams) -> Result<Vec<Action>, SqlError> {
    let mut actions = Vec::new();
    let client = session(admin).await?;
    if !exists(&client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await? {
        return Ok(actions);
    }
    let b = session(&admin.with_dbname(BOUNDARY_DB)).await?;
    let used = "SELECT 1 FROM pg_class c WHERE obj_description(c.oid, 'pg_class') LIKE 'regionstack:%' UNION ALL SELECT 1 FROM pg_subscription";
    if exists(&b, "replicas", used, &[]).await? {
        return Err(SqlError::Invalid(format!("{BOUNDARY_DB} is still used by a replica")));
    }
    drop(b);
    // FORCE terminates the scope's cached sessions to it: forget them first.
    crate::session::evict_database(&admin.with_dbname(BOUNDARY_DB));
    let mut ex = Exec { client: &client, database: admin.dbname.clone(), actions: &mut actions };
    ex.run("drop boundary database", &format!("DROP DATABASE {} WITH (FORCE)", quote_ident(BOUNDARY_DB))).await?;
    Ok(actions)
}

/// Drop the hop-2 slots that the targets' subscriptions created in the boundary
/// database (named [`Names::import_subscription`]), terminating their walsenders
/// first. A target normally drops its slot when its subscription is dropped; when the
/// source is torn down first (or the target never is), the slot would retain WAL
/// without bound. Run it after [`teardown_export`]: the login is gone then, so the
/// subscriber cannot reconnect and re-acquire the slot. Returns the actions executed.
pub async fn drop_target_slots(
    admin: &ConnParams,
    replica: &str,
    target_regions: &[String],
) -> Result<Vec<Action>, SqlError> {
    let names = Names::new(replica);
    let mut actions = Vec::new();
    let admin_client = session(admin).await?;
    if !exists(&admin_client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await? {
        return Ok(actions);
    }
    let b = session(&admin.with_dbname(BOUNDARY_DB)).await?;
    let mut ex = Exec { client: &b, database: BOUNDARY_DB.to_owned(), actions: &mut actions };
    for region in target_regions {
        let slot = names.import_subscription(region);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let row = b
                .query_opt("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
                .await
                .map_err(SqlError::query("reading a target slot"))?;
            let Some(row) = row else { break };
            let pid: Option<i32> = row.get(0);
            if let Some(pid) = pid {
                // The walsender of a subscriber still streaming (or not yet gone).
                b.execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .map_err(SqlError::query("terminating a target's walsender"))?;
            } else {
                let sql = format!("SELECT pg_drop_replication_slot({})", quote_literal(&slot));
                match ex.run(&format!("drop hop-2 slot {slot} of target {region}"), &sql).await {
                    Ok(()) => break,
                    // Re-acquired between the check and the drop: try again.
                    Err(e) if std::time::Instant::now() < deadline => tracing::debug!(error = %e, "slot busy"),
                    Err(e) => return Err(e),
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(SqlError::Invalid(format!("slot {slot} of target {region} stays active")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(actions)
}
