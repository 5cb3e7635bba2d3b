//! Table tests of the authorizer: each case a policy, a user, a request and the
//! expected decision.

use serde_json::{Value, json};

use super::usage::{AccessRecord, unused_permissions};
use super::{Attributes, Policy, UserInfo, authorize, forbidden_message};

fn policy() -> Vec<Value> {
    vec![
        json!({"kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": [
            {"apiGroups": ["regionstack.io"], "resources": ["regions", "piidatabases"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["regionstack.io"], "resources": ["piidatabases/status"], "verbs": ["patch"]},
            {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]},
        ]}),
        json!({"kind": "ClusterRoleBinding", "metadata": {"name": "op-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "system"}]}),
        json!({"kind": "Role", "metadata": {"name": "leases", "namespace": "system"}, "rules": [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "update"], "resourceNames": ["only-me"]},
        ]}),
        json!({"kind": "RoleBinding", "metadata": {"name": "op-leases", "namespace": "system"},
            "roleRef": {"kind": "Role", "name": "leases"},
            // Namespace defaults to the binding's.
            "subjects": [{"kind": "ServiceAccount", "name": "op"}]}),
        json!({"kind": "ClusterRole", "metadata": {"name": "secret-admin"}, "rules": [
            {"apiGroups": ["*"], "resources": ["secrets", "*/status"], "verbs": ["*"]},
        ]}),
        // A ClusterRole bound in one namespace grants there only.
        json!({"kind": "RoleBinding", "metadata": {"name": "team-secrets", "namespace": "shop"},
            "roleRef": {"kind": "ClusterRole", "name": "secret-admin"},
            "subjects": [{"kind": "Group", "name": "team"}, {"kind": "User", "name": "alice"}]}),
        // A binding to a role that does not exist grants nothing.
        json!({"kind": "ClusterRoleBinding", "metadata": {"name": "dangling"},
            "roleRef": {"kind": "ClusterRole", "name": "missing"},
            "subjects": [{"kind": "User", "name": "bob"}]}),
        // A RoleBinding's Role must be in the binding's namespace.
        json!({"kind": "RoleBinding", "metadata": {"name": "cross", "namespace": "shop"},
            "roleRef": {"kind": "Role", "name": "leases"},
            "subjects": [{"kind": "User", "name": "bob"}]}),
    ]
}

fn r(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
    Attributes::resource(verb, group, resource, ns, name)
}

#[test]
fn decisions() {
    let policy = Policy::from_objects(&policy());
    let op = UserInfo::service_account("system", "op");
    let other_sa = UserInfo::service_account("other", "op");
    let team = UserInfo::user("carol", &["team"]);
    let alice = UserInfo::user("alice", &[]);
    let bob = UserInfo::user("bob", &[]);
    let admin = UserInfo::user("root", &["system:masters"]);
    let anon = UserInfo::anonymous();
    let cases: Vec<(&str, &UserInfo, Attributes, bool)> = vec![
        ("cluster role, any namespace", &op, r("list", "regionstack.io", "piidatabases", "shop", ""), true),
        ("cluster role, cluster scope", &op, r("watch", "regionstack.io", "regions", "", ""), true),
        ("verb not granted", &op, r("delete", "regionstack.io", "regions", "", "eu"), false),
        ("group must match", &op, r("get", "", "regions", "", "eu"), false),
        ("subresource granted alone", &op, r("patch", "regionstack.io", "piidatabases/status", "shop", "db"), true),
        ("subresource is not the resource", &op, r("patch", "regionstack.io", "piidatabases", "shop", "db"), false),
        ("resource does not grant its subresource", &op, r("get", "regionstack.io", "regions/status", "", "eu"), false),
        ("role in its namespace", &op, r("update", "coordination.k8s.io", "leases", "system", "l"), true),
        ("role not in another namespace", &op, r("update", "coordination.k8s.io", "leases", "shop", "l"), false),
        ("role not cluster-wide", &op, r("list", "coordination.k8s.io", "leases", "", ""), false),
        ("service account of another namespace", &other_sa, r("get", "regionstack.io", "regions", "", "eu"), false),
        ("resourceNames: named get", &op, r("get", "", "configmaps", "system", "only-me"), true),
        ("resourceNames: other name", &op, r("get", "", "configmaps", "system", "other"), false),
        ("resourceNames: no list", &op, r("list", "", "configmaps", "system", ""), false),
        ("resourceNames: watch narrowed by name", &op, r("watch", "", "configmaps", "system", "only-me"), true),
        ("resourceNames: no create", &op, r("create", "", "configmaps", "system", ""), false),
        ("group subject, cluster role in namespace", &team, r("delete", "", "secrets", "shop", "s"), true),
        ("wildcards: */status", &team, r("update", "apps", "deployments/status", "shop", "d"), true),
        ("wildcards: */status is not the resource", &team, r("update", "apps", "deployments", "shop", "d"), false),
        ("rolebinding of cluster role: not elsewhere", &team, r("get", "", "secrets", "other", "s"), false),
        ("rolebinding of cluster role: not cluster-wide", &alice, r("list", "", "secrets", "", ""), false),
        ("user subject", &alice, r("deletecollection", "", "secrets", "shop", ""), true),
        ("dangling role ref", &bob, r("get", "regionstack.io", "regions", "", "eu"), false),
        ("role of another namespace", &bob, r("get", "coordination.k8s.io", "leases", "shop", "l"), false),
        ("masters", &admin, r("delete", "", "namespaces", "x", "x"), true),
        ("non-resource exact", &op, Attributes::non_resource("get", "/metrics"), true),
        ("non-resource prefix", &op, Attributes::non_resource("get", "/debug/pprof"), true),
        ("non-resource verb", &op, Attributes::non_resource("post", "/metrics"), false),
        ("non-resource not via rolebinding", &team, Attributes::non_resource("get", "/metrics"), false),
        ("discovery: authenticated", &team, Attributes::non_resource("get", "/apis/regionstack.io/v1alpha1"), true),
        ("discovery: not anonymous", &anon, Attributes::non_resource("get", "/apis"), false),
        ("public info: anonymous", &anon, Attributes::non_resource("get", "/version"), true),
        ("public info: anonymous healthz", &anon, Attributes::non_resource("get", "/healthz"), true),
        ("anonymous resources", &anon, r("list", "", "namespaces", "", ""), false),
        ("basic user", &bob, r("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), true),
    ];
    let mut failures = Vec::new();
    for (what, user, attrs, expected) in cases {
        let got = authorize(&policy, user, &attrs);
        if got.allowed != expected {
            failures.push(format!("{what}: expected {expected}, got {got:?} for {attrs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn forbidden_messages_read_like_kube_apiservers() {
    let op = UserInfo::service_account("system", "op");
    assert_eq!(
        forbidden_message(&op, &r("patch", "regionstack.io", "piidatabases/status", "shop", "db")),
        "piidatabases.regionstack.io \"db\" is forbidden: User \"system:serviceaccount:system:op\" cannot patch resource \"piidatabases/status\" in API group \"regionstack.io\" in the namespace \"shop\""
    );
    assert_eq!(
        forbidden_message(&op, &r("list", "", "secrets", "", "")),
        "secrets is forbidden: User \"system:serviceaccount:system:op\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
    );
    assert_eq!(
        forbidden_message(&UserInfo::anonymous(), &Attributes::non_resource("get", "/apis")),
        "forbidden: User \"system:anonymous\" cannot get path \"/apis\""
    );
}

#[test]
fn unused_permissions_are_what_no_allowed_request_exercised() {
    let objects = policy();
    let op = UserInfo::service_account("system", "op");
    let record =
        |user: &UserInfo, a: Attributes, allowed: bool| AccessRecord { user: user.clone(), attributes: a, allowed };
    let records = vec![
        record(&op, r("list", "regionstack.io", "piidatabases", "", ""), true),
        record(&op, r("watch", "regionstack.io", "piidatabases", "", ""), true),
        record(&op, r("get", "regionstack.io", "regions", "", "eu"), true),
        record(&op, r("patch", "regionstack.io", "piidatabases/status", "shop", "db"), true),
        record(&op, r("get", "coordination.k8s.io", "leases", "system", "l"), true),
        // Denied requests exercise nothing.
        record(&op, r("create", "coordination.k8s.io", "leases", "system", ""), false),
        // Another identity's requests do not exercise op's grants.
        record(&UserInfo::user("x", &[]), r("update", "coordination.k8s.io", "leases", "system", "l"), true),
        record(&UserInfo::user("alice", &[]), r("get", "", "secrets", "shop", "s"), true),
        record(&op, Attributes::non_resource("get", "/debug/x"), true),
    ];
    let unused: Vec<String> = unused_permissions(&objects, &records)
        .iter()
        .filter(|p| p.granted_by.contains("op-"))
        .map(|p| {
            let what = if p.non_resource_url.is_empty() { p.resource.clone() } else { p.non_resource_url.clone() };
            format!("{} {} {} {}", p.namespace, p.api_group, what, p.verb)
        })
        .collect();
    assert_eq!(
        unused,
        [
            "  /metrics get",
            " regionstack.io piidatabases get",
            " regionstack.io regions list",
            " regionstack.io regions watch",
            "system  configmaps get",
            "system  configmaps list",
            "system  configmaps update",
            "system  configmaps watch",
            "system coordination.k8s.io leases create",
            "system coordination.k8s.io leases update",
        ]
    );
    // alice's one get exercised the wildcard `*` verb on secrets in shop; `*/status` stays unused.
    let alice: Vec<_> =
        unused_permissions(&objects, &records).into_iter().filter(|p| p.granted_by.contains("team-secrets")).collect();
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert_eq!(alice[0].resource, "*/status");
}
