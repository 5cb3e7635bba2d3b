//! PII database guardrails, audit, repair and notifications against real PostgreSQL 15
//! (one server per test, started by `regionstack-testbed`, stopped on drop).

use std::time::Duration;

use futures::StreamExt;
use regionstack_api::reason::ReasonCode;
use regionstack_sql::pii::{self, ActionKind, DdlNotice, Finding, Mode, Outcome, PiiContext};
use regionstack_sql::{ConnParams, Password, SqlError, SslMode, connect};
use testbed::PgServer;
use tokio_postgres::Client;

const DB: &str = "pii";
const REGION: &str = "eu-west-1";
const SECRET: &str = "s3cr3t-never-shown";
const MESSAGE: &str =
    "regionstack: PII database pii may not replicate outside region eu-west-1 (DESIGN I1 PII stays home)";

struct Pii {
    server: PgServer,
    params: ConnParams,
    client: Client,
    ctx: PiiContext,
}

impl Pii {
    /// A fresh server with database `pii`, whose `pg_hba.conf` lets only the local
    /// superuser connect for replication (the testbed's default lets everyone in).
    async fn start() -> Self {
        let server = PgServer::start().expect("start PostgreSQL");
        server.create_database(DB).expect("create database");
        let hba = server.data_dir().join("pg_hba.conf");
        let text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        let mut kept: Vec<&str> = text.lines().filter(|l| !l.contains("replication")).collect();
        kept.push("local replication postgres trust");
        std::fs::write(&hba, kept.join("\n") + "\n").expect("write pg_hba.conf");
        server.psql(DB, "SELECT pg_reload_conf()").expect("reload");
        let params = ConnParams::new(
            server.host(),
            server.port(),
            server.superuser(),
            Password::new(server.password()),
            DB,
            SslMode::Disable,
        );
        let client = connect(&params).await.expect("connect");
        Self { server, params, client, ctx: PiiContext::new(DB, REGION) }
    }

    async fn installed() -> Self {
        let db = Self::start().await;
        pii::install_guardrails(&db.client, &db.ctx).await.expect("install guardrails");
        db
    }

    fn psql(&self, sql: &str) -> String {
        self.server.psql(DB, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn audit(&self) -> Vec<Finding> {
        pii::audit(&self.client, &self.ctx).await.expect("audit")
    }

    /// Catalog state the audit looks at, for "nothing changed" checks.
    fn catalog(&self) -> String {
        self.psql(
            "SELECT (SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication), \
                    (SELECT string_agg(subname, ',' ORDER BY subname) FROM pg_subscription), \
                    (SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots), \
                    (SELECT string_agg(srvname, ',' ORDER BY srvname) FROM pg_foreign_server), \
                    (SELECT string_agg(evtname || ':' || evtenabled::text, ',' ORDER BY evtname) FROM pg_event_trigger)",
        )
    }
}

fn objects(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.object.as_str()).collect()
}

fn assert_refused(result: Result<(), tokio_postgres::Error>, what: &str) {
    let err = result.expect_err(what);
    let db = err.as_db_error().unwrap_or_else(|| panic!("{what}: {err}"));
    assert_eq!(db.code().code(), "42501", "{what}: {db}");
    assert_eq!(db.message(), MESSAGE, "{what}");
}

/// Rogue objects made while the guard is disabled, as a careless superuser would.
fn make_rogue_objects(db: &Pii) {
    db.psql(&format!(
        "CREATE TABLE customers (id int PRIMARY KEY, email text);
         SELECT pg_create_logical_replication_slot('rogue', 'pgoutput');
         ALTER EVENT TRIGGER regionstack_guard_replication DISABLE;
         CREATE PUBLICATION leak FOR TABLE customers;
         CREATE SUBSCRIPTION sneaky CONNECTION 'host=192.0.2.1 dbname=x user=u password={SECRET}'
           PUBLICATION p WITH (connect = false);
         CREATE EXTENSION postgres_fdw;
         CREATE SERVER abroad FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '192.0.2.1', dbname 'x');
         CREATE USER MAPPING FOR postgres SERVER abroad OPTIONS (user 'u', password '{SECRET}');"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrails_refuse_replication_ddl_and_install_is_idempotent() {
    let db = Pii::start().await;
    let first = pii::install_guardrails(&db.client, &db.ctx).await.unwrap();
    assert_eq!(first.len(), 6, "schema, two functions, three event triggers: {first:?}");
    assert!(first.iter().all(pii::Action::succeeded));
    let second = pii::install_guardrails(&db.client, &db.ctx).await.unwrap();
    assert!(second.is_empty(), "second install must perform no DDL: {second:?}");
    assert!(db.audit().await.is_empty());

    db.psql("CREATE TABLE t (id int PRIMARY KEY)");
    let c = &db.client;
    assert_refused(c.batch_execute("CREATE PUBLICATION p FOR ALL TABLES").await, "CREATE PUBLICATION");
    db.psql(
        "ALTER EVENT TRIGGER regionstack_guard_replication DISABLE; CREATE PUBLICATION p;
         ALTER EVENT TRIGGER regionstack_guard_replication ENABLE ALWAYS;",
    );
    assert_refused(c.batch_execute("ALTER PUBLICATION p ADD TABLE t").await, "ALTER PUBLICATION");
    assert_refused(
        c.batch_execute(&format!(
            "CREATE SUBSCRIPTION s CONNECTION 'host=192.0.2.1 password={SECRET}' PUBLICATION p WITH (connect = false)"
        ))
        .await,
        "CREATE SUBSCRIPTION",
    );
    assert_refused(c.batch_execute("ALTER SUBSCRIPTION s DISABLE").await, "ALTER SUBSCRIPTION");
    // ENABLE ALWAYS: also in replica sessions.
    assert_refused(
        c.batch_execute("SET session_replication_role = replica; CREATE PUBLICATION p2 FOR ALL TABLES").await,
        "CREATE PUBLICATION as replica",
    );
    c.batch_execute("RESET session_replication_role").await.unwrap();
    // Ordinary DDL is untouched.
    c.batch_execute("CREATE TABLE app_data (id int); DROP TABLE app_data").await.unwrap();
    assert_eq!(objects(&db.audit().await), ["publication/p"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_repairs_rogue_objects_and_findings_hold_no_secret() {
    let db = Pii::installed().await;
    make_rogue_objects(&db);

    let findings = db.audit().await;
    assert_eq!(
        objects(&findings),
        [
            "event-trigger/regionstack_guard_replication",
            "publication/leak",
            "subscription/sneaky",
            "slot/rogue",
            "foreign-server/abroad"
        ],
        "{findings:#?}"
    );
    assert_eq!(findings[0].code, ReasonCode::GuardrailMissing);
    assert!(findings[1..].iter().all(|f| f.code == ReasonCode::RogueReplication));
    let shown = format!("{findings:?} {}", serde_json::to_string(&findings).unwrap());
    assert!(!shown.contains(SECRET) && !shown.contains("192.0.2.1"), "{shown}");

    let actions = pii::repair(&db.client, &db.ctx, Mode::Enforce, &findings).await.unwrap();
    assert!(actions.iter().all(pii::Action::succeeded), "{actions:#?}");
    let kinds: Vec<ActionKind> = actions.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::EnableEventTrigger,
            ActionKind::DropSlot,
            ActionKind::DropSubscription,
            ActionKind::DropPublication,
            ActionKind::DropForeignServer
        ]
    );
    assert!(!format!("{actions:?}").contains(SECRET));
    assert!(db.audit().await.is_empty(), "audit after repair must be clean");
    assert_eq!(db.catalog().split('|').take(4).collect::<Vec<_>>(), ["", "", "", ""]);
    // The guard is back, and the application's table is untouched.
    assert_refused(db.client.batch_execute("CREATE PUBLICATION again FOR ALL TABLES").await, "after repair");
    assert_eq!(db.psql("SELECT count(*) FROM customers"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_mode_changes_nothing() {
    let db = Pii::installed().await;
    make_rogue_objects(&db);
    db.psql("DROP EVENT TRIGGER regionstack_notify");
    let before = db.catalog();
    let findings = db.audit().await;
    assert_eq!(findings.len(), 6, "{findings:#?}");

    let actions = pii::repair(&db.client, &db.ctx, Mode::Audit, &findings).await.unwrap();
    assert_eq!(actions.len(), findings.len());
    assert!(actions.iter().all(|a| a.outcome == Outcome::Skipped && !a.succeeded()), "{actions:#?}");
    assert_eq!(db.catalog(), before, "audit mode must not change the catalog");
    assert_eq!(db.audit().await, findings, "findings stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_disabled_or_altered_guardrails_are_found_and_reinstalled() {
    let db = Pii::installed().await;
    db.psql(
        "DROP EVENT TRIGGER regionstack_guard_replication;
         ALTER EVENT TRIGGER regionstack_notify_drop DISABLE;
         ALTER EVENT TRIGGER regionstack_notify ENABLE;
         CREATE OR REPLACE FUNCTION regionstack.notify_ddl() RETURNS event_trigger LANGUAGE plpgsql
           SET search_path = pg_catalog, pg_temp AS 'BEGIN END';",
    );
    let findings = db.audit().await;
    let summary: Vec<(&str, &str)> = findings.iter().map(|f| (f.object.as_str(), f.detail.as_str())).collect();
    assert_eq!(
        summary,
        [
            ("function/regionstack.notify_ddl", "function definition differs from the expected one"),
            ("event-trigger/regionstack_guard_replication", "event trigger is missing"),
            ("event-trigger/regionstack_notify", "event trigger is not enabled ALWAYS"),
            ("event-trigger/regionstack_notify_drop", "event trigger is disabled"),
        ]
    );
    assert!(findings.iter().all(|f| f.code == ReasonCode::GuardrailMissing));
    let actions = pii::repair(&db.client, &db.ctx, Mode::Enforce, &findings).await.unwrap();
    assert_eq!(actions.len(), 4, "{actions:#?}");
    assert!(actions.iter().all(pii::Action::succeeded));
    assert!(db.audit().await.is_empty());
    assert_refused(db.client.batch_execute("CREATE PUBLICATION p FOR ALL TABLES").await, "after reinstall");

    // Removing the whole schema takes every trigger with it; install brings all back.
    db.psql("DROP SCHEMA regionstack CASCADE");
    assert_eq!(db.audit().await.len(), 6);
    assert_eq!(pii::install_guardrails(&db.client, &db.ctx).await.unwrap().len(), 6);
    assert!(db.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_slot_walsender_is_terminated_and_slot_dropped() {
    let db = Pii::installed().await;
    let bindir = testbed::bindir().unwrap();
    let mut child = std::process::Command::new(bindir.join("pg_recvlogical"))
        .args([
            "--no-loop",
            "--create-slot",
            "--start",
            "--slot",
            "streaming",
            "--plugin",
            "test_decoding",
            "-f",
            "/dev/null",
        ])
        .args(["-h", db.server.socket_dir().to_str().unwrap(), "-p", &db.server.port().to_string()])
        .args(["-U", "postgres", "-d", DB])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn pg_recvlogical");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let findings = loop {
        let findings = db.audit().await;
        if findings.iter().any(|f| f.object.starts_with("walsender/"))
            && findings.iter().any(|f| f.detail.contains("active ("))
        {
            break findings;
        }
        assert!(tokio::time::Instant::now() < deadline, "pg_recvlogical never streamed: {findings:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let actions = pii::repair(&db.client, &db.ctx, Mode::Enforce, &findings).await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(actions.iter().all(pii::Action::succeeded), "{actions:#?}");
    assert!(db.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hba_rules_allowing_replication_are_reported_not_repaired() {
    let db = Pii::installed().await;
    let hba = db.server.data_dir().join("pg_hba.conf");
    let mut text = std::fs::read_to_string(&hba).unwrap();
    text.push_str("host replication all 0.0.0.0/0 scram-sha-256\nhost replication all 10.0.0.0/8 reject\n");
    std::fs::write(&hba, text.as_bytes()).unwrap();
    let line = text.lines().position(|l| l.contains("0.0.0.0/0")).unwrap() + 1;

    let findings = db.audit().await;
    assert_eq!(objects(&findings), [format!("hba/line {line}").as_str()], "{findings:#?}");
    assert!(findings[0].detail.contains("0.0.0.0"), "{}", findings[0].detail);
    let actions = pii::repair(&db.client, &db.ctx, Mode::Enforce, &findings).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!((actions[0].kind, actions[0].outcome), (ActionKind::ReportOnly, Outcome::Skipped));
}

async fn next_notice(notes: &mut pii::Notifications) -> DdlNotice {
    let n = tokio::time::timeout(Duration::from_secs(2), notes.next()).await.expect("no notification within 2 s");
    let n = n.expect("stream ended").expect("listen error");
    assert_eq!(n.channel(), pii::CHANNEL);
    DdlNotice::parse(n.payload()).unwrap_or_else(|| panic!("bad payload {}", n.payload()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_sees_replication_ddl_within_two_seconds() {
    let db = Pii::installed().await;
    let mut notes = pii::listen(&db.params).await.unwrap();
    // Another session: disable the guard, create a publication.
    db.psql("ALTER EVENT TRIGGER regionstack_guard_replication DISABLE; CREATE PUBLICATION leak FOR ALL TABLES;");
    let notice = next_notice(&mut notes).await;
    assert_eq!((notice.database.as_str(), notice.tag.as_str()), (DB, "CREATE PUBLICATION"));
    assert_eq!(notice.objects, ["publication leak"]);

    db.psql("DROP PUBLICATION leak");
    let notice = next_notice(&mut notes).await;
    assert_eq!(
        (notice.event.as_str(), notice.objects.as_slice()),
        ("sql_drop", ["publication leak".to_owned()].as_slice())
    );

    // Commands run by an extension script are notified with their own tag.
    db.psql("CREATE EXTENSION postgres_fdw; CREATE SERVER fs FOREIGN DATA WRAPPER postgres_fdw;");
    let notice = next_notice(&mut notes).await;
    assert_eq!(notice.tag, "CREATE FOREIGN DATA WRAPPER", "{notice:?}");
    assert_eq!(notice.objects, ["foreign-data wrapper postgres_fdw"]);
    let notice = next_notice(&mut notes).await;
    assert_eq!(
        (notice.tag.as_str(), notice.objects.as_slice()),
        ("CREATE SERVER", ["server fs".to_owned()].as_slice())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fingerprint_moves_with_drift_no_notification_reports() {
    let db = Pii::installed().await;
    let notes = pii::listen(&db.params).await.unwrap();
    let base = notes.fingerprint().await.unwrap();
    db.psql("CREATE TABLE people (id int PRIMARY KEY, email text); INSERT INTO people VALUES (1, 'a@example.org')");
    assert_eq!(notes.fingerprint().await.unwrap(), base, "ordinary DDL and writes do not move it");

    // Each drift moves it; undoing it brings the same digest back.
    let drifts = [
        ("SELECT pg_create_logical_replication_slot('rogue', 'pgoutput')", "SELECT pg_drop_replication_slot('rogue')"),
        (
            "ALTER EVENT TRIGGER regionstack_guard_replication DISABLE",
            "ALTER EVENT TRIGGER regionstack_guard_replication ENABLE ALWAYS",
        ),
    ];
    for (drift, undo) in drifts {
        db.psql(drift);
        assert_ne!(notes.fingerprint().await.unwrap(), base, "{drift}");
        db.psql(undo);
        assert_eq!(notes.fingerprint().await.unwrap(), base, "{undo}");
    }
    db.psql("DROP EVENT TRIGGER regionstack_notify");
    assert_ne!(notes.fingerprint().await.unwrap(), base, "a dropped guardrail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_database_or_unsafe_names_are_refused_before_any_ddl() {
    let db = Pii::start().await;
    let wrong_db = PiiContext::new("other", REGION);
    assert!(matches!(pii::install_guardrails(&db.client, &wrong_db).await, Err(SqlError::Invalid(_))));
    let bad_region = PiiContext::new(DB, "eu'; DROP TABLE x; --");
    assert!(matches!(pii::install_guardrails(&db.client, &bad_region).await, Err(SqlError::Invalid(_))));
    assert!(matches!(pii::audit(&db.client, &bad_region).await, Err(SqlError::Invalid(_))));
    assert_eq!(db.psql("SELECT count(*) FROM pg_event_trigger"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn physical_slots_are_rogue_unless_declared_in_region_standbys() {
    let mut db = Pii::installed().await;
    db.psql(
        "SELECT pg_create_physical_replication_slot('_cnpg_pii_2');
         SELECT pg_create_physical_replication_slot('offsite');",
    );
    assert_eq!(objects(&db.audit().await), ["slot/_cnpg_pii_2", "slot/offsite"]);
    db.ctx.in_region_standbys = vec!["_cnpg_pii_2".to_owned()];
    let findings = db.audit().await;
    assert_eq!(objects(&findings), ["slot/offsite"]);
    assert_eq!(findings[0].detail, "physical replication slot, inactive");
    let actions = pii::repair(&db.client, &db.ctx, Mode::Enforce, &findings).await.unwrap();
    assert!(actions.iter().all(pii::Action::succeeded), "{actions:#?}");
    assert!(db.audit().await.is_empty());
    assert_eq!(db.psql("SELECT string_agg(slot_name, ',') FROM pg_replication_slots"), "_cnpg_pii_2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_guardrails_drops_only_what_install_created() {
    let db = Pii::installed().await;
    db.psql(
        "CREATE TABLE customers (id int PRIMARY KEY, email text); INSERT INTO customers VALUES (1, 'a@example.com')",
    );
    let actions = pii::remove_guardrails(&db.client, &db.ctx).await.unwrap();
    let kinds: Vec<(ActionKind, Outcome)> = actions.iter().map(|a| (a.kind, a.outcome)).collect();
    assert_eq!(
        kinds,
        [
            (ActionKind::DropEventTrigger, Outcome::Done),
            (ActionKind::DropEventTrigger, Outcome::Done),
            (ActionKind::DropEventTrigger, Outcome::Done),
            (ActionKind::DropFunction, Outcome::Done),
            (ActionKind::DropFunction, Outcome::Done),
            (ActionKind::DropSchema, Outcome::Done),
        ],
        "{actions:#?}"
    );
    assert_eq!(
        db.psql(
            "SELECT (SELECT count(*) FROM pg_event_trigger) || ',' || \
                    (SELECT count(*) FROM pg_namespace WHERE nspname = 'regionstack')"
        ),
        "0,0"
    );
    // The application's data is untouched, and replication DDL is no longer refused.
    assert_eq!(db.psql("SELECT email FROM customers"), "a@example.com");
    db.client.batch_execute("CREATE PUBLICATION p FOR ALL TABLES; DROP PUBLICATION p").await.unwrap();
    assert!(pii::remove_guardrails(&db.client, &db.ctx).await.unwrap().is_empty(), "second call does nothing");

    // Something else living in schema regionstack keeps the schema (no CASCADE).
    pii::install_guardrails(&db.client, &db.ctx).await.unwrap();
    db.psql("CREATE TABLE regionstack.notes (id int)");
    let actions = pii::remove_guardrails(&db.client, &db.ctx).await.unwrap();
    let last = actions.last().unwrap();
    assert_eq!((last.kind, last.outcome), (ActionKind::DropSchema, Outcome::Skipped), "{actions:#?}");
    assert_eq!(db.psql("SELECT count(*) FROM regionstack.notes"), "0");
    assert_eq!(db.psql("SELECT count(*) FROM pg_event_trigger"), "0");
    // A wrong database is refused before any DDL.
    let wrong = PiiContext::new("other", REGION);
    assert!(matches!(pii::remove_guardrails(&db.client, &wrong).await, Err(SqlError::Invalid(_))));
}
