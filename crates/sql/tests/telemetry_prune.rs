//! Prune safety: export rows are deleted only when every expected target's hop-2
//! slot exists and has confirmed them; otherwise nothing is deleted and the reason
//! is returned. Export on A, one importing target on B.

mod telemetry_support;

use std::time::{Duration, Instant};

use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::import::{ImportSpec, apply_import, teardown_import};
use regionstack_sql::telemetry::prune::{PruneOutcome, prune_confirmed};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use regionstack_sql::{ConnParams, SslMode};
use telemetry_support::{METRICS, admin, metrics_table, q, spec, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_only_confirmed_rows() {
    let cluster = tokio::task::spawn_blocking(|| testbed::Cluster::start(2)).await.unwrap().unwrap();
    let (a, b) = (&cluster.servers()[0], &cluster.servers()[1]);
    a.create_database("app").unwrap();
    b.create_database("app").unwrap();
    q(a, "app", METRICS);
    let spec = spec("prune-r1", "app", vec![metrics_table(None, &[])]);
    let adm = admin(a, "postgres");
    apply_export(&adm, &spec).await.unwrap();
    let names = Names::new(&spec.replica);
    let table = format!("{IMPORT_SCHEMA}.\"{}\"", names.export_table("public", "metrics"));
    let import = ImportSpec {
        replica: spec.replica.clone(),
        target_region: "r2".into(),
        source: ConnParams::new(a.host(), a.port(), &spec.login, spec.password.clone(), BOUNDARY_DB, SslMode::Disable),
        tables: vec![("public".into(), "metrics".into())],
        destination: None,
    };
    let bdm = admin(b, "app");
    apply_import(&bdm, &import).await.unwrap();
    let on_a = || q(a, BOUNDARY_DB, &format!("SELECT count(*) FROM {table}"));
    let on_b = || q(b, "app", &format!("SELECT count(*) FROM {table}"));
    let (r2, r3) = (vec!["r2".to_owned()], vec!["r2".to_owned(), "r3".to_owned()]);

    assert!(matches!(prune_confirmed(&adm, &spec, &[]).await.unwrap(), PruneOutcome::Skipped { .. }));
    q(a, "app", "INSERT INTO metrics (device_id, temperature) SELECT 'd' || g, g FROM generate_series(1, 5) g");
    wait_for("rows on B", || on_b() == "5");
    // An expected target without a slot: nothing is pruned.
    let PruneOutcome::Skipped { reason, .. } = prune_confirmed(&adm, &spec, &r3).await.unwrap() else { panic!() };
    assert!(reason.contains("r3") && reason.contains("does not exist"), "{reason}");
    assert_eq!(on_a(), "5");
    // Every target confirmed (the confirmation may trail the arrival: poll).
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        match prune_confirmed(&adm, &spec, &r2).await.unwrap() {
            PruneOutcome::Pruned { rows, .. } => break rows,
            PruneOutcome::Skipped { reason, .. } => assert!(Instant::now() < deadline, "{reason}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((rows, on_a(), on_b()), (5, "0".into(), "5".into()));

    // The target stops consuming: new rows are not confirmed, nothing is pruned.
    let sub = names.import_subscription("r2");
    q(b, "app", &format!("ALTER SUBSCRIPTION \"{sub}\" DISABLE"));
    wait_for("slot inactive", || {
        q(a, BOUNDARY_DB, &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{sub}'")) == "f"
    });
    q(a, "app", "INSERT INTO metrics (device_id, temperature) SELECT 'e' || g, g FROM generate_series(1, 3) g");
    wait_for("rows in the export", || on_a() == "3");
    let PruneOutcome::Skipped { reason, .. } = prune_confirmed(&adm, &spec, &r2).await.unwrap() else { panic!() };
    assert!(reason.contains("inactive"), "{reason}");
    assert_eq!(on_a(), "3");
    q(b, "app", &format!("ALTER SUBSCRIPTION \"{sub}\" ENABLE"));
    wait_for("rows after re-enabling", || on_b() == "8");
    wait_for("pruned after confirmation", || {
        let rt = tokio::runtime::Handle::current();
        let out = tokio::task::block_in_place(|| rt.block_on(prune_confirmed(&adm, &spec, &r2))).unwrap();
        matches!(out, PruneOutcome::Pruned { rows: 3, .. })
    });
    assert_eq!(on_a(), "0");
    teardown_import(&bdm, &import).await.unwrap();
    teardown_export(&adm, &spec).await.unwrap();
}
