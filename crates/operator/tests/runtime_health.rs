//! The health server of a real operator (`run_on`) against the emulator: `/live`,
//! `/ready` before and after the watches synced, `/ready` while the API server is
//! unreachable and after it came back, and `/metrics`.

mod support_runtime;

use kube::Api;
use kube::api::PostParams;
use regionstack_api::Region;
use regionstack_api::fixtures::RegionBuilder;
use support_runtime::{Env, Operator, eventually, http_get_raw};

async fn reconciled(api: &Api<Region>, name: &str) {
    eventually(&format!("Region {name} reconciled"), || async { api.get(name).await.ok()?.status?.local.map(|_| ()) })
        .await;
}

#[tokio::test]
async fn ready_only_after_every_watch_listed() {
    // Without the CRDs the regionstack watches cannot list: not ready, and saying why.
    let env = Env::without_crds().await;
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;
    eventually("/live answers 200", || async { (operator.status("/live").await? == 200).then_some(()) }).await;
    let (status, body) = eventually("/ready answers", || operator.get("/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("watch Region"), "{body}");

    env.install_crds().await;
    eventually("/ready turns 200", || async { (operator.status("/ready").await? == 200).then_some(()) }).await;
    let api: Api<Region> = Api::all(env.client.clone());
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    reconciled(&api, "eu-west-1").await;

    let (head, body) = http_get_raw(operator.addr, "/metrics").await.expect("metrics");
    assert!(head.contains("200"), "{head}");
    assert!(head.to_lowercase().contains("content-type: application/openmetrics-text"), "{head}");
    assert!(body.contains("regionstack_reconciles_total{kind=\"Region\",result=\"ok\"}"), "{body}");
    assert!(body.contains("regionstack_leader 1"), "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    // The failed lists before the CRDs existed were counted.
    assert!(operator.metric("regionstack_watch_errors_total", &[("kind", "Region")]).await >= 1);
    operator.stop().await;
}

#[tokio::test]
async fn ready_follows_the_api_server_going_away_and_coming_back() {
    let env = Env::start().await;
    let api: Api<Region> = Api::all(env.client.clone());
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    let operator = Operator::start(env.args("eu-west-1", "op-a")).await;
    eventually("/ready turns 200", || async { (operator.status("/ready").await? == 200).then_some(()) }).await;
    reconciled(&api, "eu-west-1").await;
    let errors_before = operator.metric("regionstack_watch_errors_total", &[]).await;

    env.emulator.pause();
    let body = eventually("/ready turns 503", || async {
        let (status, body) = operator.get("/ready").await?;
        (status == 503).then_some(body)
    })
    .await;
    assert!(body.contains("failing"), "{body}");
    assert_eq!(operator.status("/live").await, Some(200), "the process still runs its loops");
    assert!(operator.metric("regionstack_watch_errors_total", &[]).await > errors_before);

    env.emulator.resume().await;
    eventually("/ready turns 200 again", || async { (operator.status("/ready").await? == 200).then_some(()) }).await;
    // And the controllers see what happens afterwards.
    api.create(&PostParams::default(), &RegionBuilder::new("eu-west-3").country("FR").build()).await.unwrap();
    reconciled(&api, "eu-west-3").await;
    operator.stop().await;
}
