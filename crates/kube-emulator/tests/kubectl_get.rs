//! End to end with the real `kubectl`: get, output formats, explain and discovery.
//! Each test starts its own emulator with a kubeconfig and a private discovery cache.
//!
//! `kubectl` must be on `PATH`; without it every test fails (never skips) and says so.
//! Each test runs on a multi-thread runtime: `kubectl` is a blocking child process of
//! the test thread while the emulator serves from the runtime's workers.
//!
//! Objects come from manifests (`kubectl apply -f` / `kubectl create -f`, JSON); the typed
//! `kubectl create <subcommand>` commands (protobuf) are covered by `kubectl_create.rs`.

mod support_kubectl;

#[allow(clippy::wildcard_imports)]
use support_kubectl::*;

use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_crd_columns_categories_and_short_names() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.install_examples();
    k.set_ready("eu-west-1", "True");
    k.ok(&[
        "patch",
        "region/eu-west-1",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"local":true}}"#,
    ]);

    let regions = k.ok(&["get", "regions"]);
    assert_eq!(regions.rows()[0], ["NAME", "COUNTRY", "LIFECYCLE", "JURISDICTIONS", "READY", "AGE"], "{regions}");
    assert_eq!(regions.row("eu-west-1")[..5], ["eu-west-1", "IE", "Active", r#"["GDPR"]"#, "True"], "{regions}");
    assert_eq!(regions.row("eu-west-3")[..4], ["eu-west-3", "FR", "Active", r#"["GDPR","FDPA"]"#], "{regions}");
    // No Ready condition yet: an empty cell, then the age.
    let mumbai = regions.row("ap-south-1");
    assert_eq!(mumbai[..4], ["ap-south-1", "IN", "Planned", r#"["DPDP"]"#], "{regions}");
    assert_eq!(mumbai.len(), 5, "{regions}");
    assert!(mumbai[4].ends_with('s') || mumbai[4].ends_with('m'), "an age: {regions}");
    let names: Vec<&str> = regions.rows()[1..].iter().map(|r| r[0]).collect();
    assert_eq!(names, ["ap-south-1", "eu-west-1", "eu-west-3"]);

    // Priority-1 columns only with -o wide.
    let wide = k.ok(&["get", "regions", "-o", "wide"]);
    assert_eq!(wide.rows()[0], ["NAME", "COUNTRY", "LIFECYCLE", "JURISDICTIONS", "LOCAL", "READY", "AGE"]);
    assert_eq!(wide.row("eu-west-1")[..6], ["eu-west-1", "IE", "Active", r#"["GDPR"]"#, "true", "True"], "{wide}");

    let one = k.ok(&["get", "region", "eu-west-3"]);
    assert_eq!(one.rows().len(), 2, "{one}");

    // Short names.
    let dbs = k.ok(&["get", "piidb", "-A"]);
    assert_eq!(dbs.rows()[0], ["NAMESPACE", "NAME", "REGION", "MODE", "COMPLIANT", "READY", "AGE"], "{dbs}");
    assert_eq!(dbs.row("customers")[..4], ["customers", "customers-eu-west-1", "eu-west-1", "Enforce"], "{dbs}");
    assert_eq!(dbs.rows().len(), 3, "{dbs}");
    let replicas = k.ok(&["get", "telrep", "-n", "telemetry"]);
    assert_eq!(replicas.row("device-metrics-eu-west-1")[..3], ["device-metrics-eu-west-1", "eu-west-1", "eu-west-3"]);
    k.ok(&["get", "rsregion", "eu-west-1"]).stdout_has("eu-west-1");

    // The `regionstack` category lists all three kinds.
    let all = k.ok(&["get", "regionstack", "-A"]);
    for name in [
        "piidatabase.regionstack.io/customers-eu-west-1",
        "piidatabase.regionstack.io/customers-eu-west-3",
        "region.regionstack.io/eu-west-1",
        "region.regionstack.io/ap-south-1",
        "telemetryreplica.regionstack.io/device-metrics-eu-west-3",
    ] {
        all.stdout_has(name);
    }
    let names = k.ok(&["get", "regionstack", "-A", "-o", "name"]);
    assert_eq!(names.rows().len(), 7, "{names}");
    for kind in REGIONSTACK_KINDS {
        assert!(names.stdout.contains(&format!("{kind}.regionstack.io/")), "{names}");
    }

    // Selectors.
    k.ok(&["label", "region", "eu-west-1", "tier=gold"]).stdout_has("region.regionstack.io/eu-west-1 labeled");
    assert_eq!(k.ok(&["get", "regions", "-l", "tier=gold", "-o", "name"]).stdout, "region.regionstack.io/eu-west-1\n");
    assert_eq!(k.ok(&["get", "regions", "-l", "tier!=gold", "-o", "name"]).rows().len(), 2);
    let by_name = k.ok(&["get", "regions", "--field-selector", "metadata.name=eu-west-3", "-o", "name"]);
    assert_eq!(by_name.stdout, "region.regionstack.io/eu-west-3\n");
    k.ok(&["get", "regions", "-l", "tier=silver"]).stderr_has("No resources found");
    k.fails(&["get", "region", "mars-north-1"])
        .stderr_has(r#"Error from server (NotFound): regions.regionstack.io "mars-north-1" not found"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_output_formats() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.ok(&["apply", "-f", &example("regions.yaml")]);

    let yaml = k.ok(&["get", "region", "eu-west-1", "-o", "yaml"]);
    yaml.stdout_has("kind: Region").stdout_has("name: eu-west-1").stdout_has("country: IE");
    let from_yaml: Value = serde_norway::from_str(&yaml.stdout).unwrap_or_else(|e| panic!("YAML ({e}): {yaml}"));
    assert_eq!(from_yaml["apiVersion"], "regionstack.io/v1alpha1");
    assert_eq!(from_yaml["spec"]["displayName"], "Europe (Ireland)");

    let json = k.ok(&["get", "region", "eu-west-1", "-o", "json"]).json();
    assert_eq!(json["kind"], "Region");
    assert_eq!(
        json["spec"]["location"],
        serde_json::json!({"country": "IE", "cloud": "aws", "cloudRegion": "eu-west-1"})
    );
    assert_eq!(json["spec"]["jurisdictions"], serde_json::json!(["GDPR"]));
    assert_eq!(json["metadata"]["generation"], 1);
    assert!(json["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{json}");
    assert!(json["metadata"]["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{json}");
    assert!(json["metadata"].get("namespace").is_none(), "cluster-scoped: {json}");
    assert!(json["metadata"].get("managedFields").is_none(), "kubectl hides managedFields by default");

    let list = k.ok(&["get", "regions", "-o", "json"]).json();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3));

    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.spec.location.country}"), "IE");
    assert_eq!(
        k.jsonpath(&["regions"], r#"{range .items[*]}{.metadata.name}={.spec.lifecycle}{"\n"}{end}"#),
        "ap-south-1=Planned\neu-west-1=Active\neu-west-3=Active\n"
    );
    assert_eq!(k.jsonpath(&["regions"], r#"{.items[?(@.spec.location.country=="FR")].metadata.name}"#), "eu-west-3");
    let names = k.ok(&["get", "regions", "-o", "name"]);
    assert_eq!(
        names.stdout,
        "region.regionstack.io/ap-south-1\nregion.regionstack.io/eu-west-1\nregion.regionstack.io/eu-west-3\n"
    );
    let custom = k.ok(&["get", "regions", "-o", "custom-columns=NAME:.metadata.name,CLOUD:.spec.location.cloudRegion"]);
    assert_eq!(custom.rows()[0], ["NAME", "CLOUD"]);
    assert_eq!(custom.row("eu-west-3"), ["eu-west-3", "eu-west-3"]);
    let sorted = k.ok(&["get", "regions", "--sort-by=.spec.location.country", "-o", "name"]);
    assert_eq!(
        sorted.stdout,
        "region.regionstack.io/eu-west-3\nregion.regionstack.io/eu-west-1\nregion.regionstack.io/ap-south-1\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_crd_field_descriptions() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();

    let spec = k.ok(&["explain", "piidatabase.spec"]);
    spec.stdout_has("KIND:       PiiDatabase").stdout_has("VERSION:    v1alpha1").stdout_has("FIELD: spec <Object>");
    let text = spec.flat_stdout();
    for want in [
        "GROUP: regionstack.io",
        "region <string> -required-",
        "Name of the Region this database lives in. Immutable: moving personal data to another region is a migration, not an edit.",
        "compliance <[]string> -required-",
        "enforcement <string> enum: Enforce, Audit",
        "managed <Object>",
        "external <Object>",
    ] {
        assert!(text.contains(want), "explain lacks {want:?}: {spec}");
    }

    let columns = k.ok(&["explain", "telemetryreplica.spec.tables.columns"]);
    columns.stdout_has("KIND:       TelemetryReplica").stdout_has("FIELD: columns <[]Object>");
    let text = columns.flat_stdout();
    for want in [
        "A rule for every column of the source table.",
        "class <string> -required- enum: identifier, quasi, none",
        "name <string> -required- Column name in the source table.",
        "transform <string> -required-",
        "ipv4Bits <integer>",
    ] {
        assert!(text.contains(want), "explain lacks {want:?}: {columns}");
    }

    // Short names, leaf fields and metadata (from ObjectMeta) work too.
    let country = k.ok(&["explain", "rsregion.spec.location.country"]);
    assert!(country.flat_stdout().contains("ISO 3166-1 alpha-2 country code, upper case"), "{country}");
    let lifecycle = k.ok(&["explain", "region.spec.lifecycle"]);
    assert!(lifecycle.flat_stdout().contains("ENUM: Planned Active Draining"), "{lifecycle}");
    k.ok(&["explain", "region.metadata.labels"]).stdout_has("map[string]string");
    let recursive = k.ok(&["explain", "region", "--recursive"]);
    recursive.stdout_has("telemetry").stdout_has("conditions");
    // Built-ins have (partial) schemas.
    assert!(k.ok(&["explain", "configmap.data"]).flat_stdout().contains("Data contains the configuration data."));
    k.fails(&["explain", "region.spec.colour"]).stderr_has("colour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_ins_have_kubes_columns() {
    let c = cluster().await;
    let k = &c.kubectl;

    k.ok(&["version"]).stdout_has("Server Version: v1.33.0");
    let ns = k.ok(&["get", "ns"]);
    assert_eq!(ns.rows()[0], ["NAME", "STATUS", "AGE"], "{ns}");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(ns.row(name)[..2], [name, "Active"], "{ns}");
    }
    k.ok(&["get", "cm", "-A"]).stderr_has("No resources found");

    let manifests = k.manifest(
        "builtins.yaml",
        r"
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ops}
data: {a: '1', b: '2'}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ops}
type: Opaque
data: {password: aHVudGVyMg==}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: ops}
spec:
  replicas: 2
  selector: {matchLabels: {app: operator}}
  template:
    metadata: {labels: {app: operator}}
    spec: {containers: [{name: operator, image: regionstack/operator:dev}]}
",
    );
    let run = k.ok(&["apply", "-f", &manifests]);
    for created in [
        "namespace/ops created",
        "configmap/settings created",
        "secret/creds created",
        "deployment.apps/operator created",
    ] {
        run.stdout_has(created);
    }
    k.ok(&["apply", "-f", &manifests]).stdout_has("configmap/settings unchanged");
    let cms = k.ok(&["get", "cm", "-A"]);
    assert_eq!(cms.rows()[0], ["NAMESPACE", "NAME", "DATA", "AGE"], "{cms}");
    assert_eq!(cms.row("ops")[..3], ["ops", "settings", "2"], "{cms}");
    let secrets = k.ok(&["get", "secrets", "-n", "ops"]);
    assert_eq!(secrets.rows()[0], ["NAME", "TYPE", "DATA", "AGE"], "{secrets}");
    assert_eq!(secrets.row("creds")[..3], ["creds", "Opaque", "1"], "{secrets}");
    let deploys = k.ok(&["get", "deploy", "-n", "ops"]);
    assert_eq!(deploys.rows()[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "{deploys}");
    assert_eq!(deploys.row("operator")[..2], ["operator", "0/2"], "{deploys}");
    assert_eq!(k.jsonpath(&["secret", "creds", "-n", "ops"], "{.data.password}"), "aHVudGVyMg==");
    // Strategic merge patch on a built-in merges containers by name.
    k.ok(&[
        "patch",
        "deploy",
        "operator",
        "-n",
        "ops",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"operator","image":"regionstack/operator:v2"}]}}}}"#,
    ]);
    assert_eq!(
        k.jsonpath(&["deploy", "operator", "-n", "ops"], "{.spec.template.spec.containers[*].image}"),
        "regionstack/operator:v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_list_the_regionstack_kinds() {
    let c = cluster().await;
    let k = &c.kubectl;
    let before = k.ok(&["api-resources", "-o", "name"]);
    assert!(!before.stdout.contains("regionstack.io"), "{before}");
    k.install_crds();
    let resources = k.ok(&["api-resources"]);
    assert_eq!(resources.rows()[0], ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], "{resources}");
    assert_eq!(resources.row("regions"), ["regions", "rsregion", "regionstack.io/v1alpha1", "false", "Region"]);
    assert_eq!(
        resources.row("piidatabases"),
        ["piidatabases", "piidb", "regionstack.io/v1alpha1", "true", "PiiDatabase"]
    );
    assert_eq!(
        resources.row("telemetryreplicas"),
        ["telemetryreplicas", "telrep", "regionstack.io/v1alpha1", "true", "TelemetryReplica"]
    );
    assert_eq!(resources.row("namespaces"), ["namespaces", "ns", "v1", "false", "Namespace"]);
    assert_eq!(resources.row("configmaps"), ["configmaps", "cm", "v1", "true", "ConfigMap"]);
    let category = k.ok(&["api-resources", "--categories=regionstack", "-o", "name"]);
    assert_eq!(
        category.stdout, "piidatabases.regionstack.io\nregions.regionstack.io\ntelemetryreplicas.regionstack.io\n",
        "{category}"
    );
    let namespaced = k.ok(&["api-resources", "--api-group=regionstack.io", "--namespaced=true", "-o", "name"]);
    assert_eq!(namespaced.stdout, "piidatabases.regionstack.io\ntelemetryreplicas.regionstack.io\n");
    k.ok(&["api-versions"]).stdout_has("regionstack.io/v1alpha1\n");
}
