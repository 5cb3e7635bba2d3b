//! Source-side audit on a real PostgreSQL server: rogue publications of a source
//! table (explicit and FOR ALL TABLES), rogue publications in the boundary database,
//! `pg_hba.conf` rules that would allow the hop-2 login physical replication, and an
//! altered hop-1 or hop-2 publication ("export altered"), which `apply_export` repairs.

mod telemetry_support;

use regionstack_api::reason::ReasonCode;
use regionstack_sql::ident::quote_ident;
use regionstack_sql::telemetry::audit::{Finding, audit_source};
use regionstack_sql::telemetry::export::{apply_export, teardown_export};
use regionstack_sql::telemetry::{BOUNDARY_DB, Names};
use telemetry_support::{METRICS, admin, metrics_table, q, spec};

fn objects(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.object.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn audit_finds_rogue_replication_and_altered_exports() {
    let a = tokio::task::spawn_blocking(testbed::PgServer::start).await.unwrap().unwrap();
    a.create_database("app").unwrap();
    q(&a, "app", &format!("{METRICS}; CREATE TABLE unrelated (x int)"));
    let spec = spec("audit-r1", "app", vec![metrics_table(Some("temperature > 0 AND firmware <> 'dev'"), &[])]);
    let names = Names::new(&spec.replica);
    let (hop1, hop2) = (names.hop1(), names.hop2());
    let adm = admin(&a, "postgres");
    apply_export(&adm, &spec).await.unwrap();

    // The testbed's pg_hba.conf allows replication for `all`: both lines are found.
    let f = audit_source(&adm, &spec).await.unwrap();
    assert!(f.iter().all(|f| f.code == ReasonCode::RogueReplication), "{f:#?}");
    assert!(f.iter().all(|f| f.object.starts_with("hba/")), "{f:#?}");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|f| !f.detail.contains("first password")));

    // pg_hba_file_rules reads the file as it is now (no reload needed).
    let hba = a.data_dir().join("pg_hba.conf");
    let original = std::fs::read_to_string(&hba).unwrap();
    let mut without = original.lines().filter(|l| !l.contains("replication")).collect::<Vec<_>>().join("\n");
    without.push('\n');
    std::fs::write(&hba, &without).unwrap();
    assert!(audit_source(&adm, &spec).await.unwrap().is_empty());
    q(&a, "postgres", &format!("CREATE ROLE repl_group NOLOGIN; GRANT repl_group TO {}", spec.login));
    let hba_cases = [
        ("host replication +repl_group 10.0.0.0/8 scram-sha-256", true),
        (&*format!("hostssl replication {} 0.0.0.0/0 scram-sha-256", spec.login), true),
        ("host replication someone_else 0.0.0.0/0 scram-sha-256", false),
        ("host replication all 0.0.0.0/0 reject", false),
        ("host all all 0.0.0.0/0 scram-sha-256", false),
    ];
    for (line, flagged) in hba_cases {
        std::fs::write(&hba, format!("{without}{line}\n")).unwrap();
        let f = audit_source(&adm, &spec).await.unwrap();
        assert_eq!(f.len(), usize::from(flagged), "{line}: {f:#?}");
    }
    std::fs::write(&hba, &without).unwrap();

    // Source database: other publications of a source table.
    q(
        &a,
        "app",
        "CREATE PUBLICATION leak FOR TABLE metrics (id, email); CREATE PUBLICATION harmless FOR TABLE unrelated",
    );
    q(&a, "app", "CREATE PUBLICATION everything FOR ALL TABLES");
    let f = audit_source(&adm, &spec).await.unwrap();
    assert_eq!(objects(&f), ["publication/everything", "publication/leak"], "{f:#?}");
    assert!(f[0].detail.contains("FOR ALL TABLES"), "{}", f[0].detail);
    q(&a, "app", "DROP PUBLICATION leak; DROP PUBLICATION everything; DROP PUBLICATION harmless");

    // Boundary database: anything but hop-2 exports.
    q(&a, BOUNDARY_DB, "CREATE PUBLICATION keyleak FOR TABLE regionstack.hmac_key");
    q(&a, BOUNDARY_DB, "CREATE PUBLICATION rs_hop2_fake FOR ALL TABLES");
    let f = audit_source(&adm, &spec).await.unwrap();
    assert_eq!(objects(&f), ["publication/keyleak", "publication/rs_hop2_fake"], "{f:#?}");
    q(&a, BOUNDARY_DB, "DROP PUBLICATION keyleak; DROP PUBLICATION rs_hop2_fake");
    // Another replica's hop-2 publication is legitimate.
    let other = spec_other(&spec);
    q(&a, "app", "CREATE TABLE other_metrics (LIKE metrics)");
    apply_export(&adm, &other).await.unwrap();
    let f = audit_source(&adm, &spec).await.unwrap();
    assert!(f.is_empty(), "{f:#?}");
    // The hop-2 publication publishing deletes: export altered.
    q(&a, BOUNDARY_DB, &format!("ALTER PUBLICATION {hop2} SET (publish = 'insert, delete')"));
    let f = audit_source(&adm, &spec).await.unwrap();
    assert_eq!(objects(&f), [format!("publication/{hop2}")], "{f:#?}");
    assert!(f[0].detail.starts_with("export altered"), "{}", f[0].detail);
    q(&a, BOUNDARY_DB, &format!("ALTER PUBLICATION {hop2} SET (publish = 'insert')"));

    // Hop 1 altered three ways: each is found and `apply_export` repairs it.
    let tamper = [
        format!("ALTER PUBLICATION {hop1} SET TABLE metrics"),
        format!(
            "ALTER PUBLICATION {hop1} SET TABLE metrics (id, ts, device_id, temperature) WHERE (temperature > -1000)"
        ),
        format!("ALTER PUBLICATION {hop1} SET (publish = 'insert, update')"),
        format!("ALTER PUBLICATION {hop1} ADD TABLE unrelated"),
    ];
    let catalog = "SELECT string_agg(format('%s %s %s', prrelid::regclass, prattrs, pg_get_expr(prqual, prrelid)), ';')
                   || (SELECT format(' %s%s', pubinsert, pubupdate) FROM pg_publication WHERE pubname = 'HOP1')
                   FROM pg_publication_rel WHERE prpubid = (SELECT oid FROM pg_publication WHERE pubname = 'HOP1')";
    let catalog = catalog.replace("HOP1", &hop1);
    let good = q(&a, "app", &catalog);
    for sql in tamper {
        q(&a, "app", &sql);
        let f = audit_source(&adm, &spec).await.unwrap();
        assert_eq!(objects(&f), [format!("publication/{hop1}")], "{sql}: {f:#?}");
        assert!(f[0].detail.starts_with("export altered"), "{}", f[0].detail);
        let repaired = apply_export(&adm, &spec).await.unwrap();
        assert!(repaired.iter().any(|x| x.summary.starts_with("export altered")), "{sql}: {repaired:#?}");
        assert_eq!(q(&a, "app", &catalog), good, "{sql}");
        assert!(audit_source(&adm, &spec).await.unwrap().is_empty(), "{sql}");
        assert!(apply_export(&adm, &spec).await.unwrap().is_empty(), "{sql}");
    }
    std::fs::write(&hba, &original).unwrap();
    teardown_export(&adm, &other).await.unwrap();
    teardown_export(&adm, &spec).await.unwrap();
}

fn spec_other(spec: &regionstack_sql::telemetry::export::ExportSpec) -> regionstack_sql::telemetry::export::ExportSpec {
    let mut t = metrics_table(None, &[]);
    t.name = "other_metrics".into();
    let mut other = telemetry_support::spec("audit-r2", &spec.source_database, vec![t]);
    other.login = "rs_login_other".into();
    other
}

#[tokio::test(flavor = "multi_thread")]
async fn publication_fingerprint_moves_only_when_publications_change() {
    use regionstack_sql::telemetry::audit::publication_fingerprint;
    let a = tokio::task::spawn_blocking(testbed::PgServer::start).await.unwrap().unwrap();
    a.create_database("app").unwrap();
    q(&a, "app", METRICS);
    let spec = spec("digest-r1", "app", vec![metrics_table(Some("temperature > 0"), &[])]);
    let adm = admin(&a, "postgres");
    apply_export(&adm, &spec).await.unwrap();
    let source = regionstack_sql::connect(&adm.with_dbname("app")).await.unwrap();
    let base = publication_fingerprint(&source).await.unwrap();

    // An idempotent apply and ordinary writes change nothing: no reconcile loop.
    assert!(apply_export(&adm, &spec).await.unwrap().is_empty());
    q(&a, "app", "CREATE TABLE unrelated (x int); INSERT INTO unrelated VALUES (1)");
    q(&a, "app", "ALTER TABLE unrelated ADD COLUMN y int; INSERT INTO metrics (temperature) VALUES (1)");
    assert_eq!(publication_fingerprint(&source).await.unwrap(), base);

    // Source schema drift moves it (the audit then reports the column), and moving
    // back restores it: the digest is of the shape, not of a history.
    q(&a, "app", "ALTER TABLE metrics ADD COLUMN secret_note text");
    let drifted = publication_fingerprint(&source).await.unwrap();
    assert_ne!(drifted, base);
    q(&a, "app", "ALTER TABLE metrics ALTER COLUMN secret_note TYPE varchar(10)");
    assert_ne!(publication_fingerprint(&source).await.unwrap(), drifted, "a retype moves it");
    q(&a, "app", "ALTER TABLE metrics DROP COLUMN secret_note");
    assert_ne!(publication_fingerprint(&source).await.unwrap(), base, "a dropped column stays in pg_attribute");
    let base = publication_fingerprint(&source).await.unwrap();

    // Another publication, an altered hop-1 publication: both move it.
    q(&a, "app", "CREATE PUBLICATION other FOR TABLE unrelated");
    let with_other = publication_fingerprint(&source).await.unwrap();
    assert_ne!(with_other, base);
    let hop1 = Names::new(&spec.replica).hop1();
    q(&a, "app", &format!("ALTER PUBLICATION {} SET (publish = 'insert, update, delete')", quote_ident(&hop1)));
    assert_ne!(publication_fingerprint(&source).await.unwrap(), with_other);
}
