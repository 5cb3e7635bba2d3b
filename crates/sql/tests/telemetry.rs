//! End to end on two real PostgreSQL servers standing for two regions: the export
//! (boundary database, hop 1, hop 2) on A, the import on B; rows arrive transformed,
//! no raw identifier reaches the boundary database or B, the replication login is
//! confined, `apply` is idempotent and teardown leaves the application's data.

use std::time::{Duration, Instant};

use regionstack_api::fixtures::device_telemetry_table;
use regionstack_api::telemetry::{TableExport, TimeUnit};
use regionstack_sql::telemetry::export::{ExportSpec, apply_export, drop_boundary, teardown_export};
use regionstack_sql::telemetry::import::{
    ImportHealth, ImportSpec, apply_import, import_status, teardown_import, wait_for_worker,
};
use regionstack_sql::telemetry::prune::{PruneOutcome, prune_confirmed};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use regionstack_sql::{ConnParams, Password, SslMode, connect};
use testbed::PgServer;

const EMAIL: &str = "canary.alice@example.com";
const USER: &str = "canary-user-4242";
const DEVICE: &str = "canary-device-7777";
const IP4: &str = "198.51.100.77";
const IP6: &str = "2001:db8:abcd:12:34::99";
const LOGIN: &str = "rs_repl_device_metrics";
const LOGIN_PW: &str = "repl pass 'quoted' \\ here";

fn admin(s: &PgServer, db: &str) -> ConnParams {
    ConnParams::new(s.host(), s.port(), s.superuser(), Password::new(s.password()), db, SslMode::Disable)
}

/// The seed topology's device table, as the test's source table has it: time cut to
/// the minute, no `battery` column, and a row filter.
fn table() -> TableExport {
    device_telemetry_table()
        .edit_column("ts", |c| c.truncate_time(TimeUnit::Minute))
        .without_column("battery")
        .row_filter("firmware NOT LIKE 'dev-%' AND temperature BETWEEN -40 AND 125")
        .build()
}

fn insert_rows(a: &PgServer, tag: &str) {
    a.psql(
        "telemetry",
        &format!(
            "INSERT INTO device_metrics VALUES
             ('2024-05-01 10:11:12.5+00', '{DEVICE}', '{USER}', '{EMAIL}', '{IP4}', 48.85661, 2.35222, '1.2-{tag}', 21.5),
             ('2024-05-01 10:11:13+00', '{DEVICE}', NULL, '{EMAIL}', '{IP6}', -33.86882, -151.20929, '1.2-{tag}', -3.25),
             ('2024-05-01 10:11:14+00', '{DEVICE}', '{USER}', '{EMAIL}', '{IP4}', 1, 1, 'dev-{tag}', 20),
             ('2024-05-01 10:11:15+00', '{DEVICE}', '{USER}', '{EMAIL}', '{IP4}', 1, 1, '1.2-{tag}', 999)"
        ),
    )
    .unwrap();
}

/// Rows (any column, cast to text) containing a canary value, in every user table of `db`.
fn canary_hits(s: &PgServer, db: &str) -> String {
    s.canary_hits(db, &[EMAIL, USER, DEVICE, IP4, IP6]).unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn anonymized_export_end_to_end() {
    let cluster = tokio::task::spawn_blocking(|| testbed::Cluster::start(2)).await.unwrap().unwrap();
    let (a, b) = (&cluster.servers()[0], &cluster.servers()[1]);
    a.create_database("telemetry").unwrap();
    a.psql(
        "telemetry",
        "CREATE TABLE device_metrics (ts timestamptz, device_id text, user_id text, email text, client_ip inet,
             latitude float8, longitude float8, firmware text, temperature float8);
         CREATE ROLE app_writer LOGIN PASSWORD 'app';
         GRANT INSERT, SELECT ON device_metrics TO app_writer;",
    )
    .unwrap();
    insert_rows(a, "before");

    // Source region.
    let spec = ExportSpec {
        replica: "device-metrics-eu-west-1".into(),
        source_database: "telemetry".into(),
        tables: vec![table()],
        login: LOGIN.into(),
        password: Password::new(LOGIN_PW),
        handoff: regionstack_sql::telemetry::handoff::HandoffMode::Auto,
    };
    let first = apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert!(first.len() >= 10, "{first:#?}");
    assert!(first.iter().all(|x| !x.statement.contains("quoted")), "a password reached the plan");
    let second = apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert!(second.is_empty(), "second apply executed {second:#?}");
    let names = Names::new(&spec.replica);
    let export = names.export_table("public", "device_metrics");

    // Target region.
    b.create_database("telemetry").unwrap();
    b.psql(
        "telemetry",
        "CREATE TABLE device_metrics_global (ts timestamptz, device_id text, user_id text, client_ip inet,
             latitude float8, longitude float8, firmware text, temperature float8, received timestamptz DEFAULT now())",
    )
    .unwrap();
    let import = ImportSpec {
        replica: spec.replica.clone(),
        target_region: "eu-west-3".into(),
        source: ConnParams::new(a.host(), a.port(), LOGIN, Password::new(LOGIN_PW), BOUNDARY_DB, SslMode::Disable),
        tables: vec![("public".into(), "device_metrics".into())],
        destination: Some("public.device_metrics_global".into()),
    };
    let first = apply_import(&admin(b, "telemetry"), &import).await.unwrap();
    assert!(first.iter().any(|x| x.statement.contains("CREATE SUBSCRIPTION")), "{first:#?}");
    assert!(first.iter().all(|x| !x.statement.contains("quoted")), "a password reached the plan");
    assert!(apply_import(&admin(b, "telemetry"), &import).await.unwrap().is_empty());
    // The new subscription's apply worker is started by the launcher; the operator waits
    // for it with wait_for_worker before it reports the import.
    let running = wait_for_worker(&admin(b, "telemetry"), &import, std::time::Duration::from_secs(20)).await.unwrap();
    assert!(running, "no apply worker within 20 s");
    assert_eq!(import_status(&admin(b, "telemetry"), &import).await.unwrap().health, ImportHealth::Streaming);

    // A probe slot of the replication login in the boundary database (test_decoding).
    let login = connect(&import.source).await.unwrap();
    login.batch_execute("SELECT pg_create_logical_replication_slot('probe', 'test_decoding')").await.unwrap();

    insert_rows(a, "after");
    let count = || b.psql("telemetry", "SELECT count(*) FROM device_metrics_global").unwrap();
    wait_for("rows on B", || count() == "2");
    let rows = b
        .psql("telemetry", "SET TimeZone = 'UTC'; SELECT ts, device_id, coalesce(user_id, 'NULL'), client_ip, latitude, longitude, firmware, temperature FROM device_metrics_global ORDER BY temperature")
        .unwrap();
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows[0][0], "2024-05-01 10:11:00+00");
    assert_eq!(rows[0][1].len(), 64, "hex HMAC-SHA256");
    assert!(rows[0][1].chars().all(|c| c.is_ascii_hexdigit()) && rows[0][1] != DEVICE);
    assert_eq!(rows[0][1], rows[1][1], "the same device hashes the same way");
    assert_eq!(&rows[0][2..], ["NULL", "2001:db8:abcd::/48", "-33.9", "-151.2", "1.2-after", "-3.25"]);
    assert_eq!(&rows[1][3..], ["198.51.100.0/24", "48.9", "2.4", "1.2-after", "21.5"]);
    assert_ne!(rows[1][2], USER);
    // Nothing stayed in staging; the export holds only transformed rows.
    assert_eq!(a.psql(BOUNDARY_DB, "SELECT count(*) FROM public.device_metrics").unwrap(), "0");
    let status = import_status(&admin(b, "telemetry"), &import).await.unwrap();
    assert_eq!(status.health, ImportHealth::Streaming, "{status:?}");
    assert!(status.lag_bytes.is_some(), "{status:?}");

    // PII canary scan: boundary database on A, every database on B.
    assert_eq!(canary_hits(a, BOUNDARY_DB), "");
    for db in ["telemetry", "postgres"] {
        assert_eq!(canary_hits(b, db), "", "raw value in {db} on B");
    }
    assert_ne!(canary_hits(a, "telemetry"), "", "the scan finds raw values where they are");
    let decoded = login
        .query("SELECT data FROM pg_logical_slot_get_changes('probe', NULL, NULL)", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(decoded.contains(&export), "the probe decodes the export inserts: {decoded}");
    for raw in [EMAIL, USER, DEVICE, IP4, IP6] {
        assert!(!decoded.contains(raw), "raw {raw} decoded in the boundary database");
    }
    login.batch_execute("SELECT pg_drop_replication_slot('probe')").await.unwrap();

    // The replication login: boundary database only, export tables only.
    let denied = login.query("SELECT * FROM public.device_metrics", &[]).await.unwrap_err();
    assert_eq!(denied.code().map(tokio_postgres::error::SqlState::code), Some("42501"));
    assert!(login.query("SELECT * FROM regionstack.hmac_key", &[]).await.is_err());
    assert!(login.query("SELECT regionstack.pseudonymize('x')", &[]).await.is_err());
    login.query(&format!("SELECT * FROM {IMPORT_SCHEMA}.\"{export}\""), &[]).await.unwrap();
    for db in ["telemetry", "postgres", "template1"] {
        assert!(connect(&import.source.with_dbname(db)).await.is_err(), "login connected to {db}");
    }
    let app = ConnParams::new(a.host(), a.port(), "app_writer", Password::new("app"), "telemetry", SslMode::Disable);
    connect(&app).await.unwrap().batch_execute("SELECT count(*) FROM device_metrics").await.unwrap();

    // Pruning does not affect what was already delivered.
    // Once the target has confirmed them (its slot confirms asynchronously: poll).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let outcome = prune_confirmed(&admin(a, "postgres"), &spec, &["eu-west-3".to_owned()]).await.unwrap();
        match outcome {
            PruneOutcome::Pruned { rows, .. } => {
                assert!(rows >= 2, "pruned {rows} rows");
                break;
            }
            PruneOutcome::Skipped { reason, .. } => {
                assert!(std::time::Instant::now() < deadline, "never pruned: {reason}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    insert_rows(a, "pruned");
    wait_for("rows after pruning", || count() == "4");

    // Teardown: nothing of regionstack left, application data intact.
    let before = a.psql("telemetry", "SELECT count(*) FROM device_metrics").unwrap();
    assert_eq!(before, "12");
    drop(login);
    assert!(!teardown_import(&admin(b, "telemetry"), &import).await.unwrap().is_empty());
    assert!(!teardown_export(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    assert!(!drop_boundary(&admin(a, "postgres")).await.unwrap().is_empty());
    assert!(teardown_export(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    assert_eq!(a.psql("telemetry", "SELECT count(*) FROM device_metrics").unwrap(), before);
    assert_eq!(count(), "4");
    let leftovers = "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)
                     + (SELECT count(*) FROM pg_subscription) + (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rs\\_%')
                     + (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'regionstack%')
                     + (SELECT count(*) FROM pg_database WHERE datname LIKE 'regionstack%')";
    assert_eq!(a.psql("telemetry", leftovers).unwrap(), "0");
    assert_eq!(b.psql("telemetry", leftovers).unwrap(), "0");
}
