//! The Region controller (DESIGN §4): a Region's status says whether its spec holds
//! together, whether it is this operator's own region, and how many PiiDatabases and
//! TelemetryReplicas of this cluster depend on it.
//!
//! Pipeline: [`validate`] (pure) → [`count`] (pure, over the runtime's reflector
//! stores) → [`desired_status`] (pure) → status apply (skipped when unchanged). There
//! is nothing to build: a Region owns no child objects.
//!
//! Re-counting is event driven: the runtime re-queues a Region whenever a PiiDatabase
//! or TelemetryReplica that refers to it appears, disappears or changes its reference,
//! and re-queues a Region's dependants when its spec changes; nothing polls.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use regionstack_api::condition::{Condition, ConditionStatus, set_condition};
use regionstack_api::{Lifecycle, PiiDatabase, ReasonCode, Region, RegionSpec, RegionStatus, TelemetryReplica};

use super::{Context, ErrorCategory, events, status};

/// The kind, as used in metric labels and logs.
pub const KIND: &str = "Region";

/// The condition a Region reports.
pub const READY: &str = "Ready";

/// Errors of the Region reconcile. Validation problems are not errors: they are the
/// status (`Ready=False, reason=InvalidSpec`) and wait for a change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The status could not be written.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubeApi",
        }
    }
    fn is_transient(&self) -> bool {
        true
    }
}

/// What the schema cannot check ([`regionstack_policy::evaluate_region`], the rule
/// `regionstack check` applies too): one sentence per problem, empty when valid.
pub fn validate(spec: &RegionSpec) -> Vec<String> {
    regionstack_policy::evaluate_region(spec).into_iter().map(|f| f.message).collect()
}

/// How many objects of this cluster refer to a Region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// PiiDatabases with `spec.region` equal to the Region.
    pub pii_databases: i32,
    /// TelemetryReplicas with the Region as source or as one of the targets.
    pub telemetry_replicas: i32,
}

/// The Regions a TelemetryReplica refers to (source first, then targets).
pub fn replica_regions(replica: &TelemetryReplica) -> impl Iterator<Item = &str> {
    std::iter::once(replica.spec.source.region.as_str()).chain(replica.spec.targets.iter().map(|t| t.region.as_str()))
}

/// Count the dependants of the Region `name`.
pub fn count(name: &str, pii_databases: &[Arc<PiiDatabase>], replicas: &[Arc<TelemetryReplica>]) -> Counts {
    let saturate = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    Counts {
        pii_databases: saturate(pii_databases.iter().filter(|p| p.spec.region == name).count()),
        telemetry_replicas: saturate(
            replicas.iter().filter(|r| replica_regions(r).any(|region| region == name)).count(),
        ),
    }
}

/// The `Ready` condition's reason and message for a valid Region.
fn lifecycle_message(lifecycle: Lifecycle) -> &'static str {
    match lifecycle {
        Lifecycle::Active => "runs data stores and receives telemetry",
        Lifecycle::Planned => "declared only: data stores and replication into it are refused until it is Active",
        Lifecycle::Draining => "being retired: no new data stores; replication moves away",
    }
}

/// The status the Region should have. `now` is only used when the `Ready` condition
/// changes status, so an unchanged world yields the stored status byte for byte.
pub fn desired_status(region: &Region, local: bool, problems: &[String], counts: Counts, now: Time) -> RegionStatus {
    let generation = region.metadata.generation;
    let current = region.status.clone().unwrap_or_default();
    let whose = if local { "this operator's region" } else { "served by its own region's operator" };
    let ready = if problems.is_empty() {
        let lifecycle = region.spec.lifecycle;
        let message = format!("{}: {}; {whose}", lifecycle.as_str(), lifecycle_message(lifecycle));
        Condition::new(READY, ConditionStatus::True, lifecycle.as_str(), message, generation, now)
    } else {
        let message = format!("invalid spec: {}", problems.join("; "));
        Condition::new(READY, ConditionStatus::False, ReasonCode::InvalidSpec.as_str(), message, generation, now)
    };
    let mut conditions = current.conditions;
    set_condition(&mut conditions, ready);
    RegionStatus {
        observed_generation: generation,
        conditions,
        local: Some(local),
        pii_databases: Some(counts.pii_databases),
        telemetry_replicas: Some(counts.telemetry_replicas),
    }
}

/// Reconcile one Region: compute its status and write it when it changed. Counted in
/// the reconcile metrics; success resets the Region's backoff.
pub async fn reconcile(obj: Arc<Region>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let key = super::error::object_key(obj.as_ref());
    let result = reconcile_status(&obj, &ctx).await;
    ctx.metrics.reconciled(KIND, started.elapsed(), result.as_ref().err().map(super::ErrorCategory::category));
    if result.is_ok() {
        ctx.backoff.reset(&key);
    }
    result
}

async fn reconcile_status(obj: &Arc<Region>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let name = obj.name_any();
    let problems = validate(&obj.spec);
    let counts = count(&name, &ctx.pii_databases.state(), &ctx.telemetry_replicas.state());
    let local = name == ctx.config.region;
    let desired = desired_status(obj, local, &problems, counts, Time(jiff::Timestamp::now()));
    let api: Api<Region> = Api::all(ctx.client.clone());
    if status::apply_status(&api, obj.as_ref(), obj.status.as_ref(), &desired).await? {
        ctx.metrics.status_written(KIND);
        tracing::info!(
            local,
            valid = problems.is_empty(),
            pii_databases = counts.pii_databases,
            telemetry_replicas = counts.telemetry_replicas,
            "status updated"
        );
        let was_invalid = obj
            .status
            .as_ref()
            .and_then(|s| regionstack_api::condition::find_condition(&s.conditions, READY))
            .is_some_and(|c| c.reason == ReasonCode::InvalidSpec.as_str());
        if !problems.is_empty() && !was_invalid {
            let note = format!("Region {name} has an invalid spec: {}", problems.join("; "));
            events::warn(ctx, obj.as_ref(), ReasonCode::InvalidSpec.as_str(), "Validate", &note).await;
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
#[path = "region_tests.rs"]
mod tests;
