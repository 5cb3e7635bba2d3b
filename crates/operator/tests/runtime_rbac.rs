//! The real `regionstack run` process under the emulator's RBAC
//! (`TopologyOptions::operator_rbac`) with one permission taken away from the Helm
//! chart's: the operator is denied, the denial is recorded, the 403 reaches its log
//! and the object's status never converges. (That the chart's full RBAC suffices,
//! with no denial and no grant unused, the end-to-end suite shows on the whole seed
//! topology: tests/tests/demo_steps.rs.)

use std::time::{Duration, Instant};

use kube::Api;
use regionstack_api::PiiDatabase;
use testbed::topology::{ApplyMode, Topology, TopologyOptions, rbac};

const DEADLINE: Duration = Duration::from_secs(90);

fn options(state: &std::path::Path, regions: &[&str], objects: Vec<serde_json::Value>) -> TopologyOptions {
    let mut options = TopologyOptions::new(state)
        .apply(ApplyMode::ServerSide)
        .operator_binary(env!("CARGO_BIN_EXE_regionstack"))
        .operator_args(["--audit-interval", "2", "--resync-interval", "2"])
        .operator_rbac(objects);
    options.regions = regions.iter().map(|r| (*r).to_owned()).collect();
    options
}

async fn ready(topology: &Topology, region: &str, name: &str) -> bool {
    let api: Api<PiiDatabase> = Api::namespaced(topology.region(region).client(), "customers");
    let db = api.get(name).await.unwrap();
    db.status.is_some_and(|s| {
        s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == regionstack_api::ConditionStatus::True)
    })
}

fn log_tail(topology: &Topology, region: &str) -> String {
    let log = std::fs::read_to_string(topology.region(region).operator_log()).unwrap_or_default();
    log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_is_denied_recorded_and_the_status_never_converges() {
    let state = tempfile::tempdir().unwrap();
    let objects = rbac::without_permission(
        rbac::chart_rbac("eu-west-3").unwrap(),
        "regionstack.io",
        "piidatabases/status",
        "patch",
    )
    .unwrap();
    let mut topology = Topology::start(options(state.path(), &["eu-west-3"], objects)).await.unwrap();
    topology.wait_operators_ready(Instant::now() + DEADLINE).await.unwrap();
    let deadline = Instant::now() + DEADLINE;
    let denial = loop {
        if let Some((_, d)) =
            topology.denied().into_iter().find(|(_, d)| d.attributes.combined_resource() == "piidatabases/status")
        {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "no denied status write recorded; operator log:\n{}",
            log_tail(&topology, "eu-west-3")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(denial.attributes.verb, "patch");
    assert_eq!(denial.attributes.namespace, "customers");
    assert_eq!(denial.user.name, "system:serviceaccount:regionstack-system:regionstack");
    // Everything else the operator asked for was granted.
    assert!(topology.denied().iter().all(|(_, d)| d.attributes.combined_resource() == "piidatabases/status"));
    // The operator's error says why (kube-apiserver's wording reaches its log).
    let deadline = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(topology.region("eu-west-3").operator_log())
        .unwrap_or_default()
        .contains("cannot patch resource")
    {
        assert!(
            Instant::now() < deadline,
            "the operator never logged the 403; log:\n{}",
            log_tail(&topology, "eu-west-3")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!ready(&topology, "eu-west-3", "customers-eu-west-3").await, "no status can have been written");
    topology.shutdown().await;
}
