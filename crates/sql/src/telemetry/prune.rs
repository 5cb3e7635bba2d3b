//! Pruning of export rows that every target has confirmed.
//!
//! Export rows are only needed until every target's hop-2 slot has decoded and
//! confirmed them (deletes are not published). In one `REPEATABLE READ`
//! transaction: the snapshot is taken by the first statement, which reads the WAL
//! insert position `L`; every row that snapshot sees was committed before `L`. When
//! every expected target slot exists and its `confirmed_flush_lsn >= L`, the rows the
//! snapshot sees are deleted (rows committed later are invisible to it and stay);
//! otherwise nothing is deleted and the reason is returned.
//!
//! Hand-off tables in the source database (hypertable sources) are pruned either way:
//! their rows reached the WAL when they were inserted, and the hop-1 slot, created
//! before the hand-off trigger, decodes them from there.
//!
//! There is deliberately no unconditional prune: a target that is disabled or behind
//! would lose the rows it has not confirmed.

use tokio_postgres::IsolationLevel;

use super::export::ExportSpec;
use super::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use crate::conn::ConnParams;
use crate::error::SqlError;
use crate::ident::quote_ident;
use crate::session::session;

/// What [`prune_confirmed`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PruneOutcome {
    /// Rows deleted; every target slot had confirmed `lsn`.
    Pruned {
        /// Export rows deleted.
        rows: u64,
        /// Hand-off rows deleted in the source database.
        handoff_rows: u64,
        /// The WAL position every target had confirmed.
        lsn: String,
    },
    /// Nothing deleted.
    Skipped {
        /// Why (missing slot, slot behind), for status and logs.
        reason: String,
        /// Hand-off rows deleted in the source database.
        handoff_rows: u64,
    },
}

/// Delete the export rows of `spec` that the hop-2 slots of every region in
/// `target_regions` have confirmed; nothing when one of them is missing or behind,
/// or when no target is expected.
pub async fn prune_confirmed(
    admin: &ConnParams,
    spec: &ExportSpec,
    target_regions: &[String],
) -> Result<PruneOutcome, SqlError> {
    let handoff_rows = super::handoff::prune_handoff(admin, spec).await?;
    if target_regions.is_empty() {
        return Ok(PruneOutcome::Skipped {
            reason: "no target region expected: nobody confirms rows".into(),
            handoff_rows,
        });
    }
    let names = Names::new(&spec.replica);
    let slots: Vec<String> = target_regions.iter().map(|r| names.import_subscription(r)).collect();
    let mut client = session(&admin.with_dbname(BOUNDARY_DB)).await?;
    let err = || SqlError::query("pruning export rows");
    let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).start().await.map_err(err())?;
    let lsn: String = tx.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.map_err(err())?.get(0);
    let rows = tx
        .query(
            "SELECT s.name, r.slot_name IS NOT NULL, coalesce(r.active, false), coalesce(r.confirmed_flush_lsn::text, ''),
                    coalesce(r.confirmed_flush_lsn >= $2::text::pg_lsn, false)
             FROM unnest($1::text[]) WITH ORDINALITY AS s(name, i)
             LEFT JOIN pg_replication_slots r ON r.slot_name = s.name AND r.database = current_database()
             ORDER BY s.i",
            &[&slots, &lsn],
        )
        .await
        .map_err(err())?;
    let mut problems = Vec::new();
    for (region, r) in target_regions.iter().zip(&rows) {
        let (slot, present, active, confirmed, caught_up): (String, bool, bool, String, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if !present {
            problems.push(format!("target {region}: slot {slot} does not exist"));
        } else if !caught_up {
            let state = if active { "active" } else { "inactive" };
            problems.push(format!("target {region}: slot {slot} ({state}) confirmed {confirmed}, rows up to {lsn}"));
        }
    }
    if !problems.is_empty() {
        tx.rollback().await.map_err(err())?;
        return Ok(PruneOutcome::Skipped {
            reason: format!("not every target confirmed: {}", problems.join("; ")),
            handoff_rows,
        });
    }
    let mut n = 0;
    for t in &spec.tables {
        let export = format!("{}.{}", quote_ident(IMPORT_SCHEMA), quote_ident(&names.export_table(&t.schema, &t.name)));
        n += tx.execute(&format!("DELETE FROM {export}"), &[]).await.map_err(err())?;
    }
    tx.commit().await.map_err(err())?;
    Ok(PruneOutcome::Pruned { rows: n, handoff_rows, lsn })
}
