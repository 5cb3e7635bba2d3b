//! Hop 1 through a hand-off table (DESIGN §6, for TimescaleDB hypertables), forced
//! with `HandoffMode::Always` on plain PostgreSQL: rows arrive transformed at the
//! target, the hand-off table is pruned, a broken hand-off never fails the
//! application's insert and is reported and repaired, teardown leaves the source
//! table and its rows. Hypertable detection and the import decision are checked
//! against a simulated TimescaleDB catalog (a `pg_extension` row and a look-alike
//! `timescaledb_information.hypertables` view).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use regionstack_api::telemetry::TableExport;
use regionstack_sql::telemetry::audit::audit_source;
use regionstack_sql::telemetry::export::{ExportSpec, apply_export, drop_boundary, teardown_export};
use regionstack_sql::telemetry::handoff::{
    HANDOFF_SCHEMA, HandoffMode, HandoffProblem, audit_handoff, hop1_plans, is_hypertable,
};
use regionstack_sql::telemetry::import::{ImportSpec, apply_import, teardown_import};
use regionstack_sql::telemetry::{BOUNDARY_DB, Names};
use regionstack_sql::{ConnParams, Password, SslMode, connect};
use testbed::PgServer;

const DEVICE: &str = "canary-device-7777";
const LOGIN: &str = "rs_repl_handoff";
const LOGIN_PW: &str = "handoff pass";
const REPLICA: &str = "metrics-handoff";

fn admin(s: &PgServer, db: &str) -> ConnParams {
    ConnParams::new(s.host(), s.port(), s.superuser(), Password::new(s.password()), db, SslMode::Disable)
}

fn q(s: &PgServer, db: &str, sql: &str) -> String {
    s.psql(db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn table() -> TableExport {
    serde_json::from_value(serde_json::json!({
        "schema": "public", "name": "device_metrics",
        "rowFilter": "firmware NOT LIKE 'dev-%' AND temperature BETWEEN -40 AND 125",
        "columns": [
            {"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "minute"},
            {"name": "device_id", "class": "identifier", "transform": "hash"},
            {"name": "email", "class": "identifier", "transform": "drop"},
            {"name": "client_ip", "class": "quasi", "transform": "ipPrefix", "ipv4Bits": 24, "ipv6Bits": 48},
            {"name": "temperature", "class": "none", "transform": "keep"}
        ]
    }))
    .unwrap()
}

fn spec(handoff: HandoffMode) -> ExportSpec {
    ExportSpec {
        replica: REPLICA.into(),
        source_database: "telemetry".into(),
        tables: vec![table()],
        login: LOGIN.into(),
        password: Password::new(LOGIN_PW),
        handoff,
    }
}

const SOURCE: &str = "CREATE TABLE device_metrics (ts timestamptz, device_id text, email text, client_ip inet,
    temperature float8, firmware text)";

/// Four rows as the application: two pass the row filter (`firmware` is not exported).
async fn insert_rows(app: &tokio_postgres::Client, tag: &str) {
    app.batch_execute(&format!(
        "INSERT INTO device_metrics VALUES
         ('2024-05-01 10:11:12.5+00', '{DEVICE}', 'a@example.com', '198.51.100.77', 21.5, '1.2-{tag}'),
         ('2024-05-01 10:11:13+00', '{DEVICE}', 'a@example.com', '2001:db8:abcd:12:34::99', -3.25, '1.2-{tag}'),
         ('2024-05-01 10:11:14+00', '{DEVICE}', 'a@example.com', '198.51.100.77', 20, 'dev-{tag}'),
         ('2024-05-01 10:11:15+00', '{DEVICE}', 'a@example.com', '198.51.100.77', 999, '1.2-{tag}')"
    ))
    .await
    .unwrap_or_else(|e| panic!("the application's insert failed: {e}"));
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Simulated TimescaleDB in `db`: `hypertables` lists `(schema, table)` pairs.
fn fake_timescaledb(s: &PgServer, db: &str, hypertables: &[(&str, &str)]) {
    let rows = hypertables.iter().map(|(s, t)| format!("('{s}'::name, '{t}'::name)")).collect::<Vec<_>>().join(", ");
    q(
        s,
        db,
        &format!(
            "CREATE SCHEMA IF NOT EXISTS timescaledb_information;
             CREATE OR REPLACE VIEW timescaledb_information.hypertables (hypertable_schema, hypertable_name) AS VALUES {rows};
             INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
             SELECT 987654, 'timescaledb', 10, 2200, false, 'simulated'
             WHERE NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        ),
    );
}

fn remove_fake_timescaledb(s: &PgServer, db: &str) {
    q(s, db, "DELETE FROM pg_extension WHERE extname = 'timescaledb'; DROP SCHEMA timescaledb_information CASCADE");
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn forced_handoff_end_to_end() {
    let cluster = tokio::task::spawn_blocking(|| testbed::Cluster::start(2)).await.unwrap().unwrap();
    let (a, b) = (&cluster.servers()[0], &cluster.servers()[1]);
    a.create_database("telemetry").unwrap();
    q(
        a,
        "telemetry",
        &format!(
            "{SOURCE}; CREATE ROLE app_writer LOGIN PASSWORD 'app'; GRANT INSERT, SELECT ON device_metrics TO app_writer"
        ),
    );
    let app_params =
        ConnParams::new(a.host(), a.port(), "app_writer", Password::new("app"), "telemetry", SslMode::Disable);
    let app = connect(&app_params).await.unwrap();

    // The application keeps inserting (filtered-out rows) while the export is
    // created, repaired and torn down: no insert may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let background = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let bg = connect(&app_params).await.unwrap();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = bg
                    .batch_execute(
                        "INSERT INTO device_metrics VALUES (now(), 'bg', 'bg@example.com', '10.0.0.1', 0, 'dev-bg')",
                    )
                    .await;
                let n = if r.is_ok() { &ok } else { &failed };
                n.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let spec = spec(HandoffMode::Always);
    let names = Names::new(REPLICA);
    let handoff = names.handoff_table("public", "device_metrics");
    let qualified = format!("{HANDOFF_SCHEMA}.{handoff}");
    let first = apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert!(first.iter().any(|x| x.summary.starts_with("create hand-off trigger")), "{first:#?}");
    let second = apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert!(second.is_empty(), "second apply executed {second:#?}");
    let published = format!(
        "SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = '{}'",
        names.hop1()
    );
    assert_eq!(q(a, "telemetry", &published), qualified, "hop 1 publishes the hand-off table, not the source");
    let trigger = format!(
        "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'device_metrics'::regclass AND tgname = '{}'",
        names.handoff_trigger()
    );
    assert_eq!(q(a, "telemetry", &trigger), "O", "plain ENABLE: fires for the application's own inserts");
    assert_eq!(
        q(a, BOUNDARY_DB, &format!("SELECT count(*) FROM {qualified}")),
        "0",
        "the staging table is named like the published table"
    );

    b.create_database("telemetry").unwrap();
    q(
        b,
        "telemetry",
        "CREATE TABLE metrics_global (ts timestamptz, device_id text, client_ip inet, temperature float8)",
    );
    let import = ImportSpec {
        replica: REPLICA.into(),
        target_region: "eu-west-3".into(),
        source: ConnParams::new(a.host(), a.port(), LOGIN, Password::new(LOGIN_PW), BOUNDARY_DB, SslMode::Disable),
        tables: vec![("public".into(), "device_metrics".into())],
        destination: Some("public.metrics_global".into()),
    };
    apply_import(&admin(b, "telemetry"), &import).await.unwrap();
    assert!(apply_import(&admin(b, "telemetry"), &import).await.unwrap().is_empty());

    let count = || q(b, "telemetry", "SELECT count(*) FROM metrics_global");
    insert_rows(&app, "one").await;
    wait_for("rows on B", || count() == "2");
    let rows = q(
        b,
        "telemetry",
        "SET TimeZone = 'UTC'; SELECT ts, device_id, client_ip, temperature FROM metrics_global ORDER BY temperature",
    );
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!((rows[0][0], rows[0][2], rows[0][3]), ("2024-05-01 10:11:00+00", "2001:db8:abcd::/48", "-3.25"));
    assert_eq!((rows[1][2], rows[1][3]), ("198.51.100.0/24", "21.5"));
    assert!(rows[0][1].len() == 64 && rows[0][1] != DEVICE, "hashed: {}", rows[0][1]);
    // The trigger filtered: only the two exported rows were handed off (no 'dev-bg').
    assert_eq!(q(a, "telemetry", &format!("SELECT count(*) FROM {qualified}")), "2");
    let pruned =
        regionstack_sql::telemetry::prune::prune_confirmed(&admin(a, "postgres"), &spec, &["eu-west-3".to_owned()])
            .await
            .unwrap();
    // Hand-off rows go whether or not the target has confirmed the export rows yet.
    let (regionstack_sql::telemetry::prune::PruneOutcome::Pruned { handoff_rows, .. }
    | regionstack_sql::telemetry::prune::PruneOutcome::Skipped { handoff_rows, .. }) = pruned;
    assert_eq!(handoff_rows, 2, "{pruned:?}");
    assert_eq!(q(a, "telemetry", &format!("SELECT count(*) FROM {qualified}")), "0", "pruned");
    insert_rows(&app, "two").await;
    wait_for("rows after pruning", || count() == "4");
    assert!(audit_handoff(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    let source_audit = audit_source(&admin(a, "postgres"), &spec).await.unwrap();
    // (The testbed's pg_hba.conf allows replication to all: `hba/` findings are expected.)
    let publications: Vec<_> = source_audit.iter().filter(|f| f.object.starts_with("publication/")).collect();
    assert!(publications.is_empty(), "the hand-off publication is what hop 1 should publish: {publications:?}");

    // Broken behind regionstack's back: the application's insert still succeeds.
    q(a, "telemetry", &format!("DROP TABLE {qualified}"));
    insert_rows(&app, "lost").await;
    let findings = audit_handoff(&admin(a, "postgres"), &spec).await.unwrap();
    let problems: Vec<&HandoffProblem> = findings.iter().map(|f| &f.problem).collect();
    assert!(problems.contains(&&HandoffProblem::TableMissing), "{findings:?}");
    assert!(problems.contains(&&HandoffProblem::NotPublished), "{findings:?}");
    assert!(problems.iter().any(|p| matches!(p, HandoffProblem::RowsLost(n) if *n >= 4)), "{findings:?}");
    let repair = apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert!(repair.iter().any(|x| x.summary.starts_with("acknowledge up to")), "{repair:#?}");
    assert!(repair.iter().any(|x| x.statement.contains("REFRESH PUBLICATION")), "{repair:#?}");
    assert!(audit_handoff(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    assert_eq!(q(a, "telemetry", &published), qualified);
    insert_rows(&app, "repaired").await;
    wait_for("rows after the repair", || count() == "6");

    // A disabled trigger is reported and re-created.
    q(a, "telemetry", &format!("ALTER TABLE device_metrics DISABLE TRIGGER {}", names.handoff_trigger()));
    let findings = audit_handoff(&admin(a, "postgres"), &spec).await.unwrap();
    assert_eq!(findings.iter().map(|f| &f.problem).collect::<Vec<_>>(), [&HandoffProblem::TriggerDisabled]);
    apply_export(&admin(a, "postgres"), &spec).await.unwrap();
    assert_eq!(q(a, "telemetry", &trigger), "O");
    insert_rows(&app, "enabled").await;
    wait_for("rows after re-enabling", || count() == "8");

    // Import side: never into a hypertable; a hypertable destination is routed to.
    let import_table = format!("regionstack_import.{}", names.export_table("public", "device_metrics"));
    fake_timescaledb(b, "telemetry", &[("public", "metrics_global")]);
    apply_import(&admin(b, "telemetry"), &import).await.unwrap();
    fake_timescaledb(b, "telemetry", &[("regionstack_import", &names.export_table("public", "device_metrics"))]);
    let refused = apply_import(&admin(b, "telemetry"), &import).await.unwrap_err().to_string();
    assert!(refused.contains("never apply into a hypertable"), "{refused}");
    remove_fake_timescaledb(b, "telemetry");
    assert_eq!(q(b, "telemetry", &format!("SELECT count(*) FROM {import_table}")), "0", "rows are routed, not stored");

    // Teardown: triggers, functions, hand-off and staging tables gone; rows intact.
    let mine = "SELECT count(*) FROM device_metrics WHERE firmware <> 'dev-bg'";
    assert_eq!(q(a, "telemetry", mine), "20");
    assert!(!teardown_import(&admin(b, "telemetry"), &import).await.unwrap().is_empty());
    assert!(!teardown_export(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    assert!(!drop_boundary(&admin(a, "postgres")).await.unwrap().is_empty(), "no staging table left in the boundary");
    assert!(teardown_export(&admin(a, "postgres"), &spec).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    background.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "an application insert failed");
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert_eq!(q(a, "telemetry", mine), "20");
    assert_eq!(
        q(a, "telemetry", "SELECT count(*) FROM device_metrics WHERE firmware = 'dev-bg'"),
        ok.load(Ordering::Relaxed).to_string()
    );
    assert_eq!(q(a, "telemetry", "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'device_metrics'::regclass"), "0");
    let leftovers = "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)
                     + (SELECT count(*) FROM pg_subscription) + (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rs\\_%')
                     + (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'regionstack%')
                     + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'rs\\_%')
                     + (SELECT count(*) FROM pg_database WHERE datname LIKE 'regionstack%')";
    assert_eq!(q(a, "telemetry", leftovers), "0");
    assert_eq!(q(b, "telemetry", leftovers), "0");
}

/// Detection reads `timescaledb_information` only when the extension is installed;
/// `Auto` hands off hypertables only; `Never` refuses a hypertable.
#[tokio::test(flavor = "multi_thread")]
async fn hypertable_detection_and_modes() {
    let a = tokio::task::spawn_blocking(PgServer::start).await.unwrap().unwrap();
    a.create_database("telemetry").unwrap();
    q(&a, "telemetry", SOURCE);
    let c = connect(&admin(&a, "telemetry")).await.unwrap();
    assert!(!is_hypertable(&c, "public", "device_metrics").await.unwrap(), "plain PostgreSQL");
    q(
        &a,
        "telemetry",
        "CREATE SCHEMA timescaledb_information;
         CREATE VIEW timescaledb_information.hypertables (hypertable_schema, hypertable_name) AS VALUES ('public'::name, 'device_metrics'::name)",
    );
    assert!(!is_hypertable(&c, "public", "device_metrics").await.unwrap(), "a look-alike view without the extension");
    let (handoffs, _) = hop1_plans(&c, &spec(HandoffMode::Auto)).await.unwrap();
    assert!(handoffs.is_empty());

    fake_timescaledb(&a, "telemetry", &[("public", "device_metrics")]);
    assert!(is_hypertable(&c, "public", "device_metrics").await.unwrap());
    assert!(!is_hypertable(&c, "public", "other").await.unwrap());
    let (handoffs, published) = hop1_plans(&c, &spec(HandoffMode::Auto)).await.unwrap();
    assert!(handoffs.len() == 1 && handoffs[0].hypertable);
    assert_eq!(published[0].0.schema, HANDOFF_SCHEMA);
    assert_eq!(published[0].0.table, Names::new(REPLICA).handoff_table("public", "device_metrics"));
    assert!(published[0].1.is_none(), "the trigger filters; the hand-off publication has no WHERE");
    assert_eq!(published[0].0.export_table, Names::new(REPLICA).export_table("public", "device_metrics"));
    let refused = hop1_plans(&c, &spec(HandoffMode::Never)).await.unwrap_err().to_string();
    assert!(refused.contains("hypertable"), "{refused}");
    remove_fake_timescaledb(&a, "telemetry");
    assert!(!is_hypertable(&c, "public", "device_metrics").await.unwrap());
}
