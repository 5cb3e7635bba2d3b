//! The PII database (DESIGN §2 I1, §6 "PII database"): guardrails that refuse
//! replication DDL, an audit that finds what slipped past, repair, and a notification
//! stream so drift is handled in well under a second.
//!
//! - [`install_guardrails`]: idempotently installs, in schema `regionstack` (owned by
//!   the connecting superuser), three event triggers, all `ENABLE ALWAYS` (so they fire
//!   under `session_replication_role = replica` too):
//!   - [`GUARD_TRIGGER`] on `ddl_command_start` for `CREATE/ALTER PUBLICATION` and
//!     `CREATE/ALTER SUBSCRIPTION`: raises SQLSTATE `42501` with the message
//!     `regionstack: PII database <db> may not replicate outside region <region>
//!     (DESIGN I1 PII stays home)`;
//!   - [`NOTIFY_TRIGGER`] on `ddl_command_end` and [`NOTIFY_DROP_TRIGGER`] on
//!     `sql_drop`: `pg_notify('regionstack_pii', json)` for any DDL touching
//!     publications, subscriptions, foreign servers, user mappings, foreign-data
//!     wrappers or the objects of schema `regionstack` (payload: [`DdlNotice`]).
//!
//!   The functions are not `SECURITY DEFINER` (event trigger functions run as the DDL
//!   issuer) and pin `search_path = pg_catalog, pg_temp`. A second call performs no
//!   DDL: every object is compared with its expected definition first (function body,
//!   `search_path`, owner, trigger event, tags, function and enabled state), and the
//!   returned list of [`Action`]s is empty.
//! - [`audit`]: a handful of catalog queries. Publications, subscriptions (never
//!   `subconninfo`), logical slots of this database and physical slots, walsenders
//!   (physical, or logical ones connected to this database), foreign servers (never
//!   user-mapping options), `pg_hba_file_rules` entries that allow `replication`
//!   connections other than local superuser ones, and guardrail presence. Findings
//!   carry [`ReasonCode::RogueReplication`] or [`ReasonCode::GuardrailMissing`].
//! - [`repair`]: in [`Mode::Enforce`], reinstalls guardrails, terminates walsenders,
//!   drops slots, publications, subscriptions (`DISABLE`, `SET (slot_name = NONE)`,
//!   `DROP`: no connection to the publisher is needed; the remote slot is left there)
//!   and foreign servers (`CASCADE`). `pg_hba.conf` cannot be changed from SQL: such
//!   findings are reported only. In [`Mode::Audit`] nothing is executed; each finding
//!   yields an [`Action`] with [`Outcome::Skipped`].
//! - [`listen()`]: `LISTEN regionstack_pii` on a dedicated connection.
//! - [`remove_guardrails`]: the teardown (a PiiDatabase deleted, or switched to
//!   `Audit`): drops the three event triggers, the two functions and then the schema
//!   `regionstack` only if nothing else lives in it. Nothing else is touched.
//!
//! PostgreSQL 15 limits: event triggers do not fire for DDL on event triggers
//! themselves (`ALTER/DROP EVENT TRIGGER`), nor for shared objects. A disabled or
//! dropped guardrail is therefore found by the next [`audit`] (run on a schedule), not
//! by a notification. Replication slots are created by functions, not DDL: no
//! trigger can refuse them, the audit finds them. A superuser can always remove the
//! guardrails; the audit is the backstop.

mod audit;
mod guardrail;
mod listen;
mod repair;
mod teardown;

use regionstack_api::reason::ReasonCode;
use serde::{Deserialize, Serialize};

use crate::error::SqlError;

pub use audit::audit;
pub use guardrail::{GUARD_TRIGGER, NOTIFY_DROP_TRIGGER, NOTIFY_TRIGGER, SCHEMA, install_guardrails};
pub use listen::{CHANNEL, DdlNotice, Notifications, listen};
pub use repair::repair;
pub use teardown::remove_guardrails;

/// What a PII database is, as far as its guardrails are concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PiiContext {
    /// The database name (must be the connection's current database).
    pub database: String,
    /// The region the data must stay in.
    pub region: String,
    /// Names of in-region high-availability standbys (for example CloudNativePG
    /// instances): a physical slot or a physical walsender whose slot name or
    /// `application_name` is listed here is not a finding. Empty by default.
    pub in_region_standbys: Vec<String>,
}

impl PiiContext {
    /// A context with no in-region standbys.
    pub fn new(database: &str, region: &str) -> Self {
        Self { database: database.to_owned(), region: region.to_owned(), in_region_standbys: Vec::new() }
    }

    /// Database and region are embedded in the guard's message: only plain names are
    /// accepted (ASCII letters, digits, `-`, `_`, `.`, at most 63 bytes).
    fn validate(&self) -> Result<(), SqlError> {
        for (what, value) in [("database", &self.database), ("region", &self.region)] {
            let ok = !value.is_empty()
                && value.len() <= crate::ident::MAX_IDENTIFIER_BYTES
                && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(SqlError::Invalid(format!("PII {what} name {value:?} is not a plain name")));
            }
        }
        Ok(())
    }
}

/// Whether violations are repaired or only reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Guardrails installed, violations repaired.
    #[default]
    Enforce,
    /// Report only: nothing is changed.
    Audit,
}

/// The catalog object a finding is about, with what repair needs to act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "name")]
pub enum Target {
    /// A publication.
    Publication(String),
    /// A subscription.
    Subscription(String),
    /// A replication slot (logical in this database, or physical).
    Slot(String),
    /// A walsender process.
    Walsender(i32),
    /// A foreign server (and its user mappings).
    ForeignServer(String),
    /// A `pg_hba.conf` line.
    HbaLine(i32),
    /// One of the guardrail objects (schema, function or event trigger).
    Guardrail(String),
}

/// One violation, for `status.violations[]` (code, object, detail). Contains no
/// connection string and no password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `RogueReplication` or `GuardrailMissing`.
    pub code: ReasonCode,
    /// Stable object label: `publication/leak`, `slot/x`, `walsender/pid 123 (app)`,
    /// `foreign-server/fs`, `hba/line 12`, `event-trigger/regionstack_guard_replication`…
    pub object: String,
    /// What was found, for humans.
    pub detail: String,
    /// What repair acts on.
    pub target: Target,
}

/// What an action did (or would do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionKind {
    /// `CREATE SCHEMA` / `ALTER SCHEMA … OWNER`.
    InstallSchema,
    /// `CREATE OR REPLACE FUNCTION` (guardrail function).
    InstallFunction,
    /// `CREATE EVENT TRIGGER` (after dropping a wrongly defined one).
    InstallEventTrigger,
    /// `ALTER EVENT TRIGGER … ENABLE ALWAYS`.
    EnableEventTrigger,
    /// `DROP PUBLICATION`.
    DropPublication,
    /// `ALTER SUBSCRIPTION … DISABLE; … SET (slot_name = NONE); DROP SUBSCRIPTION`.
    DropSubscription,
    /// `pg_drop_replication_slot` (after terminating its walsender).
    DropSlot,
    /// `pg_terminate_backend` of a walsender.
    TerminateWalsender,
    /// `DROP SERVER … CASCADE`.
    DropForeignServer,
    /// Nothing can be done from SQL (`pg_hba.conf`): reported only.
    ReportOnly,
    /// `DROP EVENT TRIGGER` of a guardrail trigger ([`remove_guardrails`]).
    DropEventTrigger,
    /// `DROP FUNCTION` of a guardrail function ([`remove_guardrails`]).
    DropFunction,
    /// `DROP SCHEMA regionstack` (never `CASCADE`: [`remove_guardrails`]).
    DropSchema,
}

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Executed successfully.
    Done,
    /// Executed and failed (the detail says why).
    Failed,
    /// Not executed: audit mode, or not repairable from SQL.
    Skipped,
}

/// One thing done (or deliberately not done), for status and Kubernetes Events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// What kind of change.
    pub kind: ActionKind,
    /// The object label (same vocabulary as [`Finding::object`]).
    pub object: String,
    /// What was done, or why it failed or was skipped. Never a secret.
    pub detail: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl Action {
    /// Whether the change was made.
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Done
    }
}

/// The server's message for a failed statement, without the driver's wrapping.
fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), |db| format!("{} ({})", db.message(), db.code().code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_reach_the_guard_message() {
        assert!(PiiContext::new("app_pii", "eu-west-1").validate().is_ok());
        for (db, region) in
            [("app", "eu'west"), ("a$b", "eu"), ("", "eu"), ("app", &"r".repeat(64)), ("app", "eu west")]
        {
            assert!(matches!(PiiContext::new(db, region).validate(), Err(SqlError::Invalid(_))), "{db:?} {region:?}");
        }
    }

    #[test]
    fn findings_serialize_for_status_without_surprises() {
        let f = Finding {
            code: ReasonCode::RogueReplication,
            object: "slot/x".into(),
            detail: "logical replication slot, inactive".into(),
            target: Target::Slot("x".into()),
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["code"], "RogueReplication");
        assert_eq!(json["target"], serde_json::json!({"type": "slot", "name": "x"}));
        let a =
            Action { kind: ActionKind::DropSlot, object: f.object, detail: String::new(), outcome: Outcome::Skipped };
        assert!(!a.succeeded());
    }

    #[test]
    fn guard_message_names_the_rule() {
        let msg = guardrail::refusal_message(&PiiContext::new("pii", "eu-west-1"));
        assert_eq!(
            msg,
            "regionstack: PII database pii may not replicate outside region eu-west-1 (DESIGN I1 PII stays home)"
        );
    }
}
