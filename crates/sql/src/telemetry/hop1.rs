//! The hop-1 publication (source database): its rendered desired state, the state
//! read back from the catalog, drift between the two, and the in-place re-render.
//!
//! Columns, tables and publish options are compared directly with the catalog
//! (`pg_publication_rel.prattrs`, `pg_publication.pubinsert`…). A row filter is stored
//! as a parse tree and deparsed by `pg_get_expr`, which does not reproduce the text
//! regionstack rendered (BETWEEN becomes two comparisons, casts appear). So after each
//! create or alter, regionstack records in the publication's comment a hash of what it
//! rendered (`spec=`) and a hash of the catalog state it produced (`state=`):
//! - `spec=` differs from the current rendering: the spec (or the source schema)
//!   changed, and the publication is re-rendered;
//! - `state=` differs from the catalog: someone altered the publication ("export
//!   altered"), and it is repaired the same way.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use regionstack_policy::row_filter::RowFilter;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::boundary::StagePlan;
use super::{Exec, Names, comment};
use crate::error::SqlError;
use crate::ident::quote_ident;

/// One published table: `(schema, table)`, sorted column list (`None`: all
/// columns), deparsed row filter.
pub(crate) type PubTable = ((String, String), Option<Vec<String>>, Option<String>);

/// The catalog state of a publication, normalized for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PubState {
    /// `FOR ALL TABLES`.
    pub all_tables: bool,
    /// Has `FOR TABLES IN SCHEMA` entries.
    pub schemas: bool,
    /// `pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot`.
    pub flags: [bool; 5],
    /// `(schema, table) -> (sorted column list or None for all columns, deparsed filter)`.
    pub tables: Vec<PubTable>,
    /// The publication's comment.
    pub comment: String,
}

impl PubState {
    /// A stable text form of everything but the comment.
    fn fingerprint(&self) -> String {
        let mut s = format!("all={} schemas={} flags={:?}", self.all_tables, self.schemas, self.flags);
        for ((sch, t), cols, qual) in &self.tables {
            let _ = write!(s, "|{sch}.{t} cols={cols:?} qual={qual:?}");
        }
        s
    }
}

/// Read a publication's state from the catalog (`None` when it does not exist).
pub(crate) async fn read(c: &Client, pubname: &str) -> Result<Option<PubState>, SqlError> {
    let err = || SqlError::query("reading the hop-1 publication");
    let Some(p) = c
        .query_opt(
            "SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
                    coalesce(obj_description(p.oid, 'pg_publication'), ''),
                    EXISTS (SELECT 1 FROM pg_publication_namespace s WHERE s.pnpubid = p.oid)
             FROM pg_publication p WHERE p.pubname = $1",
            &[&pubname],
        )
        .await
        .map_err(err())?
    else {
        return Ok(None);
    };
    let rels = c
        .query(
            "SELECT n.nspname::text, c.relname::text,
                    CASE WHEN r.prattrs IS NULL THEN NULL ELSE ARRAY(SELECT a.attname::text FROM pg_attribute a
                         WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs::int2[]) ORDER BY a.attname) END,
                    pg_get_expr(r.prqual, r.prrelid)
             FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.prpubid = (SELECT oid FROM pg_publication WHERE pubname = $1) ORDER BY 1, 2",
            &[&pubname],
        )
        .await
        .map_err(err())?;
    Ok(Some(PubState {
        all_tables: p.get(0),
        flags: [p.get(1), p.get(2), p.get(3), p.get(4), p.get(5)],
        comment: p.get(6),
        schemas: p.get(7),
        tables: rels.iter().map(|r| ((r.get(0), r.get(1)), r.get(2), r.get(3))).collect(),
    }))
}

/// The `TABLE …` list of the hop-1 publication: needed columns, rendered filter.
pub(crate) fn table_list(plans: &[(StagePlan, Option<RowFilter>)]) -> String {
    plans
        .iter()
        .map(|(p, f)| {
            let cols = p.needed.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
            let filter = f.as_ref().map(|f| format!(" WHERE ({})", f.to_sql())).unwrap_or_default();
            format!("TABLE {}.{} ({cols}){filter}", quote_ident(&p.schema), quote_ident(&p.table))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..8])
}

fn recorded<'a>(comment: &'a str, key: &str) -> Option<&'a str> {
    comment.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|w| w.strip_prefix('=')))
}

/// How the hop-1 publication differs from what is rendered now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hop1Drift {
    /// The catalog no longer matches what regionstack last created or altered
    /// (someone changed the publication): "export altered".
    pub altered: bool,
    /// The rendering changed since the last apply (spec or source schema change).
    pub outdated: bool,
    /// What differs, for humans.
    pub reasons: Vec<String>,
    /// The published table set differs (the subscription needs a refresh).
    pub tables_changed: bool,
}

/// Compare the publication's catalog state with the rendering of `plans`.
pub(crate) fn drift(state: &PubState, plans: &[(StagePlan, Option<RowFilter>)]) -> Hop1Drift {
    let mut d = Hop1Drift::default();
    if state.all_tables || state.schemas {
        d.reasons.push("publication covers all tables or whole schemas".into());
    }
    if state.flags != [true, false, false, false, false] {
        d.reasons
            .push(format!("publish options changed (insert, update, delete, truncate, via_root = {:?})", state.flags));
    }
    let want: BTreeSet<(String, String)> = plans.iter().map(|(p, _)| (p.schema.clone(), p.table.clone())).collect();
    let have: BTreeSet<(String, String)> = state.tables.iter().map(|(k, _, _)| k.clone()).collect();
    if want != have {
        d.tables_changed = true;
        d.reasons.push(format!("published tables {have:?}, expected {want:?}"));
    }
    for (p, f) in plans {
        let Some((_, cols, qual)) = state.tables.iter().find(|(k, _, _)| k.0 == p.schema && k.1 == p.table) else {
            continue;
        };
        let mut needed: Vec<String> = p.needed.iter().map(|c| c.name.clone()).collect();
        needed.sort();
        if cols.as_ref() != Some(&needed) {
            d.reasons.push(format!("column list of {}.{} is {cols:?}, expected {needed:?}", p.schema, p.table));
        }
        if qual.is_some() != f.is_some() {
            d.reasons.push(format!("row filter of {}.{} is {qual:?}", p.schema, p.table));
        }
    }
    let spec = short_hash(&table_list(plans));
    if let (Some(s), Some(st)) = (recorded(&state.comment, "spec"), recorded(&state.comment, "state")) {
        d.outdated = s != spec;
        if st != short_hash(&state.fingerprint()) {
            d.altered = true;
            if d.reasons.is_empty() {
                d.reasons.push("row filter changed outside regionstack".into());
            }
        }
    } else {
        d.altered = true;
        d.reasons.push("publication carries no regionstack record".into());
    }
    // Structural differences with an unchanged rendering can only come from outside.
    if !d.outdated && !d.reasons.is_empty() {
        d.altered = true;
    }
    d
}

/// Create the hop-1 publication, or re-render it in place when it drifted. Returns
/// whether the published table set changed (the subscription must be refreshed).
pub(crate) async fn ensure(
    ex: &mut Exec<'_>,
    names: &Names,
    plans: &[(StagePlan, Option<RowFilter>)],
) -> Result<bool, SqlError> {
    let hop1 = names.hop1();
    let qpub = quote_ident(&hop1);
    let list = table_list(plans);
    let tables_changed = match read(ex.client, &hop1).await? {
        None => {
            let sql = format!("CREATE PUBLICATION {qpub} FOR {list} WITH (publish = 'insert')");
            ex.run(&format!("create hop-1 publication {hop1}"), &sql).await?;
            false
        }
        Some(state) => {
            let d = drift(&state, plans);
            if !d.altered && !d.outdated {
                return Ok(false);
            }
            let why = if d.altered { "export altered, repair" } else { "re-render" };
            // One implicit transaction: the publication never exists half-altered.
            let sql = if state.all_tables || state.schemas {
                format!("DROP PUBLICATION {qpub}; CREATE PUBLICATION {qpub} FOR {list} WITH (publish = 'insert')")
            } else {
                format!(
                    "ALTER PUBLICATION {qpub} SET {list}; \
                     ALTER PUBLICATION {qpub} SET (publish = 'insert', publish_via_partition_root = false)"
                )
            };
            ex.run(&format!("{why} hop-1 publication {hop1}: {}", d.reasons.join("; ")), &sql).await?;
            d.tables_changed
        }
    };
    let state = read(ex.client, &hop1).await?.ok_or_else(|| SqlError::Invalid(format!("{hop1} vanished")))?;
    let mark = format!("{} spec={} state={}", names.mark(), short_hash(&list), short_hash(&state.fingerprint()));
    ex.run(&format!("record hop-1 publication {hop1}"), &comment("PUBLICATION", &qpub, &mark)).await?;
    Ok(tables_changed)
}
