//! Reconcile-scoped sessions (`regionstack_sql::session`) on a real server: inside a
//! scope the high-level calls of one source-side reconcile log in once per database;
//! outside one every call logs in; a session its user left in a failed or open
//! transaction is clean for the next user; nothing stays connected after the scope;
//! `DROP DATABASE … WITH (FORCE)` inside a scope does not hand out dead sessions.

mod telemetry_support;

use std::time::{Duration, Instant};

use regionstack_sql::ConnParams;
use regionstack_sql::ident::quote_literal;
use regionstack_sql::session::{evict_database, scope, scope_logins, session};
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::telemetry::audit::{audit_source, check_source_schema};
use regionstack_sql::telemetry::export::{ExportSpec, apply_export, drop_boundary, teardown_export};
use regionstack_sql::telemetry::prune::prune_confirmed;
use telemetry_support::{METRICS, admin, metrics_table, q, spec};
use testbed::PgServer;

/// Live regionstack client backends (observed from the `observer` database).
fn live(s: &PgServer) -> u64 {
    // Not the hop-1 walsender: its conninfo carries the same application_name.
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'regionstack' \
               AND backend_type = 'client backend'";
    q(s, "observer", sql).parse().unwrap()
}

/// Sessions ever established to the databases a source reconcile uses (walsenders
/// included: the hop-1 subscription may reconnect, so only compared, never exact).
fn sessions(s: &PgServer) -> u64 {
    let sql = format!(
        "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname IN ('app', 'postgres', {})",
        quote_literal(BOUNDARY_DB)
    );
    q(s, "observer", &sql).parse().unwrap()
}

/// Poll until no regionstack backend is left, then until the session counter is
/// stable (backends flush their statistics when they exit).
fn settled_sessions(s: &PgServer) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while live(s) != 0 {
        let who = "SELECT string_agg(format('%s %s %s %s', datname, backend_type, state, query), '; ') \
                   FROM pg_stat_activity WHERE application_name = 'regionstack' AND backend_type = 'client backend'";
        assert!(Instant::now() < deadline, "regionstack sessions stay connected: {}", q(s, "observer", who));
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut last = sessions(s);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = sessions(s);
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "session counter does not settle");
        last = now;
    }
}

/// What `controller::telemetry::apply::source` calls in one reconcile of a built
/// export: audit, apply, audit, schema check, prune.
async fn source_reconcile(adm: &ConnParams, spec: &ExportSpec) {
    audit_source(adm, spec).await.unwrap();
    apply_export(adm, spec).await.unwrap();
    audit_source(adm, spec).await.unwrap();
    check_source_schema(adm, spec).await.unwrap();
    prune_confirmed(adm, spec, &[]).await.unwrap();
}

fn server() -> PgServer {
    let s = PgServer::start().unwrap();
    s.create_database("app").unwrap();
    s.create_database("observer").unwrap();
    q(&s, "app", METRICS);
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_logs_in_once_per_database() {
    let s = tokio::task::spawn_blocking(server).await.unwrap();
    let adm = admin(&s, "postgres");
    let spec = spec("sess-r1", "app", vec![metrics_table(None, &[])]);
    apply_export(&adm, &spec).await.unwrap();

    // Outside a scope (unchanged behaviour): every call logs in again.
    let base = tokio::task::block_in_place(|| settled_sessions(&s));
    assert_eq!(scope_logins(), None);
    source_reconcile(&adm, &spec).await;
    let unscoped = tokio::task::block_in_place(|| settled_sessions(&s)) - base;

    // Inside a scope: three databases, three logins, whatever the number of calls.
    let base = tokio::task::block_in_place(|| settled_sessions(&s));
    let (logins, connected) = scope(async {
        source_reconcile(&adm, &spec).await;
        source_reconcile(&adm, &spec).await;
        (scope_logins(), tokio::task::block_in_place(|| live(&s)))
    })
    .await;
    let scoped = tokio::task::block_in_place(|| settled_sessions(&s)) - base;
    eprintln!("logins per source reconcile: {unscoped} without a scope, {scoped} for two in one scope");
    assert_eq!((logins, connected), (Some(3), 3));
    assert!(scoped < unscoped, "{scoped} sessions for two scoped reconciles, {unscoped} for one without");
    teardown_export(&adm, &spec).await.unwrap();
}

async fn backend(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_session_is_clean() {
    let s = tokio::task::spawn_blocking(server).await.unwrap();
    let app = admin(&s, "app");
    scope(async {
        // A failed transaction.
        let first = session(&app).await.unwrap();
        let pid = backend(&first).await;
        assert!(first.batch_execute("BEGIN; CREATE TABLE leak_a (x int); SELECT 1/0").await.is_err());
        drop(first);
        let second = session(&app).await.unwrap();
        assert_eq!(backend(&second).await, pid, "the session is reused");
        // An open transaction.
        second.batch_execute("BEGIN; CREATE TABLE leak_b (x int)").await.unwrap();
        drop(second);
        let mut third = session(&app).await.unwrap();
        assert_eq!(backend(&third).await, pid);
        // A Transaction dropped without commit.
        let tx = third.transaction().await.unwrap();
        tx.batch_execute("CREATE TABLE leak_c (x int)").await.unwrap();
        drop(tx);
        drop(third);
        let fourth = session(&app).await.unwrap();
        assert_eq!(backend(&fourth).await, pid);
        let row = fourth
            .query_one("SELECT count(*) FROM pg_class WHERE relname IN ('leak_a', 'leak_b', 'leak_c')", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 0, "nothing of the previous users' transactions survives");
        // Two sessions held at once are two backends.
        let other = session(&app).await.unwrap();
        assert_ne!(backend(&other).await, pid);
        assert_eq!(scope_logins(), Some(2));
    })
    .await;
    tokio::task::block_in_place(|| settled_sessions(&s));
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_database_force_inside_a_scope() {
    let s = tokio::task::spawn_blocking(server).await.unwrap();
    let adm = admin(&s, "postgres");
    let spec = spec("sess-r2", "app", vec![metrics_table(None, &[])]);
    scope(async {
        apply_export(&adm, &spec).await.unwrap();
        teardown_export(&adm, &spec).await.unwrap();
        // Terminates the scope's cached session to the boundary database.
        drop_boundary(&adm).await.unwrap();
        assert_eq!(
            q(
                &s,
                "observer",
                &format!("SELECT count(*) FROM pg_database WHERE datname = {}", quote_literal(BOUNDARY_DB))
            ),
            "0"
        );
        // The next calls need a new boundary session (the database is created again).
        apply_export(&adm, &spec).await.unwrap();
        audit_source(&adm, &spec).await.unwrap();
        teardown_export(&adm, &spec).await.unwrap();
    })
    .await;
    tokio::task::block_in_place(|| settled_sessions(&s));
}

#[tokio::test(flavor = "multi_thread")]
async fn evicted_sessions_are_not_reused() {
    let s = tokio::task::spawn_blocking(server).await.unwrap();
    let app = admin(&s, "app");
    scope(async {
        let first = session(&app).await.unwrap();
        let pid = backend(&first).await;
        drop(first);
        // Idle when evicted.
        evict_database(&app);
        let second = session(&app).await.unwrap();
        let pid2 = backend(&second).await;
        assert_ne!(pid2, pid);
        // Checked out when evicted: not taken back.
        evict_database(&app);
        drop(second);
        let third = session(&app).await.unwrap();
        assert_ne!(backend(&third).await, pid2);
        // Another database is not affected.
        let other = admin(&s, "observer");
        let o = session(&other).await.unwrap();
        let opid = backend(&o).await;
        drop(o);
        evict_database(&app);
        assert_eq!(backend(&session(&other).await.unwrap()).await, opid);
        assert_eq!(scope_logins(), Some(4));
    })
    .await;
    tokio::task::block_in_place(|| settled_sessions(&s));
}
