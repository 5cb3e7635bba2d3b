//! Servers, export and import: the source and target servers of one measurement,
//! with either the anonymized export path or raw logical replication between them.

#[allow(clippy::wildcard_imports)] // the bench's imports and constants
use super::*;

pub(crate) fn admin(s: &PgServer, db: &str) -> ConnParams {
    ConnParams::new(s.host(), s.port(), s.superuser(), Password::new(s.password()), db, SslMode::Disable)
}

pub(crate) fn source_ddl(sent_at: bool) -> String {
    let extra = if sent_at { ", sent_at timestamptz" } else { "" };
    format!(
        "CREATE TABLE device_metrics (ts timestamptz, device_id text, user_id text, email text, client_ip inet, \
         latitude float8, longitude float8, firmware text, temperature float8{extra})"
    )
}

pub(crate) fn table_export(sent_at: bool) -> TableExport {
    let table = device_telemetry_table()
        .edit_column("ts", |c| c.truncate_time(TimeUnit::Minute))
        .without_column("battery")
        .row_filter("firmware NOT LIKE 'dev-%' AND temperature BETWEEN -40 AND 125");
    if sent_at { table.column(measurement("sent_at").keep()) } else { table }.build()
}

pub(crate) fn export_spec(sent_at: bool) -> ExportSpec {
    ExportSpec {
        replica: REPLICA.into(),
        source_database: DB.into(),
        tables: vec![table_export(sent_at)],
        login: LOGIN.into(),
        password: Password::new(LOGIN_PW),
        handoff: regionstack_sql::telemetry::handoff::HandoffMode::Auto,
    }
}

pub(crate) async fn batch(c: &Client, sql: &str) {
    c.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub(crate) async fn scalar(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// Wait until subscription `sub` (in the database `c` is connected to) has its apply
/// worker running and every table ready.
pub(crate) async fn wait_ready(c: &Client, sub: &str) {
    let q = "SELECT EXISTS (SELECT 1 FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid
                            WHERE s.subname = $1 AND w.pid IS NOT NULL AND w.relid IS NULL)
            AND NOT EXISTS (SELECT 1 FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                            WHERE s.subname = $1 AND r.srsubstate <> 'r')";
    let deadline = Instant::now() + TIMEOUT;
    while !c.query_one(q, &[&sub]).await.expect("subscription state").get::<_, bool>(0) {
        assert!(Instant::now() < deadline, "subscription {sub} not ready");
        tokio::time::sleep(POLL).await;
    }
}

pub(crate) async fn insert_marker(c: &Client) {
    batch(
        c,
        &format!(
            "INSERT INTO device_metrics (ts, device_id, firmware, temperature) VALUES (now(), {m}, {m}, 20)",
            m = quote_literal(MARKER)
        ),
    )
    .await;
}

/// Poll (through the partial index) until `table` holds `n` marker rows.
pub(crate) async fn wait_markers(c: &Client, table: &str, n: i64) -> Instant {
    let q = format!("SELECT count(*) FROM {table} WHERE firmware = {}", quote_literal(MARKER));
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if scalar(c, &q).await >= n {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "marker {n} never reached {table}");
        tokio::time::sleep(POLL).await;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    Raw,
    Anonymized,
}

impl Path {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Path::Raw => "raw single hop",
            Path::Anonymized => "anonymized (2 hops)",
        }
    }
}

/// Two fresh servers: the source database on A, the target on B, `path` between
/// them, warmed up with one marker row. Returns the cluster and the target table.
pub(crate) fn start_path(rt: &Runtime, path: Path, sent_at: bool) -> (Cluster, &'static str) {
    let cluster = Cluster::start(2).expect("start two PostgreSQL servers");
    let (a, b) = (&cluster[0], &cluster[1]);
    a.create_database(DB).expect("source database");
    b.create_database(DB).expect("target database");
    let target = rt.block_on(async {
        let src = connect(&admin(a, DB)).await.expect("connect A");
        let dst = connect(&admin(b, DB)).await.expect("connect B");
        batch(&src, &source_ddl(sent_at)).await;
        // Both targets stamp arrival and index the marker only (a partial index: other
        // rows only evaluate its predicate).
        let received = "received timestamptz DEFAULT clock_timestamp()";
        let target = match path {
            Path::Raw => {
                let ddl = source_ddl(sent_at);
                let ddl = format!("{}, {received})", ddl.trim_end_matches(')'));
                batch(&dst, &ddl).await;
                batch(&src, "CREATE PUBLICATION raw_pub FOR TABLE device_metrics").await;
                let sql = format!(
                    "CREATE SUBSCRIPTION raw_sub CONNECTION '{}' PUBLICATION raw_pub WITH (copy_data = false)",
                    a.connection_string(DB).replace('\'', "''")
                );
                batch(&dst, &sql).await;
                wait_ready(&dst, "raw_sub").await;
                "device_metrics"
            }
            Path::Anonymized => {
                let extra = if sent_at { ", sent_at timestamptz" } else { "" };
                batch(
                    &dst,
                    &format!(
                        "CREATE TABLE {GLOBAL} (ts timestamptz, device_id text, user_id text, client_ip inet, \
                         latitude float8, longitude float8, firmware text, temperature float8{extra}, {received})"
                    ),
                )
                .await;
                let spec = export_spec(sent_at);
                apply_export(&admin(a, "postgres"), &spec).await.expect("apply export");
                let import = ImportSpec {
                    replica: REPLICA.into(),
                    target_region: TARGET_REGION.into(),
                    source: ConnParams::new(
                        a.host(),
                        a.port(),
                        LOGIN,
                        Password::new(LOGIN_PW),
                        BOUNDARY_DB,
                        SslMode::Disable,
                    ),
                    tables: vec![("public".into(), "device_metrics".into())],
                    destination: Some(format!("public.{GLOBAL}")),
                };
                apply_import(&admin(b, DB), &import).await.expect("apply import");
                let names = Names::new(REPLICA);
                let boundary = connect(&admin(a, BOUNDARY_DB)).await.expect("connect boundary");
                wait_ready(&boundary, &names.hop1()).await;
                wait_ready(&dst, &names.import_subscription(TARGET_REGION)).await;
                GLOBAL
            }
        };
        batch(&dst, &format!("CREATE INDEX ON {target} (firmware) WHERE firmware = {}", quote_literal(MARKER))).await;
        batch(&dst, "SET enable_seqscan = off").await;
        insert_marker(&src).await;
        wait_markers(&dst, target, 1).await;
        target
    });
    (cluster, target)
}
