//! The multi-region topology before any operator runs: three emulated clusters that
//! real `kubectl` reads through the written kubeconfigs, the seed manifests applied,
//! the Secrets pointing at each region's own servers (replication logins shared by
//! source and target), the publisher-endpoint override under its own field manager,
//! the application tables, and the CloudNativePG stand-in answering a hand-made
//! Cluster.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use regionstack_api::Region;
use testbed::topology::{ApplyMode, Topology, TopologyOptions, cnpg};

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(kubeconfig).args(args).output().expect("run kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn secret_text(secret: &Secret, key: &str) -> String {
    let data = secret.data.as_ref().expect("secret data");
    String::from_utf8(data.get(key).unwrap_or_else(|| panic!("no key {key}")).0.clone()).unwrap()
}

async fn secret(client: &kube::Client, ns: &str, name: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(client.clone(), ns).get_opt(name).await.unwrap()
}

async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, f: impl FnMut() -> F) -> T {
    testbed::poll::eventually(what, Duration::from_secs(30), f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn seed_topology_without_operators() {
    let state = tempfile::tempdir().unwrap();
    let topology =
        Topology::start(TopologyOptions::new(state.path()).apply(ApplyMode::Kubectl)).await.expect("topology starts");
    assert_eq!(topology.region_names(), ["eu-west-1", "eu-west-3", "ap-south-1"]);
    assert!(state.path().join("manifests/regions.yaml").is_file());

    for node in topology.regions() {
        let kubeconfig = state.path().join(node.name()).join("kubeconfig");
        assert_eq!(node.kubeconfig(), kubeconfig.canonicalize().unwrap());
        // Real kubectl through the written kubeconfig.
        let regions = kubectl(&kubeconfig, &["get", "regions", "-o", "name"]);
        assert_eq!(regions.lines().count(), 3, "{regions}");
        let all = kubectl(&kubeconfig, &["get", "regionstack", "-A", "-o", "name"]);
        assert_eq!(all.lines().filter(|l| l.starts_with("piidatabase")).count(), 2, "{all}");
        assert_eq!(all.lines().filter(|l| l.starts_with("telemetryreplica")).count(), 2, "{all}");
        assert!(kubectl(&kubeconfig, &["get", "crd", "-o", "name"]).contains("clusters.postgresql.cnpg.io"));
        assert!(node.operator_pid().is_none() && node.health_addr().is_none());

        // This region's own servers behind its Secrets.
        let client = node.client();
        let telemetry = secret(&client, "regionstack-system", "telemetry-admin").await.expect("telemetry-admin");
        assert_eq!(secret_text(&telemetry, "host"), "127.0.0.1");
        assert_eq!(secret_text(&telemetry, "port"), node.telemetry().port().to_string());
        assert_eq!(secret_text(&telemetry, "user"), "postgres");
        assert_eq!(secret_text(&telemetry, "password"), node.telemetry().password());
        assert_eq!(secret_text(&telemetry, "dbname"), "telemetry");
        assert_eq!(secret_text(&telemetry, "sslmode"), "disable");
        let pii = secret(&client, "customers", &format!("customers-{}-admin", node.name())).await.expect("PII admin");
        assert_eq!(secret_text(&pii, "port"), node.pii().port().to_string());
        assert_eq!(secret_text(&pii, "password"), node.pii().password());
        assert_eq!(secret_text(&pii, "dbname"), "customers");
        assert_eq!(node.pii().psql("customers", "SELECT count(*) FROM public.customers").unwrap(), "2");
        assert_eq!(node.telemetry().psql("telemetry", "SELECT count(*) FROM public.device_metrics").unwrap(), "0");
        let columns = node
            .telemetry()
            .psql(
                "telemetry",
                "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                 WHERE attrelid = 'public.device_metrics_global'::regclass AND attnum > 0",
            )
            .unwrap();
        assert_eq!(columns, "ts,device_id,user_id,client_ip,latitude,longitude,firmware,temperature,battery,received");

        // Every cluster's copy of every Region with telemetry points at that region's
        // telemetry server, under the demo's field manager.
        let regions: Api<Region> = Api::all(client.clone());
        for owner in ["eu-west-1", "eu-west-3"] {
            let region = regions.get(owner).await.unwrap();
            let endpoint = region.spec.telemetry.unwrap().publisher_endpoint.unwrap();
            assert_eq!(endpoint.host, "127.0.0.1");
            assert_eq!(endpoint.port, i32::from(topology.region(owner).telemetry().port()));
            assert_eq!(serde_json::to_value(endpoint.ssl_mode).unwrap(), "disable");
            let managers: Vec<_> =
                region.metadata.managed_fields.unwrap().into_iter().filter_map(|m| m.manager).collect();
            assert!(managers.iter().any(|m| m == "regionstack-demo"), "{managers:?}");
        }
        assert!(regions.get("ap-south-1").await.unwrap().spec.telemetry.is_none());
    }

    // Replication logins: the same Secret in the source and target clusters, nowhere else.
    let name = "device-metrics-eu-west-1-replication";
    let eu1 = secret(&topology.region("eu-west-1").client(), "telemetry", name).await.expect("in the source");
    let eu3 = secret(&topology.region("eu-west-3").client(), "telemetry", name).await.expect("in the target");
    assert_eq!(eu1.data, eu3.data);
    assert_eq!(eu1.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(secret_text(&eu1, "username"), "rs_repl_device_metrics_eu_west_1");
    assert!(secret_text(&eu1, "password").len() >= 32);
    let other = secret(&topology.region("eu-west-3").client(), "telemetry", "device-metrics-eu-west-3-replication")
        .await
        .unwrap();
    assert_ne!(secret_text(&other, "password"), secret_text(&eu1, "password"), "one password per replica");
    assert!(secret(&topology.region("ap-south-1").client(), "telemetry", name).await.is_none());
    assert!(secret(&topology.region("eu-west-1").client(), "customers", "backup-s3").await.is_some());

    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cnpg_standin_answers_a_hand_made_cluster() {
    let state = tempfile::tempdir().unwrap();
    let topology = Topology::start(TopologyOptions::new(state.path()).apply(ApplyMode::ServerSide)).await.unwrap();
    let node = topology.region("eu-west-3");
    let client = node.client();
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), "customers", &cnpg::api_resource());
    let cluster = serde_json::json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "hand-made", "namespace": "customers"},
        "spec": {"instances": 2, "enableSuperuserAccess": true, "bootstrap": {"initdb": {"database": "shop"}}}
    });
    clusters.patch("hand-made", &PatchParams::apply("test"), &Patch::Apply(&cluster)).await.unwrap();

    let superuser = eventually("the superuser Secret", || secret(&client, "customers", "hand-made-superuser")).await;
    assert_eq!(secret_text(&superuser, "username"), "postgres", "CNPG's key is username");
    assert_eq!(secret_text(&superuser, "password"), node.pii().password());
    assert_eq!(secret_text(&superuser, "host"), "127.0.0.1");
    assert_eq!(secret_text(&superuser, "port"), node.pii().port().to_string());
    assert_eq!(secret_text(&superuser, "dbname"), "shop");
    assert_eq!(secret_text(&superuser, "sslmode"), "disable");
    let owner = &superuser.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Cluster", "hand-made"));
    let status = eventually("Cluster Ready", || async {
        let status = clusters.get("hand-made").await.unwrap().data["status"].clone();
        (status["readyInstances"] == 2).then_some(status)
    })
    .await;
    assert_eq!(status["conditions"][0]["type"], "Ready");
    assert_eq!(status["conditions"][0]["status"], "True");
    assert_eq!(node.pii().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'").unwrap(), "1");
    // Only eu-west-3's server got it.
    let other = topology.region("eu-west-1").pii();
    assert_eq!(other.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'").unwrap(), "0");

    // Without superuser access CloudNativePG writes no superuser Secret; the default
    // database is `app`.
    let plain = serde_json::json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "plain", "namespace": "customers"}, "spec": {"instances": 1}
    });
    clusters.patch("plain", &PatchParams::apply("test"), &Patch::Apply(&plain)).await.unwrap();
    eventually("plain Ready", || async {
        (clusters.get("plain").await.unwrap().data["status"]["readyInstances"] == 1).then_some(())
    })
    .await;
    assert!(secret(&client, "customers", "plain-superuser").await.is_none());
    assert_eq!(node.pii().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app'").unwrap(), "1");
    drop(topology);
}
