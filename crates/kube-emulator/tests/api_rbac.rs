//! Authentication and RBAC over real HTTP with the real `kube` client: tokens, 401
//! for unknown ones, anonymous requests, Roles and bindings granting per namespace,
//! subresources, server-side apply needing `create` to create, watches, the access
//! record and the unused-permission report computed from it.

mod support_api;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_emulator::rbac::Attributes;
use kube_emulator::{Config, KubeEmulator, unused_permissions};
use serde_json::{Value, json};
use support_api::{configmap, meta, status};

async fn rbac_emulator() -> KubeEmulator {
    let emu = KubeEmulator::start_with(Config::with_rbac(), 0).await.expect("the emulator starts");
    assert!(emu.rbac_enabled());
    for ns in ["team", "other"] {
        Api::<Namespace>::all(emu.client())
            .create(&PostParams::default(), &Namespace { metadata: meta(ns), ..Namespace::default() })
            .await
            .unwrap();
    }
    emu
}

/// Create RBAC objects as the admin, through server-side apply.
async fn apply_as_admin(emu: &KubeEmulator, objects: &[Value]) {
    for o in objects {
        let plural = match o["kind"].as_str().unwrap() {
            "Role" => "roles",
            "RoleBinding" => "rolebindings",
            "ClusterRole" => "clusterroles",
            "ClusterRoleBinding" => "clusterrolebindings",
            other => panic!("not an RBAC kind: {other}"),
        };
        let ar = kube::api::ApiResource {
            group: "rbac.authorization.k8s.io".into(),
            version: "v1".into(),
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: o["kind"].as_str().unwrap().into(),
            plural: plural.into(),
        };
        let name = o["metadata"]["name"].as_str().unwrap();
        let api: Api<kube::api::DynamicObject> = match o["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(emu.client(), ns, &ar),
            None => Api::all_with(emu.client(), &ar),
        };
        api.patch(name, &PatchParams::apply("test"), &Patch::Apply(o)).await.unwrap();
    }
}

fn role(ns: &str, name: &str, rules: &Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": ns}, "rules": rules})
}

fn binding(ns: &str, role_kind: &str, role: &str, sa: (&str, &str)) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": format!("{role}-{}", sa.1), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa.1, "namespace": sa.0}]})
}

#[tokio::test]
async fn off_by_default_every_request_is_admin_and_nothing_is_recorded() {
    let emu = KubeEmulator::start().await.unwrap();
    assert!(!emu.rbac_enabled());
    // Any token, or none, is the admin.
    let token = emu.issue_token("team", "app");
    let cms: Api<ConfigMap> = Api::namespaced(emu.client_for(&token), "default");
    cms.create(&PostParams::default(), &configmap("a", &[])).await.unwrap();
    let anonymous = kube::Client::try_from(kube::Config::new(emu.url().parse().unwrap())).unwrap();
    Api::<ConfigMap>::namespaced(anonymous, "default").get("a").await.unwrap();
    Api::<ConfigMap>::namespaced(emu.client_for("made-up"), "default").get("a").await.unwrap();
    assert!(emu.access_log().is_empty());
}

#[tokio::test]
async fn unknown_tokens_are_401_and_anonymous_requests_get_public_info_only() {
    let emu = rbac_emulator().await;
    let unknown = Api::<ConfigMap>::namespaced(emu.client_for("made-up"), "team").list(&ListParams::default()).await;
    let s = status(unknown);
    assert_eq!((s.code, s.reason.as_str(), s.message.as_str()), (401, "Unauthorized", "Unauthorized"));

    let anonymous = kube::Client::try_from(kube::Config::new(emu.url().parse().unwrap())).unwrap();
    let s = status(Api::<Namespace>::all(anonymous.clone()).list(&ListParams::default()).await);
    assert_eq!(s.code, 403);
    assert_eq!(s.reason, "Forbidden");
    assert_eq!(
        s.message,
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    // system:public-info-viewer: /version for everyone; discovery only when authenticated.
    assert!(anonymous.apiserver_version().await.is_ok());
    let s = status(anonymous.list_api_groups().await);
    assert_eq!(s.message, "forbidden: User \"system:anonymous\" cannot get path \"/apis\"");
    let sa = emu.client_for(&emu.issue_token("team", "app"));
    assert!(sa.list_api_groups().await.is_ok(), "authenticated users may discover");
    let log = emu.access_log();
    assert!(log.iter().any(|r| r.user.name == "system:anonymous" && r.attributes.path == "/apis" && !r.allowed));
    assert!(
        log.iter()
            .any(|r| r.user.name == "system:serviceaccount:team:app" && r.attributes.path == "/apis" && r.allowed)
    );
    // The admin is never recorded.
    assert!(log.iter().all(|r| r.user.name != "kubernetes-admin"), "{log:?}");
}

#[tokio::test]
async fn roles_grant_in_their_namespace_and_every_decision_is_recorded() {
    let emu = rbac_emulator().await;
    Api::<ConfigMap>::namespaced(emu.client(), "team")
        .create(&PostParams::default(), &configmap("c", &[]))
        .await
        .unwrap();
    let app = emu.client_for(&emu.issue_token("team", "app"));
    let team: Api<ConfigMap> = Api::namespaced(app.clone(), "team");
    let s = status(team.get("c").await);
    assert_eq!(
        s.message,
        "configmaps \"c\" is forbidden: User \"system:serviceaccount:team:app\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
    assert_eq!(s.details.as_ref().map(|d| (d.name.as_str(), d.kind.as_str())), Some(("c", "configmaps")));

    apply_as_admin(
        &emu,
        &[
            role(
                "team",
                "cm-reader",
                &json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]),
            ),
            binding("team", "Role", "cm-reader", ("team", "app")),
        ],
    )
    .await;
    assert_eq!(team.get("c").await.unwrap().metadata.name.as_deref(), Some("c"));
    assert_eq!(team.list(&ListParams::default()).await.unwrap().items.len(), 1);
    // Watches are authorized as `watch`.
    let mut events = team.watch(&kube::api::WatchParams::default(), "0").await.unwrap().boxed();
    match events.try_next().await.unwrap() {
        Some(kube::api::WatchEvent::Added(cm)) => assert_eq!(cm.metadata.name.as_deref(), Some("c")),
        other => panic!("expected ADDED c, got {other:?}"),
    }
    drop(events);
    let s = status(Api::<ConfigMap>::namespaced(app.clone(), "other").list(&ListParams::default()).await);
    assert!(
        s.message.ends_with("cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""),
        "{}",
        s.message
    );
    let s = status(team.delete("c", &DeleteParams::default()).await);
    assert_eq!(s.code, 403, "delete was not granted");
    // Removing the binding revokes at once.
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(emu.client(), "team");
    bindings.delete("cm-reader-app", &DeleteParams::default()).await.unwrap();
    assert_eq!(status(team.get("c").await).code, 403, "the binding is gone");
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding("team", "Role", "cm-reader", ("team", "app"))).unwrap(),
        )
        .await
        .unwrap();
    team.get("c").await.expect("bound again");

    let log = emu.access_log();
    let seen: Vec<(String, String, String, bool)> = log
        .iter()
        .filter(|r| r.attributes.resource_request)
        .map(|r| (r.attributes.verb.clone(), r.attributes.namespace.clone(), r.attributes.name.clone(), r.allowed))
        .collect();
    let expect = |v: &str, ns: &str, name: &str, allowed: bool| (v.to_owned(), ns.to_owned(), name.to_owned(), allowed);
    for e in [
        expect("get", "team", "c", false),
        expect("get", "team", "c", true),
        expect("list", "team", "", true),
        expect("watch", "team", "", true),
        expect("list", "other", "", false),
        expect("delete", "team", "c", false),
    ] {
        assert!(seen.contains(&e), "{e:?} not in {seen:?}");
    }
    // Four denials, of which the two `get c` are one decision, recorded once.
    assert_eq!(emu.denied().len(), 3, "{:?}", emu.denied());
    assert_eq!(log.iter().filter(|r| r.attributes.verb == "get" && !r.allowed).count(), 1, "{log:?}");
    assert!(emu.denied().iter().all(|r| r.user.groups.contains(&"system:serviceaccounts:team".to_owned())));
}

#[tokio::test]
async fn subresources_cluster_roles_bound_per_namespace_and_apply_needing_create() {
    let emu = rbac_emulator().await;
    let deployment: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
    .unwrap();
    for ns in ["team", "other"] {
        Api::<Deployment>::namespaced(emu.client(), ns).create(&PostParams::default(), &deployment).await.unwrap();
    }
    let objects = vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "status-writer"},
        "rules": [
            {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["mine"]},
        ]}),
        binding("team", "ClusterRole", "status-writer", ("team", "app")),
    ];
    apply_as_admin(&emu, &objects).await;
    let app = emu.client_for(&emu.issue_token("team", "app"));
    let patch = Patch::Merge(json!({"status": {"observedGeneration": 1}}));
    let team: Api<Deployment> = Api::namespaced(app.clone(), "team");
    team.patch_status("d", &PatchParams::default(), &patch).await.unwrap();
    assert_eq!(
        status(team.patch("d", &PatchParams::default(), &patch).await).code,
        403,
        "the main resource is not granted"
    );
    let other: Api<Deployment> = Api::namespaced(app.clone(), "other");
    let s = status(other.patch_status("d", &PatchParams::default(), &patch).await);
    assert!(
        s.message
            .contains("cannot patch resource \"deployments/status\" in API group \"apps\" in the namespace \"other\""),
        "{}",
        s.message
    );

    // Server-side apply of a missing object needs `create` too, as in kube-apiserver.
    let cms: Api<ConfigMap> = Api::namespaced(app.clone(), "team");
    let apply = PatchParams::apply("app");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {"k": "v"}});
    let s = status(cms.patch("new", &apply, &Patch::Apply(&cm)).await);
    assert_eq!(
        s.message,
        "configmaps \"new\" is forbidden: User \"system:serviceaccount:team:app\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
    Api::<ConfigMap>::namespaced(emu.client(), "team")
        .create(&PostParams::default(), &configmap("new", &[]))
        .await
        .unwrap();
    cms.patch("new", &apply, &Patch::Apply(&cm)).await.expect("patching an existing object needs patch only");

    // The report: what the binding grants that this run never used.
    let unused: Vec<String> = unused_permissions(&objects, &emu.access_log()).iter().map(ToString::to_string).collect();
    assert_eq!(
        unused,
        ["get secrets (core) named [\"mine\"] in team (via RoleBinding/status-writer-app → ClusterRole/status-writer)"]
    );
    let denied: Vec<Attributes> = emu.denied().into_iter().map(|r| r.attributes).collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
}
