//! The guardrail objects: their expected definitions, the comparison with the catalog
//! (shared by [`install_guardrails`] and the audit), and their installation.

use std::fmt::Write as _;

use tokio_postgres::Client;

use super::{Action, ActionKind, Outcome, PiiContext};
use crate::error::SqlError;
use crate::ident::{quote_ident, quote_literal};

/// The schema holding the guardrail functions.
pub const SCHEMA: &str = "regionstack";
/// The event trigger that refuses replication DDL (`ddl_command_start`).
pub const GUARD_TRIGGER: &str = "regionstack_guard_replication";
/// The event trigger that notifies on replication DDL (`ddl_command_end`).
pub const NOTIFY_TRIGGER: &str = "regionstack_notify";
/// The event trigger that notifies on dropped replication objects (`sql_drop`).
pub const NOTIFY_DROP_TRIGGER: &str = "regionstack_notify_drop";

pub(super) const GUARD_FUNCTION: &str = "guard_replication";
pub(super) const NOTIFY_FUNCTION: &str = "notify_ddl";
/// `proconfig` as PostgreSQL stores `SET search_path = pg_catalog, pg_temp`.
const SEARCH_PATH_CONFIG: &str = "search_path=pg_catalog, pg_temp";
/// The command tags the guard refuses.
const GUARDED_TAGS: [&str; 4] =
    ["CREATE PUBLICATION", "ALTER PUBLICATION", "CREATE SUBSCRIPTION", "ALTER SUBSCRIPTION"];
/// Object types (as `pg_event_trigger_ddl_commands()` and
/// `pg_event_trigger_dropped_objects()` spell them) whose DDL is notified.
const NOTIFIED_TYPES: &str = "'publication', 'publication relation', 'publication namespace', 'subscription', \
                              'server', 'user mapping', 'foreign-data wrapper'";

/// The message the guard raises.
pub(super) fn refusal_message(ctx: &PiiContext) -> String {
    format!(
        "regionstack: PII database {} may not replicate outside region {} (DESIGN I1 PII stays home)",
        ctx.database, ctx.region
    )
}

fn guard_body(ctx: &PiiContext) -> String {
    format!(
        "
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = '42501',
    MESSAGE = {message},
    DETAIL = format('%s refused by event trigger {GUARD_TRIGGER}.', TG_TAG),
    HINT = 'Replication of a PII database is forbidden by its residency rule; see the PiiDatabase status.';
END
",
        message = quote_literal(&refusal_message(ctx)),
    )
}

fn notify_body() -> String {
    let filter = |alias: &str| {
        format!(
            "{alias}.object_type IN ({NOTIFIED_TYPES}) OR {alias}.schema_name = '{SCHEMA}' \
             OR ({alias}.object_type = 'schema' AND {alias}.object_identity = '{SCHEMA}')"
        )
    };
    let label =
        |alias: &str| format!("left({alias}.object_type || ' ' || coalesce({alias}.object_identity, '?'), 200)");
    format!(
        "
DECLARE
  objs text[];
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    SELECT array_agg({drop_label}) INTO objs FROM pg_event_trigger_dropped_objects() AS d WHERE {drop_filter};
  ELSE
    SELECT array_agg({cmd_label}) INTO objs FROM pg_event_trigger_ddl_commands() AS c WHERE {cmd_filter};
  END IF;
  IF objs IS NOT NULL THEN
    PERFORM pg_notify('{channel}', json_build_object(
      'database', current_database(), 'event', TG_EVENT, 'tag', TG_TAG,
      'objects', objs[1:20], 'count', cardinality(objs))::text);
  END IF;
END
",
        drop_label = label("d"),
        drop_filter = filter("d"),
        cmd_label = label("c"),
        cmd_filter = filter("c"),
        channel = super::CHANNEL,
    )
}

/// One step towards the expected guardrails: what is wrong, and the SQL that fixes it.
#[derive(Debug)]
pub(super) struct Step {
    pub(super) kind: ActionKind,
    pub(super) object: String,
    /// What is wrong (audit finding detail).
    pub(super) problem: String,
    pub(super) sql: String,
}

struct FunctionSpec {
    name: &'static str,
    body: String,
}

struct TriggerSpec {
    name: &'static str,
    event: &'static str,
    function: &'static str,
    tags: &'static [&'static str],
}

const TRIGGERS: [TriggerSpec; 3] = [
    TriggerSpec { name: GUARD_TRIGGER, event: "ddl_command_start", function: GUARD_FUNCTION, tags: &GUARDED_TAGS },
    TriggerSpec { name: NOTIFY_TRIGGER, event: "ddl_command_end", function: NOTIFY_FUNCTION, tags: &[] },
    TriggerSpec { name: NOTIFY_DROP_TRIGGER, event: "sql_drop", function: NOTIFY_FUNCTION, tags: &[] },
];

pub(super) fn qualified_function(name: &str) -> String {
    format!("{}.{}()", quote_ident(SCHEMA), quote_ident(name))
}

fn create_function_sql(f: &FunctionSpec) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {} RETURNS event_trigger LANGUAGE plpgsql \
         SET search_path = pg_catalog, pg_temp AS {}",
        qualified_function(f.name),
        quote_literal(&f.body)
    )
}

fn create_trigger_sql(t: &TriggerSpec) -> String {
    let mut sql = format!("CREATE EVENT TRIGGER {} ON {}", quote_ident(t.name), t.event);
    if !t.tags.is_empty() {
        let tags: Vec<String> = t.tags.iter().map(|tag| quote_literal(tag)).collect();
        let _ = write!(sql, " WHEN TAG IN ({})", tags.join(", "));
    }
    let _ = write!(
        sql,
        " EXECUTE FUNCTION {}; ALTER EVENT TRIGGER {} ENABLE ALWAYS",
        qualified_function(t.function),
        quote_ident(t.name)
    );
    sql
}

/// Refuse to act for the wrong database or without superuser rights.
pub(super) async fn check_session(client: &Client, ctx: &PiiContext) -> Result<(), SqlError> {
    ctx.validate()?;
    let row = client
        .query_one("SELECT current_database()::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)", &[])
        .await
        .map_err(SqlError::query("checking the session"))?;
    let (db, superuser): (String, Option<bool>) = (row.get(0), row.get(1));
    if db != ctx.database {
        return Err(SqlError::Invalid(format!(
            "connected to database {db:?}, expected PII database {:?}",
            ctx.database
        )));
    }
    if superuser != Some(true) {
        return Err(SqlError::Invalid("guardrails need a superuser session (event triggers)".into()));
    }
    Ok(())
}

/// Compare the catalog with the expected guardrails; empty when all is in place.
pub(super) async fn plan(client: &Client, ctx: &PiiContext) -> Result<Vec<Step>, SqlError> {
    let mut steps = Vec::new();
    plan_schema(client, &mut steps).await?;
    plan_functions(client, ctx, &mut steps).await?;
    plan_triggers(client, &mut steps).await?;
    Ok(steps)
}

fn q(what: &str) -> impl FnOnce(tokio_postgres::Error) -> SqlError {
    SqlError::query(format!("reading guardrail {what}"))
}

async fn plan_schema(client: &Client, steps: &mut Vec<Step>) -> Result<(), SqlError> {
    let schema = client
        .query_opt(
            "SELECT r.rolsuper FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1",
            &[&SCHEMA],
        )
        .await
        .map_err(q("schema"))?;
    let object = format!("schema/{SCHEMA}");
    match schema.map(|r| r.get::<_, bool>(0)) {
        None => steps.push(Step {
            kind: ActionKind::InstallSchema,
            object,
            problem: "schema is missing".into(),
            sql: format!("CREATE SCHEMA {}", quote_ident(SCHEMA)),
        }),
        Some(false) => steps.push(Step {
            kind: ActionKind::InstallSchema,
            object,
            problem: "schema is owned by a role that is not a superuser".into(),
            sql: format!("ALTER SCHEMA {} OWNER TO CURRENT_USER", quote_ident(SCHEMA)),
        }),
        Some(true) => {}
    }
    Ok(())
}

async fn plan_functions(client: &Client, ctx: &PiiContext, steps: &mut Vec<Step>) -> Result<(), SqlError> {
    let functions = [
        FunctionSpec { name: GUARD_FUNCTION, body: guard_body(ctx) },
        FunctionSpec { name: NOTIFY_FUNCTION, body: notify_body() },
    ];
    for f in &functions {
        let row = client
            .query_opt(
                "SELECT p.prosrc, p.proconfig, p.prosecdef, l.lanname::text, r.rolsuper, \
                        p.prorettype = 'event_trigger'::regtype \
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                   JOIN pg_language l ON l.oid = p.prolang JOIN pg_roles r ON r.oid = p.proowner \
                  WHERE n.nspname = $1 AND p.proname = $2 AND p.pronargs = 0",
                &[&SCHEMA, &f.name],
            )
            .await
            .map_err(q("function"))?;
        let object = format!("function/{SCHEMA}.{}", f.name);
        let mut sql = create_function_sql(f);
        let problem = match row {
            None => Some("function is missing".to_owned()),
            Some(row) => {
                let (src, config, secdef, lang, owner_super, rettype_ok): (
                    String,
                    Option<Vec<String>>,
                    bool,
                    String,
                    bool,
                    bool,
                ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
                if !rettype_ok || lang != "plpgsql" {
                    // CREATE OR REPLACE cannot change the return type or language.
                    sql = format!("DROP FUNCTION {} CASCADE; {sql}", qualified_function(f.name));
                    Some("function has the wrong return type or language".to_owned())
                } else if src != f.body || secdef || config.as_deref() != Some(&[SEARCH_PATH_CONFIG.to_owned()]) {
                    Some("function definition differs from the expected one".to_owned())
                } else if !owner_super {
                    sql = format!("ALTER FUNCTION {} OWNER TO CURRENT_USER", qualified_function(f.name));
                    Some("function is owned by a role that is not a superuser".to_owned())
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            if !sql.starts_with("ALTER") {
                let _ = write!(sql, "; ALTER FUNCTION {} OWNER TO CURRENT_USER", qualified_function(f.name));
            }
            steps.push(Step { kind: ActionKind::InstallFunction, object, problem, sql });
        }
    }
    Ok(())
}

async fn plan_triggers(client: &Client, steps: &mut Vec<Step>) -> Result<(), SqlError> {
    // A function that is (re)created by DROP … CASCADE takes its triggers with it.
    let recreated: Vec<String> = steps
        .iter()
        .filter(|s| s.sql.starts_with("DROP FUNCTION"))
        .filter_map(|s| s.object.rsplit('.').next().map(str::to_owned))
        .collect();

    for t in &TRIGGERS {
        let row = client
            .query_opt(
                "SELECT e.evtevent::text, e.evtenabled::text, e.evtfoid = to_regprocedure($2), \
                        coalesce(e.evttags, '{}') \
                   FROM pg_event_trigger e WHERE e.evtname = $1",
                &[&t.name, &format!("{SCHEMA}.{}()", t.function)],
            )
            .await
            .map_err(q("event trigger"))?;
        let object = format!("event-trigger/{}", t.name);
        let recreate = format!("DROP EVENT TRIGGER IF EXISTS {}; {}", quote_ident(t.name), create_trigger_sql(t));
        let step = match row {
            None => {
                Some((ActionKind::InstallEventTrigger, "event trigger is missing".to_owned(), create_trigger_sql(t)))
            }
            Some(_) if recreated.iter().any(|f| f == t.function) => Some((
                ActionKind::InstallEventTrigger,
                "event trigger's function is being recreated".to_owned(),
                recreate,
            )),
            Some(row) => {
                let (event, enabled, function_ok, mut tags): (String, String, Option<bool>, Vec<String>) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                tags.sort();
                let mut expected: Vec<String> = t.tags.iter().map(|s| (*s).to_owned()).collect();
                expected.sort();
                if event != t.event || function_ok != Some(true) || tags != expected {
                    Some((ActionKind::InstallEventTrigger, "event trigger definition differs".to_owned(), recreate))
                } else if enabled != "A" {
                    let state = match enabled.as_str() {
                        "D" => "disabled",
                        "R" => "enabled for replica sessions only",
                        _ => "not enabled ALWAYS",
                    };
                    let sql = format!("ALTER EVENT TRIGGER {} ENABLE ALWAYS", quote_ident(t.name));
                    Some((ActionKind::EnableEventTrigger, format!("event trigger is {state}"), sql))
                } else {
                    None
                }
            }
        };
        if let Some((kind, problem, sql)) = step {
            steps.push(Step { kind, object, problem, sql });
        }
    }
    Ok(())
}

/// Install the guardrails idempotently (see the module documentation). All steps run
/// in one implicit transaction: either every step is applied or none. Returns the
/// actions taken: none when everything was already in place.
pub async fn install_guardrails(client: &Client, ctx: &PiiContext) -> Result<Vec<Action>, SqlError> {
    check_session(client, ctx).await?;
    let steps = plan(client, ctx).await?;
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let batch: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
    client.batch_execute(&batch.join(";\n")).await.map_err(SqlError::query("installing the PII guardrails"))?;
    Ok(steps
        .into_iter()
        .map(|s| Action {
            kind: s.kind,
            object: s.object,
            detail: format!("{}: repaired", s.problem),
            outcome: Outcome::Done,
        })
        .collect())
}
