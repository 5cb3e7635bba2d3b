//! Repair of audit findings (Enforce) or their report (Audit).

use std::time::Duration;

use tokio_postgres::Client;

use super::{Action, ActionKind, Finding, Mode, Outcome, PiiContext, Target, db_message, guardrail};
use crate::error::SqlError;
use crate::ident::quote_ident;

/// How long a terminated walsender may take to exit before its slot is dropped.
const TERMINATE_TIMEOUT_MS: i64 = 5_000;

fn kind_of(target: &Target) -> ActionKind {
    match target {
        Target::Publication(_) => ActionKind::DropPublication,
        Target::Subscription(_) => ActionKind::DropSubscription,
        Target::Slot(_) => ActionKind::DropSlot,
        Target::Walsender(_) => ActionKind::TerminateWalsender,
        Target::ForeignServer(_) => ActionKind::DropForeignServer,
        Target::HbaLine(_) => ActionKind::ReportOnly,
        Target::Guardrail(object) if object.starts_with("schema/") => ActionKind::InstallSchema,
        Target::Guardrail(object) if object.starts_with("function/") => ActionKind::InstallFunction,
        Target::Guardrail(_) => ActionKind::InstallEventTrigger,
    }
}

/// Order of repair: close the door first (guardrails), then stop what is streaming,
/// then remove the objects.
fn rank(target: &Target) -> u8 {
    match target {
        Target::Guardrail(_) => 0,
        Target::Walsender(_) => 1,
        Target::Slot(_) => 2,
        Target::Subscription(_) => 3,
        Target::Publication(_) => 4,
        Target::ForeignServer(_) => 5,
        Target::HbaLine(_) => 6,
    }
}

/// Repair (Enforce) or report (Audit) the findings of [`super::audit`]. In Audit mode
/// no statement that changes anything is sent. A failing repair is recorded as an
/// [`Outcome::Failed`] action and the others still run; `Err` only when the session
/// itself is unusable.
pub async fn repair(
    client: &Client,
    ctx: &PiiContext,
    mode: Mode,
    findings: &[Finding],
) -> Result<Vec<Action>, SqlError> {
    let mut ordered: Vec<&Finding> = findings.iter().collect();
    ordered.sort_by_key(|f| rank(&f.target));
    if mode == Mode::Audit {
        return Ok(ordered
            .into_iter()
            .map(|f| Action {
                kind: kind_of(&f.target),
                object: f.object.clone(),
                detail: format!("audit mode: {} reported, not repaired", f.code),
                outcome: Outcome::Skipped,
            })
            .collect());
    }
    guardrail::check_session(client, ctx).await?;
    let mut actions = Vec::new();
    let mut guardrails_done = false;
    for f in ordered {
        let done = |kind, detail: String| Action { kind, object: f.object.clone(), detail, outcome: Outcome::Done };
        let failed = |kind, what: &str, e: &tokio_postgres::Error| Action {
            kind,
            object: f.object.clone(),
            detail: format!("{what} failed: {}", db_message(e)),
            outcome: Outcome::Failed,
        };
        match &f.target {
            Target::Guardrail(_) if guardrails_done => {}
            Target::Guardrail(_) => {
                guardrails_done = true;
                match guardrail::install_guardrails(client, ctx).await {
                    Ok(mut done) => actions.append(&mut done),
                    Err(SqlError::Query { source, .. }) => {
                        actions.push(failed(ActionKind::InstallEventTrigger, "installing the guardrails", &source));
                    }
                    Err(e) => return Err(e),
                }
            }
            Target::Walsender(pid) => {
                let kind = ActionKind::TerminateWalsender;
                match client.query_one("SELECT pg_terminate_backend($1, $2)", &[pid, &TERMINATE_TIMEOUT_MS]).await {
                    Ok(row) if row.get::<_, bool>(0) => actions.push(done(kind, "walsender terminated".into())),
                    Ok(_) => actions.push(Action {
                        kind,
                        object: f.object.clone(),
                        detail: "walsender had already exited or did not exit in time".into(),
                        outcome: Outcome::Failed,
                    }),
                    Err(e) => actions.push(failed(kind, "terminating the walsender", &e)),
                }
            }
            Target::Slot(name) => actions.push(match drop_slot(client, name).await {
                Ok(detail) => done(ActionKind::DropSlot, detail),
                Err(e) => failed(ActionKind::DropSlot, "dropping the slot", &e),
            }),
            Target::Subscription(name) => actions.push(match drop_subscription(client, name).await {
                Ok(()) => done(
                    ActionKind::DropSubscription,
                    "subscription disabled, detached from its slot and dropped (any slot on the publisher is left there)"
                        .into(),
                ),
                Err(e) => failed(ActionKind::DropSubscription, "dropping the subscription", &e),
            }),
            Target::Publication(name) => {
                let sql = format!("DROP PUBLICATION IF EXISTS {}", quote_ident(name));
                actions.push(match client.batch_execute(&sql).await {
                    Ok(()) => done(ActionKind::DropPublication, "publication dropped".into()),
                    Err(e) => failed(ActionKind::DropPublication, "dropping the publication", &e),
                });
            }
            Target::ForeignServer(name) => {
                let sql = format!("DROP SERVER IF EXISTS {} CASCADE", quote_ident(name));
                actions.push(match client.batch_execute(&sql).await {
                    Ok(()) => done(
                        ActionKind::DropForeignServer,
                        "foreign server dropped with its user mappings and foreign tables".into(),
                    ),
                    Err(e) => failed(ActionKind::DropForeignServer, "dropping the foreign server", &e),
                });
            }
            Target::HbaLine(line) => actions.push(Action {
                kind: ActionKind::ReportOnly,
                object: f.object.clone(),
                detail: format!(
                    "pg_hba.conf cannot be changed from SQL: remove or restrict line {line} and reload the server"
                ),
                outcome: Outcome::Skipped,
            }),
        }
    }
    Ok(actions)
}

/// Terminate the slot's walsender if it is active, then drop it. A terminated
/// walsender releases its slot as it exits: retry briefly while the slot is in use.
async fn drop_slot(client: &Client, name: &str) -> Result<String, tokio_postgres::Error> {
    let row = client.query_opt("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&name]).await?;
    let Some(row) = row else {
        return Ok("slot was already gone".into());
    };
    let mut detail = String::new();
    if let Some(pid) = row.get::<_, Option<i32>>(0) {
        client.query_one("SELECT pg_terminate_backend($1, $2)", &[&pid, &TERMINATE_TIMEOUT_MS]).await?;
        detail = format!("walsender pid {pid} terminated, ");
    }
    let mut attempts = 0;
    loop {
        match client.execute("SELECT pg_drop_replication_slot($1)", &[&name]).await {
            Ok(_) => return Ok(format!("{detail}slot dropped")),
            Err(e) if attempts < 50 && e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `DISABLE`, `SET (slot_name = NONE)`, `DROP`: no connection to the publisher. The
/// guard refuses `ALTER SUBSCRIPTION`, so it is disabled for this one transaction
/// (other sessions never see it disabled) and restored to its previous state.
async fn drop_subscription(client: &Client, name: &str) -> Result<(), tokio_postgres::Error> {
    let sub = quote_ident(name);
    let guard = quote_ident(guardrail::GUARD_TRIGGER);
    let state = client
        .query_opt("SELECT evtenabled::text FROM pg_event_trigger WHERE evtname = $1", &[&guardrail::GUARD_TRIGGER])
        .await?
        .map(|r| r.get::<_, String>(0));
    let (off, on) = match state.as_deref() {
        None | Some("D") => (String::new(), String::new()),
        Some(s) => {
            let restore = match s {
                "A" => "ENABLE ALWAYS",
                "R" => "ENABLE REPLICA",
                _ => "ENABLE",
            };
            (format!("ALTER EVENT TRIGGER {guard} DISABLE;"), format!("ALTER EVENT TRIGGER {guard} {restore};"))
        }
    };
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
              WHERE s.subname = $1 AND d.datname = current_database()",
            &[&name],
        )
        .await?;
    if exists.is_none() {
        return Ok(());
    }
    // One simple-query batch is one implicit transaction: on error all is rolled back.
    client
        .batch_execute(&format!(
            "{off} ALTER SUBSCRIPTION {sub} DISABLE; ALTER SUBSCRIPTION {sub} SET (slot_name = NONE); \
             DROP SUBSCRIPTION {sub}; {on}"
        ))
        .await
}
