//! The PiiDatabase controller (DESIGN §3, §4, §6 "PII database"): personal data that
//! never leaves its region.
//!
//! One reconcile is a pipeline:
//! 1. [`validate`] (pure): the residency policy's verdict (`UnknownRegion`,
//!    `RegionNotActive`, `JurisdictionNotProvided`, `BackupOutOfRegion`,
//!    `CrossRegionReplica`, ...) → `Ready=False` and `ResidencyCompliant=False` with
//!    that code, a Warning Event, and a wait for a change. A valid database of another
//!    region → `Ready=False, reason=ForeignRegion`: nothing is created, no finalizer.
//! 2. [`build`] (pure): the CloudNativePG `Cluster` of a `managed` database.
//! 3. apply: [`connect`] reaches the database (connection Secret, or CloudNativePG:
//!    `ProvisionerMissing` when it is not installed, `Provisioning` until the Cluster
//!    is Ready, then its superuser Secret); [`database`] installs the guardrails
//!    (Enforce), audits and repairs, with an Event per repair. A notification listener
//!    per database ([`registry`]) requests a reconcile on every guardrail notification.
//! 4. [`status`]: conditions `Ready` and `ResidencyCompliant`, `violations[]`,
//!    `lastAuditTime`, `endpoint`, `observedGeneration`, written only when changed.
//!
//! Deletion runs the [`finalizer`] teardown. A healthy database is audited again
//! after `audit_interval`, at once on a notification, and within `drift_poll` of a
//! change of its catalog digest ([`registry`]). A CloudNativePG Cluster that is not
//! Ready yet is looked at every 0.5 s during its first 10 s, then every
//! `audit_interval` ([`provisioning_recheck`]).
//!
//! **`lastAuditTime`** is stamped only by an audit that changed the status (a
//! violation appeared or went away, a condition changed, the spec's generation
//! moved), never by an audit that found the same as the previous one: with 1,000
//! databases audited every 10 s, an idle platform makes zero status writes (DESIGN
//! §9). It therefore reads "the audit result shown here was obtained at", and the
//! audits themselves are visible as `regionstack_reconciles_total` and
//! `regionstack_audit_findings`. Events follow the same rule: one per repair, and one
//! per change of condition or new violation, never one per unchanged audit.

mod build;
mod connect;
mod database;
mod finalizer;
mod registry;
mod status;
mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use regionstack_api::condition::find_condition;
use regionstack_api::pii::Enforcement;
use regionstack_api::{ConditionStatus, PiiDatabase, ReasonCode};
use regionstack_policy::RegionIndex;
use regionstack_sql::pii::Outcome;
use tracing::Instrument;

pub use build::Error as BuildError;
pub use connect::Error as ConnectError;
pub use database::Error as DatabaseError;
pub use registry::Registry;
pub use validate::Error as PolicyError;

use self::connect::Reach;
use self::database::Audited;
use self::status::Observed;
use self::validate::Placement;
use super::error::object_key;
use super::{Context, ErrorCategory, events};

/// The kind, as used in metric labels and logs.
pub const KIND: &str = "PiiDatabase";

/// How often a database waiting for CloudNativePG to be installed is looked at again.
pub const PROVISIONER_RECHECK: Duration = Duration::from_secs(60);

/// Errors of the PiiDatabase reconcile: one per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy refused the spec (not transient: waits for a change).
    #[error(transparent)]
    Validate(#[from] validate::Error),
    /// The database could not be found or provisioned through the API.
    #[error(transparent)]
    Connect(#[from] connect::Error),
    /// The database could not be reached or a statement failed.
    #[error(transparent)]
    Database(#[from] database::Error),
    /// A write of the PiiDatabase itself (finalizer, status) failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Validate(e) => e.category(),
            Error::Connect(e) => e.category(),
            Error::Database(e) => e.category(),
            Error::Kube(_) => "KubeApi",
        }
    }
    fn is_transient(&self) -> bool {
        match self {
            Error::Validate(e) => e.is_transient(),
            Error::Connect(e) => e.is_transient(),
            Error::Database(e) => e.is_transient(),
            Error::Kube(_) => true,
        }
    }
}

/// A successful reconcile's next step, and a category when it still reports a
/// problem (counted in the error metrics without the error policy's backoff).
struct Done {
    action: Action,
    problem: Option<&'static str>,
}

impl Done {
    fn ok(action: Action) -> Self {
        Self { action, problem: None }
    }
}

/// Reconcile one PiiDatabase.
pub async fn reconcile(obj: Arc<PiiDatabase>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let key = object_key(obj.as_ref());
    let span = tracing::info_span!("reconcile", kind = KIND, object = %key);
    let outcome = pipeline(&obj, &ctx).instrument(span).await;
    let (result, problem) = match outcome {
        Ok(done) => (Ok(done.action), done.problem),
        Err(e) => {
            let category = e.category();
            (Err(e), Some(category))
        }
    };
    ctx.metrics.reconciled(KIND, started.elapsed(), problem);
    if result.is_ok() {
        ctx.backoff.reset(&key);
    }
    result
}

async fn pipeline(obj: &PiiDatabase, ctx: &Context) -> Result<Done, Error> {
    let api: Api<PiiDatabase> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let uid = obj.uid().unwrap_or_default();
    if obj.metadata.deletion_timestamp.is_some() {
        return finalizer::cleanup(&api, obj, ctx).await.map(Done::ok);
    }

    let regions = ctx.region_list();
    let placement = validate::validate(obj, &RegionIndex::from_regions(&regions), &ctx.config.region);
    let placement = match placement {
        Ok(p) => p,
        Err(e) => {
            // Guardrails already installed stay (fail closed); audits stop until the
            // spec or a Region changes.
            ctx.pii.forget(&ctx.metrics, &uid);
            if write_status(&api, obj, ctx, &Observed::Invalid(&e)).await? {
                events::warn(ctx, obj, e.category(), "Validate", &e.to_string()).await;
            }
            return Err(e.into());
        }
    };
    if let Placement::Foreign { region } = &placement {
        ctx.pii.forget(&ctx.metrics, &uid);
        // Only present if this operator once served another region under this name.
        finalizer::remove(&api, obj).await?;
        let observed = Observed::Foreign { region, own: &ctx.config.region };
        if write_status(&api, obj, ctx, &observed).await? {
            let note = format!("region {region} is served by its own operator; nothing is created here");
            events::normal(ctx, obj, ReasonCode::ForeignRegion.as_str(), "Skip", &note).await;
        }
        return Ok(Done::ok(Action::await_change()));
    }

    finalizer::add(&api, obj).await?;
    let target = match connect::reach(obj, ctx).await {
        Ok(Reach::Ready(target)) => target,
        Ok(Reach::ProvisionerMissing) => {
            let observed = Observed::ProvisionerMissing;
            let code = ReasonCode::ProvisionerMissing.as_str();
            if write_status(&api, obj, ctx, &observed).await? {
                let note = "CloudNativePG is not installed (clusters.postgresql.cnpg.io/v1 is not served)";
                events::warn(ctx, obj, code, "Provision", note).await;
            }
            return Ok(Done { action: Action::requeue(PROVISIONER_RECHECK), problem: Some(code) });
        }
        Ok(Reach::Provisioning(message, age)) => {
            if write_status(&api, obj, ctx, &Observed::Provisioning(&message)).await? {
                events::normal(ctx, obj, status::PROVISIONING, "Provision", &message).await;
            }
            // The Cluster is not watched (its CRD may be absent): look again soon.
            return Ok(Done::ok(Action::requeue(provisioning_recheck(age, ctx.config.audit_interval))));
        }
        Err(e) => return Err(fail(&api, obj, ctx, e.into()).await),
    };

    let was_ready = ready_at_generation(obj);
    // First installation, or drift? A live listener means an earlier pass of this
    // process installed the guardrails: what is missing now was removed. (The status
    // alone can be stale: a reconcile requested by a drift check may start before the
    // watch has delivered the previous pass's Ready status.)
    let fresh = !was_ready && !ctx.pii.is_listening(&uid);
    // A reconcile-scoped session (one login today; later calls would share it).
    let audited =
        regionstack_sql::session::scope(database::converge(&target, &obj.spec.region, obj.spec.enforcement, fresh))
            .await;
    let audited = match audited {
        Ok(a) => a,
        Err(e) => return Err(fail(&api, obj, ctx, e.into()).await),
    };
    match obj.spec.enforcement {
        Enforcement::Enforce => {
            let object = ObjectRef::from_obj(obj);
            let tx = ctx.triggers.pii.clone();
            if let Err(e) = ctx.pii.ensure_listener(&uid, object, &target.params, tx, ctx.config.drift_poll).await {
                // The scheduled audit still runs; the next reconcile tries again.
                tracing::warn!(error = %e, "cannot listen for guardrail notifications");
            }
        }
        Enforcement::Audit => ctx.pii.stop_listener(&uid),
    }
    if !(audited.repairs.is_empty() && audited.installed.is_empty() && audited.removed.is_empty()) {
        ctx.pii.changed_by_reconcile(&uid);
    }
    ctx.pii.set_findings(&ctx.metrics, &uid, Some(audited.counts()));
    report(ctx, obj, &audited).await;
    if write_status(&api, obj, ctx, &Observed::Audited(&audited)).await? && !was_ready {
        let note = format!("database {} reached, guarded and audited", audited.endpoint);
        events::normal(ctx, obj, status::RECONCILED, "Provision", &note).await;
    }
    Ok(Done::ok(Action::requeue(ctx.config.audit_interval)))
}

/// A Cluster younger than this is looked at every [`PROVISIONING_SOON`].
pub const PROVISIONING_FRESH: Duration = Duration::from_secs(10);
/// How often a fresh Cluster is looked at.
pub const PROVISIONING_SOON: Duration = Duration::from_millis(500);

/// When to look at a provisioning Cluster of age `age` again: every 0.5 s while it is
/// fresh (a provisioner that answers within seconds — or an existing database
/// re-adopted — makes the PiiDatabase Ready within a second, not at the next audit),
/// then every `audit_interval` (real provisioning takes minutes: no need to poll).
pub fn provisioning_recheck(age: Duration, audit_interval: Duration) -> Duration {
    if age < PROVISIONING_FRESH { PROVISIONING_SOON.min(audit_interval) } else { audit_interval }
}

/// Whether the status shows `Ready=True` for the current generation.
fn ready_at_generation(obj: &PiiDatabase) -> bool {
    obj.status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, status::READY))
        .is_some_and(|c| c.status == ConditionStatus::True && c.observed_generation == obj.metadata.generation)
}

/// Report a failed step in status (and an Event when that changed it), and hand the
/// error back for the error policy.
async fn fail(api: &Api<PiiDatabase>, obj: &PiiDatabase, ctx: &Context, err: Error) -> Error {
    let observed = Observed::Failed { category: err.category(), message: err.to_string() };
    match write_status(api, obj, ctx, &observed).await {
        Ok(true) => events::warn(ctx, obj, err.category(), "Reconcile", &err.to_string()).await,
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not write the status"),
    }
    err
}

/// Events for what one pass over the database did: first installation, guardrails
/// removed (Audit mode), every repair, and each violation not reported before.
async fn report(ctx: &Context, obj: &PiiDatabase, audited: &Audited) {
    if !audited.installed.is_empty() {
        let objects: Vec<&str> = audited.installed.iter().map(|a| a.object.as_str()).collect();
        let note = format!("guardrails installed in {}: {}", audited.endpoint, objects.join(", "));
        events::normal(ctx, obj, "GuardrailsInstalled", "Provision", &note).await;
    }
    let removed: Vec<&str> =
        audited.removed.iter().filter(|a| a.outcome == Outcome::Done).map(|a| a.object.as_str()).collect();
    if !removed.is_empty() {
        let note = format!("Audit mode: replication DDL is reported, not refused; removed {}", removed.join(", "));
        events::normal(ctx, obj, "GuardrailsRemoved", "Audit", &note).await;
    }
    for r in &audited.repairs {
        if r.action.succeeded() {
            ctx.metrics.repaired(KIND, r.code.as_str());
        }
        // Guardrail repairs say "<problem>: repaired"; the problem is already in `found`.
        let done = if r.action.detail.ends_with(": repaired") { "repaired" } else { r.action.detail.as_str() };
        let note = format!("{}: {}; {done}", r.action.object, r.found);
        tracing::warn!(code = r.code.as_str(), outcome = ?r.action.outcome, "{note}");
        events::warn(ctx, obj, r.code.as_str(), "Repair", &note).await;
    }
    let before = obj.status.as_ref().map(|s| s.violations.as_slice()).unwrap_or_default();
    for v in &audited.violations {
        if before.iter().any(|old| old.code == v.code && old.object == v.object) {
            continue;
        }
        let note = match audited.mode {
            Enforcement::Audit => format!("{}: {} (Audit mode: reported, not repaired)", v.object, v.detail),
            Enforcement::Enforce => format!("{}: {}", v.object, v.detail),
        };
        tracing::warn!(code = v.code.as_str(), "{note}");
        events::warn(ctx, obj, v.code.as_str(), "Audit", &note).await;
    }
}

/// Compute and apply the status; `true` when it was written.
async fn write_status(
    api: &Api<PiiDatabase>,
    obj: &PiiDatabase,
    ctx: &Context,
    observed: &Observed<'_>,
) -> Result<bool, kube::Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let desired = status::desired(obj, observed, &now);
    let written = super::status::apply_status(api, obj, obj.status.as_ref(), &desired).await?;
    if written {
        ctx.metrics.status_written(KIND);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_clusters_are_looked_at_soon_then_at_the_audit_interval() {
        let audit = Duration::from_secs(10);
        let ms = Duration::from_millis;
        let cases = [
            (ms(0), audit, PROVISIONING_SOON),
            (ms(9_999), audit, PROVISIONING_SOON),
            (PROVISIONING_FRESH, audit, audit),
            (Duration::from_secs(600), audit, audit),
            // A shorter audit interval than the fresh recheck wins.
            (ms(0), ms(200), ms(200)),
        ];
        for (age, interval, want) in cases {
            assert_eq!(provisioning_recheck(age, interval), want, "age {age:?}, audit {interval:?}");
        }
    }
}
