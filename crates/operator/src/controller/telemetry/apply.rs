//! Step 3, the only step that touches Secrets and databases: read the credentials,
//! make the export (source side) or the import (target side) conform, and observe
//! what the status reports (audit findings, import health and lag).
//!
//! **Repair or report (DESIGN §6).** On the source side every reconcile audits, then
//! applies, then audits again when the first audit found something. `apply_export`
//! re-renders an altered export, so findings that disappear across the apply are
//! *repaired* (Warning Event, `repairs` metric). What remains is *reported*
//! (`ResidencyCompliant=False, RogueReplication`): publications of a source table in
//! the application's own database and `pg_hba.conf` rules are not regionstack's to
//! drop, and a replica has no `Audit`/`Enforce` switch that would authorize it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use regionstack_api::SecretReference;
use regionstack_sql::telemetry::Action;
use regionstack_sql::telemetry::audit::{self, Finding};
use regionstack_sql::telemetry::export::{ExportSpec, apply_export};
use regionstack_sql::telemetry::import::{
    ImportHealth, ImportSpec, ImportStatus, apply_import, import_status, source_pending, wait_for_worker,
};
use regionstack_sql::telemetry::prune::{PruneOutcome, prune_confirmed};
use regionstack_sql::{ConnParams, Password, SqlError};

use super::build::Credentials;
use crate::controller::{Context, ErrorCategory};

/// Errors of the apply step. All transient: a Secret may be created, a server may
/// come back, and the database layer's `Invalid` depends on database state that no
/// watch reports (a source table created later, the source's export not built yet).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A Secret or one of its keys is missing or unreadable. Names the Secret and the
    /// key, never a value.
    #[error("secret {namespace}/{name}: {problem}")]
    SecretMissing {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// What is wrong (which key).
        problem: String,
    },
    /// The API server refused a read.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The database layer failed (no password in its messages).
    #[error("{0}")]
    Database(#[from] SqlError),
    /// The import cannot be built yet because the source side is not ready (its
    /// boundary database, login or export table); retried soon, see
    /// `controller::error`.
    #[error("source not ready: {0}")]
    SourcePending(#[source] SqlError),
}

impl ErrorCategory for ApplyError {
    fn category(&self) -> &'static str {
        match self {
            ApplyError::SecretMissing { .. } => "SecretMissing",
            ApplyError::Kube(_) => "KubeApi",
            ApplyError::Database(SqlError::Connect { .. } | SqlError::Tls(_))
            | ApplyError::SourcePending(SqlError::Connect { .. } | SqlError::Tls(_)) => "DatabaseUnreachable",
            ApplyError::Database(SqlError::Query { .. }) => "DatabaseError",
            ApplyError::Database(SqlError::Invalid(_)) => "InvalidSpec",
            ApplyError::SourcePending(_) => "SourceNotReady",
        }
    }
    fn is_transient(&self) -> bool {
        true
    }
    fn retry_soon(&self) -> bool {
        matches!(self, ApplyError::SourcePending(_))
    }
}

fn missing(namespace: &str, name: &str, problem: impl Into<String>) -> ApplyError {
    ApplyError::SecretMissing { namespace: namespace.to_owned(), name: name.to_owned(), problem: problem.into() }
}

async fn secret_data(ctx: &Context, namespace: &str, name: &str) -> Result<BTreeMap<String, Vec<u8>>, ApplyError> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = api.get_opt(name).await?.ok_or_else(|| missing(namespace, name, "not found"))?;
    Ok(secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// The telemetry server's administrative connection from a Region's Secret.
pub async fn admin_params(ctx: &Context, secret: &SecretReference) -> Result<ConnParams, ApplyError> {
    let data = secret_data(ctx, &secret.namespace, &secret.name).await?;
    ConnParams::from_secret_data(&data).map_err(|e| missing(&secret.namespace, &secret.name, e.to_string()))
}

/// The replication login from the replica's Secret (keys `username`, `password`,
/// optional `ca.crt`).
pub async fn credentials(ctx: &Context, namespace: &str, name: &str) -> Result<Credentials, ApplyError> {
    let data = secret_data(ctx, namespace, name).await?;
    let text = |key: &str| -> Result<Option<String>, ApplyError> {
        data.get(key)
            .map(|v| {
                String::from_utf8(v.clone()).map_err(|_| missing(namespace, name, format!("key {key:?} is not UTF-8")))
            })
            .transpose()
    };
    let required = |key: &str| text(key)?.ok_or_else(|| missing(namespace, name, format!("has no {key:?} key")));
    Ok(Credentials {
        username: required("username")?,
        password: Password::new(required("password")?),
        ca_cert_pem: text("ca.crt")?,
    })
}

/// What the source side did and found.
#[derive(Debug)]
pub struct SourceReport {
    /// Statements `apply_export` executed (none when everything was in place).
    pub actions: Vec<Action>,
    /// Findings the apply repaired.
    pub repaired: Vec<Finding>,
    /// Findings that remain (`RogueReplication`).
    pub findings: Vec<Finding>,
    /// Source schema drift (`UnclassifiedColumn`): reported, never exported.
    pub drift: Vec<Finding>,
    /// What pruning did.
    pub prune: PruneOutcome,
}

/// Make the export conform, audit it and prune rows every permitted target confirmed.
///
/// `built_before`: this object had recorded a footprint before this reconcile, so
/// there may be an export of its own to repair, and the audit runs before and after
/// the apply (module documentation). A first build has nothing of its own to repair:
/// it audits once, after the apply, so the login and export tables the target
/// regions wait for exist three logins sooner.
pub async fn source(
    admin: &ConnParams,
    spec: &ExportSpec,
    targets: &[String],
    built_before: bool,
) -> Result<SourceReport, ApplyError> {
    let before = if built_before { Some(audit::audit_source(admin, spec).await?) } else { None };
    let actions = apply_export(admin, spec).await?;
    let after = match &before {
        Some(before) if before.is_empty() => Vec::new(),
        _ => audit::audit_source(admin, spec).await?,
    };
    let repaired =
        before.unwrap_or_default().into_iter().filter(|f| !after.iter().any(|a| a.object == f.object)).collect();
    let drift = audit::check_source_schema(admin, spec).await?;
    let prune = prune_confirmed(admin, spec, targets).await?;
    Ok(SourceReport { actions, repaired, findings: after, drift, prune })
}

/// What the target side did and found.
#[derive(Debug)]
pub struct TargetReport {
    /// Statements `apply_import` executed.
    pub actions: Vec<Action>,
    /// Subscription health and lag.
    pub import: ImportStatus,
}

/// How long a reconcile that has just built an import waits for its apply worker
/// (see [`target`]).
pub const WORKER_WAIT: Duration = Duration::from_secs(2);

/// Make the import conform and read its health.
///
/// When this apply built something and the subscription's apply worker is not
/// running yet (a new subscription: the server's launcher starts it, on PostgreSQL 15
/// within `wal_retrieve_retry_interval`), wait for it for up to [`WORKER_WAIT`],
/// polling one catalog view, before reading the health the status reports: the
/// import is reported `Ready` as soon as its worker runs instead of at the next
/// retry, and the retry (two logins and the whole apply again) is saved. A worker
/// that takes longer is reported `Provisioning` and looked at again soon, as before.
pub async fn target(admin: &ConnParams, spec: &ImportSpec) -> Result<TargetReport, ApplyError> {
    let actions = apply_import(admin, spec)
        .await
        .map_err(|e| if source_pending(&e, spec) { ApplyError::SourcePending(e) } else { ApplyError::Database(e) })?;
    let mut import = import_status(admin, spec).await?;
    if !actions.is_empty() && import.health == ImportHealth::WorkerDown {
        let started = std::time::Instant::now();
        let running = wait_for_worker(admin, spec, WORKER_WAIT).await?;
        tracing::debug!(running, waited_ms = started.elapsed().as_millis(), "waited for the new apply worker");
        if running {
            import = import_status(admin, spec).await?;
        }
    }
    Ok(TargetReport { actions, import })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_bounded_and_transient() {
        let cases = [
            (missing("ns", "s", "has no \"password\" key"), "SecretMissing"),
            (
                ApplyError::Database(SqlError::Connect {
                    host: "h".into(),
                    port: 1,
                    dbname: "d".into(),
                    reason: "refused".into(),
                }),
                "DatabaseUnreachable",
            ),
            (ApplyError::Database(SqlError::Tls("no CA".into())), "DatabaseUnreachable"),
            (ApplyError::Database(SqlError::Invalid("export table not found".into())), "InvalidSpec"),
        ];
        for (e, category) in cases {
            assert_eq!(e.category(), category, "{e}");
            assert!(e.is_transient());
            assert!(!e.retry_soon(), "{e}");
        }
        let pending = ApplyError::SourcePending(SqlError::Invalid("export table rs_x not found".into()));
        assert_eq!(pending.category(), "SourceNotReady");
        assert!(pending.is_transient() && pending.retry_soon());
        let unreachable = ApplyError::SourcePending(SqlError::Tls("no CA".into()));
        assert_eq!(unreachable.category(), "DatabaseUnreachable");
        assert_eq!(missing("ns", "s", "not found").to_string(), "secret ns/s: not found");
    }
}
