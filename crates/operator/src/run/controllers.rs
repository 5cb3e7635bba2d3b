//! The three controllers of one leadership term, wired to the shared watches.
//!
//! Relations (all event driven, no polling):
//! - Region ← PiiDatabase / TelemetryReplica: a Region is re-counted when an object
//!   that refers to it appears, disappears or changes which Regions it refers to
//!   (both the old and the new references are re-queued). Status-only changes of the
//!   dependants do not re-queue anything.
//! - PiiDatabase / TelemetryReplica ← Region: when a Region appears, disappears or
//!   its spec changes (generation), the objects whose spec refers to it are re-queued,
//!   found in the controller's own store. Region status writes (counts) do not.
//! - PiiDatabase / TelemetryReplica ← `ctx.triggers` (database notifications and
//!   other out-of-band requests).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::{Stream, StreamExt};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use regionstack_api::{PiiDatabase, Region, TelemetryReplica};
use tokio::sync::{Mutex, mpsc};
use tracing::Instrument as _;

use super::logging;
use super::watch::{Change, Hub};
use crate::controller::context::TriggerReceivers;
use crate::controller::error::error_policy;
use crate::controller::{Context, ErrorCategory, pii, region, telemetry};

/// Reconciles running at once per controller (never two on one object).
pub const CONCURRENCY: u16 = 8;

/// The watches every controller reads.
pub struct Hubs {
    /// Regions (also `ctx.regions`).
    pub regions: Hub<Region>,
    /// PiiDatabases.
    pub pii: Hub<PiiDatabase>,
    /// TelemetryReplicas.
    pub telemetry: Hub<TelemetryReplica>,
}

impl Hubs {
    /// Wait until every store has completed its first LIST.
    pub async fn synced(&self) {
        let (regions, pii, telemetry) = (self.regions.store(), self.pii.store(), self.telemetry.store());
        let _ = tokio::join!(regions.wait_until_ready(), pii.wait_until_ready(), telemetry.wait_until_ready());
    }
}

/// Out-of-band reconcile requests, kept across terms: each term's controller holds
/// the receiver while it runs and gives it back when it stops. (A plain
/// `UnboundedReceiverStream` would be consumed by the first term.)
pub struct Triggers {
    pii: Arc<Mutex<mpsc::UnboundedReceiver<ObjectRef<PiiDatabase>>>>,
    telemetry: Arc<Mutex<mpsc::UnboundedReceiver<ObjectRef<TelemetryReplica>>>>,
}

impl From<TriggerReceivers> for Triggers {
    fn from(r: TriggerReceivers) -> Self {
        Self { pii: Arc::new(Mutex::new(r.pii)), telemetry: Arc::new(Mutex::new(r.telemetry)) }
    }
}

fn receive<T: Send + 'static>(rx: &Arc<Mutex<mpsc::UnboundedReceiver<T>>>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::unfold((rx.clone(), None), |(rx, guard)| async move {
        let mut guard = match guard {
            Some(guard) => guard,
            None => rx.clone().lock_owned().await,
        };
        let item = guard.recv().await?;
        Some((item, (rx, Some(guard))))
    })
}

/// Run the controllers until `stop` resolves and their reconciles have finished.
pub async fn run<S>(hubs: &Hubs, ctx: Arc<Context>, triggers: &Triggers, stop: S)
where
    S: Future<Output = ()> + Send + Sync + Clone + 'static,
{
    let config = controller::Config::default().concurrency(CONCURRENCY);

    let regions = Controller::for_shared_stream(current(hubs.regions.changes()), hubs.regions.store())
        .watches_shared_stream(references_changed(hubs.pii.changes(), pii_regions), |p| refs(&pii_regions(&p)))
        .watches_shared_stream(references_changed(hubs.telemetry.changes(), replica_regions), |r| {
            refs(&replica_regions(&r))
        })
        .with_config(config.clone())
        .graceful_shutdown_on(stop.clone())
        .run(|obj, ctx| timed(region::KIND, region::reconcile, obj, ctx), error_policy, ctx.clone())
        .for_each(|r| log_outcome(region::KIND, r));

    let pii_store = hubs.pii.store();
    let pii = Controller::for_shared_stream(current(hubs.pii.changes()), hubs.pii.store())
        .watches_shared_stream(spec_changed(hubs.regions.changes()), move |region: Arc<Region>| {
            let name = region.name_any();
            pii_store
                .state()
                .iter()
                .filter(|p| p.spec.region == name)
                .map(|p| ObjectRef::from_obj(p.as_ref()))
                .collect::<Vec<_>>()
        })
        .reconcile_on(receive(&triggers.pii))
        .with_config(config.clone())
        .graceful_shutdown_on(stop.clone())
        .run(|obj, ctx| timed(pii::KIND, pii::reconcile, obj, ctx), error_policy, ctx.clone())
        .for_each(|r| log_outcome(pii::KIND, r));

    let telemetry_store = hubs.telemetry.store();
    let telemetry = Controller::for_shared_stream(current(hubs.telemetry.changes()), hubs.telemetry.store())
        .watches_shared_stream(spec_changed(hubs.regions.changes()), move |region: Arc<Region>| {
            let name = region.name_any();
            telemetry_store
                .state()
                .iter()
                .filter(|r| replica_regions(r).contains(&name))
                .map(|r| ObjectRef::from_obj(r.as_ref()))
                .collect::<Vec<_>>()
        })
        .reconcile_on(receive(&triggers.telemetry))
        .with_config(config)
        .graceful_shutdown_on(stop)
        .run(|obj, ctx| timed(telemetry::KIND, telemetry::reconcile, obj, ctx), error_policy, ctx)
        .for_each(|r| log_outcome(telemetry::KIND, r));

    tokio::join!(regions, pii, telemetry);
}

/// Objects to reconcile: the current version of every change (deletions need
/// nothing from the controller of the kind itself; finalizers keep what needs
/// teardown).
fn current<K: Send + Sync + 'static>(changes: impl Stream<Item = Change<K>>) -> impl Stream<Item = Arc<K>> {
    changes.filter_map(|c| std::future::ready(c.new))
}

/// Regions whose spec changed, appeared or disappeared (not status-only updates).
fn spec_changed<K: Resource + Send + Sync + 'static>(
    changes: impl Stream<Item = Change<K>>,
) -> impl Stream<Item = Arc<K>> {
    changes.filter_map(|c| {
        let relevant = match (&c.old, &c.new) {
            (Some(old), Some(new)) => old.meta().generation != new.meta().generation,
            _ => true,
        };
        std::future::ready(if relevant { c.new.or(c.old) } else { None })
    })
}

/// Both versions of objects whose set of referenced Regions changed (created and
/// deleted objects included), so the mapper re-queues old and new Regions alike.
fn references_changed<K: Send + Sync + 'static>(
    changes: impl Stream<Item = Change<K>>,
    references: fn(&K) -> BTreeSet<String>,
) -> impl Stream<Item = Arc<K>> {
    changes.flat_map(move |c| {
        let of = |v: &Option<Arc<K>>| v.as_deref().map(references).unwrap_or_default();
        let versions: Vec<Arc<K>> = if of(&c.old) == of(&c.new) { Vec::new() } else { c.versions().cloned().collect() };
        futures::stream::iter(versions)
    })
}

fn pii_regions(p: &PiiDatabase) -> BTreeSet<String> {
    BTreeSet::from([p.spec.region.clone()])
}

fn replica_regions(r: &TelemetryReplica) -> BTreeSet<String> {
    region::replica_regions(r).map(str::to_owned).collect()
}

fn refs(names: &BTreeSet<String>) -> Vec<ObjectRef<Region>> {
    names.iter().map(|n| ObjectRef::new(n)).collect()
}

/// A reconcile inside its span, with its duration in a debug line. Each kind's
/// `reconcile` counts itself in the metrics and resets its backoff on success (it
/// knows about problems reported without an error); counting here too would count
/// every reconcile twice.
async fn timed<K, E, F, Fut>(kind: &'static str, reconcile: F, obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, E>
where
    K: Resource<DynamicType = ()>,
    E: ErrorCategory,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
{
    let span = logging::reconcile_span(kind, obj.meta().namespace.as_deref(), &obj.name_any(), &ctx.config.region);
    let started = Instant::now();
    let result = reconcile(obj, ctx).instrument(span.clone()).await;
    let took = started.elapsed();
    let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::debug!(took_ms, ok = result.is_ok(), "reconciled"));
    result
}

fn log_outcome<K, E, Q>(
    kind: &'static str,
    outcome: Result<(ObjectRef<K>, Action), controller::Error<E, Q>>,
) -> std::future::Ready<()>
where
    K: Resource,
    E: std::error::Error,
    Q: std::error::Error,
{
    match outcome {
        // Failed reconciles are logged (and counted) by the error policy.
        Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
        Err(controller::Error::ObjectNotFound(obj)) => {
            tracing::debug!(kind, object = %obj, "object gone before its reconcile");
        }
        Err(e) => tracing::warn!(kind, error = %e, "controller error"),
    }
    std::future::ready(())
}
