//! Watches recover from the faults a real API server produces: every watch dropped
//! at once, and a watch answered with 410 Gone (history expired). After each, a later
//! change is still reconciled and `/ready` is 200 again.

mod support_runtime;

use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use regionstack_api::condition::find_condition;
use regionstack_api::fixtures::{PiiDatabaseBuilder, RegionBuilder};
use regionstack_api::{Jurisdiction, PiiDatabase, Region};
use serde_json::json;
use support_runtime::{Env, Operator, eventually};

/// Wait until Region `name` has a status for its current generation whose Ready
/// reason is `reason` and PiiDatabase count is `pii`.
async fn converged(api: &Api<Region>, name: &str, reason: &str, pii: i32) {
    eventually(&format!("Region {name}: {reason}, {pii} PiiDatabases"), || async {
        let region = api.get(name).await.ok()?;
        let status = region.status?;
        let ready = find_condition(&status.conditions, "Ready")?;
        (status.observed_generation == region.metadata.generation
            && ready.reason == reason
            && status.pii_databases == Some(pii))
        .then_some(())
    })
    .await;
}

async fn ready(operator: &Operator) {
    eventually("/ready is 200", || async { (operator.status("/ready").await? == 200).then_some(()) }).await;
}

#[tokio::test]
async fn dropped_and_expired_watches_resume() {
    let env = Env::start().await;
    let regions: Api<Region> = Api::all(env.client.clone());
    let pii: Api<PiiDatabase> = Api::namespaced(env.client.clone(), "default");
    regions.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    regions.create(&PostParams::default(), &RegionBuilder::new("eu-west-3").country("FR").build()).await.unwrap();
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;
    ready(&operator).await;
    converged(&regions, "eu-west-3", "Active", 0).await;
    let open = env.emulator.open_watches();
    eventually("three open watches", || async { (open.load(std::sync::atomic::Ordering::SeqCst) >= 3).then_some(()) })
        .await;

    // Every watch ends (cleanly, as on a server-side timeout): the watcher resumes
    // from its last version and later changes arrive.
    env.emulator.faults().drop_watches();
    let drain = json!({"spec": {"lifecycle": "Draining"}});
    regions.patch("eu-west-3", &PatchParams::default(), &Patch::Merge(&drain)).await.unwrap();
    converged(&regions, "eu-west-3", "Draining", 0).await;
    let db = PiiDatabaseBuilder::new("customers", "eu-west-3").compliance([Jurisdiction::Gdpr]).build();
    pii.create(&PostParams::default(), &db).await.unwrap();
    converged(&regions, "eu-west-3", "Draining", 1).await;
    ready(&operator).await;

    // The next watch gets 410 Gone: that watcher lists again (counted as a watch
    // error) and nothing is lost.
    let errors_before = operator.metric("regionstack_watch_errors_total", &[]).await;
    env.emulator.faults().expire_next_watch();
    env.emulator.faults().drop_watches();
    eventually("the 410 counted as a watch error", || async {
        (operator.metric("regionstack_watch_errors_total", &[]).await > errors_before).then_some(())
    })
    .await;
    let activate = json!({"spec": {"lifecycle": "Active"}});
    regions.patch("eu-west-3", &PatchParams::default(), &Patch::Merge(&activate)).await.unwrap();
    let db = PiiDatabaseBuilder::new("orders", "eu-west-3").compliance([Jurisdiction::Gdpr]).build();
    pii.create(&PostParams::default(), &db).await.unwrap();
    converged(&regions, "eu-west-3", "Active", 2).await;
    ready(&operator).await;

    // History compacted under every watch, then all dropped: each watcher that
    // resumes gets 410 and lists again; changes made meanwhile are picked up.
    env.emulator.compact();
    env.emulator.faults().drop_watches();
    pii.delete("orders", &DeleteParams::default()).await.unwrap();
    converged(&regions, "eu-west-3", "Active", 1).await;
    ready(&operator).await;
    operator.stop().await;
}
