//! Injection attempts in table, column, login names and row filters are refused with
//! `SqlError::Invalid` before any statement runs (the catalog is unchanged), and
//! 63-byte names work end to end (generated names fit with a hash suffix).

mod telemetry_support;

use regionstack_sql::SqlError;
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use serde_json::json;
use telemetry_support::{METRICS, admin, metrics_table, q, spec, wait_for};

const CATALOG: &str =
    "SELECT (SELECT count(*) FROM pg_publication) || '/' || (SELECT count(*) FROM pg_replication_slots)
    || '/' || (SELECT count(*) FROM pg_database) || '/' || (SELECT count(*) FROM pg_roles)
    || '/' || (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace)";

#[tokio::test(flavor = "multi_thread")]
async fn injections_refused_and_long_names_work() {
    let a = tokio::task::spawn_blocking(testbed::PgServer::start).await.unwrap().unwrap();
    a.create_database("app").unwrap();
    q(&a, "app", METRICS);
    let adm = admin(&a, "postgres");
    let before = q(&a, "app", CATALOG);

    let mut attempts = Vec::new();
    let mut t = metrics_table(None, &[]);
    t.name = "metrics\"; DROP TABLE metrics; --".into();
    attempts.push(spec("inj-1", "app", vec![t]));
    attempts.push(spec(
        "inj-2",
        "app",
        vec![metrics_table(
            None,
            &[json!({"name": "x\"); DROP TABLE metrics; --", "class": "none", "transform": "keep"})],
        )],
    ));
    for f in [
        "temperature > 0; DROP TABLE metrics",
        "temperature > 0) OR (true",
        "pg_sleep(10) IS NULL",
        "temperature > (SELECT 1)",
        "\"temperature\" > 0 OR \"secret\"\" > 0",
    ] {
        attempts.push(spec("inj-3", "app", vec![metrics_table(Some(f), &[])]));
    }
    let mut bad_login = spec("inj-4", "app", vec![metrics_table(None, &[])]);
    bad_login.login = "x\u{0}y".into();
    attempts.push(bad_login);
    let mut bad_schema = metrics_table(None, &[]);
    bad_schema.schema = "regionstack_import".into();
    attempts.push(spec("inj-5", "app", vec![bad_schema]));
    for s in &attempts {
        let err = apply_export(&adm, s).await.unwrap_err();
        assert!(matches!(err, SqlError::Invalid(_)), "{:?}: {err:?}", s.tables[0]);
        assert_eq!(q(&a, "app", CATALOG), before, "catalog changed by {:?}", s.tables[0]);
    }
    assert_eq!(q(&a, "postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{BOUNDARY_DB}'")), "0");

    // A 63-byte table name with a quote, a long replica name: generated names fit.
    let long = format!("m\"{}", "x".repeat(61));
    assert_eq!(long.len(), 63);
    let quoted = format!("\"{}\"", long.replace('"', "\"\""));
    q(&a, "app", &format!("CREATE TABLE {quoted} (LIKE metrics INCLUDING DEFAULTS)"));
    let mut t = metrics_table(Some("temperature > 0"), &[]);
    t.name.clone_from(&long);
    let replica = format!("replica-{}", "r".repeat(70));
    let mut s = spec(&replica, "app", vec![t]);
    s.login = "rs_long_login".into();
    apply_export(&adm, &s).await.unwrap();
    let names = Names::new(&replica);
    let export = names.export_table("public", &long);
    for n in [&export, &names.hop1(), &names.hop2(), &names.stage_function("public", &long)] {
        assert!(n.len() <= 63, "{n}");
    }
    assert_ne!(
        names.hop1(),
        Names::new(&format!("replica-{}", "r".repeat(71))).hop1(),
        "hash suffix keeps names distinct"
    );
    q(&a, "app", &format!("INSERT INTO {quoted} (device_id, temperature) VALUES ('d', 1), ('d', -1)"));
    let exported = format!("SELECT count(*) FROM {IMPORT_SCHEMA}.\"{export}\"");
    wait_for("long-named export", || q(&a, BOUNDARY_DB, &exported) == "1");
    assert!(apply_export(&adm, &s).await.unwrap().is_empty());
    teardown_export(&adm, &s).await.unwrap();
    assert_eq!(q(&a, "app", &format!("SELECT count(*) FROM {quoted}")), "2");
}
