//! The demo's script as assertions, on the emulated seed topology (or the clusters of
//! `REGIONSTACK_E2E_KUBECONFIGS`): every object settles in every cluster, telemetry
//! with personal data crosses in both directions only anonymized, a rogue
//! publication is refused, a hand-made slot is removed, a Planned region refuses a
//! PII database, and the PII canary scan finds no region's canaries in any other
//! region. Then, on the emulated topology, an operator killed mid-reconcile and
//! restarted converges without duplicates, and the seed keeps replicating. The
//! emulated operators run under RBAC; any request they were denied fails the test.

use std::time::Instant;

use e2e::scenarios::restart::restart_mid_reconcile;
use e2e::{E2e, Step};

/// Grants of the chart that a run may leave unused, each with its reason. Anything
/// else the chart grants must be used, so the chart cannot drift into granting more
/// than the operator needs.
const MAY_GO_UNUSED: &[(&str, &str, &str)] = &[
    // The CloudNativePG Cluster's owner reference sets blockOwnerDeletion, which the
    // OwnerReferencesPermissionEnforcement admission plugin (on by default in
    // OpenShift) checks against this; kube-apiserver's defaults, and the emulator, do not.
    ("regionstack.io", "piidatabases/finalizers", "update"),
    // kube's event Recorder patches an Event only when the same event repeats.
    ("events.k8s.io", "events", "patch"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_script_holds() {
    let mut e2e = E2e::start().await.expect("the clusters under test");
    for step in Step::script() {
        e2e.assert_step(&step).await;
    }

    let started = Instant::now();
    let outcome = restart_mid_reconcile(&mut e2e).await;
    e2e.verdict("an operator killed mid-reconcile converges without duplicates", started, outcome);
    e2e.assert_step(&Step::Settle).await;
    e2e.assert_step(&Step::Replicate { from: "eu-west-1".into(), to: "eu-west-3".into() }).await;
    // The operators ran under RBAC: a permission they lack fails the suite here even
    // when the steps happened to hold.
    let denied = e2e.denied();
    assert!(denied.is_empty(), "the operators were denied:\n{}", denied.join("\n"));
    // Least privilege made visible: what the chart grants that no operator used.
    let unused = e2e.unused_permissions().expect("the chart's RBAC renders");
    println!("granted by the chart but never used in this run:");
    for p in &unused {
        println!("  {p}");
    }
    let surprising: Vec<String> = unused
        .iter()
        .filter(|p| !MAY_GO_UNUSED.contains(&(p.api_group.as_str(), p.resource.as_str(), p.verb.as_str())))
        .map(ToString::to_string)
        .collect();
    assert!(
        surprising.is_empty(),
        "the chart grants permissions the operators never used; remove them or explain them in MAY_GO_UNUSED:\n{}",
        surprising.join("\n")
    );
    e2e.shutdown().await;
}
