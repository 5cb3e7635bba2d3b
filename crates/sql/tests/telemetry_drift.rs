//! Source schema drift and spec changes on real PostgreSQL servers (export on A,
//! import on B): an undeclared source column is reported and not exported; a declared
//! column retyped or removed in the source is reported and the export re-rendered; a
//! changed spec (rule, added column, row filter, removed column) is re-rendered in
//! place, and `apply_import` follows. Rows keep flowing throughout.

mod telemetry_support;

use regionstack_api::reason::ReasonCode;
use regionstack_sql::telemetry::audit::{audit_source, check_source_schema};
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::import::{ImportSpec, apply_import, teardown_import};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use regionstack_sql::{ConnParams, SslMode};
use serde_json::json;
use telemetry_support::{METRICS, admin, metrics_table, q, spec, wait_for};

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn drift_and_spec_changes_rerender_in_place() {
    let cluster = tokio::task::spawn_blocking(|| testbed::Cluster::start(2)).await.unwrap().unwrap();
    let (a, b) = (&cluster.servers()[0], &cluster.servers()[1]);
    a.create_database("app").unwrap();
    b.create_database("app").unwrap();
    q(a, "app", METRICS);
    let mut spec = spec("drift-r1", "app", vec![metrics_table(None, &[])]);
    let adm = admin(a, "postgres");
    apply_export(&adm, &spec).await.unwrap();
    let export = Names::new(&spec.replica).export_table("public", "metrics");
    let import = ImportSpec {
        replica: spec.replica.clone(),
        target_region: "r2".into(),
        source: ConnParams::new(a.host(), a.port(), &spec.login, spec.password.clone(), BOUNDARY_DB, SslMode::Disable),
        tables: vec![("public".into(), "metrics".into())],
        destination: None,
    };
    let bdm = admin(b, "app");
    apply_import(&bdm, &import).await.unwrap();
    let imported = format!("{IMPORT_SCHEMA}.\"{export}\"");
    let count = |filter: &str| q(b, "app", &format!("SELECT count(*) FROM {imported} WHERE {filter}"));
    let shape = |s: &testbed::PgServer, db: &str| {
        q(s, db, &format!(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname) FROM pg_attribute
             WHERE attrelid = '{imported}'::regclass AND attnum > 0 AND NOT attisdropped"
        ))
    };
    q(a, "app", "INSERT INTO metrics (device_id, email, temperature, firmware) VALUES ('d1', 'e1', 20, 'f1')");
    wait_for("first row on B", || count("true") == "1");
    assert!(check_source_schema(&adm, &spec).await.unwrap().is_empty());

    // A column added to the source: reported, not exported, nothing re-rendered.
    q(a, "app", "ALTER TABLE metrics ADD COLUMN secret text");
    let f = check_source_schema(&adm, &spec).await.unwrap();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].code, f[0].object.as_str()), (ReasonCode::UnclassifiedColumn, "column/public.metrics.secret"));
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());
    q(a, "app", "INSERT INTO metrics (device_id, temperature, secret) VALUES ('d2', 21, 'canary-secret')");
    wait_for("row 2 on B", || count("true") == "2");
    assert!(!shape(a, BOUNDARY_DB).contains("secret"));
    assert_eq!(q(a, BOUNDARY_DB, "SELECT count(*) FROM public.metrics"), "0", "staging stays empty");

    // PostgreSQL 15 refuses to retype a column of a hop-1 column list: hop 1 protects
    // itself, and a retype happens as drop + add.
    let refused = a.psql("app", "ALTER TABLE metrics ALTER COLUMN temperature TYPE numeric(6,2)").unwrap_err();
    assert!(refused.to_string().contains("used by a publication"), "{refused}");

    // A declared column removed from the source (CASCADE drops the table from the
    // hop-1 publication): reported, re-rendered without it, writes go on.
    let plain = a.psql("app", "ALTER TABLE metrics DROP COLUMN device_id").is_ok();
    if !plain {
        q(a, "app", "ALTER TABLE metrics DROP COLUMN device_id CASCADE");
    }
    q(a, "app", "INSERT INTO metrics (temperature) VALUES (24)");
    let f = check_source_schema(&adm, &spec).await.unwrap();
    assert!(f.iter().any(|f| f.object == "column/public.metrics.device_id" && f.detail.contains("removed")), "{f:#?}");
    let actions = apply_export(&adm, &spec).await.unwrap();
    assert!(actions.iter().any(|x| x.summary.contains("hop-1 publication")), "plain drop {plain}: {actions:#?}");
    assert!(!shape(a, BOUNDARY_DB).contains("device_id"));
    apply_import(&bdm, &import).await.unwrap();
    q(a, "app", "INSERT INTO metrics (temperature) VALUES (25)");
    wait_for("row 25 on B", || count("temperature = 25") == "1");
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());

    // The column back with another type: reported as retyped against the staging
    // table, re-rendered (staging retyped, export unchanged: hash gives text).
    q(a, "app", "ALTER TABLE metrics ADD COLUMN device_id integer");
    let f = check_source_schema(&adm, &spec).await.unwrap();
    assert!(f.iter().any(|f| f.object == "column/public.metrics.device_id" && f.detail.contains("retyped")), "{f:#?}");
    assert!(!apply_export(&adm, &spec).await.unwrap().is_empty());
    assert!(check_source_schema(&adm, &spec).await.unwrap().len() == 1, "only the unclassified column remains");
    apply_import(&bdm, &import).await.unwrap();
    q(a, "app", "INSERT INTO metrics (device_id, temperature) VALUES (7, 26)");
    wait_for("row 26 on B", || count("temperature = 26 AND length(device_id) = 64") == "1");
    assert!(audit_source(&adm, &spec).await.unwrap().iter().all(|f| f.object.starts_with("hba/")));

    // Spec changes: a rule changed (hour -> day), a column added (firmware, prefix 2),
    // the filter changed, a column removed from the spec (temperature -> drop).
    let mut t = metrics_table(
        Some("temperature > 10 AND firmware LIKE 'v%'"),
        &[json!({"name": "secret", "class": "identifier", "transform": "drop"})],
    );
    for c in &mut t.columns {
        if c.name == "ts" {
            *c = serde_json::from_value(
                json!({"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "day"}),
            )
            .unwrap();
        } else if c.name == "firmware" {
            *c = serde_json::from_value(
                json!({"name": "firmware", "class": "none", "transform": "prefix", "characters": 2}),
            )
            .unwrap();
        }
    }
    spec.tables = vec![t.clone()];
    let actions = apply_export(&adm, &spec).await.unwrap();
    assert!(actions.iter().any(|x| x.summary.starts_with("re-render hop-1")), "{actions:#?}");
    assert!(check_source_schema(&adm, &spec).await.unwrap().is_empty());
    apply_import(&bdm, &import).await.unwrap();
    q(a, "app", "INSERT INTO metrics (ts, temperature, firmware) VALUES
        ('2024-05-01 10:11:12+00', 30, 'v1.2.3'), ('2024-05-01 10:11:12+00', 5, 'v1'), ('2024-05-01 10:11:12+00', 31, 'x1')");
    wait_for("spec-changed row on B", || count("firmware IS NOT NULL") == "1");
    assert_eq!(
        q(b, "app", &format!("SET TimeZone = 'UTC'; SELECT ts, firmware FROM {imported} WHERE firmware IS NOT NULL")),
        "2024-05-01 00:00:00+00|v1"
    );
    for c in &mut spec.tables[0].columns {
        if c.name == "temperature" {
            *c = serde_json::from_value(json!({"name": "temperature", "class": "none", "transform": "drop"})).unwrap();
        }
    }
    // The filter still reads temperature: the column stays in hop 1, not in the export.
    apply_export(&adm, &spec).await.unwrap();
    assert!(!shape(a, BOUNDARY_DB).contains("temperature"), "{}", shape(a, BOUNDARY_DB));
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());
    q(a, "app", "INSERT INTO metrics (temperature, firmware) VALUES (40, 'v9')");
    wait_for("row without temperature on B", || count("firmware = 'v9' AND temperature IS NULL") == "1");

    teardown_import(&bdm, &import).await.unwrap();
    teardown_export(&adm, &spec).await.unwrap();
    assert_eq!(q(a, "app", "SELECT count(*) FROM metrics"), "9");
}
