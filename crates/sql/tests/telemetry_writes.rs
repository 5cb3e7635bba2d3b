//! Hop 1 must never make the application's own writes fail: a writer keeps
//! inserting into the source table while the export is created, altered (rules,
//! columns, row filter) and torn down; not one insert fails.

mod telemetry_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use regionstack_sql::connect;
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use serde_json::json;
use telemetry_support::{METRICS, admin, metrics_table, q, spec, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn application_writes_never_fail_during_create_alter_teardown() {
    let a = tokio::task::spawn_blocking(testbed::PgServer::start).await.unwrap().unwrap();
    a.create_database("app").unwrap();
    q(&a, "app", METRICS);
    let app = connect(&admin(&a, "app")).await.unwrap();
    let (stop, ok, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writer = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        tokio::spawn(async move {
            let mut errors = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let temp = f64::from(u32::try_from(i % 50).unwrap()) - 10.0;
                let r = app
                    .execute(
                        "INSERT INTO metrics (device_id, email, temperature, firmware) VALUES ($1, 'e@x', $2, 'v1')",
                        &[&format!("dev-{i}"), &temp],
                    )
                    .await;
                match r {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors.push(e.to_string());
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            errors
        })
    };
    let progress = |n: u64| {
        let ok = ok.clone();
        move || ok.load(Ordering::Relaxed) >= n
    };
    wait_for("writer started", progress(50));

    let mut spec = spec("writes-r1", "app", vec![metrics_table(None, &[])]);
    let adm = admin(&a, "postgres");
    apply_export(&adm, &spec).await.unwrap();
    let export = format!("{IMPORT_SCHEMA}.\"{}\"", Names::new(&spec.replica).export_table("public", "metrics"));
    wait_for("exported rows", || q(&a, BOUNDARY_DB, &format!("SELECT count(*) > 10 FROM {export}")) == "t");

    // Alter: a rule changed, a column added, a row filter added.
    let mut t = metrics_table(Some("temperature >= 0"), &[]);
    for c in &mut t.columns {
        if c.name == "firmware" {
            *c = serde_json::from_value(json!({"name": "firmware", "class": "none", "transform": "keep"})).unwrap();
        } else if c.name == "temperature" {
            *c = serde_json::from_value(
                json!({"name": "temperature", "class": "none", "transform": "round", "digits": 0}),
            )
            .unwrap();
        }
    }
    spec.tables = vec![t];
    let before = ok.load(Ordering::Relaxed);
    assert!(!apply_export(&adm, &spec).await.unwrap().is_empty());
    wait_for("writes after the alteration", progress(before + 50));
    wait_for("altered rows exported", || {
        q(&a, BOUNDARY_DB, &format!("SELECT count(*) > 5 FROM {export} WHERE firmware = 'v1'")) == "t"
    });
    assert_eq!(
        q(&a, BOUNDARY_DB, &format!("SELECT count(*) FROM {export} WHERE firmware = 'v1' AND temperature < 0")),
        "0"
    );

    let before = ok.load(Ordering::Relaxed);
    assert!(!teardown_export(&adm, &spec).await.unwrap().is_empty());
    wait_for("writes after teardown", progress(before + 50));
    stop.store(true, Ordering::Relaxed);
    let errors = writer.await.unwrap();
    assert!(errors.is_empty(), "{} application writes failed: {errors:?}", errors.len());
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    let total = ok.load(Ordering::Relaxed);
    assert_eq!(q(&a, "app", "SELECT count(*) FROM metrics"), total.to_string());
}
