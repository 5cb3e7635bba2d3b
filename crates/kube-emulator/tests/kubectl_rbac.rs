//! Real `kubectl` against an emulator with RBAC on: the admin kubeconfig applies a
//! Role and RoleBinding, a ServiceAccount's token kubeconfig is allowed what they
//! grant and denied the rest with kube-apiserver's message, and an unknown token is
//! refused as unauthorized. `kubectl auth can-i` answers from the same rules.

mod support_kubectl;

#[allow(clippy::wildcard_imports)]
use support_kubectl::*;

use kube_emulator::{Config, KubeEmulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_kubeconfig_is_allowed_what_its_role_grants() {
    let bin = find_kubectl();
    let emulator = KubeEmulator::start_with(Config::with_rbac(), 0).await.expect("the emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let kubectl = |name: &str, token: &str| Kubectl::for_token(&bin, &emulator, dir.path(), name, token);
    let admin = kubectl("admin", emulator.admin_token());
    let app = kubectl("app", &emulator.issue_token("team", "app"));
    let intruder = kubectl("intruder", "not-a-token");

    let rbac = admin.manifest(
        "rbac.yaml",
        r#"apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team}
data: {a: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-reads, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: ServiceAccount, name: app, namespace: team}
"#,
    );
    admin.ok(&["apply", "-f", &rbac]);

    app.ok(&["get", "configmaps", "-n", "team"]).stdout_has("settings");
    app.ok(&["get", "configmap", "settings", "-n", "team", "-o", "jsonpath={.data.a}"]).stdout_has("b");
    app.fails(&["get", "configmaps", "-n", "default"]).stderr_has(
        "Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:team:app\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\"",
    );
    app.fails(&["delete", "configmap", "settings", "-n", "team"]).stderr_has(
        "configmaps \"settings\" is forbidden: User \"system:serviceaccount:team:app\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"team\"",
    );
    // `kubectl auth can-i` (a SelfSubjectAccessReview) answers from the same rules.
    app.ok(&["auth", "can-i", "list", "configmaps", "-n", "team"]).stdout_has("yes");
    app.fails(&["auth", "can-i", "list", "configmaps", "-n", "default"]).stdout_has("no");
    app.fails(&["auth", "can-i", "delete", "configmap/settings", "-n", "team"]).stdout_has("no");
    admin.ok(&["auth", "can-i", "delete", "namespaces"]).stdout_has("yes");
    intruder.fails(&["get", "configmaps", "-n", "team"]).stderr_has("You must be logged in to the server");

    let denied: Vec<String> = emulator.denied().iter().map(ToString::to_string).collect();
    assert_eq!(
        denied,
        [
            "DENIED: system:serviceaccount:team:app list configmaps (core) in default",
            "DENIED: system:serviceaccount:team:app delete configmaps (core) \"settings\" in team",
        ]
    );
}
