//! The finalizer and the footprint annotation, and the teardown they guard.
//!
//! Before this operator builds anything for a replica it records [`FINALIZER`] and
//! the [`Footprint`] of what it is about to build (write-ahead). Teardown runs on
//! deletion, on a refusal (fail closed: what an older spec built goes away), when this
//! region stops being involved, and before building something the old footprint
//! cannot converge to. It never touches application data: the database layer drops
//! only objects marked as this replica's. The boundary database and its HMAC key stay
//! (see [`teardown`]).
//!
//! Metadata writes are JSON patches guarded by a `test` of `resourceVersion`, so a
//! concurrent change to the finalizer list is never overwritten; a conflict is a
//! transient error and the reconcile runs again on the fresh object.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use regionstack_api::TelemetryReplica;
use regionstack_sql::telemetry::Action;
use regionstack_sql::telemetry::export::{drop_target_slots, teardown_export};
use regionstack_sql::telemetry::import::teardown_import;

use super::apply::{self, ApplyError};
use super::build::{self, BUILT_ANNOTATION, Footprint};
use crate::controller::{Context, FIELD_MANAGER, FINALIZER};

/// Whether the object carries regionstack's finalizer.
pub fn has_finalizer(obj: &TelemetryReplica) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

async fn patch_metadata(
    ctx: &Context,
    obj: &TelemetryReplica,
    finalizers: Vec<String>,
    annotations: BTreeMap<String, String>,
) -> Result<TelemetryReplica, kube::Error> {
    let api: Api<TelemetryReplica> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version()},
        {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]))
    .map_err(kube::Error::SerdeError)?;
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    api.patch(&obj.name_any(), &params, &Patch::<()>::Json(patch)).await
}

/// Make sure the finalizer is set and the annotation records `footprint`. Returns
/// the object as stored (unchanged when nothing had to be written).
pub async fn record(
    ctx: &Context,
    obj: &TelemetryReplica,
    footprint: &Footprint,
) -> Result<TelemetryReplica, kube::Error> {
    let value = footprint.to_annotation();
    if has_finalizer(obj) && obj.annotations().get(BUILT_ANNOTATION) == Some(&value) {
        return Ok(obj.clone());
    }
    let mut finalizers = obj.finalizers().to_vec();
    if !has_finalizer(obj) {
        finalizers.push(FINALIZER.to_owned());
    }
    let mut annotations = obj.annotations().clone();
    annotations.insert(BUILT_ANNOTATION.to_owned(), value);
    patch_metadata(ctx, obj, finalizers, annotations).await
}

/// Remove the finalizer and the footprint (nothing of this side is left).
pub async fn release(ctx: &Context, obj: &TelemetryReplica) -> Result<TelemetryReplica, kube::Error> {
    if !has_finalizer(obj) && !obj.annotations().contains_key(BUILT_ANNOTATION) {
        return Ok(obj.clone());
    }
    let finalizers = obj.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    let mut annotations = obj.annotations().clone();
    annotations.remove(BUILT_ANNOTATION);
    patch_metadata(ctx, obj, finalizers, annotations).await
}

/// How a teardown ended.
#[derive(Debug)]
pub enum Teardown {
    /// Everything recorded was removed (the statements executed).
    Done(Vec<Action>),
    /// Nothing is reachable any more (this Region, its telemetry Secret or the
    /// Secret's data are gone): nothing can be torn down from here.
    Unreachable(String),
}

/// Tear down what `footprint` records for `obj` in this region.
///
/// Source side: the export (`teardown_export`) and then the hop-2 slots of the
/// recorded targets (`drop_target_slots`): when the source goes first, a target's
/// later `DROP SUBSCRIPTION` cannot reach it, and an orphaned slot would keep WAL
/// without bound. The boundary database stays: other replicas share it, and keeping
/// its HMAC key keeps pseudonyms stable if the replica is re-created (`drop_boundary`
/// is left to decommissioning a region, outside the replica's lifecycle).
///
/// Target side: the import (`teardown_import`): subscription, import tables, routing
/// functions; destination tables and their rows stay.
pub async fn teardown(ctx: &Context, obj: &TelemetryReplica, footprint: &Footprint) -> Result<Teardown, ApplyError> {
    // One session cache for the whole teardown (see `regionstack_sql::session`).
    regionstack_sql::session::scope(Box::pin(teardown_scoped(ctx, obj, footprint))).await
}

async fn teardown_scoped(ctx: &Context, obj: &TelemetryReplica, footprint: &Footprint) -> Result<Teardown, ApplyError> {
    let own = &ctx.config.region;
    let Some(region) = ctx.region(own) else {
        return Ok(Teardown::Unreachable(format!("region {own:?} is gone")));
    };
    let secret = match build::admin_secret_ref(&region) {
        Ok(s) => s,
        Err(e) => return Ok(Teardown::Unreachable(e.to_string())),
    };
    let admin = match apply::admin_params(ctx, secret).await {
        Ok(a) => a,
        Err(e @ ApplyError::SecretMissing { .. }) => return Ok(Teardown::Unreachable(e.to_string())),
        Err(e) => return Err(e),
    };
    let id = build::replica_id(obj);
    let mut actions = Vec::new();
    if let Some((spec, targets)) = build::teardown_export_spec(&id, footprint) {
        actions.extend(teardown_export(&admin, &spec).await?);
        actions.extend(drop_target_slots(&admin, &id, &targets).await?);
    }
    if let Some(spec) = build::teardown_import_spec(&id, own, &admin, footprint) {
        actions.extend(teardown_import(&admin, &spec).await?);
    }
    Ok(Teardown::Done(actions))
}
