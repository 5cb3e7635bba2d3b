//! Operator scenarios on one emulated seed topology (or the clusters of
//! `REGIONSTACK_E2E_KUBECONFIGS`), each creating and removing its own objects so
//! that their order does not matter: a PiiDatabase applied to the wrong cluster, a
//! TelemetryReplica exporting a raw identifier, deletion through the finalizers, and
//! (emulated only) dropped and expired watches. The emulated operators run under the
//! Helm chart's RBAC; any request they were denied fails the test.

use e2e::E2e;
use e2e::scenarios::{deletion, faults, foreign, refused};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_scenarios() {
    let e2e = E2e::start().await.expect("the clusters under test");
    // The scenarios start from a settled topology: while the seed replicas are still
    // being built, concurrent logical slot creations on one server wait for each other
    // (observed: a seed import subscription timing out after 30 s, and a scenario's
    // replica Ready on both sides whose first row took longer than 90 s).
    e2e.assert_step(&e2e::Step::Settle).await;
    e2e.scenario(
        "a PiiDatabase applied to the wrong cluster: ForeignRegion, nothing created",
        Box::pin(foreign::foreign_region(&e2e)),
    )
    .await;
    e2e.scenario(
        "a TelemetryReplica exporting a raw identifier: refused, nothing built",
        Box::pin(refused::raw_pii_refused(&e2e)),
    )
    .await;
    e2e.scenario(
        "kubectl delete cleans up through the finalizers, application data stays",
        Box::pin(deletion::deletion_cleans_up(&e2e)),
    )
    .await;
    e2e.scenario("dropped, expired and compacted watches recover", Box::pin(faults::watch_faults(&e2e))).await;
    // The operators ran under the chart's RBAC: finalizers, teardown and watch
    // recovery needed nothing it does not grant.
    let denied = e2e.denied();
    assert!(denied.is_empty(), "the operators were denied:\n{}", denied.join("\n"));
    e2e.shutdown().await;
}
