//! A leadership term owns its database connections: while an operator leads, its
//! PiiDatabase has a notification listener (a session in PostgreSQL); when it
//! steps down (the API server unreachable for longer than the renew deadline) the
//! listener is closed, so a standby neither holds connections nor reacts to drift;
//! leading again opens it again.

mod support;
mod support_runtime;

use kube::Api;
use kube::api::PostParams;
use regionstack_api::fixtures::{PiiDatabaseBuilder, seed_topology};
use regionstack_api::{ConditionStatus, Jurisdiction, PiiDatabase, Region};
use support::pii::{connection_data, pg_server, psql};
use support_runtime::{Env, Operator, eventually};

const NS: &str = "default";

/// regionstack's sessions in the `customers` database. Reconciles open and close
/// their own; the listener's (which also runs the drift checks, so its last query is
/// not always `LISTEN`) stays open while the operator leads.
fn sessions(server: &testbed::PgServer) -> u32 {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'regionstack' AND datname = 'customers'";
    psql(server, "postgres", sql).expect("count sessions").parse().expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_holds_no_listener_and_a_new_term_opens_it_again() {
    let server = pg_server(&["customers"]).await;
    let env = Env::start().await;
    let regions: Api<Region> = Api::all(env.client.clone());
    for r in seed_topology().regions {
        regions.create(&PostParams::default(), &r).await.expect("create Region");
    }
    let data = connection_data(&server, "customers");
    let pairs: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::create_secret(&env.client, NS, "customers-conn", &pairs).await;
    let db =
        PiiDatabaseBuilder::new("customers", "eu-west-1").compliance([Jurisdiction::Gdpr]).external("customers-conn");
    let api: Api<PiiDatabase> = Api::namespaced(env.client.clone(), NS);
    api.create(&PostParams::default(), &db.build()).await.expect("create PiiDatabase");

    let mut args = env.args("eu-west-1", "op-a");
    args.lease_duration = 3;
    let operator = Operator::start(args).await;
    let leading = |want: u64| {
        let operator = &operator;
        async move { (operator.metric("regionstack_leader", &[]).await == want).then_some(()) }
    };
    eventually("PiiDatabase Ready", || async {
        let db = api.get("customers").await.ok()?;
        db.status?.conditions.iter().any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True).then_some(())
    })
    .await;
    eventually("the leader's listener session", || async { (sessions(&server) >= 1).then_some(()) }).await;

    env.emulator.pause();
    eventually("stepped down", || leading(0)).await;
    eventually("the standby closed every session", || async { (sessions(&server) == 0).then_some(()) }).await;

    env.emulator.resume().await;
    eventually("leading again", || leading(1)).await;
    eventually("the new term's listener session", || async { (sessions(&server) >= 1).then_some(()) }).await;
    operator.stop().await;
}
