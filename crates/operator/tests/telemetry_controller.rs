//! The TelemetryReplica controller end to end: one Kubernetes API emulator and one
//! in-process operator per region, real PostgreSQL telemetry servers for the source
//! (eu-west-1) and the target (eu-west-3), and a third region (eu-central-1) that
//! serves neither side. The same manifests are applied to every cluster (DESIGN §3).

mod telemetry_support;

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use regionstack::controller::telemetry::build::BUILT_ANNOTATION;
use regionstack_api::Jurisdiction::{Fdpa, Gdpr};
use regionstack_api::fixtures::{ColumnBuilder, SYSTEM_NAMESPACE, TelemetryReplicaBuilder, device_telemetry_table};
use regionstack_api::telemetry::ReplicaSide;
use regionstack_api::{DataClass, TelemetryReplica};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use telemetry_support::{
    ADMIN_SECRET, LOGIN, LOGIN_PASSWORD, RegionEnv, TELEMETRY_DB, canary_hits, condition, confine_hba, event_reasons,
    eventually, get_replica, pg_servers, psql, region, secret, wait_condition, wait_event,
};

const SOURCE: &str = "eu-west-1";
const TARGET: &str = "eu-west-3";
const ELSEWHERE: &str = "eu-central-1";
const RESYNC: Duration = Duration::from_millis(700);
const READY_TIMEOUT: Duration = Duration::from_secs(90);

const EMAIL: &str = "canary.alice@example.com";
const USER: &str = "canary-user-4242";
const DEVICE: &str = "canary-device-7777";
const IP4: &str = "198.51.100.77";

const SOURCE_TABLE: &str = "CREATE TABLE device_metrics (ts timestamptz, device_id text, user_id text, email text,
    client_ip inet, latitude float8, longitude float8, firmware text, temperature float8, battery float8)";
const DESTINATION: &str = "CREATE TABLE device_metrics_global (ts timestamptz, device_id text, user_id text,
    client_ip inet, latitude float8, longitude float8, firmware text, temperature float8, battery float8)";

fn replica(name: &str, raw_email: bool) -> TelemetryReplica {
    let mut table = device_telemetry_table();
    if raw_email {
        table = table.edit_column("email", ColumnBuilder::keep);
    }
    TelemetryReplicaBuilder::new(name, SOURCE).target_into(TARGET, "public.device_metrics_global").table(table).build()
}

/// Source and target servers with the application's tables; hba confined.
async fn servers() -> (std::sync::Arc<testbed::PgServer>, std::sync::Arc<testbed::PgServer>) {
    let pgs = pg_servers(&[SOURCE, TARGET]).await;
    let (src, tgt) = (pgs[0].clone(), pgs[1].clone());
    for pg in [&src, &tgt] {
        psql(pg, "postgres", &format!("CREATE DATABASE {TELEMETRY_DB}")).await;
    }
    psql(&src, TELEMETRY_DB, SOURCE_TABLE).await;
    psql(&tgt, TELEMETRY_DB, DESTINATION).await;
    confine_hba(&src).await;
    (src, tgt)
}

async fn apply(envs: &[&RegionEnv], replica: &TelemetryReplica) {
    for env in envs {
        env.replicas().create(&PostParams::default(), replica).await.expect("create the replica");
    }
}

fn count(text: &str) -> i64 {
    text.trim().parse().unwrap_or_else(|_| panic!("not a count: {text:?}"))
}

/// What regionstack has built on the source server: publications, slots and
/// subscriptions (cluster-wide), the boundary database and the login.
async fn source_objects(src: &std::sync::Arc<testbed::PgServer>) -> String {
    psql(
        src,
        "postgres",
        &format!(
            "SELECT (SELECT count(*) FROM pg_replication_slots) || ' slots, '
              || (SELECT count(*) FROM pg_subscription) || ' subscriptions, '
              || (SELECT count(*) FROM pg_database WHERE datname = '{BOUNDARY_DB}') || ' boundary, '
              || (SELECT count(*) FROM pg_roles WHERE rolname = '{LOGIN}') || ' login'"
        ),
    )
    .await
}

async fn publications(pg: &std::sync::Arc<testbed::PgServer>, db: &str) -> i64 {
    count(&psql(pg, db, "SELECT count(*) FROM pg_publication").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::too_many_lines)]
async fn anonymized_replica_across_regions_then_teardown() {
    let (src_pg, tgt_pg) = servers().await;
    let regions = [
        region(SOURCE, "IE", &[Gdpr], src_pg.port()),
        region(TARGET, "FR", &[Gdpr, Fdpa], tgt_pg.port()),
        region(ELSEWHERE, "DE", &[Gdpr], 0),
    ];
    let name = "device-telemetry";
    let secret = format!("{name}-replication");
    let src = RegionEnv::start(SOURCE, &regions, Some((src_pg.clone(), "postgres")), &secret, RESYNC).await;
    let tgt = RegionEnv::start(TARGET, &regions, Some((tgt_pg.clone(), TELEMETRY_DB)), &secret, RESYNC).await;
    let other = RegionEnv::start(ELSEWHERE, &regions, None, &secret, RESYNC).await;
    apply(&[&src, &tgt, &other], &replica(name, false)).await;

    // Both sides Ready, each reporting its side.
    let s = wait_condition(&src.client, name, "Ready", ("True", "Reconciled"), READY_TIMEOUT).await;
    let t = wait_condition(&tgt.client, name, "Ready", ("True", "Reconciled"), READY_TIMEOUT).await;
    let names = Names::new(&format!("default/{name}"));
    let (ss, ts) = (s.status.clone().unwrap(), t.status.clone().unwrap());
    assert_eq!(ss.side, Some(ReplicaSide::Source));
    assert_eq!(ts.side, Some(ReplicaSide::Target));
    for st in [&ss, &ts] {
        assert_eq!(st.data_class, Some(DataClass::Pseudonymous));
        assert_eq!(st.publication.as_deref(), Some(names.hop2().as_str()));
        assert_eq!(st.targets.len(), 1);
        assert!(st.targets[0].permitted);
        assert_eq!(st.targets[0].transfer_basis.as_deref(), Some("EEA"));
    }
    assert_eq!(ts.targets[0].subscription.as_deref(), Some(names.import_subscription(TARGET).as_str()));
    assert!(ts.targets[0].lag_bytes.is_some(), "{ts:?}");
    assert_eq!(condition(&s, "ResidencyCompliant"), Some(("True".into(), "Compliant".into())));
    for r in [&s, &t] {
        assert!(!serde_json::to_string(r).unwrap().contains(LOGIN_PASSWORD), "the password reached the object");
        assert!(r.finalizers().iter().any(|f| f == regionstack::controller::FINALIZER));
        assert!(r.annotations().contains_key(BUILT_ANNOTATION));
    }

    // The third region serves neither side: ForeignRegion, nothing built, no finalizer.
    let o = wait_condition(&other.client, name, "Ready", ("False", "ForeignRegion"), READY_TIMEOUT).await;
    let os = o.status.clone().unwrap();
    assert_eq!(os.side, Some(ReplicaSide::NotInvolved));
    assert_eq!(condition(&o, "ResidencyCompliant"), Some(("True".into(), "Compliant".into())));
    assert!(o.finalizers().is_empty() && os.publication.is_none());

    // A row with PII arrives anonymized in the target's destination table.
    psql(
        &src_pg,
        TELEMETRY_DB,
        &format!(
            "INSERT INTO device_metrics VALUES ('2024-05-01 10:11:12+00', '{DEVICE}', '{USER}', '{EMAIL}', '{IP4}',
             48.85661, 2.35222, 'fw-1.2', 21.5, 0.87)"
        ),
    )
    .await;
    let global = "SELECT count(*) FROM device_metrics_global";
    eventually("the row in the target", Duration::from_secs(60), || async {
        (count(&psql(&tgt_pg, TELEMETRY_DB, global).await) == 1).then_some(())
    })
    .await;
    let row = psql(
        &tgt_pg,
        TELEMETRY_DB,
        "SET TimeZone = 'UTC'; SELECT concat_ws('|', ts, device_id, user_id, client_ip, latitude, longitude, firmware,
         temperature, battery) FROM device_metrics_global",
    )
    .await;
    let cols: Vec<&str> = row.split('|').collect();
    assert_eq!(cols[0], "2024-05-01 10:00:00+00", "{row}");
    assert!(cols[1].len() == 64 && cols[1].chars().all(|c| c.is_ascii_hexdigit()), "hashed device: {row}");
    assert!(cols[2].len() == 64 && cols[2] != cols[1], "hashed user: {row}");
    assert_eq!(&cols[3..], ["198.51.100.0/24", "48.9", "2.4", "fw-1.2", "21.5", "0.87"], "{row}");
    let canaries = [EMAIL, USER, DEVICE, IP4];
    assert_eq!(canary_hits(&src_pg, BOUNDARY_DB, &canaries).await, "", "raw PII in the boundary database");
    for db in [TELEMETRY_DB, "postgres"] {
        assert_eq!(canary_hits(&tgt_pg, db, &canaries).await, "", "raw PII in {db} of the target");
    }
    assert_ne!(canary_hits(&src_pg, TELEMETRY_DB, &canaries).await, "", "the scan finds raw values at the source");
    for env in [&src, &tgt] {
        let events = event_reasons(&env.client).await;
        assert!(events.iter().any(|(t, r)| t == "Normal" && r.starts_with("Provisioned")), "{events:?}");
        assert!(events.iter().all(|(_, r)| !r.contains(LOGIN_PASSWORD)), "{events:?}");
    }

    // Idle: several resyncs (audit, prune, lag) and not one status write.
    let settle = |env: &RegionEnv| env.reconciles() + 1;
    let (s0, t0) = (settle(&src), settle(&tgt));
    eventually("one more resync", Duration::from_secs(30), || async {
        (src.reconciles() >= s0 && tgt.reconciles() >= t0).then_some(())
    })
    .await;
    let writes = (src.status_writes(), tgt.status_writes(), other.status_writes());
    let versions = (
        get_replica(&src.client, name).await.unwrap().resource_version(),
        get_replica(&tgt.client, name).await.unwrap().resource_version(),
    );
    let (s1, t1) = (src.reconciles() + 4, tgt.reconciles() + 4);
    eventually("four idle resyncs", Duration::from_secs(60), || async {
        (src.reconciles() >= s1 && tgt.reconciles() >= t1).then_some(())
    })
    .await;
    assert_eq!((src.status_writes(), tgt.status_writes(), other.status_writes()), writes, "status written while idle");
    assert_eq!(
        (
            get_replica(&src.client, name).await.unwrap().resource_version(),
            get_replica(&tgt.client, name).await.unwrap().resource_version()
        ),
        versions
    );

    // A rogue publication of the source table is reported, then clears.
    psql(&src_pg, TELEMETRY_DB, "CREATE PUBLICATION rogue_pub FOR TABLE device_metrics").await;
    let r = wait_condition(&src.client, name, "ResidencyCompliant", ("False", "RogueReplication"), READY_TIMEOUT).await;
    assert_eq!(condition(&r, "Ready"), Some(("True".into(), "Reconciled".into())));
    wait_event(&src.client, "Warning", "RogueReplication", "rogue_pub").await;
    psql(&src_pg, TELEMETRY_DB, "DROP PUBLICATION rogue_pub").await;
    wait_condition(&src.client, name, "ResidencyCompliant", ("True", "Compliant"), READY_TIMEOUT).await;

    // Deleting the replica tears both sides down; application data stays. The source
    // goes first, while the target still streams: its slot must not be left behind.
    let gone = |env: &'static str, client: kube::Client| async move {
        eventually(&format!("{name} gone in {env}"), READY_TIMEOUT, || async {
            get_replica(&client, name).await.is_none().then_some(())
        })
        .await;
    };
    src.replicas().delete(name, &DeleteParams::default()).await.expect("delete");
    gone(SOURCE, src.client.clone()).await;
    assert_eq!(source_objects(&src_pg).await, "0 slots, 0 subscriptions, 1 boundary, 0 login");
    for env in [&tgt, &other] {
        env.replicas().delete(name, &DeleteParams::default()).await.expect("delete");
    }
    gone(TARGET, tgt.client.clone()).await;
    gone(ELSEWHERE, other.client.clone()).await;
    assert_eq!(publications(&src_pg, TELEMETRY_DB).await, 0);
    assert_eq!(publications(&src_pg, BOUNDARY_DB).await, 0);
    assert_eq!(count(&psql(&src_pg, TELEMETRY_DB, "SELECT count(*) FROM device_metrics").await), 1);
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, "SELECT count(*) FROM pg_subscription").await), 0);
    let import = format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{IMPORT_SCHEMA}'");
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, &import).await), 0);
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, global).await), 1, "destination rows stay");
    for env in [&src, &tgt] {
        let events = event_reasons(&env.client).await;
        assert!(events.iter().any(|(t, r)| t == "Normal" && r.starts_with("TornDown")), "{}: {events:?}", env.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::too_many_lines)]
async fn raw_pii_refused_on_every_side_and_fails_closed() {
    let (src_pg, tgt_pg) = servers().await;
    let regions = [region(SOURCE, "IE", &[Gdpr], src_pg.port()), region(TARGET, "FR", &[Gdpr, Fdpa], tgt_pg.port())];
    let name = "leaky";
    let secret = format!("{name}-replication");
    let src = RegionEnv::start(SOURCE, &regions, Some((src_pg.clone(), "postgres")), &secret, RESYNC).await;
    let tgt = RegionEnv::start(TARGET, &regions, Some((tgt_pg.clone(), TELEMETRY_DB)), &secret, RESYNC).await;
    apply(&[&src, &tgt], &replica(name, true)).await;

    // Refused on both sides, with the reason code; nothing built anywhere.
    let refused = ("False", "PersonalDataExported");
    for env in [&src, &tgt] {
        let r = wait_condition(&env.client, name, "Ready", refused, READY_TIMEOUT).await;
        assert_eq!(condition(&r, "ResidencyCompliant"), Some(("False".into(), "PersonalDataExported".into())));
        let status = r.status.clone().unwrap();
        assert_eq!(status.data_class, None);
        assert!(status.publication.is_none());
        assert!(r.finalizers().is_empty(), "{:?}", r.finalizers());
        wait_event(&env.client, "Warning", "PersonalDataExported", "email").await;
    }
    assert_eq!(source_objects(&src_pg).await, "0 slots, 0 subscriptions, 0 boundary, 0 login");
    assert_eq!(publications(&src_pg, TELEMETRY_DB).await, 0);
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, "SELECT count(*) FROM pg_subscription").await), 0);

    // Fixed (email dropped): built on both sides.
    let patch = |raw: bool| {
        let tables = serde_json::to_value(&replica(name, raw).spec.tables).unwrap();
        Patch::Merge(serde_json::json!({"spec": {"tables": tables}}))
    };
    for env in [&src, &tgt] {
        env.replicas().patch(name, &PatchParams::default(), &patch(false)).await.expect("patch");
    }
    for env in [&src, &tgt] {
        wait_condition(&env.client, name, "Ready", ("True", "Reconciled"), READY_TIMEOUT).await;
    }
    assert_eq!(publications(&src_pg, TELEMETRY_DB).await, 1);
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, "SELECT count(*) FROM pg_subscription").await), 1);

    // Broken again: fail closed, what was built is torn down on both sides.
    for env in [&src, &tgt] {
        env.replicas().patch(name, &PatchParams::default(), &patch(true)).await.expect("patch");
    }
    for env in [&src, &tgt] {
        let r = wait_condition(&env.client, name, "Ready", refused, READY_TIMEOUT).await;
        assert!(r.finalizers().is_empty() && !r.annotations().contains_key(BUILT_ANNOTATION), "{r:?}");
        wait_event(&env.client, "Normal", "TornDown", "").await;
    }
    assert_eq!(source_objects(&src_pg).await, "0 slots, 0 subscriptions, 1 boundary, 0 login");
    assert_eq!(publications(&src_pg, TELEMETRY_DB).await, 0);
    assert_eq!(publications(&src_pg, BOUNDARY_DB).await, 0);
    assert_eq!(count(&psql(&tgt_pg, TELEMETRY_DB, "SELECT count(*) FROM pg_subscription").await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secrets_are_named_by_secret_and_key_never_by_value() {
    let regions = [region(SOURCE, "IE", &[Gdpr], 0), region(TARGET, "FR", &[Gdpr, Fdpa], 5432)];
    let name = "unconfigured";
    let src = RegionEnv::start(SOURCE, &regions, None, "unused", RESYNC).await;
    apply(&[&src], &replica(name, false)).await;
    let missing = ("False", "SecretMissing");
    wait_condition(&src.client, name, "Ready", missing, READY_TIMEOUT).await;
    wait_event(&src.client, "Warning", "SecretMissing", "secret regionstack-system/telemetry-admin: not found").await;

    // The admin Secret appears (nothing connects yet); the replication Secret lacks
    // its password. Retries back off and find the next missing key.
    let admin = [
        ("host", "127.0.0.1"),
        ("port", "1"),
        ("user", "admin"),
        ("password", "canary-admin-password"),
        ("dbname", "postgres"),
        ("sslmode", "disable"),
    ];
    secret(&src.client, SYSTEM_NAMESPACE, ADMIN_SECRET, &admin).await;
    secret(&src.client, "default", &format!("{name}-replication"), &[("username", LOGIN)]).await;
    let note = format!("secret default/{name}-replication: has no \"password\" key");
    wait_event(&src.client, "Warning", "SecretMissing", &note).await;
    let r = wait_condition(&src.client, name, "Ready", missing, READY_TIMEOUT).await;
    assert!(r.finalizers().is_empty(), "nothing was built, so no finalizer");
    let text = serde_json::to_string(&r).unwrap() + &format!("{:?}", event_reasons(&src.client).await);
    assert!(!text.contains("canary-admin-password"), "a secret value reached status or events");
}
