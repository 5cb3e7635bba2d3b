//! Audit of the source side of an export (DESIGN §6): the source database, the
//! boundary database and the server's `pg_hba.conf`, plus source schema drift.
//! Read-only: nothing here executes DDL. `apply_export` repairs an altered hop-1
//! publication; `pg_hba.conf` cannot be changed from SQL and is reported only.

use regionstack_api::reason::ReasonCode;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::export::ExportSpec;
use super::{BOUNDARY_DB, IMPORT_SCHEMA, MARK, Names, boundary, exists, hop1};
use crate::conn::ConnParams;
use crate::error::SqlError;
use crate::session::session;

/// One violation or drift found on the source side, for `status.violations[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `RogueReplication` (replication or an altered export) or `UnclassifiedColumn`
    /// (source schema drift).
    pub code: ReasonCode,
    /// Stable object label: `publication/<name>`, `hba/line <n>`,
    /// `column/<schema>.<table>.<column>`.
    pub object: String,
    /// What was found, for humans. Never a password or connection string.
    pub detail: String,
}

fn rogue(object: String, detail: String) -> Finding {
    Finding { code: ReasonCode::RogueReplication, object, detail }
}

/// A digest of every publication of the database `client` is connected to: options,
/// tables with their column lists and row filters, schemas; and of the columns (name,
/// type, dropped) of every published table and of every table carrying one of
/// regionstack's triggers (a hypertable source's hand-off trigger), so that a column
/// added to, dropped from or retyped in a source table is noticed too. One cheap
/// catalog query, polled by the operator between resyncs: a change is the cue to audit
/// now (an altered export, a new publication of a source table, source schema drift).
/// Changes nothing.
pub async fn publication_fingerprint(client: &Client) -> Result<String, SqlError> {
    const SQL: &str = "SELECT md5(concat_ws('|',
      (SELECT string_agg(a.attrelid::text || ':' || a.attnum::text || ':' || a.attname || ':'
              || a.atttypid::text || ':' || a.atttypmod::text || ':' || a.attisdropped::text, ','
              ORDER BY a.attrelid, a.attnum)
         FROM pg_catalog.pg_attribute a
        WHERE a.attnum > 0 AND a.attrelid IN (
              SELECT r.prrelid FROM pg_catalog.pg_publication_rel r
              UNION SELECT t.tgrelid FROM pg_catalog.pg_trigger t
                JOIN pg_catalog.pg_proc f ON f.oid = t.tgfoid
                JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
               WHERE fn.nspname LIKE 'regionstack%')),
      (SELECT string_agg(p.oid::text || ':' || p.pubname || ':' || p.puballtables::text || p.pubinsert::text
              || p.pubupdate::text || p.pubdelete::text || p.pubtruncate::text || p.pubviaroot::text, ','
              ORDER BY p.oid) FROM pg_catalog.pg_publication p),
      (SELECT string_agg(r.prpubid::text || ':' || r.prrelid::text || ':' || coalesce(r.prattrs::text, '*') || ':'
              || coalesce(pg_catalog.pg_get_expr(r.prqual, r.prrelid), ''), ',' ORDER BY r.oid)
         FROM pg_catalog.pg_publication_rel r),
      (SELECT string_agg(n.pnpubid::text || ':' || n.pnnspid::text, ',' ORDER BY n.oid)
         FROM pg_catalog.pg_publication_namespace n)))";
    let row = client.query_one(SQL, &[]).await.map_err(SqlError::query("publication fingerprint"))?;
    Ok(row.get(0))
}

/// Audit the source side of `spec` (`admin`: a superuser of the telemetry server):
/// - source database: every publication other than the hop-1 one that includes a
///   source table (explicitly, `FOR ALL TABLES` or `FOR TABLES IN SCHEMA`): row
///   filters of several publications are OR'ed, so one unfiltered publication voids
///   every filter. The hop-1 publication itself when its tables, column lists, row
///   filters or publish options no longer match what regionstack rendered ("export
///   altered");
/// - boundary database: any publication other than this replica's hop-2 one and other
///   replicas' hop-2 publications of their own export tables; the hop-2 publication
///   when it covers more than the export tables or publishes more than inserts;
/// - `pg_hba.conf`: a rule that would allow the hop-2 login a physical replication
///   connection (database `replication`, user `all`, the login or a `+group` it
///   belongs to, any method but `reject`). WAL is server-wide.
pub async fn audit_source(admin: &ConnParams, spec: &ExportSpec) -> Result<Vec<Finding>, SqlError> {
    let names = Names::new(&spec.replica);
    let mut findings = Vec::new();
    let source = session(&admin.with_dbname(&spec.source_database)).await?;
    source_publications(&source, spec, &names, &mut findings).await?;
    let admin_client = session(admin).await?;
    if exists(&admin_client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await? {
        let b = session(&admin.with_dbname(BOUNDARY_DB)).await?;
        boundary_publications(&b, spec, &names, &mut findings).await?;
    }
    hba(&admin_client, &spec.login, &mut findings).await?;
    Ok(findings)
}

async fn source_publications(
    c: &Client,
    spec: &ExportSpec,
    names: &Names,
    findings: &mut Vec<Finding>,
) -> Result<(), SqlError> {
    let hop1 = names.hop1();
    let schemas: Vec<&str> = spec.tables.iter().map(|t| t.schema.as_str()).collect();
    let tables: Vec<&str> = spec.tables.iter().map(|t| t.name.as_str()).collect();
    let rows = c
        .query(
            "SELECT pt.pubname::text, bool_or(p.puballtables),
                    string_agg(quote_ident(pt.schemaname) || '.' || quote_ident(pt.tablename), ', ' ORDER BY 1)
             FROM pg_publication_tables pt JOIN pg_publication p ON p.pubname = pt.pubname
             WHERE pt.pubname <> $1
               AND (pt.schemaname::text, pt.tablename::text) IN (SELECT * FROM unnest($2::text[], $3::text[]))
             GROUP BY pt.pubname ORDER BY 1",
            &[&hop1, &schemas, &tables],
        )
        .await
        .map_err(SqlError::query("auditing publications of the source tables"))?;
    for r in rows {
        let (name, all, list): (String, bool, String) = (r.get(0), r.get(1), r.get(2));
        let scope = if all { "FOR ALL TABLES, " } else { "" };
        findings.push(rogue(
            format!("publication/{name}"),
            format!(
                "publication {scope}includes source table(s) {list}: filters of publications are OR'ed, so it \
                 bypasses the export's row filter and column list"
            ),
        ));
    }
    if let Some(state) = hop1::read(c, &hop1).await? {
        // As hop 1 publishes them: hand-off tables in place of their source tables.
        let (_, plans) = super::handoff::hop1_plans(c, spec).await?;
        let d = hop1::drift(&state, &plans);
        if d.altered {
            findings.push(rogue(format!("publication/{hop1}"), format!("export altered: {}", d.reasons.join("; "))));
        }
    }
    Ok(())
}

async fn boundary_publications(
    c: &Client,
    spec: &ExportSpec,
    names: &Names,
    findings: &mut Vec<Finding>,
) -> Result<(), SqlError> {
    let hop2 = names.hop2();
    let rows = c
        .query(
            "SELECT p.pubname::text, p.puballtables,
                    EXISTS (SELECT 1 FROM pg_publication_namespace s WHERE s.pnpubid = p.oid),
                    p.pubupdate OR p.pubdelete OR p.pubtruncate,
                    coalesce(array_agg(pt.schemaname::text ORDER BY pt.tablename) FILTER (WHERE pt.tablename IS NOT NULL), '{}'),
                    coalesce(array_agg(pt.tablename::text ORDER BY pt.tablename) FILTER (WHERE pt.tablename IS NOT NULL), '{}'),
                    coalesce(array_agg(coalesce(obj_description(to_regclass(quote_ident(pt.schemaname) || '.' ||
                        quote_ident(pt.tablename)), 'pg_class'), '') ORDER BY pt.tablename)
                        FILTER (WHERE pt.tablename IS NOT NULL), '{}')
             FROM pg_publication p LEFT JOIN pg_publication_tables pt ON pt.pubname = p.pubname
             GROUP BY p.oid, p.pubname ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing boundary publications"))?;
    let ours: Vec<String> = spec.tables.iter().map(|t| names.export_table(&t.schema, &t.name)).collect();
    for r in rows {
        let (name, all, schemas, more): (String, bool, bool, bool) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let (nsp, rel, marks): (Vec<String>, Vec<String>, Vec<String>) = (r.get(4), r.get(5), r.get(6));
        let exports_only = !all && !schemas && nsp.iter().all(|s| s == IMPORT_SCHEMA);
        if name == hop2 {
            let extra: Vec<&String> = rel.iter().filter(|t| !ours.contains(t)).collect();
            if !exports_only || more || !extra.is_empty() {
                findings.push(rogue(
                    format!("publication/{name}"),
                    format!(
                        "export altered: the hop-2 publication must publish inserts of this replica's export tables \
                         only (all tables: {all}, schemas: {schemas}, update/delete/truncate: {more}, other tables: {extra:?})"
                    ),
                ));
            }
            continue;
        }
        // Another replica's hop-2 publication: only its own export tables.
        let other = marks.first().and_then(|m| m.strip_prefix(MARK)).filter(|r| *r != spec.replica);
        let legit = exports_only
            && !rel.is_empty()
            && other
                .is_some_and(|o| Names::new(o).hop2() == name && marks.iter().all(|m| m.strip_prefix(MARK) == Some(o)));
        if !legit {
            let what = if all { "FOR ALL TABLES (the HMAC key table included)".to_owned() } else { format!("{rel:?}") };
            findings.push(rogue(
                format!("publication/{name}"),
                format!("publication in the boundary database {BOUNDARY_DB} other than a hop-2 export: {what}"),
            ));
        }
    }
    Ok(())
}

/// `pg_hba.conf` rules (as the file reads now, including lines the server reports as
/// erroneous, such as `hostssl` while SSL is off) that would let `login` open a physical
/// replication connection.
async fn hba(c: &Client, login: &str, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    let rows = c
        .query(
            "SELECT line_number, type, array_to_string(user_name, ','), coalesce(address, ''), auth_method
             FROM pg_hba_file_rules
             WHERE auth_method IS DISTINCT FROM 'reject' AND 'replication' = ANY (database)
               AND EXISTS (SELECT 1 FROM unnest(user_name) u WHERE u = 'all' OR u = $1
                   OR (left(u, 1) = '+' AND pg_has_role((SELECT oid FROM pg_roles WHERE rolname = $1),
                                                         (SELECT oid FROM pg_roles WHERE rolname = substr(u, 2)), 'MEMBER')))
             ORDER BY line_number",
            &[&login],
        )
        .await
        .map_err(SqlError::query("auditing pg_hba_file_rules"))?;
    for r in rows {
        let (line, kind, users, addr, method): (i32, String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        findings.push(rogue(
            format!("hba/line {line}"),
            format!(
                "pg_hba.conf line {line} ({kind} replication {users} {addr} {method}) would allow the hop-2 login \
                 {login:?} physical replication (all WAL of the server); add a reject rule before it"
            ),
        ));
    }
    Ok(())
}

/// Source schema drift of `spec`'s tables, compared with the rules and with the
/// staging tables last rendered in the boundary database:
/// - a source column the spec does not declare: not exported, reported;
/// - a declared column no longer in the source: reported; `apply_export` re-renders
///   the export without it;
/// - an exported column whose type differs from its staging column: reported;
///   `apply_export` re-renders staging, export table and trigger function.
///
/// All are `UnclassifiedColumn`.
pub async fn check_source_schema(admin: &ConnParams, spec: &ExportSpec) -> Result<Vec<Finding>, SqlError> {
    let source = session(&admin.with_dbname(&spec.source_database)).await?;
    let admin_client = session(admin).await?;
    let b = if exists(&admin_client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await? {
        Some(session(&admin.with_dbname(BOUNDARY_DB)).await?)
    } else {
        None
    };
    let mut findings = Vec::new();
    for t in &spec.tables {
        let cols = boundary::source_columns(&source, &t.schema, &t.name).await?;
        let staged = match &b {
            Some(b) => boundary::table_shape(b, &t.schema, &t.name).await?,
            None => Vec::new(),
        };
        let label = |c: &str| format!("column/{}.{}.{c}", t.schema, t.name);
        let drift = |object: String, detail: String| Finding { code: ReasonCode::UnclassifiedColumn, object, detail };
        for c in &cols {
            if !t.columns.iter().any(|r| r.name == c.name) {
                findings.push(drift(
                    label(&c.name),
                    format!("column {:?} ({}) has no rule in the spec: it is not exported", c.name, c.type_sql),
                ));
            } else if let Some((_, staged_type)) = staged.iter().find(|(n, _)| *n == c.name)
                && *staged_type != c.type_sql
            {
                findings.push(drift(
                    label(&c.name),
                    format!(
                        "column {:?} was retyped from {staged_type} to {}: the export is re-rendered",
                        c.name, c.type_sql
                    ),
                ));
            }
        }
        for r in &t.columns {
            if !cols.iter().any(|c| c.name == r.name) {
                findings.push(drift(
                    label(&r.name),
                    format!(
                        "declared column {:?} was removed from the source: the export is re-rendered without it",
                        r.name
                    ),
                ));
            }
        }
    }
    Ok(findings)
}

/// Refuse declared columns that are not in the source table, unless the export was
/// rendered with them before (they were removed from the source since: `apply_export`
/// re-renders without them). A first apply refuses every unknown column; later, an
/// exported (not `drop`) rule must name a column the staging table has. Read-only:
/// runs before any statement of `apply_export`.
pub(crate) async fn refuse_unknown_columns(
    admin: &ConnParams,
    source: &Client,
    spec: &ExportSpec,
) -> Result<(), SqlError> {
    let admin_client = session(admin).await?;
    let b = if exists(&admin_client, "db", "SELECT 1 FROM pg_database WHERE datname = $1", &[BOUNDARY_DB]).await? {
        Some(session(&admin.with_dbname(BOUNDARY_DB)).await?)
    } else {
        None
    };
    for t in &spec.tables {
        let cols = boundary::source_columns(source, &t.schema, &t.name).await?;
        let staged = match &b {
            Some(b) => boundary::table_shape(b, &t.schema, &t.name).await?,
            None => Vec::new(),
        };
        for r in &t.columns {
            if cols.iter().any(|c| c.name == r.name) {
                continue;
            }
            let was_staged = staged.iter().any(|(n, _)| *n == r.name);
            let dropped = matches!(r.resolve(), Ok(regionstack_api::telemetry::Transform::Drop));
            if staged.is_empty() || !(was_staged || dropped) {
                return Err(SqlError::Invalid(format!(
                    "column {:?} is not a column of {}.{}",
                    r.name, t.schema, t.name
                )));
            }
        }
    }
    Ok(())
}
