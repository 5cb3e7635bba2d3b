//! The demo's script as assertions, on the emulated seed topology (or the clusters of
//! `REGIONSTACK_E2E_KUBECONFIGS`): every object settles in every cluster, telemetry
//! with personal data crosses in both directions only anonymized, a rogue
//! publication is refused, a hand-made slot is removed, a Planned region refuses a
//! PII database, and the PII canary scan finds no region's canaries in any other
//! region. Then, on the emulated topology, an operator killed mid-reconcile and
//! restarted converges without duplicates, and the seed keeps replicating.

use std::time::Instant;

use e2e::scenarios::restart::restart_mid_reconcile;
use e2e::{E2e, Step};

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
    e2e.shutdown().await;
}
