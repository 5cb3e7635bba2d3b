//! Removal and pruning of hand-off objects (source and boundary databases).

use super::{HANDOFF_SCHEMA, HandoffPlan, LOCK_TIMEOUT, inspect};
use crate::conn::ConnParams;
use crate::error::SqlError;
use crate::ident::{checked, quote_ident};
use crate::session::session;
use crate::telemetry::export::ExportSpec;
use crate::telemetry::{Exec, MARK, Names, exists};

/// Drop the staging table of a hand-off table in the boundary database (and the
/// schema when it is empty and regionstack's).
pub(crate) async fn drop_boundary_stage(
    ex: &mut Exec<'_>,
    names: &Names,
    schema: &str,
    table: &str,
) -> Result<(), SqlError> {
    let stage = HandoffPlan::in_schema(&names.handoff_table(schema, table));
    if inspect::marked(ex.client, &stage, &names.mark()).await? == Some(true) {
        ex.run(&format!("drop hand-off staging table of {schema}.{table}"), &format!("DROP TABLE {stage}")).await?;
    }
    drop_schema_if_empty(ex).await
}

async fn drop_schema_if_empty(ex: &mut Exec<'_>) -> Result<(), SqlError> {
    let s = "SELECT 1 FROM pg_namespace n WHERE nspname = $1 AND obj_description(n.oid, 'pg_namespace') = $2
             AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)
             AND NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)";
    if exists(ex.client, "hand-off schema", s, &[HANDOFF_SCHEMA, MARK]).await? {
        ex.run("drop hand-off schema", &format!("DROP SCHEMA {}", quote_ident(HANDOFF_SCHEMA))).await?;
    }
    Ok(())
}

/// Remove the hand-off trigger, function, table and counter of a source table
/// (only this replica's), then the schema when empty. The source table and its
/// rows are never touched.
pub(crate) async fn drop_source(ex: &mut Exec<'_>, names: &Names, schema: &str, table: &str) -> Result<(), SqlError> {
    let mark = names.mark();
    let src = format!("{}.{}", quote_ident(schema), quote_ident(table));
    let trigger = names.handoff_trigger();
    let f = HandoffPlan::in_schema(&names.handoff_function(schema, table));
    let q =
        "SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2 AND n.nspname = $3";
    if exists(ex.client, "hand-off trigger", q, &[&src, &trigger, HANDOFF_SCHEMA]).await? {
        let sql = format!("{LOCK_TIMEOUT}; DROP TRIGGER {} ON {src}", quote_ident(&trigger));
        ex.run(&format!("drop hand-off trigger on {schema}.{table}"), &sql).await?;
    }
    let f_q = "SELECT 1 WHERE to_regprocedure($1) IS NOT NULL AND obj_description(to_regprocedure($1), 'pg_proc') = $2";
    if exists(ex.client, "hand-off function", f_q, &[&format!("{f}()"), &mark]).await? {
        ex.run("drop hand-off function", &format!("DROP FUNCTION {f}()")).await?;
    }
    for (what, name) in [("TABLE", names.handoff_table(schema, table)), ("SEQUENCE", names.handoff_lost(schema, table))]
    {
        let rel = HandoffPlan::in_schema(&name);
        if inspect::marked(ex.client, &rel, &mark).await? == Some(true) {
            ex.run(
                &format!("drop hand-off {} of {schema}.{table}", what.to_lowercase()),
                &format!("DROP {what} {rel}"),
            )
            .await?;
        }
    }
    drop_schema_if_empty(ex).await
}

/// Delete hand-off rows (source database): committed inserts are in WAL, decoding
/// reads them from there, and deletes are not published. Returns rows deleted.
pub async fn prune_handoff(admin: &ConnParams, spec: &ExportSpec) -> Result<u64, SqlError> {
    let names = Names::new(&spec.replica);
    let client = session(&admin.with_dbname(&spec.source_database)).await?;
    let mut n = 0;
    for t in &spec.tables {
        checked("schema", &t.schema)?;
        checked("table", &t.name)?;
        let table = HandoffPlan::in_schema(&names.handoff_table(&t.schema, &t.name));
        if inspect::marked(&client, &table, &names.mark()).await? == Some(true) {
            n += client
                .execute(&format!("DELETE FROM {table}"), &[])
                .await
                .map_err(SqlError::query("pruning hand-off rows"))?;
        }
    }
    Ok(n)
}
