//! Telemetry export and import (DESIGN §6, "transform at the boundary").
//!
//! Source region, on the telemetry server ([`export`]):
//! - the boundary database [`BOUNDARY_DB`] with schema `regionstack` (pgcrypto, the
//!   HMAC key readable by no login, `regionstack.pseudonymize(text)`);
//! - hop 1: a publication in the source database (needed columns, rendered row
//!   filter, `publish = 'insert'`), a slot created beforehand, and a subscription in
//!   the boundary database into *staging tables*. PostgreSQL 15 matches published
//!   tables by schema-qualified name, so a staging table has the source table's own
//!   `schema.name` inside the boundary database. Its BEFORE INSERT trigger
//!   (`ENABLE ALWAYS`: apply workers run with `session_replication_role = replica`)
//!   writes the transformed row into the export table and returns NULL, so no raw
//!   value is stored or WAL-logged there;
//! - hop 2: the export tables live in schema [`IMPORT_SCHEMA`] of the boundary
//!   database (the same name on both sides, again because tables are matched by
//!   name), published with `publish = 'insert'`, readable by one replication login.
//!
//! Target region ([`import`]): tables of the same shape in [`IMPORT_SCHEMA`], a
//! subscription over the replication login, optional routing into a destination.
//!
//! Every `apply` checks the catalog first and returns the [`Action`]s it executed
//! (none when nothing was missing); every `teardown` drops only what regionstack
//! created, never an application table or row.

pub mod audit;
pub mod boundary;
pub mod export;
pub mod handoff;
pub mod hop1;
pub mod import;
pub mod login;
pub mod prune;
pub mod transforms;

use tokio_postgres::Client;

use crate::error::SqlError;
use crate::ident::{generated, quote_literal};

/// The boundary database of a region's telemetry server.
pub const BOUNDARY_DB: &str = "regionstack_boundary";
/// Schema of export tables (boundary database) and import tables (target databases).
pub const IMPORT_SCHEMA: &str = "regionstack_import";
/// Comment that marks an object regionstack created (followed by the replica name).
pub const MARK: &str = "regionstack:";

/// One statement regionstack executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Database it ran in.
    pub database: String,
    /// What it did, for status and events.
    pub summary: String,
    /// The statement, with any password replaced by `****`.
    pub statement: String,
}

/// Names of everything built for one replica; both sides derive the same names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// Replica name (unique per source region, e.g. the resource's name).
    pub replica: String,
}

impl Names {
    /// Names for `replica`.
    pub fn new(replica: &str) -> Self {
        Self { replica: replica.to_owned() }
    }

    /// Export table (boundary database) and import table (target) of a source table.
    pub fn export_table(&self, schema: &str, table: &str) -> String {
        generated("rs", &[&self.replica, schema, table])
    }

    /// Trigger function of a staging table, in schema `regionstack`.
    pub fn stage_function(&self, schema: &str, table: &str) -> String {
        generated("rs_stage", &[&self.replica, schema, table])
    }

    /// Hop-1 publication (source database), slot and subscription (boundary database).
    pub fn hop1(&self) -> String {
        generated("rs_hop1", &[&self.replica])
    }

    /// Hop-2 publication (boundary database).
    pub fn hop2(&self) -> String {
        generated("rs_hop2", &[&self.replica])
    }

    /// Subscription in a target region, and its slot in the source boundary database.
    pub fn import_subscription(&self, target_region: &str) -> String {
        generated("rs_import", &[&self.replica, target_region])
    }

    /// Routing trigger function of an import table.
    pub fn route_function(&self, schema: &str, table: &str) -> String {
        generated("rs_route", &[&self.replica, schema, table])
    }

    /// The comment marking objects of this replica.
    pub fn mark(&self) -> String {
        format!("{MARK}{}", self.replica)
    }
}

/// Runs statements against one database and records them.
pub(crate) struct Exec<'a> {
    pub client: &'a Client,
    pub database: String,
    pub actions: &'a mut Vec<Action>,
}

impl Exec<'_> {
    /// Execute `sql` (one statement) and record it.
    pub async fn run(&mut self, summary: &str, sql: &str) -> Result<(), SqlError> {
        self.run_redacted(summary, sql, sql).await
    }

    /// Execute `sql`, recording `shown` instead (for statements carrying a password).
    pub async fn run_redacted(&mut self, summary: &str, sql: &str, shown: &str) -> Result<(), SqlError> {
        tracing::info!(database = %self.database, summary, "executing");
        self.client.batch_execute(sql).await.map_err(SqlError::query(format!("{} ({})", summary, self.database)))?;
        self.actions.push(Action {
            database: self.database.clone(),
            summary: summary.to_owned(),
            statement: shown.to_owned(),
        });
        Ok(())
    }
}

/// `SELECT EXISTS(<query>)` with text parameters.
pub(crate) async fn exists(client: &Client, what: &str, query: &str, params: &[&str]) -> Result<bool, SqlError> {
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
    let row = client
        .query_one(&format!("SELECT EXISTS({query})"), &params)
        .await
        .map_err(SqlError::query(format!("checking {what}")))?;
    Ok(row.get(0))
}

/// `COMMENT ON <kind> <name> IS '<mark>'`.
pub(crate) fn comment(kind: &str, name: &str, mark: &str) -> String {
    format!("COMMENT ON {kind} {name} IS {}", quote_literal(mark))
}

/// Wait (at most `seconds`) until the logical slot `slot` on the server `client`
/// is connected to has confirmed everything written there so far: the subscriber
/// has applied every change decoded before this call (e.g. rows of a table just
/// removed from a publication). `false` when the deadline passed or no such slot.
pub(crate) async fn wait_caught_up(client: &Client, slot: &str, seconds: u64) -> Result<bool, SqlError> {
    let target: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .map_err(SqlError::query("reading the current WAL position"))?
        .get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let q = "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn >= $2::text::pg_lsn";
    loop {
        if exists(client, "slot position", q, &[slot, &target]).await? {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            tracing::warn!(slot, "subscriber has not caught up; dropping removed tables deferred to the next apply");
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
