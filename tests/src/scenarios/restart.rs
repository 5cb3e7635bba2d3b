//! An operator killed mid-reconcile and restarted converges without duplicates
//! (DESIGN I5; emulated only: it needs control of the operator processes). A
//! dedicated replica is applied with kubectl to its source and target clusters while
//! the test holds an exclusive lock on the replica's source table, so the source
//! operator's build stops at the hop-1 publication: footprint recorded (finalizer and
//! annotation, written ahead), boundary objects built, side not Ready. Exactly then it
//! is killed with SIGKILL, as a crash would, and the lock is released: the statement
//! in flight completes server-side, nothing after it (no hop-1 slot or subscription). Restarted (it takes the Lease once the dead holder's lease expires), it
//! finishes: both sides Ready at the current generation, a row inserted afterwards
//! arrives exactly once, and each region's telemetry server holds exactly one of every
//! publication, slot and subscription its replicas call for (census), nothing twice
//! and nothing left over.

use std::time::Instant;

use anyhow::{Context as _, ensure};
use kube::{Api, ResourceExt};
use regionstack::controller::FINALIZER;
use regionstack::controller::telemetry::build::BUILT_ANNOTATION;
use regionstack_api::TelemetryReplica;
use regionstack_api::condition::find_condition;
use regionstack_sql::connect;
use regionstack_sql::ident::quote_ident;
use regionstack_sql::telemetry::Names;

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
    // A failure may have left the operator dead: the cleanup needs it (finalizers).
    if let Some(topology) = e2e.topology()
        && topology.region(&from.region).operator_pid().is_none()
    {
        topology.start_operator(&from.region)?;
        topology.wait_ready(&from.region, Instant::now() + TIMEOUT).await?;
    }
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
    let table = format!("public.{}", quote_ident(&replica.table));

    // Hold the source table: the operator's CREATE PUBLICATION waits for the lock.
    let holder = connect(replica.source_admin()).await?;
    holder.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await?;
    let started = Instant::now();
    replica.apply().await?;
    let observer = connect(replica.source_admin()).await?;
    let waiting = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE NOT l.granted AND l.relation = to_regclass($1) AND a.application_name = 'regionstack'";
    eventually(
        &format!("[{}] the operator's build waiting on the locked source table", replica.from),
        TIMEOUT,
        || async {
            let n: i64 = observer.query_one(waiting, &[&table]).await?.get(0);
            Ok((n > 0).then_some(()))
        },
    )
    .await?;
    let topology = e2e.topology().context("emulated topology")?;
    topology.kill_operator(&replica.from);
    holder.batch_execute("ROLLBACK").await?;
    let at_kill = api.get(&replica.name).await?;
    ensure!(
        at_kill.annotations().contains_key(BUILT_ANNOTATION) && at_kill.finalizers().iter().any(|f| f == FINALIZER),
        "[{}] killed before the footprint was recorded",
        replica.from
    );
    ensure!(!ready_now(&at_kill), "[{}] the source side was Ready when its operator was killed", replica.from);
    // The statement the dead operator left waiting completes server-side once the lock
    // is gone (PostgreSQL notices the lost client only when it answers); nothing after
    // it ran: no hop-1 slot, no hop-1 subscription.
    eventually("the dead operator's statement finished", TIMEOUT, || async {
        let n: i64 = observer.query_one(waiting, &[&table]).await?.get(0);
        Ok((n == 0).then_some(()))
    })
    .await?;
    let names = Names::new(&replica.id());
    let partial = db::replication_objects(replica.source_admin()).await?;
    let hop1 = [
        format!("slot {}/{}", replica.source_database, names.hop1()),
        format!("subscription regionstack_boundary/{}", names.hop1()),
    ];
    ensure!(
        !partial.iter().any(|o| hop1.contains(o)),
        "[{}] hop 1 was built although its table was locked: {partial:?}",
        replica.from
    );
    eprintln!(
        "killed {}'s operator {:.1} s after the apply, mid-build (footprint recorded, no hop-1 slot or subscription)",
        replica.from,
        started.elapsed().as_secs_f64()
    );

    topology.start_operator(&replica.from)?;
    topology.wait_ready(&replica.from, Instant::now() + TIMEOUT).await?;
    replica.wait_ready(TIMEOUT).await.with_context(|| format!("after restarting {}'s operator", replica.from))?;
    eprintln!("both sides Ready {:.1} s after the apply", started.elapsed().as_secs_f64());

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
