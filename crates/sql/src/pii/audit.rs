//! The audit: a handful of catalog queries, no change. Never reads `subconninfo` nor
//! user-mapping options.

use std::fmt::Write as _;

use regionstack_api::reason::ReasonCode;
use tokio_postgres::Client;

use super::{Finding, PiiContext, Target, guardrail};
use crate::error::SqlError;

fn rogue(object: String, detail: String, target: Target) -> Finding {
    Finding { code: ReasonCode::RogueReplication, object, detail, target }
}

/// Audit the PII database the client is connected to (superuser session). Findings
/// are ordered: guardrails, publications, subscriptions, slots, walsenders, foreign
/// servers, `pg_hba.conf` lines.
pub async fn audit(client: &Client, ctx: &PiiContext) -> Result<Vec<Finding>, SqlError> {
    guardrail::check_session(client, ctx).await?;
    let mut findings: Vec<Finding> = guardrail::plan(client, ctx)
        .await?
        .into_iter()
        .map(|s| Finding {
            code: ReasonCode::GuardrailMissing,
            target: Target::Guardrail(s.object.clone()),
            object: s.object,
            detail: s.problem,
        })
        .collect();
    publications(client, &mut findings).await?;
    subscriptions(client, &mut findings).await?;
    slots_and_walsenders(client, ctx, &mut findings).await?;
    foreign_servers(client, &mut findings).await?;
    hba(client, &mut findings).await?;
    Ok(findings)
}

async fn publications(client: &Client, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    let rows = client
        .query(
            "SELECT p.pubname::text, p.puballtables, pg_get_userbyid(p.pubowner)::text, \
                    (SELECT count(*) FROM pg_publication_rel r WHERE r.prpubid = p.oid), \
                    (SELECT count(*) FROM pg_publication_namespace s WHERE s.pnpubid = p.oid) \
               FROM pg_publication p ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing publications"))?;
    for row in rows {
        let (name, all, owner, tables, schemas): (String, bool, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let what = if all { "FOR ALL TABLES".to_owned() } else { format!("{tables} table(s), {schemas} schema(s)") };
        findings.push(rogue(
            format!("publication/{name}"),
            format!("publication {what}, owned by {owner}, in a PII database"),
            Target::Publication(name),
        ));
    }
    Ok(())
}

async fn subscriptions(client: &Client, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    // Never subconninfo: it holds the publisher's password.
    let rows = client
        .query(
            "SELECT s.subname::text, s.subenabled, s.subslotname::text, pg_get_userbyid(s.subowner)::text, \
                    array_to_string(s.subpublications, ', ') \
               FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
              WHERE d.datname = current_database() ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing subscriptions"))?;
    for row in rows {
        let (name, enabled, slot, owner, pubs): (String, bool, Option<String>, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let state = if enabled { "enabled" } else { "disabled" };
        let slot = slot.map_or_else(|| "no slot".to_owned(), |s| format!("remote slot {s}"));
        findings.push(rogue(
            format!("subscription/{name}"),
            format!("{state} subscription to publication(s) {pubs} ({slot}), owned by {owner}, in a PII database"),
            Target::Subscription(name),
        ));
    }
    Ok(())
}

async fn slots_and_walsenders(client: &Client, ctx: &PiiContext, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    let allowed = |name: &str| ctx.in_region_standbys.iter().any(|s| s == name);
    let rows = client
        .query(
            "SELECT slot_name::text, slot_type, plugin::text, active, active_pid, temporary \
               FROM pg_replication_slots \
              WHERE slot_type = 'physical' OR database = current_database() ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing replication slots"))?;
    for row in rows {
        let (name, kind, plugin, active, pid, temporary): (String, String, Option<String>, bool, Option<i32>, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        if kind == "physical" && allowed(&name) {
            continue;
        }
        let mut detail = format!("{}{kind} replication slot", if temporary { "temporary " } else { "" });
        if let Some(plugin) = plugin {
            let _ = write!(detail, " (plugin {plugin})");
        }
        match (active, pid) {
            (true, Some(pid)) => {
                let _ = write!(detail, ", active (walsender pid {pid})");
            }
            _ => detail.push_str(", inactive"),
        }
        findings.push(rogue(format!("slot/{name}"), detail, Target::Slot(name)));
    }

    let rows = client
        .query(
            "SELECT r.pid, coalesce(r.application_name, ''), coalesce(host(r.client_addr), 'local socket'), \
                    coalesce(r.state, '?'), a.datname::text \
               FROM pg_stat_replication r LEFT JOIN pg_stat_activity a ON a.pid = r.pid \
              WHERE a.datname IS NULL OR a.datname = current_database() ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing walsenders"))?;
    for row in rows {
        let (pid, app, addr, state, db): (i32, String, String, String, Option<String>) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        if db.is_none() && allowed(&app) {
            continue;
        }
        let kind = if db.is_some() { "logical" } else { "physical" };
        findings.push(rogue(
            format!("walsender/pid {pid} ({app})"),
            format!("{kind} replication connection from {addr}, state {state}"),
            Target::Walsender(pid),
        ));
    }
    Ok(())
}

async fn foreign_servers(client: &Client, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    // Counts only: user-mapping options hold passwords, server options are not needed.
    let rows = client
        .query(
            "SELECT s.srvname::text, w.fdwname::text, pg_get_userbyid(s.srvowner)::text, \
                    (SELECT count(*) FROM pg_user_mapping m WHERE m.umserver = s.oid), \
                    (SELECT count(*) FROM pg_foreign_table t WHERE t.ftserver = s.oid) \
               FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing foreign servers"))?;
    for row in rows {
        let (name, fdw, owner, mappings, tables): (String, String, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        findings.push(rogue(
            format!("foreign-server/{name}"),
            format!(
                "foreign server (wrapper {fdw}, owned by {owner}) with {mappings} user mapping(s) and \
                 {tables} foreign table(s) in a PII database"
            ),
            Target::ForeignServer(name),
        ));
    }
    Ok(())
}

/// `pg_hba.conf` lines (as on disk) that let a `replication` connection in, other than
/// `local` (Unix socket) lines naming superusers only, and `reject` lines.
async fn hba(client: &Client, findings: &mut Vec<Finding>) -> Result<(), SqlError> {
    let rows = client
        .query(
            "SELECT h.line_number, h.type, array_to_string(h.user_name, ','), coalesce(h.address, ''), \
                    coalesce(h.netmask, ''), h.auth_method, \
                    h.type = 'local' AND h.user_name <@ \
                      ARRAY(SELECT rolname::text FROM pg_roles WHERE rolsuper) \
               FROM pg_hba_file_rules h \
              WHERE h.error IS NULL AND 'replication' = ANY(h.database) AND h.auth_method <> 'reject' \
              ORDER BY 1",
            &[],
        )
        .await
        .map_err(SqlError::query("auditing pg_hba.conf rules"))?;
    for row in rows {
        let (line, kind, users, addr, mask, auth, local_superusers): (
            i32,
            String,
            String,
            String,
            String,
            String,
            bool,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6));
        if local_superusers {
            continue;
        }
        let from = match (addr.is_empty(), mask.is_empty()) {
            (true, _) => String::new(),
            (false, true) => format!(" from {addr}"),
            (false, false) => format!(" from {addr}/{mask}"),
        };
        findings.push(rogue(
            format!("hba/line {line}"),
            format!("pg_hba.conf allows {kind} replication connections for {users}{from} ({auth})"),
            Target::HbaLine(line),
        ));
    }
    Ok(())
}
