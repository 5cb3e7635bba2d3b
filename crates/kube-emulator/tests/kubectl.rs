//! End to end: the real `kubectl` against a started emulator, through a kubeconfig
//! and a private discovery cache per test.
//!
//! `kubectl` must be on `PATH`; without it every test fails (never skips) and says so.
//! Each test runs on a multi-thread runtime: `kubectl` is a blocking child process of
//! the test thread while the emulator serves from the runtime's workers.
//!
//! kubectl's typed commands (`kubectl create configmap|secret|namespace`) send protobuf,
//! which the emulator refuses (a documented deviation), so manifests go through
//! `kubectl apply -f` / `kubectl create -f`.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kube_emulator::KubeEmulator;
use serde_json::Value;
use tempfile::TempDir;

/// Longest any single kubectl invocation may take before the test fails.
const KUBECTL_DEADLINE: Duration = Duration::from_secs(90);

/// The workspace root (`crds/`, `examples/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

fn crds_dir() -> String {
    workspace().join("crds").display().to_string()
}

fn example(name: &str) -> String {
    workspace().join("examples").join(name).display().to_string()
}

/// `kubectl` from `PATH`; a missing binary fails the test with instructions.
fn find_kubectl() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "kubectl is not on PATH. These end-to-end tests drive the real kubectl and are never skipped: \
             install kubectl (https://kubernetes.io/docs/tasks/tools/, e.g. `apt-get install kubectl`) \
             and re-run `cargo test -p regionstack-kube-emulator --test kubectl`."
        )
    })
}

/// One finished kubectl invocation.
struct Run {
    args: Vec<String>,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`kubectl {}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

impl Run {
    /// Asserts a zero exit status.
    #[track_caller]
    fn ok(self) -> Self {
        assert!(self.status.success(), "expected success: {self}");
        self
    }

    /// Asserts a non-zero exit status.
    #[track_caller]
    fn fails(self) -> Self {
        assert!(!self.status.success(), "expected a failure: {self}");
        self
    }

    #[track_caller]
    fn stdout_has(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}: {self}");
        self
    }

    #[track_caller]
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self}");
        self
    }

    /// Stdout with every run of whitespace made one space (kubectl wraps `explain`).
    fn flat_stdout(&self) -> String {
        self.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Stdout lines split into whitespace-separated cells.
    fn rows(&self) -> Vec<Vec<&str>> {
        self.stdout.lines().map(|l| l.split_whitespace().collect()).filter(|r: &Vec<&str>| !r.is_empty()).collect()
    }

    /// The row whose first cell is `first`.
    #[track_caller]
    fn row(&self, first: &str) -> Vec<&str> {
        self.rows().into_iter().find(|r| r[0] == first).unwrap_or_else(|| panic!("no row {first:?}: {self}"))
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

/// The kubectl binary bound to one emulator's kubeconfig and a private cache directory.
#[derive(Clone, Debug)]
struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    scratch: PathBuf,
}

impl Kubectl {
    /// Runs `kubectl <args>` to completion (or the deadline) and captures its output.
    fn run(&self, args: &[&str]) -> Run {
        let mut child = Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut out = String::new();
                let _ = pipe.read_to_string(&mut out);
                out
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
        let began = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for kubectl") {
                break Some(status);
            }
            if began.elapsed() > KUBECTL_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = stdout.join().expect("stdout reader");
        let stderr = stderr.join().expect("stderr reader");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let Some(status) = status else {
            panic!(
                "`kubectl {}` still running after {KUBECTL_DEADLINE:?}, killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                args.join(" ")
            );
        };
        Run { args, status, stdout, stderr }
    }

    /// Runs and asserts success.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        self.run(args).ok()
    }

    /// Runs and asserts failure.
    #[track_caller]
    fn fails(&self, args: &[&str]) -> Run {
        self.run(args).fails()
    }

    /// Writes a manifest into the test's scratch directory and returns its path.
    fn manifest(&self, name: &str, yaml: &str) -> String {
        let path = self.scratch.join(name);
        std::fs::write(&path, yaml).expect("writing a manifest");
        path.display().to_string()
    }

    /// `kubectl get … -o jsonpath=<template>`'s output.
    #[track_caller]
    fn jsonpath(&self, target: &[&str], template: &str) -> String {
        let output = format!("jsonpath={template}");
        let mut args = vec!["get"];
        args.extend_from_slice(target);
        args.extend(["-o", output.as_str()]);
        self.ok(&args).stdout
    }

    fn install_crds(&self) {
        let run = self.ok(&["apply", "-f", &crds_dir()]);
        for crd in ["piidatabases", "regions", "telemetryreplicas"] {
            run.stdout_has(&format!("customresourcedefinition.apiextensions.k8s.io/{crd}.regionstack.io created"));
        }
    }

    fn install_examples(&self) {
        for file in ["00-namespaces.yaml", "regions.yaml", "pii-databases.yaml", "telemetry-replicas.yaml"] {
            self.ok(&["apply", "-f", &example(file)]);
        }
    }

    /// Patches the Ready condition of a Region through the status subresource.
    #[track_caller]
    fn set_ready(&self, region: &str, status: &str) -> Run {
        let patch = format!(
            r#"{{"status":{{"conditions":[{{"type":"Ready","status":"{status}","reason":"Reconciled","message":"test","lastTransitionTime":"2025-01-01T00:00:00Z"}}]}}}}"#
        );
        self.ok(&["patch", &format!("region/{region}"), "--subresource", "status", "--type", "merge", "-p", &patch])
    }
}

/// An emulator and a kubectl pointed at it. Dropping it stops the emulator.
struct Cluster {
    kubectl: Kubectl,
    _emulator: KubeEmulator,
    _dir: TempDir,
}

async fn cluster() -> Cluster {
    let bin = find_kubectl();
    let emulator = KubeEmulator::start().await.expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).expect("writing the kubeconfig");
    let cache_dir = dir.path().join("cache");
    let scratch = dir.path().join("manifests");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    Cluster { kubectl: Kubectl { bin, kubeconfig, cache_dir, scratch }, _emulator: emulator, _dir: dir }
}

const REGIONSTACK_KINDS: [&str; 3] = ["piidatabase", "region", "telemetryreplica"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_of_crds_and_examples() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.ok(&["wait", "--for=condition=Established", "crd/regions.regionstack.io", "--timeout=20s"])
        .stdout_has("condition met");
    let crds = k.ok(&["get", "crds", "-o", "name"]);
    assert_eq!(crds.rows().len(), 3, "{crds}");

    let run = k.ok(&["apply", "-f", &workspace().join("examples").display().to_string()]);
    for created in [
        "namespace/customers created",
        "namespace/telemetry created",
        "region.regionstack.io/eu-west-1 created",
        "region.regionstack.io/eu-west-3 created",
        "region.regionstack.io/ap-south-1 created",
        "piidatabase.regionstack.io/customers-eu-west-1 created",
        "piidatabase.regionstack.io/customers-eu-west-3 created",
        "telemetryreplica.regionstack.io/device-metrics-eu-west-1 created",
        "telemetryreplica.regionstack.io/device-metrics-eu-west-3 created",
    ] {
        run.stdout_has(created);
    }
    // `-f examples/` does not recurse into examples/invalid.
    assert_eq!(run.rows().len(), 9, "{run}");

    // Re-applying changes nothing.
    let again = k.ok(&["apply", "-f", &workspace().join("examples").display().to_string()]);
    assert_eq!(again.stdout.matches(" unchanged").count(), 9, "{again}");
    let crds_again = k.ok(&["apply", "-f", &crds_dir()]);
    assert_eq!(crds_again.stdout.matches(" unchanged").count(), 3, "{crds_again}");

    // A changed manifest is a three-way merge patch: edited fields change, fields
    // dropped from the manifest go away, and the other objects are unchanged.
    let rv = k.jsonpath(&["region", "eu-west-1"], "{.metadata.resourceVersion}");
    let edited = k.manifest(
        "regions.yaml",
        r"
apiVersion: regionstack.io/v1alpha1
kind: Region
metadata: {name: eu-west-1}
spec:
  location: {country: IE, cloud: aws, cloudRegion: eu-west-1}
  jurisdictions: [GDPR]
  lifecycle: Draining
  telemetry:
    connectionSecretRef: {namespace: regionstack-system, name: telemetry-admin}
    publisherEndpoint: {host: telemetry.eu-west-1.example.net, port: 5432, sslMode: verify-full}
",
    );
    k.ok(&["apply", "-f", &edited]).stdout_has("region.regionstack.io/eu-west-1 configured");
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.spec.lifecycle}|{.spec.displayName}"), "Draining|");
    assert_ne!(k.jsonpath(&["region", "eu-west-1"], "{.metadata.resourceVersion}"), rv);
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.metadata.generation}"), "2");
    k.ok(&["apply", "-f", &edited]).stdout_has("region.regionstack.io/eu-west-1 unchanged");

    // `create -f` of something that exists is AlreadyExists.
    k.fails(&["create", "-f", &example("regions.yaml")])
        .stderr_has("Error from server (AlreadyExists)")
        .stderr_has(r#"regions.regionstack.io "eu-west-3" already exists"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_and_force() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    let regions = example("regions.yaml");
    let run = k.ok(&["apply", "--server-side", "-f", &regions]);
    for name in ["eu-west-1", "eu-west-3", "ap-south-1"] {
        run.stdout_has(&format!("region.regionstack.io/{name} serverside-applied"));
    }
    let rv = k.jsonpath(&["region", "eu-west-1"], "{.metadata.resourceVersion}");
    k.ok(&["apply", "--server-side", "-f", &regions]);
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.metadata.resourceVersion}"), rv, "a no-op apply writes nothing");
    let managers = k.jsonpath(&["region", "eu-west-1"], "{.metadata.managedFields[*].manager}");
    assert_eq!(managers, "kubectl");

    // The same value from another manager is no conflict: ownership is shared.
    let same = k.manifest(
        "ops-active.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-west-1}\nspec: {lifecycle: Active}\n",
    );
    k.ok(&["apply", "--server-side", "--field-manager=ops", "-f", &same]);
    let managers = k.jsonpath(&["region", "eu-west-1"], "{.metadata.managedFields[*].manager}");
    assert_eq!(managers, "kubectl ops");

    // Another value from another manager conflicts with kubectl's ownership.
    let draining = k.manifest(
        "ops-draining.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-west-1}\nspec: {lifecycle: Draining}\n",
    );
    let conflict = k.fails(&["apply", "--server-side", "--field-manager=ops", "-f", &draining]);
    conflict
        .stderr_has(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.lifecycle"#)
        .stderr_has("--force-conflicts");
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.spec.lifecycle}"), "Active", "nothing was written");

    k.ok(&["apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", &draining])
        .stdout_has("region.regionstack.io/eu-west-1 serverside-applied");
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.spec.lifecycle}"), "Draining");
    let owned = k.ok(&["get", "region", "eu-west-1", "-o", "json", "--show-managed-fields"]).json();
    let entries = owned["metadata"]["managedFields"].as_array().expect("managedFields").clone();
    let fields_of = |manager: &str| {
        entries.iter().find(|e| e["manager"] == manager).map(|e| e["fieldsV1"].to_string()).unwrap_or_default()
    };
    assert!(fields_of("ops").contains("f:lifecycle"), "{entries:?}");
    assert!(!fields_of("kubectl").contains("f:lifecycle"), "forcing took the field from kubectl: {entries:?}");
    assert!(fields_of("kubectl").contains("f:jurisdictions"), "{entries:?}");

    // Now kubectl's own manifest conflicts with ops.
    k.fails(&["apply", "--server-side", "-f", &regions]).stderr_has(r#"conflict with "ops": .spec.lifecycle"#);

    // Apply validates like any other write, and creates objects too.
    let bad = k.manifest(
        "bad.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: ap-south-2}\nspec: {location: {country: IN}, jurisdictions: [DPDP], lifecycle: Soon}\n",
    );
    k.fails(&["apply", "--server-side", "-f", &bad]).stderr_has(r#"spec.lifecycle: Unsupported value: "Soon""#);
    let fixed = k.manifest(
        "fixed.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: ap-south-2}\nspec: {location: {country: IN}, jurisdictions: [DPDP], lifecycle: Planned}\n",
    );
    k.ok(&["apply", "--server-side", "-f", &fixed]).stdout_has("region.regionstack.io/ap-south-2 serverside-applied");
}

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
async fn patches_and_the_status_subresource() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.install_examples();

    k.ok(&["patch", "region", "eu-west-3", "--type", "merge", "-p", r#"{"spec":{"displayName":"Paris"}}"#])
        .stdout_has("region.regionstack.io/eu-west-3 patched");
    let json_patch = r#"[{"op":"replace","path":"/spec/lifecycle","value":"Draining"},{"op":"add","path":"/spec/jurisdictions/-","value":"DPDP"}]"#;
    k.ok(&["patch", "region", "eu-west-3", "--type", "json", "-p", json_patch]);
    assert_eq!(
        k.jsonpath(
            &["region", "eu-west-3"],
            "{.spec.displayName}|{.spec.lifecycle}|{.spec.jurisdictions}|{.metadata.generation}"
        ),
        r#"Paris|Draining|["GDPR","FDPA","DPDP"]|3"#
    );
    // A failing `test` op changes nothing.
    let failing = r#"[{"op":"test","path":"/spec/lifecycle","value":"Active"},{"op":"replace","path":"/spec/displayName","value":"x"}]"#;
    k.fails(&["patch", "region", "eu-west-3", "--type", "json", "-p", failing]);
    assert_eq!(k.jsonpath(&["region", "eu-west-3"], "{.spec.displayName}"), "Paris");
    // Custom resources take no strategic merge patch (kubectl's default type), as in kube.
    k.fails(&["patch", "region", "eu-west-3", "-p", r#"{"spec":{"displayName":"x"}}"#])
        .stderr_has("application/strategic-merge-patch+json is not supported");
    // Patches are validated.
    k.fails(&["patch", "region", "eu-west-3", "--type", "merge", "-p", r#"{"spec":{"lifecycle":"Soon"}}"#])
        .stderr_has(r#"spec.lifecycle: Unsupported value: "Soon""#);
    // Built-ins take strategic merge patches.
    k.ok(&["patch", "namespace", "customers", "-p", r#"{"metadata":{"labels":{"team":"a"}}}"#]);
    assert_eq!(k.jsonpath(&["namespace", "customers"], "{.metadata.labels.team}"), "a");

    // The main resource ignores status; the subresource changes status only.
    k.ok(&["patch", "region", "eu-west-1", "--type", "merge", "-p", r#"{"status":{"local":true}}"#])
        .stdout_has("patched (no change)");
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], "{.status.local}"), "");
    k.ok(&[
        "patch",
        "region",
        "eu-west-1",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"local":true},"spec":{"lifecycle":"Draining"}}"#,
    ]);
    assert_eq!(
        k.jsonpath(&["region", "eu-west-1"], "{.status.local}|{.spec.lifecycle}|{.metadata.generation}"),
        "true|Active|1"
    );
    k.fails(&[
        "patch",
        "region",
        "eu-west-1",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"local":"yes"}}"#,
    ])
    .stderr_has("status.local");

    // label/annotate are merge patches.
    k.ok(&["annotate", "region", "eu-west-1", "regionstack.io/note=hello"]).stdout_has("annotated");
    k.ok(&["label", "piidb", "customers-eu-west-1", "-n", "customers", "tier=gold"]).stdout_has("labeled");
    assert_eq!(k.jsonpath(&["region", "eu-west-1"], r"{.metadata.annotations.regionstack\.io/note}"), "hello");
    k.ok(&["label", "piidb", "customers-eu-west-1", "-n", "customers", "tier-"]).stdout_has("unlabeled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_conditions_and_deletion() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.ok(&["apply", "-f", &example("regions.yaml")]);

    // Condition already met before the wait.
    k.set_ready("eu-west-3", "True");
    k.ok(&["wait", "--for=condition=Ready", "region/eu-west-3", "--timeout=20s"])
        .stdout_has("region.regionstack.io/eu-west-3 condition met");

    // Condition met while the wait watches (bookmarks arrive meanwhile: client-go
    // must decode them, so stderr stays clean).
    k.set_ready("eu-west-1", "False");
    let patcher = {
        let k = k.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            k.set_ready("eu-west-1", "True");
        })
    };
    let began = Instant::now();
    let wait = k.ok(&["wait", "--for=condition=Ready", "region/eu-west-1", "--timeout=20s"]);
    patcher.join().expect("the patcher thread");
    wait.stdout_has("region.regionstack.io/eu-west-1 condition met");
    assert!(began.elapsed() >= Duration::from_secs(2), "the wait returned before the patch: {wait}");
    assert!(!wait.stderr.contains("error"), "{wait}");

    // Unmet conditions time out.
    let unmet = k.fails(&["wait", "--for=condition=Ready", "region/ap-south-1", "--timeout=2s"]);
    unmet.stderr_has("timed out waiting for the condition");
    k.fails(&["wait", "--for=condition=Ready=false", "region/eu-west-1", "--timeout=1s"]).stderr_has("timed out");

    k.ok(&["wait", "--for=jsonpath={.spec.lifecycle}=Planned", "region/ap-south-1", "--timeout=20s"]);

    // Deletion while the wait watches.
    let deleter = {
        let k = k.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            k.ok(&["delete", "region", "ap-south-1", "--wait=false"]);
        })
    };
    let gone = k.ok(&["wait", "--for=delete", "region/ap-south-1", "--timeout=20s"]);
    deleter.join().expect("the deleter thread");
    gone.stdout_has("region.regionstack.io/ap-south-1 condition met");
    assert!(!gone.stderr.contains("error"), "{gone}");
    k.fails(&["get", "region", "ap-south-1"]).stderr_has("not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_files_and_namespaces_cascade() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.install_examples();

    let replicas = example("telemetry-replicas.yaml");
    let run = k.ok(&["delete", "-f", &replicas]);
    run.stdout_has(r#"telemetryreplica.regionstack.io "device-metrics-eu-west-1" deleted"#)
        .stdout_has(r#"telemetryreplica.regionstack.io "device-metrics-eu-west-3" deleted"#);
    k.ok(&["get", "telrep", "-A"]).stderr_has("No resources found");
    k.fails(&["delete", "-f", &replicas]).stderr_has("NotFound");
    k.ok(&["delete", "-f", &replicas, "--ignore-not-found"]);

    // Deleting a namespace deletes what is in it.
    k.ok(&["delete", "namespace", "customers"]).stdout_has(r#"namespace "customers" deleted"#);
    k.ok(&["get", "piidb", "-n", "customers"]).stderr_has("No resources found in customers namespace.");
    k.fails(&["get", "namespace", "customers"]).stderr_has(r#"namespaces "customers" not found"#);

    // A finalizer holds its object, and so the namespace, in Terminating.
    k.ok(&["apply", "-f", &replicas]);
    k.ok(&[
        "patch",
        "telrep",
        "device-metrics-eu-west-1",
        "-n",
        "telemetry",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["regionstack.io/test"]}}"#,
    ]);
    k.ok(&["delete", "namespace", "telemetry", "--wait=false"]);
    let ns = k.ok(&["get", "namespace", "telemetry"]);
    assert_eq!(ns.row("telemetry")[..2], ["telemetry", "Terminating"], "{ns}");
    let held = k.ok(&["get", "telrep", "-n", "telemetry", "-o", "name"]);
    assert_eq!(held.stdout, "telemetryreplica.regionstack.io/device-metrics-eu-west-1\n");
    assert!(
        !k.jsonpath(&["telrep", "device-metrics-eu-west-1", "-n", "telemetry"], "{.metadata.deletionTimestamp}")
            .is_empty()
    );
    // Nothing new in a terminating namespace.
    k.fails(&["apply", "-f", &replicas]).stderr_has("because it is being terminated");
    let remover = {
        let k = k.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            k.ok(&[
                "patch",
                "telrep",
                "device-metrics-eu-west-1",
                "-n",
                "telemetry",
                "--type",
                "json",
                "-p",
                r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
            ]);
        })
    };
    k.ok(&["wait", "--for=delete", "namespace/telemetry", "--timeout=20s"]);
    remover.join().expect("the finalizer remover");
    k.fails(&["get", "namespace", "telemetry"]).stderr_has("not found");

    // Cluster-scoped objects by file.
    k.ok(&["delete", "-f", &example("regions.yaml")]).stdout_has(r#"region.regionstack.io "eu-west-1" deleted"#);
    k.ok(&["get", "regions"]).stderr_has("No resources found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_rejected_with_schema_errors() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    k.install_examples();

    let bad = k.manifest(
        "bad-region.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-central-1}\nspec: {location: {country: de}, jurisdictions: [GDPR], lifecycle: Soon}\n",
    );
    for verb in ["apply", "create"] {
        let run = k.fails(&[verb, "-f", &bad]);
        run.stderr_has(r#"The Region "eu-central-1" is invalid"#)
            .stderr_has(
                r#"spec.lifecycle: Unsupported value: "Soon": supported values: "Planned", "Active", "Draining""#,
            )
            .stderr_has(r#"spec.location.country: Invalid value: "de""#)
            .stderr_has("should match '^[A-Z]{2}$'");
        assert!(run.stdout.is_empty(), "{run}");
    }
    k.fails(&["get", "region", "eu-central-1"]).stderr_has("not found");

    // CEL: exactly one of managed/external, and the region is immutable.
    let both = k.manifest(
        "both.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: PiiDatabase\nmetadata: {name: both, namespace: customers}\nspec:\n  region: eu-west-1\n  compliance: [GDPR]\n  managed: {storage: {size: 10Gi}}\n  external: {connectionSecretRef: {name: db}}\n",
    );
    k.fails(&["apply", "-f", &both]).stderr_has("exactly one of managed or external must be set");
    let moved = k.manifest(
        "moved.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: PiiDatabase\nmetadata: {name: customers-eu-west-3, namespace: customers}\nspec:\n  region: eu-west-1\n  compliance: [GDPR, FDPA]\n  enforcement: Enforce\n  external: {connectionSecretRef: {name: customers-eu-west-3-admin}}\n",
    );
    k.fails(&["apply", "-f", &moved])
        .stderr_has(r#"The PiiDatabase "customers-eu-west-3" is invalid: spec.region: Invalid value: "string": region is immutable"#);
    k.fails(&[
        "patch",
        "piidb",
        "customers-eu-west-1",
        "-n",
        "customers",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"region":"eu-west-3"}}"#,
    ])
    .stderr_has("region is immutable");
    k.fails(&["apply", "--server-side", "--force-conflicts", "-f", &moved]).stderr_has("region is immutable");
    assert_eq!(k.jsonpath(&["piidb", "customers-eu-west-3", "-n", "customers"], "{.spec.region}"), "eu-west-3");

    // Unknown fields: kubectl asks for strict validation by default.
    let colour = k.manifest(
        "colour.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-north-1}\nspec: {location: {country: SE}, jurisdictions: [GDPR], lifecycle: Planned, colour: blue}\n",
    );
    k.fails(&["apply", "-f", &colour])
        .stderr_has("Error from server (BadRequest)")
        .stderr_has(r#"strict decoding error: unknown field "spec.colour""#);
    k.fails(&["apply", "--server-side", "-f", &colour]).stderr_has(r#"unknown field "spec.colour""#);
    k.fails(&["get", "region", "eu-north-1"]).stderr_has("not found");
    // Without validation the field is pruned, as kube-apiserver prunes it.
    k.ok(&["apply", "--validate=false", "-f", &colour]).stdout_has("region.regionstack.io/eu-north-1 created");
    assert_eq!(k.jsonpath(&["region", "eu-north-1"], "{.spec.colour}|{.spec.lifecycle}"), "|Planned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_persists_nothing() {
    let c = cluster().await;
    let k = &c.kubectl;
    k.install_crds();
    let regions = example("regions.yaml");

    let run = k.ok(&["apply", "--dry-run=server", "-f", &regions]);
    run.stdout_has("region.regionstack.io/eu-west-1 created (server dry run)");
    k.ok(&["get", "regions"]).stderr_has("No resources found");
    k.ok(&["create", "--dry-run=server", "-f", &regions]).stdout_has("created (server dry run)");
    k.ok(&["apply", "--server-side", "--dry-run=server", "-f", &regions])
        .stdout_has("serverside-applied (server dry run)");
    k.ok(&["get", "regions"]).stderr_has("No resources found");

    k.ok(&["apply", "-f", &regions]);
    let rv = k.jsonpath(&["region", "eu-west-1"], "{.metadata.resourceVersion}");
    let changed = k.manifest(
        "draining.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-west-1}\nspec: {location: {country: IE}, jurisdictions: [GDPR], lifecycle: Draining}\n",
    );
    k.ok(&["apply", "--dry-run=server", "-f", &changed])
        .stdout_has("region.regionstack.io/eu-west-1 configured (server dry run)");
    k.ok(&[
        "patch",
        "region",
        "eu-west-1",
        "--dry-run=server",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"lifecycle":"Draining"}}"#,
    ])
    .stdout_has("region.regionstack.io/eu-west-1 patched");
    k.ok(&["delete", "region", "eu-west-1", "--dry-run=server"]).stdout_has("deleted (server dry run)");
    assert_eq!(
        k.jsonpath(&["region", "eu-west-1"], "{.spec.lifecycle}|{.metadata.resourceVersion}"),
        format!("Active|{rv}")
    );
    // Dry runs still validate.
    let bad = k.manifest(
        "bad.yaml",
        "apiVersion: regionstack.io/v1alpha1\nkind: Region\nmetadata: {name: eu-west-1}\nspec: {location: {country: IE}, jurisdictions: [GDPR], lifecycle: Soon}\n",
    );
    k.fails(&["apply", "--dry-run=server", "-f", &bad]).stderr_has("Unsupported value");
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
