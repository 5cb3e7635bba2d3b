//! The rendered chart against an API server: real `kubectl` applies the CRDs, then every
//! manifest (ServiceMonitor and NetworkPolicy switched on, with a minimal
//! monitoring.coreos.com ServiceMonitor CRD installed for the former) to the emulator,
//! first with `--dry-run=server` (nothing is stored), then for real (client-side and
//! server-side apply), and `kubectl get` finds what was rendered.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chart::{Chart, Release, Rendered, Values};
use kube_emulator::KubeEmulator;
use serde_json::Value;

const NAMESPACE: &str = "regionstack-system";

/// The least a ServiceMonitor CRD needs for the API server to store one (the real CRD
/// ships with the Prometheus Operator).
const SERVICE_MONITOR_CRD: &str = r"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).args(args);
        cmd
    }

    /// Run kubectl off the async runtime; `Ok(stdout)` or `Err(stderr)`.
    async fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.command(args);
        let shown = format!("kubectl {}", args.join(" "));
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("kubectl task")
            .unwrap_or_else(|e| panic!("cannot run kubectl ({e}): install it (/usr/local/bin/kubectl or on the PATH)"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{shown} failed ({}):\n{stdout}{}", out.status, String::from_utf8_lossy(&out.stderr)))
        }
    }

    async fn ok(&self, args: &[&str]) -> String {
        self.run(args).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The release namespace, created by kubectl's typed command (sent as protobuf).
    async fn namespace(&self, name: &str) {
        self.ok(&["create", "namespace", name]).await;
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn rendered() -> Rendered {
    let values = Values::new()
        .set("region", "eu-west-1")
        .set("metrics.serviceMonitor.enabled", "true")
        .set("networkPolicy.enabled", "true")
        .set_json(
            "networkPolicy.metricsFrom",
            serde_json::json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]),
        );
    Chart::regionstack().unwrap().render(&Release::new("regionstack", NAMESPACE), &values).unwrap()
}

/// `kind/name` of every rendered object, as `kubectl get -o name` prints them.
fn expected_names(rendered: &Rendered) -> Vec<String> {
    let mut names: Vec<String> = rendered
        .manifests
        .iter()
        .map(|m| {
            let group = m.object["apiVersion"].as_str().unwrap().rsplit_once('/').map(|(g, _)| g.to_owned());
            let kind = m.kind().to_lowercase();
            match group {
                Some(g) => format!("{kind}.{g}/{}", m.name()),
                None => format!("{kind}/{}", m.name()),
            }
        })
        .collect();
    names.sort();
    names
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_chart_applies_dry_run_then_for_real() {
    let emulator = KubeEmulator::start().await.expect("emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = Kubectl { kubeconfig, cache: dir.path().join("cache") };
    let rendered = rendered();
    assert!(rendered.one("ServiceMonitor").is_some() && rendered.one("NetworkPolicy").is_some());

    let crds = write(dir.path(), "crds.yaml", &format!("{}---\n{SERVICE_MONITOR_CRD}", rendered.crds_yaml()));
    let manifests = write(dir.path(), "manifests.yaml", &rendered.to_yaml());
    kubectl.namespace(NAMESPACE).await;

    // CRDs first: a server-side dry run stores nothing.
    let out = kubectl.ok(&["apply", "--dry-run=server", "-f", &crds]).await;
    assert!(out.contains("regions.regionstack.io created (server dry run)"), "{out}");
    let after = kubectl.ok(&["get", "-f", &crds, "--ignore-not-found", "-o", "name"]).await;
    assert_eq!(after, "", "a dry run stored CRDs");
    kubectl.ok(&["apply", "-f", &crds]).await;
    let crd_names = sorted_lines(&kubectl.ok(&["get", "-f", &crds, "-o", "name"]).await);
    assert_eq!(crd_names.len(), 4, "{crd_names:?}");

    // The new kinds are served before anything uses them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubectl.run(&["get", "servicemonitors,regions", "-A"]).await.is_err() {
        assert!(Instant::now() < deadline, "the CRDs' kinds were never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Then the manifests: dry run, nothing stored.
    let out = kubectl.ok(&["apply", "--dry-run=server", "-f", &manifests]).await;
    assert_eq!(out.lines().count(), rendered.manifests.len(), "{out}");
    assert!(out.lines().all(|l| l.ends_with("created (server dry run)")), "{out}");
    let after = kubectl.ok(&["get", "-f", &manifests, "--ignore-not-found", "-o", "name"]).await;
    assert_eq!(after, "", "a dry run stored objects");

    // For real.
    let out = kubectl.ok(&["apply", "-f", &manifests]).await;
    assert!(out.lines().all(|l| l.ends_with(" created")), "{out}");
    let found = sorted_lines(&kubectl.ok(&["get", "-f", &manifests, "-o", "name"]).await);
    assert_eq!(found, expected_names(&rendered));

    // What the server stored is what was rendered (spot checks on the parts that matter).
    let stored: Value =
        serde_json::from_str(&kubectl.ok(&["get", "clusterrole", "regionstack", "-o", "json"]).await).unwrap();
    assert_eq!(stored["rules"], rendered.one("ClusterRole").unwrap().object["rules"]);
    let stored: Value =
        serde_json::from_str(&kubectl.ok(&["-n", NAMESPACE, "get", "deployment", "regionstack", "-o", "json"]).await)
            .unwrap();
    let container = &stored["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["args"],
        rendered.one("Deployment").unwrap().object["spec"]["template"]["spec"]["containers"][0]["args"]
    );
    let sm = kubectl
        .ok(&["-n", NAMESPACE, "get", "servicemonitor", "regionstack", "-o", "jsonpath={.spec.endpoints[0].port}"])
        .await;
    assert_eq!(sm, "metrics");

    // Applying again changes nothing, and server-side apply (Helm 4's way) agrees.
    let out = kubectl.ok(&["apply", "-f", &manifests]).await;
    assert!(out.lines().all(|l| l.ends_with(" unchanged")), "{out}");
    let out = kubectl.ok(&["apply", "--server-side", "--force-conflicts", "-f", &manifests]).await;
    assert!(out.lines().all(|l| l.ends_with(" serverside-applied")), "{out}");

    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rbac_objects_alone_apply_into_a_fresh_namespace() {
    // What the e2e suite installs to run operators under the chart's RBAC.
    let emulator = KubeEmulator::start().await.expect("emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = Kubectl { kubeconfig, cache: dir.path().join("cache") };
    let rendered = Chart::regionstack()
        .unwrap()
        .render(&Release::new("rs", "ops"), &Values::new().set("region", "ap-south-1"))
        .unwrap();
    let file = write(dir.path(), "rbac.yaml", &rendered.rbac_yaml());
    kubectl.namespace("ops").await;
    let out = kubectl.ok(&["apply", "-f", &file]).await;
    assert_eq!(
        sorted_lines(&out),
        [
            "clusterrole.rbac.authorization.k8s.io/rs-regionstack created",
            "clusterrolebinding.rbac.authorization.k8s.io/rs-regionstack created",
            "role.rbac.authorization.k8s.io/rs-regionstack created",
            "rolebinding.rbac.authorization.k8s.io/rs-regionstack created",
            "serviceaccount/rs-regionstack created",
        ]
    );
    let names =
        kubectl.ok(&["-n", "ops", "get", "role", "rs-regionstack", "-o", "jsonpath={.rules[1].resourceNames}"]).await;
    assert_eq!(names, r#"["regionstack-ap-south-1"]"#);
    emulator.shutdown().await;
}
