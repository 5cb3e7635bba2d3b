//! Read-only side of the hand-off: TimescaleDB detection, the catalog state of one
//! hand-off (shared by `apply` and the audit), the audit, and the import-side
//! decision never to subscribe into a hypertable.

use tokio_postgres::Client;

use super::{HANDOFF_SCHEMA, HandoffPlan, function_body, plan_handoffs};
use crate::conn::ConnParams;
use crate::error::SqlError;
use crate::ident::{checked, quote_ident};
use crate::session::session;
use crate::telemetry::export::{ExportSpec, plan_tables};
use crate::telemetry::{IMPORT_SCHEMA, Names, exists};

/// Whether `schema.table` is a TimescaleDB hypertable. The extension is checked
/// first and `timescaledb_information.hypertables` read only when it is installed,
/// so plain PostgreSQL (or a look-alike view without the extension) answers false.
pub async fn is_hypertable(client: &Client, schema: &str, table: &str) -> Result<bool, SqlError> {
    if !exists(client, "timescaledb", "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'", &[]).await? {
        return Ok(false);
    }
    let q = "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = $2";
    exists(client, "hypertable", q, &[schema, table]).await
}

/// `Some(is this replica's)` when the relation exists, `None` otherwise.
pub(crate) async fn marked(c: &Client, regclass: &str, mark: &str) -> Result<Option<bool>, SqlError> {
    let row = c
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL, coalesce(obj_description(to_regclass($1), 'pg_class'), '')",
            &[&regclass],
        )
        .await
        .map_err(SqlError::query("reading relation comment"))?;
    Ok(row.get::<_, bool>(0).then(|| row.get::<_, String>(1) == mark))
}

/// The hand-off trigger on the source table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TriggerState {
    /// AFTER INSERT FOR EACH ROW, enabled (origin or always), calling our function.
    Ok,
    /// Absent.
    Missing,
    /// Present but disabled, enabled for replica sessions only, or of another shape.
    Wrong,
}

/// Catalog state of one hand-off in the source database.
pub(crate) struct State {
    pub schema: bool,
    /// `Some(marked for this replica)` when the hand-off table exists.
    pub table: Option<bool>,
    /// Needed columns the hand-off table lacks (`true`) or has with another type.
    pub reshape: Vec<(String, String, bool)>,
    pub counter: bool,
    pub function_ok: bool,
    pub trigger: TriggerState,
    /// `Some(lists the hand-off table)` when the hop-1 publication exists.
    pub published: Option<bool>,
    /// Rows counted by the lost-row counter.
    pub lost: i64,
}

pub(crate) async fn inspect(c: &Client, names: &Names, h: &HandoffPlan) -> Result<State, SqlError> {
    let schema =
        exists(c, "hand-off schema", "SELECT 1 FROM pg_namespace WHERE nspname = $1", &[HANDOFF_SCHEMA]).await?;
    let table = marked(c, &h.qualified_table(), &names.mark()).await?;
    let shape = c
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&h.qualified_table()],
        )
        .await
        .map_err(SqlError::query("reading hand-off table shape"))?;
    let shape: Vec<(String, String)> = shape.iter().map(|r| (r.get(0), r.get(1))).collect();
    let reshape = h
        .columns
        .iter()
        .filter_map(|c| match shape.iter().find(|(n, _)| *n == c.name) {
            None => Some((c.name.clone(), c.type_sql.clone(), true)),
            Some((_, t)) if *t != c.type_sql => Some((c.name.clone(), c.type_sql.clone(), false)),
            Some(_) => None,
        })
        .collect();
    let counter = marked(c, &h.qualified_counter(), &names.mark()).await? == Some(true);
    let f = "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.proname = $2 AND p.prosrc = $3 AND p.prosecdef
             AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp']";
    let function_ok = exists(c, "hand-off function", f, &[HANDOFF_SCHEMA, &h.function, &function_body(h)]).await?;
    let trig = c
        .query_opt(
            // tgtype 5 = ROW | INSERT (AFTER, since the BEFORE bit is clear).
            "SELECT t.tgenabled IN ('O', 'A') AND t.tgtype = 5 AND t.tgfoid = to_regprocedure($3)
             FROM pg_trigger t WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2",
            &[&h.source(), &h.trigger, &h.qualified_function()],
        )
        .await
        .map_err(SqlError::query("reading the hand-off trigger"))?;
    let trigger = match trig.map(|r| r.get::<_, Option<bool>>(0)) {
        None => TriggerState::Missing,
        Some(Some(true)) => TriggerState::Ok,
        Some(_) => TriggerState::Wrong,
    };
    let published = c
        .query_opt(
            "SELECT EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = to_regclass($2))
             FROM pg_publication p WHERE p.pubname = $1",
            &[&names.hop1(), &h.qualified_table()],
        )
        .await
        .map_err(SqlError::query("reading the hop-1 publication"))?
        .map(|r| r.get::<_, bool>(0));
    let lost = if counter {
        let q = format!("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}", h.qualified_counter());
        c.query_one(&q, &[]).await.map_err(SqlError::query("reading the lost-row counter"))?.get(0)
    } else {
        0
    };
    Ok(State { schema, table, reshape, counter, function_ok, trigger, published, lost })
}

/// What is wrong with a hand-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoffProblem {
    /// The hand-off table is missing (or not regionstack's).
    TableMissing,
    /// It lacks a needed column or has it with another type (source schema drift).
    TableChanged,
    /// The trigger function is missing or differs.
    FunctionChanged,
    /// The trigger on the source table is missing.
    TriggerMissing,
    /// The trigger is disabled, replica-only, or of another shape.
    TriggerDisabled,
    /// The hop-1 publication does not list the hand-off table.
    NotPublished,
    /// The lost-row counter is missing.
    CounterMissing,
    /// Up to this many rows were inserted while the hand-off failed; they are not
    /// exported (the insert itself succeeded).
    RowsLost(i64),
}

/// One audit finding about a hand-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffFinding {
    /// Source table, `schema.table`.
    pub table: String,
    /// The problem; `apply_export` repairs every one and acknowledges `RowsLost`.
    pub problem: HandoffProblem,
}

/// Audit the hand-offs of an export in the source database (read-only). A table
/// whose mode resolves to a direct publication has no findings here.
pub async fn audit_handoff(admin: &ConnParams, spec: &ExportSpec) -> Result<Vec<HandoffFinding>, SqlError> {
    let names = Names::new(&spec.replica);
    let source = session(&admin.with_dbname(&spec.source_database)).await?;
    let plans = plan_tables(&source, spec).await?;
    let mut out = Vec::new();
    for h in plan_handoffs(&source, &names, spec.handoff, &plans).await? {
        let s = inspect(&source, &names, &h).await?;
        let mut found = |problem| out.push(HandoffFinding { table: format!("{}.{}", h.schema, h.table), problem });
        match s.table {
            Some(true) if !s.reshape.is_empty() => found(HandoffProblem::TableChanged),
            Some(true) => {}
            _ => found(HandoffProblem::TableMissing),
        }
        if !s.counter {
            found(HandoffProblem::CounterMissing);
        }
        if !s.function_ok {
            found(HandoffProblem::FunctionChanged);
        }
        match s.trigger {
            TriggerState::Ok => {}
            TriggerState::Missing => found(HandoffProblem::TriggerMissing),
            TriggerState::Wrong => found(HandoffProblem::TriggerDisabled),
        }
        if s.published != Some(true) {
            found(HandoffProblem::NotPublished);
        }
        if s.lost > 0 {
            found(HandoffProblem::RowsLost(s.lost));
        }
    }
    Ok(out)
}

/// Where an import's rows end up. The subscription always applies into the plain
/// import table regionstack created: the apply worker bypasses TimescaleDB's chunk
/// routing, so rows applied into a hypertable land in its root table where no query
/// sees them (DESIGN §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportRouting {
    /// Rows stay in the import table.
    ImportTable,
    /// The import table's `ENABLE ALWAYS` routing trigger moves each row into the
    /// destination with an ordinary INSERT, which TimescaleDB routes into chunks
    /// when the destination is a hypertable.
    Route {
        /// Whether the destination is a hypertable.
        hypertable: bool,
    },
}

/// The import decision: refuse when the table the subscription would apply into is
/// a hypertable; otherwise route into the destination when there is one.
pub fn import_routing(
    import_table_is_hypertable: bool,
    destination_is_hypertable: Option<bool>,
) -> Result<ImportRouting, SqlError> {
    if import_table_is_hypertable {
        return Err(SqlError::Invalid(format!(
            "an import table in {IMPORT_SCHEMA} is a TimescaleDB hypertable: a subscription must never apply into a \
             hypertable (rows would land in its root table); route into the hypertable with a destination instead"
        )));
    }
    Ok(destination_is_hypertable.map_or(ImportRouting::ImportTable, |hypertable| ImportRouting::Route { hypertable }))
}

/// Detect and decide for one import table (`name` in [`IMPORT_SCHEMA`]) and its
/// optional destination (`schema.table`, schema `public` when omitted).
pub(crate) async fn check_import_target(
    client: &Client,
    name: &str,
    destination: Option<&str>,
) -> Result<ImportRouting, SqlError> {
    let import = is_hypertable(client, IMPORT_SCHEMA, name).await?;
    let dest = match destination {
        None => None,
        Some(d) => {
            let (s, t) = d.split_once('.').unwrap_or(("public", d));
            checked("schema", s)?;
            checked("table", t)?;
            Some(is_hypertable(client, s, t).await?)
        }
    };
    let routing = import_routing(import, dest)?;
    tracing::debug!(table = %quote_ident(name), ?routing, "import routing");
    Ok(routing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_subscribes_into_a_hypertable() {
        assert!(import_routing(true, None).is_err());
        assert!(import_routing(true, Some(true)).is_err());
        assert!(import_routing(true, Some(false)).is_err());
        assert_eq!(import_routing(false, None).unwrap(), ImportRouting::ImportTable);
        assert_eq!(import_routing(false, Some(true)).unwrap(), ImportRouting::Route { hypertable: true });
        assert_eq!(import_routing(false, Some(false)).unwrap(), ImportRouting::Route { hypertable: false });
    }
}
