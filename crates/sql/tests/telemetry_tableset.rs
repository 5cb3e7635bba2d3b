//! Changes of the exported table set on real PostgreSQL servers (export on A, import
//! on B): a table added to the spec is staged, published on both hops and copied to
//! the target; a table removed from the spec loses its regionstack objects on both
//! sides while the other table keeps flowing and the application's tables and rows
//! stay; a converged state applies with no statement.

mod telemetry_support;

use regionstack_api::telemetry::TableExport;
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::import::{ImportSpec, apply_import, teardown_import};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use regionstack_sql::{ConnParams, SslMode};
use serde_json::json;
use telemetry_support::{METRICS, admin, metrics_table, q, spec, wait_for};

const EVENTS: &str = "CREATE TABLE events (id bigserial, ts timestamptz DEFAULT now(), device_id text, kind text)";

fn events_table() -> TableExport {
    serde_json::from_value(json!({"schema": "public", "name": "events", "columns": [
        {"name": "id", "class": "none", "transform": "keep"},
        {"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "hour"},
        {"name": "device_id", "class": "identifier", "transform": "hash"},
        {"name": "kind", "class": "none", "transform": "keep"},
    ]}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn table_set_changes_converge() {
    let cluster = tokio::task::spawn_blocking(|| testbed::Cluster::start(2)).await.unwrap().unwrap();
    let (a, b) = (&cluster.servers()[0], &cluster.servers()[1]);
    a.create_database("app").unwrap();
    b.create_database("app").unwrap();
    q(a, "app", METRICS);
    q(a, "app", EVENTS);
    let mut spec = spec("tableset-r1", "app", vec![metrics_table(None, &[])]);
    let names = Names::new(&spec.replica);
    let adm = admin(a, "postgres");
    let bdm = admin(b, "app");
    apply_export(&adm, &spec).await.unwrap();
    let mut import = ImportSpec {
        replica: spec.replica.clone(),
        target_region: "r2".into(),
        source: ConnParams::new(a.host(), a.port(), &spec.login, spec.password.clone(), BOUNDARY_DB, SslMode::Disable),
        tables: vec![("public".into(), "metrics".into())],
        destination: None,
    };
    apply_import(&bdm, &import).await.unwrap();
    let m_export = names.export_table("public", "metrics");
    let e_export = names.export_table("public", "events");
    let m_imported = format!("{IMPORT_SCHEMA}.\"{m_export}\"");
    let e_imported = format!("{IMPORT_SCHEMA}.\"{e_export}\"");
    let count = |table: &str, filter: &str| q(b, "app", &format!("SELECT count(*) FROM {table} WHERE {filter}"));
    q(a, "app", "INSERT INTO metrics (device_id, temperature) VALUES ('d1', 1)");
    wait_for("first metrics row on B", || count(&m_imported, "temperature = 1") == "1");

    // A second table added to the spec.
    spec.tables.push(events_table());
    let actions = apply_export(&adm, &spec).await.unwrap();
    let summaries: Vec<&str> = actions.iter().map(|x| x.summary.as_str()).collect();
    assert!(summaries.iter().any(|s| s.starts_with("set the tables of hop-2 publication")), "{summaries:#?}");
    assert!(summaries.iter().any(|s| s.starts_with("create staging table public.events")), "{summaries:#?}");
    assert!(summaries.iter().any(|s| s.contains("hop-1 publication")), "{summaries:#?}");
    let hop2 = q(
        a,
        BOUNDARY_DB,
        &format!(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = '{}'",
            names.hop2()
        ),
    );
    let mut both = [m_export.clone(), e_export.clone()];
    both.sort();
    assert_eq!(hop2, both.join(","));
    // Written before the target follows: copied by the refresh (copy_data = true).
    q(a, "app", "INSERT INTO events (device_id, kind) VALUES ('d1', 'boot')");
    wait_for("boot event in the export table", || {
        q(a, BOUNDARY_DB, &format!("SELECT count(*) FROM {e_imported}")) == "1"
    });
    import.tables.push(("public".into(), "events".into()));
    let actions = apply_import(&bdm, &import).await.unwrap();
    let summaries: Vec<&str> = actions.iter().map(|x| x.summary.as_str()).collect();
    assert!(summaries.iter().any(|s| s.starts_with("create import table")), "{summaries:#?}");
    assert!(summaries.iter().any(|s| s.starts_with("refresh subscription")), "{summaries:#?}");
    q(a, "app", "INSERT INTO events (device_id, kind) VALUES ('d2', 'click')");
    q(a, "app", "INSERT INTO metrics (device_id, temperature) VALUES ('d2', 2)");
    wait_for("both events on B", || count(&e_imported, "kind IN ('boot', 'click') AND length(device_id) = 64") == "2");
    wait_for("second metrics row on B", || count(&m_imported, "temperature = 2") == "1");
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());
    assert!(apply_import(&bdm, &import).await.unwrap().is_empty());

    // The first table removed from the spec (its last rows delivered first).
    q(a, "app", "INSERT INTO metrics (device_id, temperature) VALUES ('d3', 3)");
    wait_for("third metrics row on B", || count(&m_imported, "temperature = 3") == "1");
    spec.tables.retain(|t| t.name != "metrics");
    let actions = apply_export(&adm, &spec).await.unwrap();
    let summaries: Vec<&str> = actions.iter().map(|x| x.summary.as_str()).collect();
    for want in
        ["set the tables of hop-2", "drop staging table public.metrics", "drop export table", "drop trigger function"]
    {
        assert!(summaries.iter().any(|s| s.starts_with(want)), "{want}: {summaries:#?}");
    }
    let gone = |s: &testbed::PgServer, db: &str, sql: &str| assert_eq!(q(s, db, sql), "t", "{sql}");
    gone(a, BOUNDARY_DB, "SELECT to_regclass('public.metrics') IS NULL");
    gone(a, BOUNDARY_DB, &format!("SELECT to_regclass('{m_imported}') IS NULL"));
    gone(
        a,
        BOUNDARY_DB,
        &format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = '{}')",
            names.stage_function("public", "metrics")
        ),
    );
    gone(
        a,
        "app",
        &format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = '{}' AND tablename = 'metrics')",
            names.hop1()
        ),
    );
    gone(
        a,
        BOUNDARY_DB,
        &format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = '{}' AND tablename = '{m_export}')",
            names.hop2()
        ),
    );
    // The events staging table and its trigger function stay.
    gone(a, BOUNDARY_DB, "SELECT to_regclass('public.events') IS NOT NULL");
    import.tables.retain(|(_, t)| t != "metrics");
    let actions = apply_import(&bdm, &import).await.unwrap();
    let summaries: Vec<&str> = actions.iter().map(|x| x.summary.as_str()).collect();
    assert!(summaries.iter().any(|s| s.starts_with("refresh subscription")), "{summaries:#?}");
    assert!(summaries.iter().any(|s| s.starts_with(&format!("drop import table {m_export}"))), "{summaries:#?}");
    gone(b, "app", &format!("SELECT to_regclass('{m_imported}') IS NULL"));
    q(a, "app", "INSERT INTO events (device_id, kind) VALUES ('d3', 'after')");
    q(a, "app", "INSERT INTO metrics (device_id, temperature) VALUES ('d4', 4)");
    wait_for("event after the removal on B", || count(&e_imported, "kind = 'after'") == "1");
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());
    assert!(apply_import(&bdm, &import).await.unwrap().is_empty());
    // The application's source tables and rows are intact.
    assert_eq!(q(a, "app", "SELECT count(*) FROM metrics"), "4");
    assert_eq!(q(a, "app", "SELECT string_agg(kind, ',' ORDER BY id) FROM events"), "boot,click,after");
    assert_eq!(q(a, BOUNDARY_DB, "SELECT count(*) FROM public.events"), "0", "staging stays empty");

    teardown_import(&bdm, &import).await.unwrap();
    teardown_export(&adm, &spec).await.unwrap();
    assert_eq!(q(a, "app", "SELECT count(*) FROM metrics"), "4");
    assert_eq!(q(a, "app", "SELECT count(*) FROM events"), "3");
}
