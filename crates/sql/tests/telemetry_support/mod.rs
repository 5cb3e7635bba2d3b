//! Shared helpers of the `telemetry_*` tests: a source table, an export spec and
//! polling with a deadline.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use regionstack_api::telemetry::TableExport;
use regionstack_sql::telemetry::export::ExportSpec;
use regionstack_sql::{ConnParams, Password, SslMode};
use testbed::PgServer;

/// Superuser connection parameters for `db` on `s`.
pub fn admin(s: &PgServer, db: &str) -> ConnParams {
    ConnParams::new(s.host(), s.port(), s.superuser(), Password::new(s.password()), db, SslMode::Disable)
}

/// `CREATE TABLE` of the metrics table used by these tests (in the current database).
pub const METRICS: &str = "CREATE TABLE metrics (id bigserial, ts timestamptz DEFAULT now(), device_id text,
    email text, temperature float8, firmware text)";

/// A rule list over `METRICS`; `extra` rules are appended.
pub fn metrics_table(filter: Option<&str>, extra: &[serde_json::Value]) -> TableExport {
    let mut columns = vec![
        serde_json::json!({"name": "id", "class": "none", "transform": "keep"}),
        serde_json::json!({"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "hour"}),
        serde_json::json!({"name": "device_id", "class": "identifier", "transform": "hash"}),
        serde_json::json!({"name": "email", "class": "identifier", "transform": "drop"}),
        serde_json::json!({"name": "temperature", "class": "none", "transform": "keep"}),
        serde_json::json!({"name": "firmware", "class": "none", "transform": "drop"}),
    ];
    columns.extend(extra.iter().cloned());
    let mut t = serde_json::json!({"schema": "public", "name": "metrics", "columns": columns});
    if let Some(f) = filter {
        t["rowFilter"] = serde_json::Value::String(f.to_owned());
    }
    serde_json::from_value(t).unwrap()
}

/// An export of `tables` from database `db`.
pub fn spec(replica: &str, db: &str, tables: Vec<TableExport>) -> ExportSpec {
    ExportSpec {
        replica: replica.into(),
        source_database: db.into(),
        tables,
        login: format!("rs_login_{}", replica.replace('-', "_")),
        password: Password::new("first password"),
        handoff: regionstack_sql::telemetry::handoff::HandoffMode::Auto,
    }
}

/// Poll `f` every 100 ms until it holds; panics after 60 s.
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first column of `sql`'s result in `db`, one line per row.
pub fn q(s: &PgServer, db: &str, sql: &str) -> String {
    s.psql(db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}
