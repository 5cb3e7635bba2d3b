//! A TelemetryReplica that would export personal data raw (a `keep` on an identifier
//! column, DESIGN §5) applied with kubectl to its source and target clusters: each
//! operator reports `ResidencyCompliant=False, reason PersonalDataExported` (and
//! `Ready=False`), publishes a Warning Event with that reason, sets no finalizer, and
//! builds nothing: no publication of the source table, no slot, no boundary table or
//! function for it, no login, no subscription in the target's database (DESIGN I3).

use anyhow::{Context as _, ensure};
use kube::{Api, ResourceExt};
use regionstack_api::TelemetryReplica;
use regionstack_sql::connect;
use regionstack_sql::telemetry::Names;

use super::{TIMEOUT, wait_event};
use crate::scratch::{REPLICA_NAMESPACE, ScratchReplica};
use crate::{E2e, db};

/// The scenario (see the module documentation).
pub async fn raw_pii_refused(e2e: &E2e) -> anyhow::Result<()> {
    let (from, to) = e2e.two_active().await?;
    let replica = ScratchReplica::create(from, to, "raw", true).await?;
    let outcome = check(e2e, &replica).await;
    let cleaned = replica.cleanup().await;
    outcome.and(cleaned)
}

async fn check(e2e: &E2e, replica: &ScratchReplica) -> anyhow::Result<()> {
    replica.apply().await?;
    replica.insert("refused-row").await?;
    let refused = ("False", "PersonalDataExported");
    for (side, region) in [(0, &replica.from), (1, &replica.to)] {
        let kubectl = replica.kubectl(side);
        let kind = "telemetryreplica";
        kubectl.wait_condition(kind, REPLICA_NAMESPACE, &replica.name, "ResidencyCompliant", refused, TIMEOUT).await?;
        kubectl.wait_condition(kind, REPLICA_NAMESPACE, &replica.name, "Ready", refused, TIMEOUT).await?;
        let message = kubectl
            .jsonpath(
                kind,
                REPLICA_NAMESPACE,
                &replica.name,
                "{.status.conditions[?(@.type==\"ResidencyCompliant\")].message}",
            )
            .await?;
        ensure!(message.contains("email"), "[{region}] the refusal does not name the column: {message:?}");
        let cluster = e2e.cluster(region);
        let events = wait_event(
            cluster,
            ("TelemetryReplica", REPLICA_NAMESPACE, &replica.name),
            "Warning",
            "PersonalDataExported",
        )
        .await?;
        ensure!(
            events.iter().all(|(_, reason, _)| reason != "Provisioned"),
            "[{region}] provisioned a refused replica: {events:?}"
        );
        let object =
            Api::<TelemetryReplica>::namespaced(cluster.client.clone(), REPLICA_NAMESPACE).get(&replica.name).await?;
        ensure!(object.finalizers().is_empty(), "[{region}] finalizers {:?} on a refused replica", object.finalizers());
        let status = object.status.context("no status")?;
        ensure!(
            status.publication.is_none() && status.data_class.is_none(),
            "[{region}] a refused replica reports a publication {:?} / data class {:?}",
            status.publication,
            status.data_class
        );
    }

    // Nothing built, on either server.
    let names = Names::new(&replica.id());
    let source = connect(replica.source_admin()).await?;
    let published: i64 = source
        .query_one(
            "SELECT count(*) FROM pg_publication_tables WHERE schemaname = 'public' AND tablename = $1",
            &[&replica.table],
        )
        .await?
        .get(0);
    ensure!(published == 0, "[{}] the source table {} is published", replica.from, replica.table);
    for (region, admin) in [(&replica.from, replica.source_admin()), (&replica.to, replica.target_admin())] {
        let objects = db::replication_objects(admin).await?;
        let ours: Vec<&String> = objects
            .iter()
            .filter(|o| {
                [names.hop1(), names.hop2(), names.import_subscription(&replica.to)]
                    .iter()
                    .any(|n| o.ends_with(&format!("/{n}")))
            })
            .collect();
        ensure!(ours.is_empty(), "[{region}] replication objects of a refused replica: {ours:?}");
        let marked = db::marked_objects(admin, &replica.id()).await?;
        ensure!(marked.is_empty(), "[{region}] objects built for a refused replica: {marked:?}");
    }
    ensure!(replica.rows(false, "refused-row").await? == 1, "the source row is gone");
    ensure!(replica.rows(true, "refused-row").await? == 0, "a row of a refused replica reached {}", replica.to);
    Ok(())
}
