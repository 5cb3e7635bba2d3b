//! The demo's database steps against the emulated topology with the database work
//! done by hand (no operator running): the anonymized path built with the database
//! layer from exactly the Secrets, Regions and replicas the topology put into the
//! clusters, and the PII guardrail installed directly. This proves the topology's
//! wiring (Secrets, publisher-endpoint override, application and destination tables
//! shaped like the export) and the steps' checks; the operator's own behaviour is
//! asserted by the end-to-end suite (tests/).

use std::collections::BTreeMap;

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use regionstack::demo::{RegionCluster, canary, clusters, pii, telemetry};
use regionstack_api::{PiiDatabase, Region, TelemetryReplica};
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::telemetry::export::{ExportSpec, apply_export};
use regionstack_sql::telemetry::handoff::HandoffMode;
use regionstack_sql::telemetry::import::{ImportSpec, apply_import};
use regionstack_sql::{ConnParams, Password, SslMode, connect};
use std::time::Duration;
use testbed::topology::{ApplyMode, Topology, TopologyOptions};

fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> String {
    String::from_utf8(data[key].clone()).unwrap()
}

/// What the source and target operators would build for `replica`, from what each
/// cluster holds.
async fn build_by_hand(source: &RegionCluster, target: &RegionCluster, replica: &str) {
    let spec = Api::<TelemetryReplica>::namespaced(source.client.clone(), "telemetry").get(replica).await.unwrap().spec;
    let credentials = source.secret_data("telemetry", &spec.replication_credentials.name).await.unwrap();
    let export = ExportSpec {
        replica: replica.to_owned(),
        source_database: spec.source.database.clone(),
        tables: spec.tables.clone(),
        login: text(&credentials, "username"),
        password: Password::new(text(&credentials, "password")),
        handoff: HandoffMode::Auto,
    };
    apply_export(&source.telemetry_admin().await.unwrap(), &export).await.expect("export");

    // The target side: its own copy of the replication Secret and of the source Region.
    let credentials = target.secret_data("telemetry", &spec.replication_credentials.name).await.unwrap();
    let region = Api::<Region>::all(target.client.clone()).get(&spec.source.region).await.unwrap();
    let endpoint = region.spec.telemetry.unwrap().publisher_endpoint.unwrap();
    let ssl = SslMode::parse(serde_json::to_value(endpoint.ssl_mode).unwrap().as_str().unwrap()).unwrap();
    let source_params = ConnParams::new(
        &endpoint.host,
        u16::try_from(endpoint.port).unwrap(),
        &text(&credentials, "username"),
        Password::new(text(&credentials, "password")),
        BOUNDARY_DB,
        ssl,
    );
    let target_entry = spec.targets.iter().find(|t| t.region == target.region).unwrap();
    let import = ImportSpec {
        replica: replica.to_owned(),
        target_region: target.region.clone(),
        source: source_params,
        tables: spec.tables.iter().map(|t| (t.schema.clone(), t.name.clone())).collect(),
        destination: target_entry.destination.clone(),
    };
    apply_import(&target.telemetry_admin().await.unwrap(), &import).await.expect("import");
}

/// Reports object `namespace/name` Ready (status subresource, by hand).
async fn ready_by_hand<K>(cluster: &RegionCluster, namespace: &str, name: &str)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let status = serde_json::json!({
        "apiVersion": regionstack_api::API_VERSION, "kind": K::kind(&()),
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "by hand",
            "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    });
    Api::<K>::namespaced(cluster.client.clone(), namespace)
        .patch_status(name, &PatchParams::apply("test-by-hand").force(), &Patch::Apply(&status))
        .await
        .unwrap();
}

/// Installs the guardrail in PiiDatabase `name`'s database and reports it Ready.
async fn guard_by_hand(cluster: &RegionCluster, name: &str) {
    let api = Api::<PiiDatabase>::namespaced(cluster.client.clone(), "customers");
    let db = api.get(name).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let params = loop {
        // A managed database's Secret appears once the CNPG stand-in answered.
        match cluster.pii_admin(&db).await {
            Ok(params) => break params,
            Err(err) => assert!(std::time::Instant::now() < deadline, "{err:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let client = connect(&params).await.unwrap();
    let context = regionstack_sql::pii::PiiContext::new(&params.dbname, &cluster.region);
    regionstack_sql::pii::install_guardrails(&client, &context).await.unwrap();
    let status = serde_json::json!({
        "apiVersion": regionstack_api::API_VERSION, "kind": "PiiDatabase",
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "by hand",
            "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    });
    api.patch_status(name, &PatchParams::apply("test-by-hand").force(), &Patch::Apply(&status)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_hold_on_a_hand_built_topology() {
    let state = tempfile::tempdir().unwrap();
    let topology = Topology::start(TopologyOptions::new(state.path()).apply(ApplyMode::ServerSide)).await.unwrap();
    let clusters = clusters(&topology);
    let (eu1, eu3) = (&clusters[0], &clusters[1]);
    let timeout = Duration::from_secs(60);

    build_by_hand(eu1, eu3, "device-metrics-eu-west-1").await;
    let report = telemetry::replicate(&clusters, "eu-west-1", "eu-west-3", timeout).await;
    println!("{report}");
    assert!(report.passed, "{report}");
    assert!(report.lines.iter().any(|l| l.contains("arrived in eu-west-3")), "{report}");
    build_by_hand(eu3, eu1, "device-metrics-eu-west-3").await;
    let report = telemetry::replicate(&clusters, "eu-west-3", "eu-west-1", timeout).await;
    assert!(report.passed, "{report}");

    // The scan finds raw values where they are (the source table).
    let source = eu1.telemetry_admin().await.unwrap();
    let raw = source.with_dbname("telemetry");
    let client = connect(&raw).await.unwrap();
    let email: String = client.query_one("SELECT email FROM public.device_metrics LIMIT 1", &[]).await.unwrap().get(0);
    let hits = telemetry::canary_hits(&raw, &[&email]).await.unwrap();
    assert_eq!(hits, ["public.device_metrics: 1 row(s)"]);

    // No Ready PII database yet: the step says so instead of passing.
    let report = pii::rogue_publication(&clusters).await;
    assert!(!report.passed, "{report}");

    // Both PII databases guarded and reported Ready by hand: eu-west-3's external one,
    // and eu-west-1's managed one through a Cluster the CNPG stand-in answers (its
    // `<name>-superuser` Secret has CloudNativePG's `username` key).
    let cluster = serde_json::json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "customers-eu-west-1", "namespace": "customers"},
        "spec": {"instances": 1, "enableSuperuserAccess": true}
    });
    Api::<DynamicObject>::namespaced_with(eu1.client.clone(), "customers", &testbed::topology::cnpg::api_resource())
        .patch("customers-eu-west-1", &PatchParams::apply("test-by-hand"), &Patch::Apply(&cluster))
        .await
        .unwrap();
    for (cluster, name) in [(eu3, "customers-eu-west-3"), (eu1, "customers-eu-west-1")] {
        guard_by_hand(cluster, name).await;
    }
    let report = pii::rogue_publication(&clusters).await;
    assert!(report.passed, "{report}");
    assert!(report.lines.iter().any(|l| l.contains("ERROR 42501: regionstack: PII database customers")), "{report}");
    assert!(report.lines.iter().any(|l| l.contains("ERROR 42501: regionstack: PII database app")), "{report}");

    // The canary scan over the hand-built paths (each replica reported Ready by hand in
    // its source cluster): nothing of one region is found in another.
    for (cluster, name) in [(eu1, "device-metrics-eu-west-1"), (eu3, "device-metrics-eu-west-3")] {
        ready_by_hand::<TelemetryReplica>(cluster, "telemetry", name).await;
    }
    let report = canary::canary_scan(&clusters, timeout).await;
    assert!(report.passed, "{report}");
    assert!(report.lines.iter().any(|l| l.contains("[ap-south-1] PII server")), "{report}");
    // The planted personal data does not outlive the step.
    for (cluster, name) in [(eu3, "customers-eu-west-3"), (eu1, "customers-eu-west-1")] {
        let db = Api::<PiiDatabase>::namespaced(cluster.client.clone(), "customers").get(name).await.unwrap();
        let client = connect(&cluster.pii_admin(&db).await.unwrap()).await.unwrap();
        let table: Option<String> =
            client.query_one("SELECT to_regclass($1)::text", &[&canary::PII_CANARY_TABLE]).await.unwrap().get(0);
        assert_eq!(table, None, "{name}: the canary table is removed after the scan");
    }
    // eu-west-3's PII Secret pointed at eu-west-1's server (as a misconfiguration
    // would): eu-west-3's canary lands on eu-west-1's server, and the scan finds it.
    let data = eu1.secret_data("customers", "customers-eu-west-1-admin").await.unwrap();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "customers-eu-west-3-admin", "namespace": "customers"},
        "stringData": data.keys().map(|k| (k.clone(), text(&data, k))).collect::<BTreeMap<_, _>>(),
    });
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(eu3.client.clone(), "customers")
        .patch("customers-eu-west-3-admin", &PatchParams::apply("test-by-hand").force(), &Patch::Apply(&secret))
        .await
        .unwrap();
    let report = canary::canary_scan(&clusters, timeout).await;
    assert!(!report.passed, "{report}");
    assert!(report.lines.iter().any(|l| l.contains("FOUND in public.regionstack_canary")), "{report}");
    // Removed also when the step fails.
    let db = Api::<PiiDatabase>::namespaced(eu1.client.clone(), "customers").get("customers-eu-west-1").await.unwrap();
    let client = connect(&eu1.pii_admin(&db).await.unwrap()).await.unwrap();
    let table: Option<String> =
        client.query_one("SELECT to_regclass($1)::text", &[&canary::PII_CANARY_TABLE]).await.unwrap().get(0);
    assert_eq!(table, None, "the canary table is removed after a failed scan too");

    topology.shutdown().await;
}
