//! The finalizer [`FINALIZER`]: added before the operator builds anything in a
//! database of its own region (never for a foreign or refused PiiDatabase), and
//! removed once the teardown is done.
//!
//! The teardown removes what regionstack installed in the database (guardrail event
//! triggers, their functions, the schema `regionstack` when nothing else lives in it:
//! `regionstack_sql::pii::remove_guardrails`) and never application data. A managed
//! database's `Cluster` is left to the garbage collector through its owner reference.
//! The teardown still completes when nothing is reachable any more: a missing Secret,
//! or a database that stayed unreachable for [`TEARDOWN_ATTEMPTS`] attempts (with the
//! usual backoff, about a minute), is logged and reported by an Event, and the
//! finalizer is removed; a deleted PiiDatabase never hangs on a decommissioned server.
//!
//! Finalizers are changed by JSON patches with a `test` operation (so a concurrent
//! change of the list makes the patch fail and the reconcile retry, instead of
//! removing someone else's entry) under [`FIELD_MANAGER`], like every other write.

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use regionstack_api::PiiDatabase;
use regionstack_sql::pii::{Outcome, PiiContext};
use serde_json::json;

use super::{Error, connect, database};
use crate::controller::error::object_key;
use crate::controller::{Context, ErrorCategory, FIELD_MANAGER, FINALIZER, events};

/// Failed teardown attempts after which an unreachable database is given up on.
pub(super) const TEARDOWN_ATTEMPTS: u32 = 6;

/// Whether `obj` carries our finalizer.
pub(super) fn has(obj: &PiiDatabase) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

fn params() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() }
}

fn json_patch(ops: serde_json::Value) -> Result<Patch<()>, kube::Error> {
    Ok(Patch::Json(serde_json::from_value(ops).map_err(kube::Error::SerdeError)?))
}

/// Add the finalizer unless present.
pub(super) async fn add(api: &Api<PiiDatabase>, obj: &PiiDatabase) -> Result<(), kube::Error> {
    if has(obj) {
        return Ok(());
    }
    let ops = if obj.finalizers().is_empty() {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": null },
            { "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] },
        ])
    } else {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": obj.finalizers() },
            { "op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER },
        ])
    };
    api.patch(&obj.name_any(), &params(), &json_patch(ops)?).await?;
    Ok(())
}

/// Remove the finalizer if present.
pub(super) async fn remove(api: &Api<PiiDatabase>, obj: &PiiDatabase) -> Result<(), kube::Error> {
    let Some(index) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let ops = json!([
        { "op": "test", "path": path, "value": FINALIZER },
        { "op": "remove", "path": path },
    ]);
    match api.patch(&obj.name_any(), &params(), &json_patch(ops)?).await {
        Ok(_) => Ok(()),
        // Gone already: nothing left to hold.
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Tear down what regionstack built for a deleted PiiDatabase, then release it.
pub(super) async fn cleanup(api: &Api<PiiDatabase>, obj: &PiiDatabase, ctx: &Context) -> Result<Action, Error> {
    ctx.pii.forget(&ctx.metrics, &obj.uid().unwrap_or_default());
    if !has(obj) {
        return Ok(Action::await_change());
    }
    if obj.spec.region != ctx.config.region {
        // Never built here (the finalizer is only added in the own region).
        remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let key = object_key(obj);
    let params = match connect::existing(obj, ctx).await {
        Ok(params) => params,
        Err(e @ (connect::Error::SecretMissing { .. } | connect::Error::SecretInvalid { .. })) => {
            let note = format!("{e}: nothing reachable to tear down; finalizer removed");
            tracing::warn!(object = %key, reason = e.category(), "{note}");
            events::warn(ctx, obj, e.category(), "Teardown", &note).await;
            remove(api, obj).await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };
    let pctx = PiiContext::new(&params.dbname, &obj.spec.region);
    let result = regionstack_sql::session::scope(async {
        let client = regionstack_sql::session::session(&params).await?;
        regionstack_sql::pii::remove_guardrails(&client, &pctx).await
    })
    .await;
    match result {
        Ok(actions) => {
            let removed: Vec<&str> =
                actions.iter().filter(|a| a.outcome == Outcome::Done).map(|a| a.object.as_str()).collect();
            let kept: Vec<&str> =
                actions.iter().filter(|a| a.outcome != Outcome::Done).map(|a| a.detail.as_str()).collect();
            let mut note = if removed.is_empty() {
                "no guardrail was left to remove".to_owned()
            } else {
                format!("removed {}", removed.join(", "))
            };
            if !kept.is_empty() {
                note.push_str("; ");
                note.push_str(&kept.join("; "));
            }
            tracing::info!(object = %key, "teardown done: {note}");
            events::normal(ctx, obj, "GuardrailsRemoved", "Teardown", &note).await;
        }
        Err(e) => {
            let err = database::Error::from(e);
            // This attempt is the next failure in the backoff count.
            if ctx.backoff.failures(&key) + 1 < TEARDOWN_ATTEMPTS {
                return Err(err.into());
            }
            let note = format!("teardown abandoned after {TEARDOWN_ATTEMPTS} attempts: {err}; finalizer removed");
            tracing::warn!(object = %key, reason = err.category(), "{note}");
            events::warn(ctx, obj, err.category(), "Teardown", &note).await;
        }
    }
    remove(api, obj).await?;
    Ok(Action::await_change())
}
