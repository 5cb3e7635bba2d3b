//! Real `kubectl create <subcommand>` against the emulator. kubectl's typed commands
//! send the object as protobuf (client-go never falls back to JSON); the emulator
//! decodes it into the object's JSON, which then takes the JSON path: the stored
//! objects must be exactly what was asked, owned by the `kubectl-create` manager, and
//! subject to RBAC. What the emulator cannot decode is refused with a clear 415, and
//! kinds it does not serve with kube's 404.

mod support_kubectl;

use base64::Engine as _;
use kube::api::Api;
use kube_emulator::{Config, KubeEmulator};
use serde_json::{Value, json};
#[allow(clippy::wildcard_imports)]
use support_kubectl::*;

fn get(k: &Kubectl, target: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(target);
    args.extend(["-o", "json"]);
    k.ok(&args).json()
}

/// Runs each `kubectl create …` (arguments split at spaces), which must succeed and
/// print `<resource>/<name> created`.
fn create_all(k: &Kubectl, commands: &[(&str, &str)]) {
    for (command, printed) in commands {
        let args: Vec<&str> = command.split(' ').collect();
        k.ok(&args).stdout_has(&format!("{printed} created"));
    }
}

/// Asserts that each object's only `managedFields` entry is kubectl-create's Update,
/// as a JSON create would have left it.
fn assert_created_by_kubectl(k: &Kubectl, namespace: &str, objects: &[&str]) {
    for object in objects {
        let obj = get(k, &[object, "-n", namespace, "--show-managed-fields"]);
        let managers: Vec<(&str, &str)> = obj["metadata"]["managedFields"]
            .as_array()
            .unwrap_or_else(|| panic!("{object} has no managedFields: {obj}"))
            .iter()
            .map(|m| (m["manager"].as_str().unwrap_or_default(), m["operation"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(managers, [("kubectl-create", "Update")], "{object}");
    }
}

fn base64_decode(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("a base64 string")).expect("valid base64")
}

/// Namespaces, ConfigMaps, Secrets, ServiceAccounts and Deployments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_store_what_was_asked() {
    let c = cluster().await;
    let k = &c.kubectl;
    let binary: Vec<u8> = (0..=255u8).collect();
    let blob = k.scratch.join("blob.bin");
    std::fs::write(&blob, &binary).unwrap();
    let from_file = format!("create configmap files -n team --from-file={}", blob.display());
    create_all(
        k,
        &[
            ("create namespace team", "namespace/team"),
            ("create configmap settings -n team --from-literal=a=b --from-literal=c=d", "configmap/settings"),
            (&from_file, "configmap/files"),
            ("create secret generic creds -n team --from-literal=user=admin --from-literal=pw=s3cr=t", "secret/creds"),
            (
                "create secret docker-registry pull -n team --docker-server=r.example --docker-username=u --docker-password=p",
                "secret/pull",
            ),
            ("create serviceaccount app -n team", "serviceaccount/app"),
            ("create deployment web -n team --image=nginx:1.27 --replicas=3 --port=8080", "deployment.apps/web"),
            ("create deployment sleeper -n team --image=busybox -- sleep 3600", "deployment.apps/sleeper"),
        ],
    );

    assert_eq!(get(k, &["configmap", "settings", "-n", "team"])["data"], json!({"a": "b", "c": "d"}));
    // Binary files land in binaryData, byte for byte.
    let files = get(k, &["configmap", "files", "-n", "team"]);
    assert_eq!(files.get("data"), None, "{files}");
    assert_eq!(base64_decode(&files["binaryData"]["blob.bin"]), binary);
    let secret = get(k, &["secret", "creds", "-n", "team"]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(base64_decode(&secret["data"]["user"]), b"admin");
    assert_eq!(base64_decode(&secret["data"]["pw"]), b"s3cr=t");
    let pull = get(k, &["secret", "pull", "-n", "team"]);
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    let config: Value = serde_json::from_slice(&base64_decode(&pull["data"][".dockerconfigjson"])).unwrap();
    assert_eq!(config["auths"]["r.example"]["username"], "u");
    assert_eq!(get(k, &["serviceaccount", "app", "-n", "team"])["metadata"]["name"], "app");

    let deploy = get(k, &["deployment", "web", "-n", "team"]);
    assert_eq!(deploy["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(deploy["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
    assert_eq!(deploy["spec"]["strategy"], json!({}));
    assert_eq!(deploy["spec"]["template"]["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 8080}], "resources": {}}])
    );
    assert_eq!(
        get(k, &["deployment", "sleeper", "-n", "team"])["spec"]["template"]["spec"]["containers"],
        json!([{"name": "busybox", "image": "busybox", "command": ["sleep", "3600"], "resources": {}}])
    );

    // The objects were written by the `kubectl-create` manager, as through JSON (the
    // ServiceAccount has no fields beyond its name: no entry, as in kube).
    let objects = ["namespace/team", "configmap/settings", "secret/creds", "deployment/web"];
    assert_created_by_kubectl(k, "team", &objects);

    // Errors come back through the same path: the duplicate is a 409 worded as kube's.
    k.fails(&["create", "namespace", "team"]).stderr_has("namespaces \"team\" already exists");
    k.fails(&["create", "configmap", "settings", "-n", "team", "--from-literal=x=y"])
        .stderr_has("configmaps \"settings\" already exists");
    // Kinds the emulator does not serve are kube's 404.
    k.fails(&["create", "job", "once", "-n", "team", "--image=busybox"])
        .stderr_has("the server could not find the requested resource");
}

/// Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_rbac_objects() {
    let c = cluster().await;
    let k = &c.kubectl;
    let rbac = "rbac.authorization.k8s.io";
    create_all(
        k,
        &[
            ("create namespace team", "namespace/team"),
            (
                "create role cm-reader -n team --verb=get,list --resource=configmaps,deployments.apps",
                &format!("role.{rbac}/cm-reader"),
            ),
            (
                "create clusterrole metrics --verb=get --non-resource-url=/metrics",
                &format!("clusterrole.{rbac}/metrics"),
            ),
            (
                "create clusterrole aggregate --aggregation-rule=rbac.example/aggregate=true",
                &format!("clusterrole.{rbac}/aggregate"),
            ),
            (
                "create rolebinding app-reads -n team --role=cm-reader --serviceaccount=team:app --user=alice",
                &format!("rolebinding.{rbac}/app-reads"),
            ),
            (
                "create clusterrolebinding scrape --clusterrole=metrics --group=monitoring",
                &format!("clusterrolebinding.{rbac}/scrape"),
            ),
        ],
    );

    assert_eq!(
        get(k, &["role", "cm-reader", "-n", "team"])["rules"],
        json!([
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
        ])
    );
    assert_eq!(
        get(k, &["clusterrole", "metrics"])["rules"],
        json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    );
    assert_eq!(
        get(k, &["clusterrole", "aggregate"])["aggregationRule"],
        json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.example/aggregate": "true"}}]})
    );
    let binding = get(k, &["rolebinding", "app-reads", "-n", "team"]);
    assert_eq!(binding["roleRef"], json!({"apiGroup": rbac, "kind": "Role", "name": "cm-reader"}));
    assert_eq!(
        binding["subjects"],
        json!([
            {"apiGroup": rbac, "kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "app", "namespace": "team"},
        ])
    );
    let cluster_binding = get(k, &["clusterrolebinding", "scrape"]);
    assert_eq!(cluster_binding["roleRef"], json!({"apiGroup": rbac, "kind": "ClusterRole", "name": "metrics"}));
    assert_eq!(cluster_binding["subjects"], json!([{"apiGroup": rbac, "kind": "Group", "name": "monitoring"}]));
    let objects = ["role/cm-reader", "clusterrole/metrics", "rolebinding/app-reads", "clusterrolebinding/scrape"];
    assert_created_by_kubectl(k, "team", &objects);
}

/// Services of every type and PodDisruptionBudgets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_services_and_budgets() {
    let c = cluster().await;
    let k = &c.kubectl;
    create_all(
        k,
        &[
            ("create namespace team", "namespace/team"),
            ("create service clusterip api -n team --tcp=80:8080", "service/api"),
            ("create service clusterip headless -n team --clusterip=None", "service/headless"),
            ("create service nodeport np -n team --tcp=80:8080 --node-port=30080", "service/np"),
            ("create service loadbalancer lb -n team --tcp=443:8443", "service/lb"),
            ("create service externalname ext -n team --external-name=db.example.com", "service/ext"),
            (
                "create poddisruptionbudget web-pdb -n team --selector=app=web --min-available=2",
                "poddisruptionbudget.policy/web-pdb",
            ),
            (
                "create pdb web-pdb2 -n team --selector=app=web --max-unavailable=50%",
                "poddisruptionbudget.policy/web-pdb2",
            ),
        ],
    );

    let service = |name: &str| get(k, &["service", name, "-n", "team"])["spec"].clone();
    let api = service("api");
    assert_eq!(api["type"], "ClusterIP");
    assert_eq!(api["selector"], json!({"app": "api"}));
    assert_eq!(api["ports"], json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]));
    assert_eq!(service("headless")["clusterIP"], "None");
    let np = service("np");
    assert_eq!((np["type"].as_str(), &np["ports"][0]["nodePort"]), (Some("NodePort"), &json!(30080)));
    let lb = service("lb");
    assert_eq!((lb["type"].as_str(), &lb["ports"][0]["port"]), (Some("LoadBalancer"), &json!(443)));
    let ext = service("ext");
    assert_eq!((ext["type"].as_str(), ext["externalName"].as_str()), (Some("ExternalName"), Some("db.example.com")));
    assert_eq!(ext.get("ports"), None);

    let pdb = get(k, &["pdb", "web-pdb", "-n", "team"])["spec"].clone();
    assert_eq!(pdb, json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}));
    let pdb2 = get(k, &["pdb", "web-pdb2", "-n", "team"])["spec"].clone();
    assert_eq!(pdb2, json!({"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}));
    assert_created_by_kubectl(k, "team", &["service/api", "service/ext", "pdb/web-pdb"]);
}

/// The stored object without what the server assigns per object (and the name, for
/// cluster-scoped objects created twice under different names).
fn comparable(mut obj: Value) -> Value {
    let meta = obj["metadata"].as_object_mut().expect("metadata");
    for key in ["uid", "resourceVersion", "creationTimestamp", "namespace", "name"] {
        meta.remove(key);
    }
    for entry in meta.get_mut("managedFields").and_then(Value::as_array_mut).into_iter().flatten() {
        entry.as_object_mut().expect("a managedFields entry").remove("time");
    }
    obj
}

/// The protobuf path stores exactly what the JSON path stores: each command runs once
/// as kubectl sends it (protobuf) and once as the JSON object kubectl would have sent
/// (`--dry-run=client -o json`, then `kubectl create -f`), and the results match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_and_json_creates_store_the_same_objects() {
    let c = cluster().await;
    let k = &c.kubectl;
    create_all(k, &[("create namespace pb", "namespace/pb"), ("create namespace js", "namespace/js")]);
    for (i, (command, target)) in [
        ("create configmap cm --from-literal=a=b", "configmap/cm"),
        ("create secret generic s --from-literal=k=v", "secret/s"),
        ("create serviceaccount sa", "serviceaccount/sa"),
        ("create deployment d --image=nginx --replicas=2 --port=80", "deployment/d"),
        ("create role r --verb=get --resource=configmaps --resource-name=x", "role/r"),
        ("create rolebinding rb --role=r --serviceaccount=pb:sa --group=g", "rolebinding/rb"),
        ("create service nodeport np --tcp=80:8080", "service/np"),
        ("create service externalname en --external-name=example.com", "service/en"),
        ("create pdb pdb --selector=app=d --min-available=50%", "pdb/pdb"),
        ("create clusterrole cr-NAME --verb=get --non-resource-url=/healthz", "clusterrole/cr-NAME"),
        ("create clusterrolebinding crb-NAME --clusterrole=cr-pb --user=u", "clusterrolebinding/crb-NAME"),
    ]
    .into_iter()
    .enumerate()
    {
        let args = |ns: &str| -> Vec<String> {
            let mut args: Vec<String> = command.replace("NAME", ns).split(' ').map(str::to_owned).collect();
            args.extend(["-n".to_owned(), ns.to_owned()]);
            args
        };
        let refs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        // As kubectl sends it: protobuf.
        k.ok(&args("pb").iter().map(String::as_str).collect::<Vec<_>>());
        // As JSON: the object kubectl would have sent, created from a manifest.
        let mut dry = args("js");
        dry.extend(["--dry-run=client", "-o", "json"].map(str::to_owned));
        let manifest = k.ok(&dry.iter().map(String::as_str).collect::<Vec<_>>()).stdout;
        let file = k.manifest(&format!("{i}.json"), &manifest);
        k.ok(&["create", "-f", &file, "-n", "js"]);

        let stored = |ns: &str| comparable(get(k, &[&target.replace("NAME", ns), "-n", ns, "--show-managed-fields"]));
        assert_eq!(stored("pb"), stored("js"), "`kubectl {}` stored differently from its JSON", refs(&args("pb")));
    }
}

/// `kubectl auth reconcile` reads typed RBAC objects and PUTs them back as protobuf,
/// managedFields included; RBAC applies to protobuf writes as to JSON ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_updates_and_rbac_take_the_json_path() {
    let bin = find_kubectl();
    let emulator = KubeEmulator::start_with(Config::with_rbac(), 0).await.expect("the emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let kubectl = |name: &str, token: &str| Kubectl::for_token(&bin, &emulator, dir.path(), name, token);
    let admin = kubectl("admin", emulator.admin_token());
    let app = kubectl("app", &emulator.issue_token("team", "app"));

    admin.ok(&["create", "namespace", "team"]);
    admin.ok(&["create", "role", "cm-writer", "-n", "team", "--verb=get", "--resource=configmaps"]);
    admin.ok(&["create", "rolebinding", "app-writes", "-n", "team", "--role=cm-writer", "--serviceaccount=team:app"]);
    app.fails(&["create", "configmap", "c", "-n", "team", "--from-literal=a=b"]).stderr_has(
        "configmaps is forbidden: User \"system:serviceaccount:team:app\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team\"",
    );

    let reconcile = admin.manifest(
        "role.yaml",
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-writer, namespace: team}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create]
"#,
    );
    admin
        .ok(&["auth", "reconcile", "-f", &reconcile])
        .stdout_has("role.rbac.authorization.k8s.io/cm-writer reconciled");
    let verbs: Vec<String> = get(&admin, &["role", "cm-writer", "-n", "team"])["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(verbs, ["get", "create"], "the reconciled role");

    app.ok(&["create", "configmap", "c", "-n", "team", "--from-literal=a=b"]).stdout_has("configmap/c created");
    assert_eq!(get(&admin, &["configmap", "c", "-n", "team"])["data"], json!({"a": "b"}));
    app.fails(&["create", "secret", "generic", "s", "-n", "team", "--from-literal=k=v"])
        .stderr_has("cannot create resource \"secrets\"");
}

/// kube's protobuf envelope around a raw message: `k8s\0` + runtime.Unknown.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
        out.push((number << 3) | 2);
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push(u8::try_from(len & 0x7f).unwrap() | 0x80);
            len >>= 7;
        }
        out.push(u8::try_from(len).unwrap());
        out.extend_from_slice(bytes);
    }
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, api_version.as_bytes());
    field(&mut type_meta, 2, kind.as_bytes());
    let mut body = b"k8s\0".to_vec();
    field(&mut body, 1, &type_meta);
    field(&mut body, 2, raw);
    body
}

async fn post_protobuf(client: &kube::Client, path: &str, body: Vec<u8>) -> kube::core::Status {
    let request =
        http::Request::post(path).header("Content-Type", "application/vnd.kubernetes.protobuf").body(body).unwrap();
    match client.request_text(request).await {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error for {path}, got {other:?}"),
    }
}

/// What the decoder cannot read fails loudly over HTTP, naming what to do instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_protobuf_is_refused_clearly() {
    let emulator = KubeEmulator::start().await.expect("the emulator starts");
    let client = emulator.client();

    // A served kind without a protobuf table (no kubectl subcommand writes Leases).
    let e = post_protobuf(
        &client,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        envelope("coordination.k8s.io/v1", "Lease", &[0x0a, 0x03, 0x0a, 0x01, b'l']),
    )
    .await;
    assert_eq!((e.code, e.reason.as_str()), (415, "UnsupportedMediaType"), "{e:?}");
    assert!(
        e.message.contains("not Lease (coordination.k8s.io/v1)") && e.message.contains("`kubectl apply -f`"),
        "{e:?}"
    );

    // A field the ConfigMap table does not know (number 9) is refused, not dropped.
    let e = post_protobuf(&client, "/api/v1/namespaces/default/configmaps", envelope("v1", "ConfigMap", &[0x48, 0x01]))
        .await;
    assert_eq!(e.code, 415, "{e:?}");
    assert!(e.message.contains("field number 9 of ConfigMap") && e.message.contains("`kubectl apply -f`"), "{e:?}");

    // Garbage is a 400, and the server keeps serving.
    let e = post_protobuf(&client, "/api/v1/namespaces", b"k8s\0\x0a\xff\xff".to_vec()).await;
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"), "{e:?}");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    namespaces.list(&kube::api::ListParams::default()).await.expect("the emulator still answers");
}
