//! The PiiDatabase controller against the Kubernetes API emulator (real HTTP, the real
//! kube client and kube-runtime Controller) and real PostgreSQL 15 servers.

mod support;

use std::time::Duration;

use std::fmt::Write as _;

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use regionstack::controller::{FINALIZER, pii};
use regionstack_api::fixtures::{PiiDatabaseBuilder, seed_topology};
use regionstack_api::pii::Enforcement;
use regionstack_api::{ConditionStatus, Jurisdiction, PiiDatabase};
use support::pii::{Harness, connection_data, pg_server, psql};
use support::{condition, create_secret, events_about, eventually, install_cnpg_crd, summaries};

const NS: &str = "default";
const REGION: &str = "eu-west-1";
const WAIT: Duration = Duration::from_secs(20);

fn ready(db: &PiiDatabase) -> bool {
    condition(db.status.as_ref(), "Ready") == Some((ConditionStatus::True, "Reconciled".into()))
}

fn reason(db: &PiiDatabase, type_: &str) -> Option<(ConditionStatus, String)> {
    condition(db.status.as_ref(), type_)
}

fn external(name: &str, secret: &str) -> PiiDatabaseBuilder {
    PiiDatabaseBuilder::new(name, REGION).compliance([Jurisdiction::Gdpr]).external(secret)
}

async fn secret_for(h: &Harness, server: &testbed::PgServer, name: &str, db: &str) {
    let data = connection_data(server, db);
    let pairs: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
    create_secret(&h.client, NS, name, &pairs).await;
}

fn guard_triggers(server: &testbed::PgServer, db: &str) -> String {
    psql(server, db, "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'regionstack%'").unwrap()
}

async fn wait_event(h: &Harness, name: &str, type_: &str, reason: &str, note_has: &str) {
    eventually(&format!("a {type_} {reason} event mentioning {note_has:?}"), WAIT, || async {
        let events = summaries(&events_about(&h.client, NS, name).await);
        events.iter().any(|(t, r, n)| t == type_ && r == reason && n.contains(note_has)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_guards_repairs_stays_quiet_and_tears_down() {
    let server = pg_server(&["customers"]).await;
    let h = Harness::start(REGION, Duration::from_millis(300), &seed_topology().regions, false).await;
    secret_for(&h, &server, "customers-conn", "customers").await;
    h.create(&external("customers", "customers-conn").build()).await;

    let db = h.wait(NS, "customers", "Ready", ready).await;
    assert_eq!(reason(&db, "ResidencyCompliant"), Some((ConditionStatus::True, "Compliant".into())));
    let status = db.status.clone().unwrap();
    assert_eq!(status.endpoint.as_deref(), Some(format!("127.0.0.1:{}/customers", server.port()).as_str()));
    assert!(status.last_audit_time.is_some() && status.violations.is_empty(), "{status:?}");
    assert_eq!(status.observed_generation, db.metadata.generation);
    assert!(db.finalizers().iter().any(|f| f == FINALIZER));
    assert_eq!(guard_triggers(&server, "customers"), "3");
    wait_event(&h, "customers", "Normal", "GuardrailsInstalled", "event-trigger/regionstack_guard_replication").await;

    // The guardrail refuses a rogue publication.
    psql(&server, "customers", "CREATE TABLE people (id int PRIMARY KEY, email text)").unwrap();
    let refused = psql(&server, "customers", "CREATE PUBLICATION leak FOR TABLE people").unwrap_err();
    assert!(refused.contains("may not replicate outside region eu-west-1"), "{refused}");

    // A slot cannot be refused by DDL triggers: the scheduled audit drops it.
    psql(&server, "customers", "SELECT pg_create_logical_replication_slot('rogue', 'pgoutput')").unwrap();
    eventually("the rogue slot dropped", WAIT, || async {
        let n = psql(&server, "customers", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'rogue'");
        (n.unwrap() == "0").then_some(())
    })
    .await;
    wait_event(&h, "customers", "Warning", "RogueReplication", "slot/rogue").await;
    assert!(
        h.ctx.metrics.encode().contains(r#"regionstack_repairs_total{kind="PiiDatabase",code="RogueReplication"} 1"#)
    );

    // Idle: audits keep running, the status is not written. The repairing reconcile
    // may still be writing its status after its Event: let it finish first.
    h.wait_reconciles(1).await;
    let before = h.api(NS).get("customers").await.unwrap();
    let writes = h.ctx.metrics.status_writes(pii::KIND);
    h.wait_reconciles(5).await;
    let after = h.api(NS).get("customers").await.unwrap();
    assert_eq!(after.resource_version(), before.resource_version(), "an idle database must not be written");
    assert_eq!(h.ctx.metrics.status_writes(pii::KIND), writes);
    assert_eq!(h.ctx.pii.listening(), 1);

    // No secret in status or events.
    let shown = format!(
        "{} {:?}",
        serde_json::to_string(&after.status).unwrap(),
        summaries(&events_about(&h.client, NS, "customers").await)
    );
    assert!(!shown.contains(server.password()), "a password leaked: {shown}");

    // Deletion removes the guardrails, keeps the data, and releases the object.
    h.api(NS).delete("customers", &DeleteParams::default()).await.unwrap();
    eventually("the PiiDatabase gone", WAIT, || async {
        h.api(NS).get_opt("customers").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(guard_triggers(&server, "customers"), "0");
    assert_eq!(
        psql(&server, "customers", "SELECT count(*) FROM pg_namespace WHERE nspname = 'regionstack'").unwrap(),
        "0"
    );
    assert_eq!(psql(&server, "customers", "SELECT count(*) FROM people").unwrap(), "0");
    wait_event(&h, "customers", "Normal", "GuardrailsRemoved", "event-trigger/regionstack_guard_replication").await;
    eventually("the listener stopped", WAIT, || async { (h.ctx.pii.listening() == 0).then_some(()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_repair_drift_long_before_the_scheduled_audit() {
    let server = pg_server(&["orders"]).await;
    // An hour between scheduled audits: only a notification can explain a repair.
    let h = Harness::start(REGION, Duration::from_secs(3600), &seed_topology().regions, false).await;
    secret_for(&h, &server, "orders-conn", "orders").await;
    h.create(&external("orders", "orders-conn").build()).await;
    h.wait(NS, "orders", "Ready", ready).await;
    eventually("the listener", WAIT, || async { (h.ctx.pii.listening() == 1).then_some(()) }).await;

    psql(
        &server,
        "orders",
        "ALTER EVENT TRIGGER regionstack_guard_replication DISABLE; CREATE PUBLICATION leak FOR ALL TABLES;",
    )
    .unwrap();
    eventually("the publication dropped and the guard re-enabled", WAIT, || async {
        let state = psql(
            &server,
            "orders",
            "SELECT (SELECT count(*) FROM pg_publication) || ',' || \
                    (SELECT evtenabled::text FROM pg_event_trigger WHERE evtname = 'regionstack_guard_replication')",
        )
        .unwrap();
        (state == "0,A").then_some(())
    })
    .await;
    wait_event(&h, "orders", "Warning", "RogueReplication", "publication/leak").await;
    wait_event(&h, "orders", "Warning", "GuardrailMissing", "event-trigger/regionstack_guard_replication").await;
    let db = h.api(NS).get("orders").await.unwrap();
    assert!(ready(&db) && db.status.unwrap().violations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_mode_reports_without_repairing_and_enforce_takes_over() {
    let server = pg_server(&["crm"]).await;
    let h = Harness::start(REGION, Duration::from_millis(300), &seed_topology().regions, false).await;
    secret_for(&h, &server, "crm-conn", "crm").await;
    psql(&server, "crm", "SELECT pg_create_logical_replication_slot('rogue', 'pgoutput')").unwrap();
    h.create(&external("crm", "crm-conn").enforcement(Enforcement::Audit).build()).await;

    let db = h
        .wait(NS, "crm", "ResidencyCompliant=False", |db| {
            reason(db, "ResidencyCompliant") == Some((ConditionStatus::False, "RogueReplication".into()))
        })
        .await;
    assert!(ready(&db));
    let violations = db.status.clone().unwrap().violations;
    assert_eq!(violations.iter().map(|v| v.object.as_str()).collect::<Vec<_>>(), ["slot/rogue"], "{violations:?}");
    wait_event(&h, "crm", "Warning", "RogueReplication", "Audit mode").await;
    // Reported, not repaired, and no guardrail installed; firstSeen stays put.
    h.wait_reconciles(4).await;
    assert_eq!(psql(&server, "crm", "SELECT count(*) FROM pg_replication_slots").unwrap(), "1");
    assert_eq!(guard_triggers(&server, "crm"), "0");
    let later = h.api(NS).get("crm").await.unwrap();
    assert_eq!(later.resource_version(), db.resource_version());
    assert_eq!(later.status.unwrap().violations, violations);

    // Switching to Enforce repairs and guards.
    h.patch_spec(NS, "crm", serde_json::json!({ "enforcement": "Enforce" })).await;
    let db = h
        .wait(NS, "crm", "compliant under Enforce", |db| {
            reason(db, "ResidencyCompliant") == Some((ConditionStatus::True, "Compliant".into()))
                && db.status.as_ref().unwrap().observed_generation == db.metadata.generation
        })
        .await;
    assert!(db.status.unwrap().violations.is_empty());
    assert_eq!(psql(&server, "crm", "SELECT count(*) FROM pg_replication_slots").unwrap(), "0");
    assert_eq!(guard_triggers(&server, "crm"), "3");

    // And back to Audit: the guardrails go, replication DDL is reported instead.
    h.patch_spec(NS, "crm", serde_json::json!({ "enforcement": "Audit" })).await;
    eventually("guardrails removed", WAIT, || async { (guard_triggers(&server, "crm") == "0").then_some(()) }).await;
    psql(&server, "crm", "CREATE PUBLICATION leak FOR ALL TABLES").unwrap();
    h.wait(NS, "crm", "the publication reported", |db| {
        db.status.as_ref().is_some_and(|s| s.violations.iter().any(|v| v.object == "publication/leak"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_foreign_and_unreachable_databases_create_nothing() {
    let h = Harness::start(REGION, Duration::from_millis(300), &seed_topology().regions, false).await;
    let gdpr = [Jurisdiction::Gdpr];
    h.create(&PiiDatabaseBuilder::new("paris", "eu-west-3").compliance(gdpr).external("paris-conn").build()).await;
    h.create(&PiiDatabaseBuilder::new("mars", "mars-1").compliance(gdpr).external("mars-conn").build()).await;
    h.create(&external("nosecret", "does-not-exist").build()).await;
    create_secret(&h.client, NS, "partial-conn", &[("password", "pw-never-shown"), ("user", "postgres")]).await;
    h.create(&external("partial", "partial-conn").build()).await;
    h.create(&PiiDatabaseBuilder::new("managed", REGION).compliance(gdpr).managed(1).build()).await;
    // Port 1 on loopback: connection refused.
    let nowhere =
        [("host", "127.0.0.1"), ("port", "1"), ("user", "u"), ("password", "pw-never-shown"), ("dbname", "d")];
    create_secret(&h.client, NS, "nowhere-conn", &[nowhere.as_slice(), &[("sslmode", "disable")]].concat()).await;
    h.create(&external("unreachable", "nowhere-conn").build()).await;

    let paris = h.wait(NS, "paris", "ForeignRegion", |db| reason(db, "Ready").is_some()).await;
    assert_eq!(reason(&paris, "Ready"), Some((ConditionStatus::False, "ForeignRegion".into())));
    assert_eq!(reason(&paris, "ResidencyCompliant"), Some((ConditionStatus::True, "Compliant".into())));

    let mars = h.wait(NS, "mars", "UnknownRegion", |db| reason(db, "Ready").is_some()).await;
    assert_eq!(reason(&mars, "Ready"), Some((ConditionStatus::False, "UnknownRegion".into())));
    assert_eq!(reason(&mars, "ResidencyCompliant"), Some((ConditionStatus::False, "UnknownRegion".into())));
    wait_event(&h, "mars", "Warning", "UnknownRegion", "mars-1").await;

    let missing = h.wait(NS, "nosecret", "SecretMissing", |db| reason(db, "Ready").is_some()).await;
    assert_eq!(reason(&missing, "Ready"), Some((ConditionStatus::False, "SecretMissing".into())));
    wait_event(&h, "nosecret", "Warning", "SecretMissing", "does-not-exist").await;

    let partial = h.wait(NS, "partial", "SecretMissing", |db| reason(db, "Ready").is_some()).await;
    let message = &regionstack_api::condition::find_condition(&partial.status.as_ref().unwrap().conditions, "Ready")
        .unwrap()
        .message;
    assert_eq!(reason(&partial, "Ready"), Some((ConditionStatus::False, "SecretMissing".into())));
    assert!(message.contains("partial-conn") && message.contains("\"host\""), "{message}");
    wait_event(&h, "partial", "Warning", "SecretMissing", "\"host\"").await;

    let managed = h.wait(NS, "managed", "ProvisionerMissing", |db| reason(db, "Ready").is_some()).await;
    assert_eq!(reason(&managed, "Ready"), Some((ConditionStatus::False, "ProvisionerMissing".into())));
    wait_event(&h, "managed", "Warning", "ProvisionerMissing", "CloudNativePG").await;

    let unreachable = h.wait(NS, "unreachable", "DatabaseUnreachable", |db| reason(db, "Ready").is_some()).await;
    assert_eq!(reason(&unreachable, "Ready"), Some((ConditionStatus::False, "DatabaseUnreachable".into())));
    assert_eq!(reason(&unreachable, "ResidencyCompliant"), Some((ConditionStatus::Unknown, "NotAudited".into())));
    wait_event(&h, "unreachable", "Warning", "DatabaseUnreachable", "127.0.0.1:1/d").await;

    // Refused and foreign databases get no finalizer; nothing anywhere shows a secret.
    for name in ["paris", "mars"] {
        assert!(h.api(NS).get(name).await.unwrap().finalizers().is_empty(), "{name}");
    }
    let all = h.api(NS).list(&ListParams::default()).await.unwrap();
    let mut shown = serde_json::to_string(&all.items).unwrap();
    for name in ["paris", "mars", "nosecret", "partial", "managed", "unreachable"] {
        let _ = write!(shown, "{:?}", summaries(&events_about(&h.client, NS, name).await));
    }
    assert!(!shown.contains("pw-never-shown"), "a secret leaked: {shown}");

    // With its Secret gone there is nothing to tear down: deletion still completes.
    assert!(h.api(NS).get("nosecret").await.unwrap().finalizers().iter().any(|f| f == FINALIZER));
    h.api(NS).delete("nosecret", &DeleteParams::default()).await.unwrap();
    eventually("the PiiDatabase gone", WAIT, || async {
        h.api(NS).get_opt("nosecret").await.unwrap().is_none().then_some(())
    })
    .await;
    wait_event(&h, "nosecret", "Warning", "SecretMissing", "nothing reachable to tear down").await;

    // A foreign managed database creates no Cluster even where CloudNativePG is served.
    install_cnpg_crd(&h.client).await;
    h.create(&PiiDatabaseBuilder::new("lyon", "eu-west-3").compliance(gdpr).managed(1).build()).await;
    h.wait(NS, "lyon", "ForeignRegion", |db| reason(db, "Ready").is_some()).await;
    let clusters: Api<DynamicObject> = Api::namespaced_with(h.client.clone(), NS, &cnpg());
    assert!(clusters.list(&ListParams::default()).await.unwrap().items.is_empty());
}

fn cnpg() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"),
        "clusters",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_database_gets_a_pinned_owned_cluster_and_is_guarded_once_ready() {
    let server = pg_server(&["app"]).await;
    let h = Harness::start(REGION, Duration::from_millis(300), &seed_topology().regions, true).await;
    let db = PiiDatabaseBuilder::new("billing", REGION)
        .compliance([Jurisdiction::Gdpr])
        .managed(2)
        .backup_in(REGION)
        .build();
    let created = h.create(&db).await;

    let clusters: Api<DynamicObject> = Api::namespaced_with(h.client.clone(), NS, &cnpg());
    let cluster = eventually("the Cluster", WAIT, || async { clusters.get_opt("billing").await.unwrap() }).await;
    let owner = &cluster.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("PiiDatabase", created.uid().unwrap().as_str()));
    assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));
    let spec = &cluster.data["spec"];
    let term = &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        [0]["matchExpressions"][0];
    assert_eq!(
        term,
        &serde_json::json!({"key": "topology.kubernetes.io/region", "operator": "In", "values": [REGION]})
    );
    assert_eq!(spec["backup"]["barmanObjectStore"]["destinationPath"], "s3://pii-backups-eu-west-1/billing");
    assert!(spec.get("replica").is_none() && spec.get("externalClusters").is_none());
    assert_eq!(cluster.labels().get("app.kubernetes.io/managed-by").map(String::as_str), Some("regionstack"));
    h.wait(NS, "billing", "Provisioning", |db| {
        reason(db, "Ready") == Some((ConditionStatus::False, "Provisioning".into()))
    })
    .await;

    // CloudNativePG would now report the Cluster Ready and write its superuser Secret.
    let password = server.password().to_owned();
    let port = server.port().to_string();
    create_secret(
        &h.client,
        NS,
        "billing-superuser",
        &[
            ("username", "postgres"),
            ("password", &password),
            ("host", "127.0.0.1"),
            ("port", &port),
            ("dbname", "*"),
            ("sslmode", "disable"),
        ],
    )
    .await;
    let status = serde_json::json!({ "status": {
        "conditions": [{ "type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z" }],
        "instanceNames": ["billing-1", "billing-2"],
    }});
    clusters.patch_status("billing", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();

    let ready_db = h.wait(NS, "billing", "Ready", ready).await;
    assert_eq!(ready_db.status.unwrap().endpoint, Some(format!("127.0.0.1:{port}/app")));
    assert_eq!(guard_triggers(&server, "app"), "3");

    h.api(NS).delete("billing", &DeleteParams::default()).await.unwrap();
    eventually("the PiiDatabase and its Cluster gone", WAIT, || async {
        let gone = h.api(NS).get_opt("billing").await.unwrap().is_none()
            && clusters.get_opt("billing").await.unwrap().is_none();
        gone.then_some(())
    })
    .await;
    assert_eq!(guard_triggers(&server, "app"), "0");
}
