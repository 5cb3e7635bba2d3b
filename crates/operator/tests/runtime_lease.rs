//! Leader election between two operators of the same region on one API server: only
//! the Lease holder reconciles; a graceful stop releases the Lease and the standby
//! takes over at once; a killed leader is replaced once its Lease expires.

mod support_runtime;

use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;
use regionstack::run::RunArgs;
use regionstack_api::Region;
use regionstack_api::fixtures::RegionBuilder;
use support_runtime::{Env, Operator, eventually};

/// Short Leases so that the tests run quickly: renewals every second.
const LEASE_SECONDS: u32 = 3;

fn args(env: &Env, instance: &str) -> RunArgs {
    let mut args = env.args("eu-west-1", instance);
    args.lease_duration = LEASE_SECONDS;
    args
}

/// Wait until someone holds the Lease; returns (leader, standby).
async fn leader_of(env: &Env, a: Operator, b: Operator) -> (Operator, Operator) {
    let holder = eventually("a Lease holder", || env.lease_holder("eu-west-1")).await;
    if holder == a.instance { (a, b) } else { (b, a) }
}

async fn reconciled(api: &Api<Region>, name: &str) {
    eventually(&format!("Region {name} reconciled"), || async { api.get(name).await.ok()?.status?.local.map(|_| ()) })
        .await;
}

async fn ready(operator: &Operator) {
    eventually("/ready is 200", || async { (operator.status("/ready").await? == 200).then_some(()) }).await;
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_graceful_stop_hands_over_at_once() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    let a = Operator::start(args(&env, "op-a")).await;
    let b = Operator::start(args(&env, "op-b")).await;
    let (leader, standby) = leader_of(&env, a, b).await;
    reconciled(&api, "eu-west-1").await;
    // Both are ready (a standby is ready to take over); only the leader acts.
    ready(&leader).await;
    ready(&standby).await;
    eventually("the leader gauge", || async { (leader.metric("regionstack_leader", &[]).await == 1).then_some(()) })
        .await;
    assert_eq!(standby.metric("regionstack_leader", &[]).await, 0);
    assert!(leader.reconciles("Region").await >= 1);
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-3").country("FR").build()).await.unwrap();
    reconciled(&api, "eu-west-3").await;
    for kind in ["Region", "PiiDatabase", "TelemetryReplica"] {
        assert_eq!(standby.reconciles(kind).await, 0, "the standby reconciled {kind}");
    }
    assert_eq!(env.lease_holder("eu-west-1").await.as_deref(), Some(leader.instance.as_str()));

    // A graceful stop releases the Lease: the standby takes it within one renew
    // period, well inside the lease duration.
    let new_leader = standby.instance.clone();
    leader.stop().await;
    let stopped = Instant::now();
    assert_eq!(env.lease_holder("eu-west-1").await, None, "released on shutdown");
    eventually("the standby takes over", || async {
        (env.lease_holder("eu-west-1").await? == new_leader).then_some(())
    })
    .await;
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(LEASE_SECONDS.into()), "took {took:?}");
    api.create(&PostParams::default(), &RegionBuilder::new("eu-central-1").country("DE").build()).await.unwrap();
    reconciled(&api, "eu-central-1").await;
    assert!(standby.reconciles("Region").await >= 1);
    standby.stop().await;
}

#[tokio::test]
async fn a_killed_leader_is_replaced_after_its_lease_expires() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    let a = Operator::start(args(&env, "op-a")).await;
    let b = Operator::start(args(&env, "op-b")).await;
    let (leader, standby) = leader_of(&env, a, b).await;
    ready(&standby).await;
    let old_leader = leader.instance.clone();

    // Killed: no release, the Lease still names it until it expires.
    leader.kill();
    assert_eq!(env.lease_holder("eu-west-1").await, Some(old_leader));
    let new_leader = standby.instance.clone();
    eventually("the standby takes over the expired Lease", || async {
        (env.lease_holder("eu-west-1").await? == new_leader).then_some(())
    })
    .await;
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    reconciled(&api, "eu-west-1").await;
    standby.stop().await;
}

#[tokio::test]
async fn a_leader_that_cannot_renew_steps_down_and_leads_again_later() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    let operator = Operator::start(args(&env, "op-a")).await;
    eventually("leading", || async { (operator.metric("regionstack_leader", &[]).await == 1).then_some(()) }).await;

    // The API server goes away for longer than the renew deadline: the operator stops
    // its controllers rather than act on a Lease it may have lost.
    env.emulator.pause();
    eventually("stepped down", || async { (operator.metric("regionstack_leader", &[]).await == 0).then_some(()) })
        .await;
    assert_eq!(operator.status("/live").await, Some(200), "standing by is not a failure");
    env.emulator.resume().await;

    // Back: it takes the Lease again and a new term of controllers reconciles.
    eventually("leading again", || async { (operator.metric("regionstack_leader", &[]).await == 1).then_some(()) })
        .await;
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    reconciled(&api, "eu-west-1").await;
    operator.stop().await;
}
