//! Hop 1 through a hand-off table, for sources that cannot be published directly
//! (DESIGN §6: a TimescaleDB hypertable's rows live in chunks, which a publication
//! of the hypertable does not include), and hypertable detection on both sides.
//!
//! For a table in hand-off mode, the source database gets, in schema
//! [`HANDOFF_SCHEMA`] (no privileges for PUBLIC):
//! - a plain, logged **hand-off table** with the needed raw columns (those whose rule
//!   is not `drop`), named by [`Names::handoff_table`]. The hop-1 publication lists
//!   it instead of the source table, and because PostgreSQL 15 matches published
//!   tables by schema-qualified name, the boundary database's staging table is
//!   `regionstack_handoff.<hand-off table>` too (see [`published`]); the export table
//!   keeps the source table's name, so the import side does not see the difference;
//! - an `AFTER INSERT … FOR EACH ROW` trigger on the source table (TimescaleDB clones
//!   it onto every chunk) whose SECURITY DEFINER function, pinned with
//!   `SET search_path = pg_catalog, pg_temp`, inserts NEW's needed columns. Rows
//!   are filtered **in the trigger** with the rendered row filter, evaluated over
//!   `(SELECT NEW.*)`: only rows that will be exported are ever copied, filter-only
//!   columns are never copied, and the publication of the hand-off table carries no
//!   WHERE (its columns could not express the filter anyway);
//! - a non-transactional **lost-row counter** (a sequence, [`Names::handoff_lost`]).
//!
//! Choices, and why:
//! - **AFTER, not BEFORE**: the row handed off is the row stored, after every BEFORE
//!   trigger, and a row skipped by `ON CONFLICT DO NOTHING` is not exported — as
//!   with a direct publication (`publish = 'insert'`).
//! - **plain `ENABLE` (origin), not `ENABLE ALWAYS`**: the trigger serves the
//!   application's own inserts, which run with `session_replication_role = origin`;
//!   a session that deliberately runs as `replica` (a restore or reload of history)
//!   is not re-exported, consistent with `copy_data = false` (no backfill). TimescaleDB
//!   also refuses `ALTER TABLE … ENABLE/DISABLE TRIGGER` on hypertables (timescale/
//!   timescaledb#4757, still with columnstore in 2.27), so a disabled trigger is
//!   repaired by dropping and creating it, never by `ALTER TABLE`. Difference from a
//!   direct publication: rows that a subscription's apply worker writes into the
//!   source table are not handed off.
//! - **errors are swallowed** ("hop 1 must never make the application's own writes
//!   fail"): the INSERT runs in a sub-block whose handler counts the row in the
//!   lost-row counter (a sequence survives the rollback), raises one WARNING per
//!   transaction (a transaction-local setting, so a bulk insert does not flood the
//!   client) and `NOTIFY`s [`HANDOFF_CHANNEL`] so the operator audits at once; the
//!   handler itself is guarded. Loss is therefore never silent: [`audit_handoff`]
//!   reports the broken pieces and the count, and [`apply`](super::export::apply_export)
//!   repairs them and acknowledges the count in an [`Action`](super::Action). The price is one
//!   subtransaction per row (measured ≈20 % on a 200k-row `INSERT … SELECT`); a
//!   transaction inserting more than 64 rows overflows the per-backend subxid cache
//!   for its duration — acceptable for telemetry's short transactions, to be watched
//!   with large `COPY` batches.
//! - **SECURITY DEFINER** (owner: the installing superuser, EXECUTE revoked from
//!   PUBLIC): application roles need no privilege on the hand-off table, so they
//!   cannot write into the export stream except through the source table. Trigger
//!   firing checks no EXECUTE privilege; creating a trigger with it does.
//! - the hand-off table is **pruned** with `DELETE` ([`prune_handoff`], also run by
//!   `prune::prune_confirmed`): decoding reads inserted tuples from WAL, and deletes are not
//!   published. `DELETE`, unlike `TRUNCATE`, never blocks the application's inserts.
//! - trigger DDL on the source table runs with `lock_timeout` so that a long
//!   transaction makes `apply` fail and retry instead of queueing the application's
//!   inserts behind the lock.

use regionstack_policy::row_filter::RowFilter;
use tokio_postgres::Client;

use super::boundary::StagePlan;
use super::export::{ExportSpec, plan_tables};
use super::transforms::SourceColumn;
use super::{Exec, Names, comment};
use crate::error::SqlError;
use crate::ident::{generated, quote_ident, quote_literal};

mod inspect;
mod teardown;

pub(crate) use inspect::check_import_target;
pub use inspect::{HandoffFinding, HandoffProblem, ImportRouting, audit_handoff, import_routing, is_hypertable};
pub use teardown::prune_handoff;
pub(crate) use teardown::{drop_boundary_stage, drop_source};

/// Schema of hand-off tables, their functions and counters (source database), and
/// of their staging tables (boundary database).
pub const HANDOFF_SCHEMA: &str = "regionstack_handoff";
/// `NOTIFY` channel raised (once per transaction) when a hand-off fails.
pub const HANDOFF_CHANNEL: &str = "regionstack_handoff";
/// Prefix of trigger DDL on a source table.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// Whether hop 1 goes through a hand-off table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HandoffMode {
    /// Hand-off for TimescaleDB hypertables, direct publication otherwise.
    #[default]
    Auto,
    /// Hand-off for every table (also plain ones).
    Always,
    /// Never; refused for a hypertable (its publication would carry no row).
    Never,
}

impl HandoffMode {
    /// Whether a table goes through a hand-off table.
    pub fn uses_handoff(self, table: &str, hypertable: bool) -> Result<bool, SqlError> {
        match (self, hypertable) {
            (HandoffMode::Always, _) | (HandoffMode::Auto, true) => Ok(true),
            (HandoffMode::Auto | HandoffMode::Never, false) => Ok(false),
            (HandoffMode::Never, true) => Err(SqlError::Invalid(format!(
                "{table} is a TimescaleDB hypertable: publishing it directly exports no row (chunks are not \
                 published); use hand-off mode Auto or Always"
            ))),
        }
    }
}

impl Names {
    /// Hand-off table (source database) and its staging table (boundary database),
    /// both in [`HANDOFF_SCHEMA`].
    pub fn handoff_table(&self, schema: &str, table: &str) -> String {
        generated("rs_handoff", &[&self.replica, schema, table])
    }

    /// Hand-off trigger function, in [`HANDOFF_SCHEMA`].
    pub fn handoff_function(&self, schema: &str, table: &str) -> String {
        generated("rs_handoff_fn", &[&self.replica, schema, table])
    }

    /// Lost-row counter (a sequence), in [`HANDOFF_SCHEMA`].
    pub fn handoff_lost(&self, schema: &str, table: &str) -> String {
        generated("rs_handoff_lost", &[&self.replica, schema, table])
    }

    /// Name of the hand-off trigger on a source table.
    pub fn handoff_trigger(&self) -> String {
        generated("rs_handoff", &[&self.replica])
    }
}

/// One source table exported through a hand-off table.
#[derive(Clone, Debug)]
pub struct HandoffPlan {
    /// Source schema.
    pub schema: String,
    /// Source table.
    pub table: String,
    /// Whether the source is a TimescaleDB hypertable (else hand-off was forced).
    pub hypertable: bool,
    /// Hand-off table, in [`HANDOFF_SCHEMA`].
    pub handoff_table: String,
    /// Trigger function, in [`HANDOFF_SCHEMA`].
    pub function: String,
    /// Lost-row counter, in [`HANDOFF_SCHEMA`].
    pub lost_counter: String,
    /// Trigger name on the source table.
    pub trigger: String,
    /// Needed raw columns (the hand-off table's columns).
    pub columns: Vec<SourceColumn>,
    /// Row filter, applied in the trigger.
    pub filter: Option<RowFilter>,
}

impl HandoffPlan {
    /// `"schema"."table"` of the source table.
    pub fn source(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    fn in_schema(name: &str) -> String {
        format!("{}.{}", quote_ident(HANDOFF_SCHEMA), quote_ident(name))
    }

    /// Qualified hand-off table.
    pub fn qualified_table(&self) -> String {
        Self::in_schema(&self.handoff_table)
    }

    /// Qualified function, with its (empty) argument list.
    pub fn qualified_function(&self) -> String {
        format!("{}()", Self::in_schema(&self.function))
    }

    fn qualified_counter(&self) -> String {
        Self::in_schema(&self.lost_counter)
    }
}

/// Decide per table whether hop 1 goes through a hand-off table (`mode`, and for
/// `Auto` the hypertable detection). Nothing is executed.
pub async fn plan_handoffs(
    source: &Client,
    names: &Names,
    mode: HandoffMode,
    plans: &[(StagePlan, Option<RowFilter>)],
) -> Result<Vec<HandoffPlan>, SqlError> {
    let mut out = Vec::new();
    for (p, filter) in plans {
        let hypertable = is_hypertable(source, &p.schema, &p.table).await?;
        if mode.uses_handoff(&format!("{}.{}", p.schema, p.table), hypertable)? {
            out.push(HandoffPlan {
                schema: p.schema.clone(),
                table: p.table.clone(),
                hypertable,
                handoff_table: names.handoff_table(&p.schema, &p.table),
                function: names.handoff_function(&p.schema, &p.table),
                lost_counter: names.handoff_lost(&p.schema, &p.table),
                trigger: names.handoff_trigger(),
                columns: p.needed.clone(),
                filter: filter.clone(),
            });
        }
    }
    Ok(out)
}

/// What hop 1 publishes and stages: for a hand-off table, the plan with the
/// hand-off table's location (the staging table in the boundary database must have
/// the published table's schema-qualified name) and no publication filter (the
/// trigger filtered already). Export table and stage function keep the source's
/// names.
pub fn published(
    plans: &[(StagePlan, Option<RowFilter>)],
    handoffs: &[HandoffPlan],
) -> Vec<(StagePlan, Option<RowFilter>)> {
    plans
        .iter()
        .map(|(p, f)| match handoffs.iter().find(|h| h.schema == p.schema && h.table == p.table) {
            Some(h) => {
                (StagePlan { schema: HANDOFF_SCHEMA.to_owned(), table: h.handoff_table.clone(), ..p.clone() }, None)
            }
            None => (p.clone(), f.clone()),
        })
        .collect()
}

/// Exported tables resolved as hop 1 sees them (`plan_tables`, then
/// [`plan_handoffs`] and [`published`]).
pub type Hop1Plans = Vec<(StagePlan, Option<RowFilter>)>;

/// Plan an export's tables for hop 1: `(hand-offs, published plans)`. Apply and
/// audit compare the hop-1 publication and the staging tables with the second.
pub async fn hop1_plans(source: &Client, spec: &ExportSpec) -> Result<(Vec<HandoffPlan>, Hop1Plans), SqlError> {
    let plans = plan_tables(source, spec).await?;
    let handoffs = plan_handoffs(source, &Names::new(&spec.replica), spec.handoff, &plans).await?;
    let published = published(&plans, &handoffs);
    Ok((handoffs, published))
}

/// The trigger function body (compared with `pg_proc.prosrc`).
pub fn function_body(h: &HandoffPlan) -> String {
    let cols = h.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let insert = match &h.filter {
        None => {
            let values = h.columns.iter().map(|c| format!("NEW.{}", quote_ident(&c.name))).collect::<Vec<_>>();
            format!("INSERT INTO {} ({cols}) VALUES ({})", h.qualified_table(), values.join(", "))
        }
        // The filter names the source table's columns: evaluate it over NEW as a row.
        Some(f) => format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM (SELECT NEW.*) AS r WHERE ({})",
            h.qualified_table(),
            f.to_sql()
        ),
    };
    let warned = quote_literal(&format!("regionstack.warned_{}", h.function));
    format!(
        "\n#variable_conflict use_column\nBEGIN\n  BEGIN\n    {insert};\n  EXCEPTION WHEN OTHERS THEN\n    BEGIN\n      \
         PERFORM pg_catalog.nextval({counter});\n      \
         IF pg_catalog.current_setting({warned}, true) IS DISTINCT FROM 'on' THEN\n        \
         PERFORM pg_catalog.set_config({warned}, 'on', true);\n        \
         RAISE WARNING 'regionstack: rows of %.% are not handed off for export (% %)', TG_TABLE_SCHEMA, TG_TABLE_NAME, SQLSTATE, SQLERRM;\n        \
         PERFORM pg_catalog.pg_notify({channel}, {table});\n      \
         END IF;\n    EXCEPTION WHEN OTHERS THEN NULL;\n    END;\n  END;\n  RETURN NULL;\nEND\n",
        counter = quote_literal(&h.qualified_counter()),
        channel = quote_literal(HANDOFF_CHANNEL),
        table = quote_literal(&h.handoff_table),
    )
}

fn column_defs(cols: &[SourceColumn]) -> String {
    cols.iter().map(|c| format!("{} {}", quote_ident(&c.name), c.type_sql)).collect::<Vec<_>>().join(", ")
}

/// Make the source-side objects of every hand-off conform (schema, table, counter,
/// function, trigger) and acknowledge lost rows. Runs before the hop-1 publication
/// is created or re-rendered from [`published`] plans, which list the hand-off
/// tables (a hand-off table dropped behind regionstack's back left the publication:
/// the re-render adds it back and refreshes the subscription).
pub(crate) async fn ensure_source(ex: &mut Exec<'_>, names: &Names, handoffs: &[HandoffPlan]) -> Result<(), SqlError> {
    let mark = names.mark();
    let schema = quote_ident(HANDOFF_SCHEMA);
    for h in handoffs {
        let state = inspect::inspect(ex.client, names, h).await?;
        let what = format!("{}.{}", h.schema, h.table);
        if !state.schema {
            let sql = format!(
                "CREATE SCHEMA {schema}; REVOKE ALL ON SCHEMA {schema} FROM PUBLIC; {}",
                comment("SCHEMA", &schema, super::MARK)
            );
            ex.run("create hand-off schema", &sql).await?;
        }
        let table = h.qualified_table();
        // Table changes and the function that writes them, in one transaction.
        let mut render = Vec::new();
        match state.table {
            None => {
                // Pruned continuously: vacuum after a fixed number of dead rows.
                render.push(format!(
                    "CREATE TABLE {table} ({}) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000); \
                     REVOKE ALL ON TABLE {table} FROM PUBLIC; {}",
                    column_defs(&h.columns),
                    comment("TABLE", &table, &mark)
                ));
            }
            Some(false) => {
                return Err(SqlError::Invalid(format!("{table} exists and was not created for this replica")));
            }
            // Reshaped in place (publication membership is kept): columns are added or
            // retyped (emptied: rows already inserted are in WAL), never dropped (an
            // older publication column list may still name them).
            Some(true) => render.extend(state.reshape.iter().map(|(name, type_sql, add)| {
                let c = quote_ident(name);
                if *add {
                    format!("ALTER TABLE {table} ADD COLUMN {c} {type_sql}")
                } else {
                    format!("ALTER TABLE {table} ALTER COLUMN {c} TYPE {type_sql} USING NULL")
                }
            })),
        }
        if !state.function_ok {
            let f = h.qualified_function();
            render.push(format!(
                "CREATE OR REPLACE FUNCTION {f} RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
                 SET search_path = pg_catalog, pg_temp AS {}; REVOKE ALL ON FUNCTION {f} FROM PUBLIC; {}",
                quote_literal(&function_body(h)),
                comment("FUNCTION", &f, &mark)
            ));
        }
        if !state.counter {
            // Before the function: its error handler counts into it.
            let counter = h.qualified_counter();
            let sql = format!("CREATE SEQUENCE {counter}; {}", comment("SEQUENCE", &counter, &mark));
            ex.run(&format!("create lost-row counter for {what}"), &sql).await?;
        }
        if !render.is_empty() {
            let sql = format!("{LOCK_TIMEOUT}; {}", render.join("; "));
            ex.run(&format!("render hand-off table and function for {what}"), &sql).await?;
        }
        if state.trigger != inspect::TriggerState::Ok {
            let (t, src) = (quote_ident(&h.trigger), h.source());
            let sql = format!(
                "{LOCK_TIMEOUT}; DROP TRIGGER IF EXISTS {t} ON {src}; \
                 CREATE TRIGGER {t} AFTER INSERT ON {src} FOR EACH ROW EXECUTE FUNCTION {}",
                h.qualified_function()
            );
            ex.run(&format!("create hand-off trigger on {what}"), &sql).await?;
        }
        if state.lost > 0 {
            let summary = format!(
                "acknowledge up to {} rows of {what} inserted while the hand-off was broken (not exported)",
                state.lost
            );
            ex.run(&summary, &format!("ALTER SEQUENCE {} RESTART", h.qualified_counter())).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use regionstack_policy::row_filter::RowFilter;

    use super::*;

    fn plan(filter: Option<&str>) -> HandoffPlan {
        let names = Names::new("device-metrics-eu-west-1");
        let col =
            |n: &str| SourceColumn { name: n.into(), type_sql: "text".into(), type_name: "text".into(), category: 'S' };
        HandoffPlan {
            schema: "public".into(),
            table: "device_metrics".into(),
            hypertable: false,
            handoff_table: names.handoff_table("public", "device_metrics"),
            function: names.handoff_function("public", "device_metrics"),
            lost_counter: names.handoff_lost("public", "device_metrics"),
            trigger: names.handoff_trigger(),
            columns: vec![col("device_id"), col("we\"ird")],
            filter: filter.map(|f| RowFilter::parse(f, None).unwrap()),
        }
    }

    #[test]
    fn modes() {
        assert!(HandoffMode::Auto.uses_handoff("t", true).unwrap());
        assert!(!HandoffMode::Auto.uses_handoff("t", false).unwrap());
        assert!(HandoffMode::Always.uses_handoff("t", false).unwrap());
        assert!(HandoffMode::Always.uses_handoff("t", true).unwrap());
        assert!(!HandoffMode::Never.uses_handoff("t", false).unwrap());
        assert!(HandoffMode::Never.uses_handoff("t", true).is_err());
        assert_eq!(HandoffMode::default(), HandoffMode::Auto);
    }

    #[test]
    fn names_fit_and_differ_per_replica() {
        let long = "x".repeat(63);
        let (a, b) = (Names::new("a"), Names::new("b"));
        for n in [a.handoff_table(&long, &long), a.handoff_function(&long, &long), a.handoff_lost(&long, &long)] {
            assert!(n.len() <= 63, "{n}");
        }
        assert_ne!(a.handoff_table("public", "t"), b.handoff_table("public", "t"));
        assert_ne!(a.handoff_trigger(), b.handoff_trigger());
        assert_ne!(a.handoff_table("public", "t"), a.handoff_lost("public", "t"));
    }

    #[test]
    fn body_swallows_counts_and_filters() {
        let body = function_body(&plan(None));
        assert!(body.contains("VALUES (NEW.\"device_id\", NEW.\"we\"\"ird\")"), "{body}");
        assert!(body.contains("EXCEPTION WHEN OTHERS THEN"), "{body}");
        assert!(body.contains("pg_catalog.nextval('\"regionstack_handoff\".\"rs_handoff_lost_"), "{body}");
        assert!(body.contains("RAISE WARNING"), "{body}");
        assert!(body.contains("RETURN NULL"), "{body}");
        let filtered = function_body(&plan(Some("firmware NOT LIKE 'dev-%' AND temperature < -1")));
        assert!(filtered.contains("FROM (SELECT NEW.*) AS r WHERE (((\"firmware\" NOT LIKE 'dev-%')"), "{filtered}");
        assert!(filtered.starts_with("\n#variable_conflict use_column\n"), "{filtered}");
    }

    #[test]
    fn published_swaps_location_and_drops_filter() {
        let h = plan(Some("firmware = 'x'"));
        let stage = StagePlan {
            schema: "public".into(),
            table: "device_metrics".into(),
            needed: h.columns.clone(),
            output: vec![],
            export_table: "rs_export".into(),
            function: "rs_stage".into(),
        };
        let other = StagePlan { table: "other".into(), ..stage.clone() };
        let filter = h.filter.clone();
        let out = published(&[(stage, filter.clone()), (other, filter)], std::slice::from_ref(&h));
        assert_eq!((out[0].0.schema.as_str(), out[0].0.table.as_str()), (HANDOFF_SCHEMA, h.handoff_table.as_str()));
        assert_eq!((out[0].0.export_table.as_str(), out[0].1.is_none()), ("rs_export", true));
        assert_eq!((out[1].0.table.as_str(), out[1].1.is_some()), ("other", true));
    }
}
