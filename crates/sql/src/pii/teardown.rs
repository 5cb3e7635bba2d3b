//! Removal of the guardrails: what [`super::install_guardrails`] created, and nothing
//! else (DESIGN I5: deleting a resource removes what regionstack built, never the
//! application's data).

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::guardrail::{self, GUARD_FUNCTION, NOTIFY_FUNCTION, SCHEMA, qualified_function};
use super::{Action, ActionKind, Outcome, PiiContext, db_message};
use crate::error::SqlError;
use crate::ident::quote_ident;

/// Drop the guardrail event triggers and functions, then the schema `regionstack` if
/// nothing else lives in it. Idempotent: returns no action when nothing is left.
///
/// Triggers and functions go in one implicit transaction (the triggers first, so the
/// notification trigger does not report its own removal). The schema is dropped
/// without `CASCADE`: when something that regionstack did not create lives in it, it
/// stays, and the returned action says so with [`Outcome::Skipped`].
pub async fn remove_guardrails(client: &Client, ctx: &PiiContext) -> Result<Vec<Action>, SqlError> {
    guardrail::check_session(client, ctx).await?;
    let triggers = [guardrail::GUARD_TRIGGER, guardrail::NOTIFY_TRIGGER, guardrail::NOTIFY_DROP_TRIGGER];
    let present_triggers: Vec<String> = client
        .query("SELECT evtname::text FROM pg_event_trigger WHERE evtname = ANY($1) ORDER BY 1", &[&triggers.as_slice()])
        .await
        .map_err(SqlError::query("reading guardrail event triggers"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let functions = [GUARD_FUNCTION, NOTIFY_FUNCTION];
    let present_functions: Vec<String> = client
        .query(
            "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
              WHERE n.nspname = $1 AND p.proname = ANY($2) AND p.pronargs = 0 ORDER BY 1",
            &[&SCHEMA, &functions.as_slice()],
        )
        .await
        .map_err(SqlError::query("reading guardrail functions"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let schema_present = client
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&SCHEMA])
        .await
        .map_err(SqlError::query("reading the guardrail schema"))?
        .is_some();

    let mut statements = Vec::new();
    let mut actions = Vec::new();
    let done =
        |kind, object: String, detail: &str| Action { kind, object, detail: detail.to_owned(), outcome: Outcome::Done };
    for name in &present_triggers {
        statements.push(format!("DROP EVENT TRIGGER IF EXISTS {}", quote_ident(name)));
        actions.push(done(ActionKind::DropEventTrigger, format!("event-trigger/{name}"), "event trigger dropped"));
    }
    for name in &present_functions {
        // No CASCADE: the triggers that use the functions are dropped just before.
        statements.push(format!("DROP FUNCTION IF EXISTS {}", qualified_function(name)));
        actions.push(done(ActionKind::DropFunction, format!("function/{SCHEMA}.{name}"), "function dropped"));
    }
    if !statements.is_empty() {
        client.batch_execute(&statements.join(";\n")).await.map_err(SqlError::query("removing the PII guardrails"))?;
    }
    if schema_present {
        let object = format!("schema/{SCHEMA}");
        match client.batch_execute(&format!("DROP SCHEMA IF EXISTS {}", quote_ident(SCHEMA))).await {
            Ok(()) => actions.push(done(ActionKind::DropSchema, object, "schema dropped")),
            Err(e) if e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST) => actions.push(Action {
                kind: ActionKind::DropSchema,
                object,
                detail: format!(
                    "schema left in place: it holds objects regionstack did not create ({})",
                    db_message(&e)
                ),
                outcome: Outcome::Skipped,
            }),
            Err(e) => return Err(SqlError::Query { context: "dropping the guardrail schema".into(), source: e }),
        }
    }
    Ok(actions)
}
