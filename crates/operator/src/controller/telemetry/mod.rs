//! The TelemetryReplica controller (DESIGN §3, §4, §6): the source region's operator
//! builds the boundary export (hop 1 and hop 2), each target region's operator builds
//! its import, every other operator reports the replica as not its own.
//!
//! A reconcile is a pipeline:
//! - [`validate`] (pure): the policy verdict and this operator's side. A refusal
//!   builds nothing on any side, and tears down what an older spec built here.
//! - [`build`] (pure): the database layer's `ExportSpec` / `ImportSpec` and the
//!   footprint recorded before building.
//! - [`apply`]: Secrets and databases: export with audit and pruning, or import with
//!   its health and lag.
//! - [`report`] (pure): the status of this side, written by server-side apply only
//!   when it changed (lag is bucketed, see there).
//! - [`finalizer`]: the finalizer, the footprint annotation and the teardown.
//! - [`drift`]: between resyncs, the source and boundary databases of a served
//!   export are polled for changed publications (an altered export is repaired
//!   within a second, not at the next resync).
//!
//! Requeues: a healthy side is revisited every `resync_interval` (audit and drift
//! repair, pruning, lag); refusals and foreign replicas wait for a change (a Region's
//! change re-queues its replicas); failures back off with jitter (`error_policy`),
//! except waits on the source region and on a starting apply worker, which are
//! retried soon (0.1 s, then 0.25 s) for a bounded while (`controller::error`,
//! "waiting on a peer"); the reconcile that creates an import first waits up to
//! `apply::WORKER_WAIT` for its apply worker itself. A
//! lost slot or a disabled subscription is reported (`SlotLost`,
//! `SubscriptionDisabled`) and revisited at the resync interval, not retried in a
//! loop: no retry can bring back WAL that is gone.
//!
//! Condition reasons: reason codes (DESIGN §4) for policy and audit results,
//! `ForeignRegion` for not involved, error categories (`SecretMissing`,
//! `DatabaseUnreachable`, `DatabaseError`, `InvalidSpec`, `KubeApi`, and
//! `SourceNotReady` for an import whose source has not built its export yet) for
//! failures,
//! and `Reconciled`, `Compliant`, `Provisioning`, `WorkerDown`,
//! `SubscriptionDisabled`, `SlotLost` (see [`report`]).

pub mod apply;
pub mod build;
pub mod drift;
pub mod finalizer;
pub mod report;
pub mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use regionstack_api::TelemetryReplica;
use regionstack_api::condition::{ConditionStatus, find_condition};
use regionstack_sql::session;
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::telemetry::import::ImportHealth;
use tracing::Instrument;

use self::apply::{ApplyError, SourceReport, TargetReport};
use self::build::{BuildError, Footprint};
use self::finalizer::Teardown;
use self::report::Outcome;
use self::validate::{Decision, Validated};
use super::error::object_key;
use super::{Context, ErrorCategory, events, status};

/// The kind, as used in metric labels and logs.
pub const KIND: &str = "TelemetryReplica";

/// How long a reconcile waits for the Region store's first listing.
const REGIONS_SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the TelemetryReplica reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Region lacks what this side needs (not transient).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Secrets or databases (transient).
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The API server could not be reached or refused a write.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The import's subscription has no apply worker (transient: it restarts).
    #[error("subscription {0} has no running apply worker")]
    WorkerDown(String),
    /// The Region store has not listed the Regions yet: judging a replica against an
    /// empty topology would refuse it and tear down what works.
    #[error("the Region store has not synced yet")]
    RegionsNotSynced,
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Build(e) => e.category(),
            Error::Apply(e) => e.category(),
            Error::Kube(_) | Error::RegionsNotSynced => "KubeApi",
            Error::WorkerDown(_) => report::WORKER_DOWN,
        }
    }
    fn is_transient(&self) -> bool {
        match self {
            Error::Build(e) => e.is_transient(),
            Error::Apply(_) | Error::Kube(_) | Error::WorkerDown(_) | Error::RegionsNotSynced => true,
        }
    }
    fn retry_soon(&self) -> bool {
        match self {
            Error::Apply(e) => e.retry_soon(),
            // A new apply worker starts within seconds (or the subscription is fixed by
            // the next apply); see `controller::error`.
            Error::WorkerDown(_) => true,
            Error::Build(_) | Error::Kube(_) | Error::RegionsNotSynced => false,
        }
    }
}

/// Reconcile one TelemetryReplica.
pub async fn reconcile(obj: Arc<TelemetryReplica>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let key = object_key(obj.as_ref());
    let span = tracing::info_span!("reconcile", kind = KIND, object = %key, region = %ctx.config.region);
    let result = run(&obj, &ctx).instrument(span).await;
    ctx.metrics.reconciled(KIND, started.elapsed(), result.as_ref().err().map(ErrorCategory::category));
    if result.is_ok() {
        ctx.backoff.reset(&key);
    }
    result
}

async fn run(obj: &TelemetryReplica, ctx: &Context) -> Result<Action, Error> {
    match tokio::time::timeout(REGIONS_SYNC_TIMEOUT, ctx.regions.wait_until_ready()).await {
        Ok(Ok(())) => {}
        _ => return Err(Error::RegionsNotSynced),
    }
    if obj.metadata.deletion_timestamp.is_some() {
        ctx.exports.unwatch(&ObjectRef::from_obj(obj));
        return finalize(obj, ctx).await;
    }
    let v = validate::validate(&obj.spec, &ctx.region_list(), &ctx.config.catalogue, &ctx.config.region);
    if !matches!(v.decision, Decision::Export { .. }) {
        ctx.exports.unwatch(&ObjectRef::from_obj(obj));
    }
    match &v.decision {
        Decision::NotInvolved | Decision::Refused { .. } => stand_down(obj, ctx, &v).await,
        Decision::Export { targets } => match session::scope(Box::pin(serve_source(obj, ctx, targets))).await {
            Ok((current, report)) => source_done(&current, ctx, &v, &report).await,
            Err(e) => fail(obj, ctx, &v, e).await,
        },
        Decision::Import => match session::scope(Box::pin(serve_target(obj, ctx))).await {
            Ok((current, report)) => target_done(&current, ctx, &v, &report).await,
            Err(e) => fail(obj, ctx, &v, e).await,
        },
    }
}

/// Write the status for `outcome`; the object as stored when it changed (Events about
/// the new status reference it, see `status::apply_status_object`).
async fn write_status(
    ctx: &Context,
    obj: &TelemetryReplica,
    v: &Validated,
    outcome: &Outcome<'_>,
) -> Result<Option<TelemetryReplica>, kube::Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let desired = report::desired(obj, v, outcome, &ctx.config.region, &now);
    let api: Api<TelemetryReplica> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let written = status::apply_status_object(&api, obj, obj.status.as_ref(), &desired).await?;
    if written.is_some() {
        ctx.metrics.status_written(KIND);
    }
    Ok(written)
}

/// A failed step: `Ready=False` with the error's category, a Warning Event, and the
/// error back to the error policy (backoff or wait).
///
/// A write conflict on the finalizer and footprint (the object changed since this
/// reconcile read it) is only retried: the next reconcile sees the fresh object, and
/// flipping `Ready` for it would be noise.
async fn fail(obj: &TelemetryReplica, ctx: &Context, v: &Validated, err: Error) -> Result<Action, Error> {
    if let Error::Kube(kube::Error::Api(status)) = &err
        && matches!(status.code, 409 | 422)
    {
        tracing::debug!(error = %err, "metadata write conflict; retrying");
        return Err(err);
    }
    let message = err.to_string();
    let outcome = Outcome::Failed { category: err.category(), message: message.clone() };
    // A repeated failure (status unchanged) adds to the Event series of the same
    // object version; a new failure starts a new Event.
    let written = write_status(ctx, obj, v, &outcome).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not write the failure status");
        None
    });
    events::warn(ctx, written.as_ref().unwrap_or(obj), err.category(), "Reconcile", &message).await;
    Err(err)
}

/// Not involved, or refused: nothing may exist here. Tear down what was built,
/// release the finalizer, report.
async fn stand_down(obj: &TelemetryReplica, ctx: &Context, v: &Validated) -> Result<Action, Error> {
    if let Some(footprint) = Footprint::recorded(obj) {
        match finalizer::teardown(ctx, obj, &footprint).await {
            Ok(outcome) => {
                announce_teardown(obj, ctx, &outcome, "the replica is refused or no longer served here").await;
            }
            Err(e) => return fail(obj, ctx, v, e.into()).await,
        }
    }
    let current = finalizer::release(ctx, obj).await?;
    let outcome = match &v.decision {
        Decision::Refused { code, message } => Outcome::Refused { code: *code, message },
        _ => Outcome::NotInvolved,
    };
    let written = write_status(ctx, &current, v, &outcome).await?;
    if let Some(new) = written
        && let Some(first) = v.verdict.findings.first()
    {
        // A violation, reported once per change (every cluster that has the object).
        let note = validate::findings_message(&v.verdict);
        events::warn(ctx, &new, first.code.as_str(), "Refuse", &note).await;
    }
    Ok(Action::await_change())
}

async fn announce_teardown(obj: &TelemetryReplica, ctx: &Context, outcome: &Teardown, why: &str) {
    match outcome {
        Teardown::Done(actions) if actions.is_empty() => {}
        Teardown::Done(actions) => {
            tracing::info!(statements = actions.len(), why, "torn down");
            let summary: Vec<&str> = actions.iter().map(|a| a.summary.as_str()).collect();
            let note = format!("torn down ({why}): {}", summary.join("; "));
            events::normal(ctx, obj, "TornDown", "Teardown", &note).await;
        }
        Teardown::Unreachable(reason) => {
            tracing::warn!(reason, "nothing reachable to tear down; releasing the finalizer");
            let note = format!("nothing reachable to tear down ({reason}); databases were left as they are");
            events::warn(ctx, obj, "TeardownSkipped", "Teardown", &note).await;
        }
    }
}

/// Deletion: tear down what the footprint records, then release the finalizer.
async fn finalize(obj: &TelemetryReplica, ctx: &Context) -> Result<Action, Error> {
    if !finalizer::has_finalizer(obj) {
        return Ok(Action::await_change());
    }
    if let Some(footprint) = Footprint::recorded(obj) {
        match finalizer::teardown(ctx, obj, &footprint).await {
            Ok(outcome) => announce_teardown(obj, ctx, &outcome, "the replica was deleted").await,
            Err(e) => {
                events::warn(ctx, obj, e.category(), "Teardown", &e.to_string()).await;
                return Err(e.into());
            }
        }
    }
    finalizer::release(ctx, obj).await?;
    Ok(Action::await_change())
}

/// Record the footprint of what is about to be built: the union with what was built
/// before, or, when the database layer cannot converge from the old footprint (other
/// side, source database or login), a teardown of the old one first.
async fn record_footprint(
    ctx: &Context,
    obj: &TelemetryReplica,
    footprint: &Footprint,
) -> Result<TelemetryReplica, Error> {
    let next = match Footprint::recorded(obj) {
        None => footprint.clone(),
        Some(old) => {
            if let Some(union) = footprint.extend(&old) {
                union
            } else {
                let outcome = finalizer::teardown(ctx, obj, &old).await?;
                announce_teardown(obj, ctx, &outcome, "the spec moved what this side builds").await;
                footprint.clone()
            }
        }
    };
    Ok(finalizer::record(ctx, obj, &next).await?)
}

async fn serve_source(
    obj: &TelemetryReplica,
    ctx: &Context,
    targets: &[String],
) -> Result<(TelemetryReplica, SourceReport), Error> {
    let own = ctx.region(&ctx.config.region).ok_or_else(|| BuildError::UnknownRegion(ctx.config.region.clone()))?;
    let admin = apply::admin_params(ctx, build::admin_secret_ref(&own)?).await?;
    let ns = obj.namespace().unwrap_or_default();
    let creds = apply::credentials(ctx, &ns, &obj.spec.replication_credentials.name).await?;
    let spec = build::export_spec(obj, &creds);
    let footprint = Footprint::source(&spec, targets);
    let built_before = Footprint::recorded(obj).is_some();
    let current = record_footprint(ctx, obj, &footprint).await?;
    let report = apply::source(&admin, &spec, targets, built_before).await?;
    let databases = [admin.with_dbname(&spec.source_database), admin.with_dbname(BOUNDARY_DB)];
    let object = ObjectRef::from_obj(obj);
    ctx.exports.watch(&object, &databases, &ctx.triggers.telemetry, ctx.config.drift_poll);
    if !(report.actions.is_empty() && report.repaired.is_empty()) {
        ctx.exports.changed_by_reconcile(&object);
    }
    // Targets removed from the spec: their slots would retain WAL for nobody.
    let Some(Footprint::Source { targets: recorded, tables, .. }) = Footprint::recorded(&current) else {
        return Ok((current, report));
    };
    let removed: Vec<String> = recorded.iter().filter(|t| !targets.contains(t)).cloned().collect();
    if removed.is_empty() {
        return Ok((current, report));
    }
    let dropped = regionstack_sql::telemetry::export::drop_target_slots(&admin, &spec.replica, &removed)
        .await
        .map_err(ApplyError::from)?;
    tracing::info!(?removed, statements = dropped.len(), "dropped the slots of removed targets");
    let Footprint::Source { source_database, login, .. } = footprint else { unreachable!("a source footprint") };
    let next = Footprint::Source { source_database, login, tables, targets: targets.iter().cloned().collect() };
    Ok((finalizer::record(ctx, &current, &next).await?, report))
}

async fn source_done(
    obj: &TelemetryReplica,
    ctx: &Context,
    v: &Validated,
    report: &SourceReport,
) -> Result<Action, Error> {
    tracing::debug!(prune = ?report.prune, "export reconciled");
    for f in &report.repaired {
        ctx.metrics.repaired(KIND, f.code.as_str());
        let note = format!("repaired {}: {}", f.object, f.detail);
        events::warn(ctx, obj, f.code.as_str(), "Repair", &note).await;
    }
    provisioned_event(obj, ctx, &report.actions).await;
    if let Some(new) = write_status(ctx, obj, v, &Outcome::Source(report)).await? {
        for (findings, action) in [(&report.findings, "Audit"), (&report.drift, "DetectDrift")] {
            if let Some(first) = findings.first() {
                let note = findings.iter().map(|f| format!("{}: {}", f.object, f.detail)).collect::<Vec<_>>();
                events::warn(ctx, &new, first.code.as_str(), action, &note.join("; ")).await;
            }
        }
    }
    Ok(Action::requeue(ctx.config.resync_interval))
}

async fn provisioned_event(obj: &TelemetryReplica, ctx: &Context, actions: &[regionstack_sql::telemetry::Action]) {
    if actions.is_empty() {
        return;
    }
    let was_ready = obj
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, report::READY))
        .is_some_and(|c| c.status == ConditionStatus::True);
    let reason = if was_ready { "Updated" } else { "Provisioned" };
    let summary: Vec<&str> = actions.iter().map(|a| a.summary.as_str()).collect();
    events::normal(ctx, obj, reason, "Apply", &summary.join("; ")).await;
}

async fn serve_target(obj: &TelemetryReplica, ctx: &Context) -> Result<(TelemetryReplica, TargetReport), Error> {
    let own_name = &ctx.config.region;
    let own = ctx.region(own_name).ok_or_else(|| BuildError::UnknownRegion(own_name.clone()))?;
    let source_name = &obj.spec.source.region;
    let source = ctx.region(source_name).ok_or_else(|| BuildError::UnknownRegion(source_name.clone()))?;
    let admin = apply::admin_params(ctx, build::admin_secret_ref(&own)?).await?;
    let ns = obj.namespace().unwrap_or_default();
    let creds = apply::credentials(ctx, &ns, &obj.spec.replication_credentials.name).await?;
    let spec = build::import_spec(obj, own_name, &source, &creds)?;
    let current = record_footprint(ctx, obj, &Footprint::target(&spec)).await?;
    let report = apply::target(&admin, &spec).await?;
    Ok((current, report))
}

async fn target_done(
    obj: &TelemetryReplica,
    ctx: &Context,
    v: &Validated,
    report: &TargetReport,
) -> Result<Action, Error> {
    let import = &report.import;
    if let Some(lag) = import.lag_bytes {
        ctx.metrics.set_lag(&ctx.config.region, lag);
    }
    provisioned_event(obj, ctx, &report.actions).await;
    let written = write_status(ctx, obj, v, &Outcome::Target(report)).await?;
    let fresh = !report.actions.is_empty();
    match import.health {
        ImportHealth::Streaming => Ok(Action::requeue(ctx.config.resync_interval)),
        // Just created: the launcher starts the worker within a second or so.
        ImportHealth::WorkerDown | ImportHealth::Missing if fresh => Ok(Action::requeue(super::error::SOON)),
        ImportHealth::WorkerDown | ImportHealth::Missing => {
            let err = Error::WorkerDown(import.subscription.clone());
            events::warn(ctx, written.as_ref().unwrap_or(obj), err.category(), "Observe", &err.to_string()).await;
            Err(err)
        }
        ImportHealth::Disabled | ImportHealth::SlotLost => {
            if let Some(new) = &written {
                let reason = if import.health == ImportHealth::SlotLost {
                    report::SLOT_LOST
                } else {
                    report::SUBSCRIPTION_DISABLED
                };
                let note =
                    format!("subscription {}: {}", import.subscription, import.action.clone().unwrap_or_default());
                events::warn(ctx, new, reason, "Observe", &note).await;
            }
            Ok(Action::requeue(ctx.config.resync_interval))
        }
    }
}
