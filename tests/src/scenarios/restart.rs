//! An operator killed mid-reconcile and restarted converges without duplicates
//! (DESIGN I5; emulated only: it needs control of the operator processes). A
//! dedicated replica is applied with kubectl to its source and target clusters; the
//! moment the source operator has recorded its footprint (finalizer and annotation,
//! written ahead of building) and before it reports the side Ready, it is killed with
//! SIGKILL, as a crash would. Restarted, it finishes: both sides Ready at the current
//! generation, a row inserted afterwards arrives exactly once, and each region's
//! telemetry server holds exactly one of every publication, slot and subscription
//! its replicas call for (census), nothing twice and nothing left over.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use kube::{Api, ResourceExt};
use regionstack::controller::telemetry::build::BUILT_ANNOTATION;
use regionstack_api::TelemetryReplica;
use regionstack_api::condition::find_condition;

use super::TIMEOUT;
use crate::scratch::{REPLICA_NAMESPACE, ScratchReplica};
use crate::{E2e, db, eventually};

/// The scenario (see the module documentation); on real clusters it only says why it
/// does not run.
pub async fn restart_mid_reconcile(e2e: &mut E2e) -> anyhow::Result<()> {
    if e2e.topology_ref().is_none() {
        eprintln!("restart mid-reconcile: not run on real clusters (needs control of the operator processes)");
        return Ok(());
    }
    let (from, to) = e2e.two_active().await?;
    let (from, to) = (from.clone(), to.clone());
    let replica = ScratchReplica::create(&from, &to, "restart", false).await?;
    let outcome = check(e2e, &replica).await;
    let cleaned = replica.cleanup().await;
    outcome.and(cleaned)
}

/// Whether the replica's Ready condition is True for its current generation.
fn ready_now(obj: &TelemetryReplica) -> bool {
    obj.status.as_ref().is_some_and(|s| {
        s.observed_generation == obj.metadata.generation
            && find_condition(&s.conditions, "Ready")
                .is_some_and(|c| c.status == regionstack_api::ConditionStatus::True)
    })
}

async fn check(e2e: &mut E2e, replica: &ScratchReplica) -> anyhow::Result<()> {
    let source = e2e.cluster(&replica.from).clone();
    let api: Api<TelemetryReplica> = Api::namespaced(source.client.clone(), REPLICA_NAMESPACE);
    replica.apply().await?;

    // Watch for the write-ahead footprint as closely as the API allows.
    let started = Instant::now();
    let recorded = loop {
        if let Some(obj) = api.get_opt(&replica.name).await?
            && obj.annotations().contains_key(BUILT_ANNOTATION)
        {
            break obj;
        }
        ensure!(started.elapsed() < TIMEOUT, "[{}] no footprint recorded within {} s", replica.from, TIMEOUT.as_secs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let topology = e2e.topology().context("emulated topology")?;
    topology.kill_operator(&replica.from);
    let at_kill = api.get(&replica.name).await?;
    ensure!(
        !ready_now(&recorded) && !ready_now(&at_kill),
        "[{}] the source side was already Ready when its operator was killed: not mid-reconcile",
        replica.from
    );
    eprintln!(
        "killed {}'s operator {:.2} s after the apply, footprint recorded, side not Ready",
        replica.from,
        started.elapsed().as_secs_f64()
    );

    topology.start_operator(&replica.from)?;
    topology.wait_ready(&replica.from, Instant::now() + TIMEOUT).await?;
    eprintln!("restarted, /ready after {:.1} s", started.elapsed().as_secs_f64());
    for side in [0, 1] {
        replica
            .kubectl(side)
            .wait_condition(
                "telemetryreplica",
                REPLICA_NAMESPACE,
                &replica.name,
                "Ready",
                ("True", "Reconciled"),
                TIMEOUT,
            )
            .await
            .with_context(|| format!("after restarting {}'s operator", replica.from))?;
    }

    eprintln!("both sides Ready after {:.1} s", started.elapsed().as_secs_f64());
    replica.insert("after-restart").await?;
    eventually("the row in the destination table", TIMEOUT, || async {
        Ok((replica.rows(true, "after-restart").await? >= 1).then_some(()))
    })
    .await?;
    let arrived = replica.rows(true, "after-restart").await?;
    ensure!(arrived == 1, "the row arrived {arrived} times in {}", replica.to);
    for region in [&replica.from, &replica.to] {
        db::wait_census(e2e.cluster(region), TIMEOUT).await.context("after the restart")?;
    }
    Ok(())
}
