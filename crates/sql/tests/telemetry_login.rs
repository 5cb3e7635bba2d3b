//! Rotation of the hop-2 login's password when the Secret changes: one
//! `ALTER ROLE` (password shown as `****`, never in clear in a statement), the new
//! password logs in and the old one no longer does, and applying again is a no-op.

mod telemetry_support;

use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::{ConnParams, Password, SslMode, connect};
use telemetry_support::{METRICS, admin, metrics_table, q, spec};

#[tokio::test(flavor = "multi_thread")]
async fn login_password_rotates_idempotently() {
    let a = tokio::task::spawn_blocking(testbed::PgServer::start).await.unwrap().unwrap();
    a.create_database("app").unwrap();
    q(&a, "app", METRICS);
    let mut spec = spec("login-r1", "app", vec![metrics_table(None, &[])]);
    let adm = admin(&a, "postgres");
    apply_export(&adm, &spec).await.unwrap();
    let login =
        |pw: &str| ConnParams::new(a.host(), a.port(), &spec.login, Password::new(pw), BOUNDARY_DB, SslMode::Disable);
    connect(&login("first password")).await.unwrap();
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty(), "the stored verifier matches");

    let new_pw = "rotated 'pass' \\ ü";
    spec.password = Password::new(new_pw);
    let actions = apply_export(&adm, &spec).await.unwrap();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert!(actions[0].summary.starts_with("rotate the password"), "{actions:#?}");
    assert!(actions[0].statement.contains("****") && !actions[0].statement.contains("rotated"), "{actions:#?}");
    assert!(!format!("{actions:?}").contains("rotated"));
    connect(&login(new_pw)).await.unwrap();
    assert!(connect(&login("first password")).await.is_err());
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty(), "rotation is idempotent");
    let stored = q(&a, "postgres", &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{}'", spec.login));
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");
    teardown_export(&adm, &spec).await.unwrap();
}
