//! Deletion cleans up through the finalizers (DESIGN I5): a dedicated
//! TelemetryReplica built on both sides (rows flowing) and a dedicated PiiDatabase
//! with its guardrails installed are deleted with `kubectl delete` (which waits for
//! the finalizers). The objects go away; the replica's publications, slots,
//! subscriptions, boundary tables and functions, import tables and login are gone
//! from the source and target servers; the PII guardrails are removed; the
//! application's tables and rows are untouched, and every other replica's objects
//! are still there, once each (census).

use anyhow::ensure;
use kube::Api;
use regionstack_api::{PiiDatabase, TelemetryReplica};
use regionstack_sql::telemetry::Names;

use super::TIMEOUT;
use crate::kubectl::Kubectl;
use crate::scratch::{REPLICA_NAMESPACE, ScratchPii, ScratchReplica};
use crate::{E2e, db, eventually};

/// The scenario (see the module documentation).
pub async fn deletion_cleans_up(e2e: &E2e) -> anyhow::Result<()> {
    let (from, to) = e2e.two_active().await?;
    let replica = ScratchReplica::create(from, to, "del", false).await?;
    let pii = match ScratchPii::create(from, "del").await {
        Ok(pii) => pii,
        Err(err) => {
            let _ = replica.cleanup().await;
            return Err(err);
        }
    };
    let name = format!("{}-db", pii.name);
    let outcome = check(e2e, &replica, &pii, &name).await;
    let cleaned = replica.cleanup().await.and(pii.cleanup(&[&name]).await);
    outcome.and(cleaned)
}

async fn check(e2e: &E2e, replica: &ScratchReplica, pii: &ScratchPii, name: &str) -> anyhow::Result<()> {
    let (from, to) = (e2e.cluster(&replica.from), e2e.cluster(&replica.to));
    let kubectl = Kubectl::of(from)?;
    kubectl.apply(&pii.manifest(name, &from.region, &["GDPR"], "Enforce")).await?;
    replica.apply().await?;
    replica.wait_ready(TIMEOUT).await?;
    kubectl.wait_condition("piidatabase", "customers", name, "Ready", ("True", "Reconciled"), TIMEOUT).await?;

    // Built on both sides: a row travels, and the objects are there.
    replica.insert("before-delete").await?;
    eventually("the row in the destination table", TIMEOUT, || async {
        Ok((replica.rows(true, "before-delete").await? == 1).then_some(()))
    })
    .await?;
    let names = Names::new(&replica.id());
    let ours = |objects: Vec<String>| -> Vec<String> {
        let mine = [names.hop1(), names.hop2(), names.import_subscription(&replica.to)];
        objects.into_iter().filter(|o| mine.iter().any(|n| o.ends_with(&format!("/{n}")))).collect()
    };
    let built_source = ours(db::replication_objects(replica.source_admin()).await?);
    let built_target = ours(db::replication_objects(replica.target_admin()).await?);
    ensure!(
        built_source.len() == 5,
        "[{}] expected 2 publications, 2 slots and 1 subscription, found {built_source:?}",
        replica.from
    );
    ensure!(built_target.len() == 1, "[{}] expected the import subscription, found {built_target:?}", replica.to);
    let marked_source = db::marked_objects(replica.source_admin(), &replica.id()).await?;
    let marked_target = db::marked_objects(replica.target_admin(), &replica.id()).await?;
    ensure!(
        !marked_source.is_empty() && !marked_target.is_empty(),
        "no boundary/import objects marked as the replica's"
    );
    let (triggers, _) = db::guardrails(&pii.params).await?;
    ensure!(triggers.len() == 3, "[{}] expected the three guardrail event triggers, found {triggers:?}", from.region);

    // kubectl delete waits until the finalizers are done.
    for side in [0, 1] {
        replica.kubectl(side).delete("telemetryreplica", REPLICA_NAMESPACE, &replica.name).await?;
    }
    kubectl.delete("piidatabase", "customers", name).await?;
    for cluster in [from, to] {
        let api: Api<TelemetryReplica> = Api::namespaced(cluster.client.clone(), REPLICA_NAMESPACE);
        ensure!(api.get_opt(&replica.name).await?.is_none(), "[{}] the replica is still there", cluster.region);
    }
    let api: Api<PiiDatabase> = Api::namespaced(from.client.clone(), "customers");
    ensure!(api.get_opt(name).await?.is_none(), "[{}] the PiiDatabase is still there", from.region);

    for (region, admin) in [(&replica.from, replica.source_admin()), (&replica.to, replica.target_admin())] {
        let left = ours(db::replication_objects(admin).await?);
        ensure!(
            left.is_empty(),
            "[{region}] replication objects left after deletion: {left:?} (built: {built_source:?} {built_target:?})"
        );
        let marked = db::marked_objects(admin, &replica.id()).await?;
        ensure!(marked.is_empty(), "[{region}] objects of the deleted replica left: {marked:?}");
    }
    let (triggers, schema) = db::guardrails(&pii.params).await?;
    ensure!(
        triggers.is_empty() && !schema,
        "[{}] guardrails left: {triggers:?}, schema regionstack: {schema}",
        from.region
    );

    // The application's data stays.
    ensure!(replica.rows(false, "before-delete").await? == 1, "the source row was touched");
    ensure!(replica.rows(true, "before-delete").await? == 1, "the destination row was touched");
    ensure!(pii.accounts().await? == 2, "the PII application rows were touched");
    // Every other replica still has its objects, once each.
    for cluster in [from, to] {
        db::wait_census(cluster, TIMEOUT).await?;
    }
    Ok(())
}
