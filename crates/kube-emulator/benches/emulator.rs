//! Benchmark: 1,000 objects created through `kube::Client` while 3 watchers follow
//! them. Reports create throughput (sequential and with 16 concurrent writers) and
//! watch-event latency per watcher, measured from the moment the create request was
//! sent (an upper bound: it includes the create's own round trip) and from the moment
//! its response arrived (a lower bound: events often arrive first).
//!
//! The same again with RBAC on, as a ServiceAccount (the default path authorizes
//! nothing; the RBAC rows show what authorization costs when switched on).
//!
//! Run with `cargo bench -p regionstack-kube-emulator --bench emulator`. The bar
//! (issue "Kubernetes API emulator"): ≥ 2,000 writes/s on the development machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams, WatchEvent, WatchParams};

const OBJECTS: usize = 1_000;
const WATCHERS: usize = 3;
const CONCURRENCY: usize = 16;

fn config_map(name: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some([("bench".to_owned(), "yes".to_owned())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("region".to_owned(), "eu-west-1".to_owned()), ("payload".to_owned(), "x".repeat(256))].into()),
        ..ConfigMap::default()
    }
}

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// With `rbac`, the emulator authorizes every request and the writers and watchers
/// are a ServiceAccount granted ConfigMaps by a Role among 50 unrelated bindings.
async fn run(label: &str, concurrency: usize, rbac: bool) {
    let config = kube_emulator::Config { rbac, ..kube_emulator::Config::default() };
    let emulator = kube_emulator::KubeEmulator::start_with(config, 0).await.expect("emulator starts");
    let client = if rbac { rbac_client(&emulator).await } else { emulator.client() };
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let start_rv = emulator.resource_version().to_string();

    let mut seen: Vec<Seen> = Vec::new();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let map: Seen = Arc::default();
        seen.push(map.clone());
        let api = api.clone();
        let rv = start_rv.clone();
        watchers.push(tokio::spawn(async move {
            let mut stream = api.watch(&WatchParams::default().labels("bench=yes"), &rv).await.expect("watch").boxed();
            while let Some(ev) = stream.try_next().await.expect("watch stream") {
                if let WatchEvent::Added(cm) = ev {
                    let now = Instant::now();
                    let mut m = map.lock().unwrap();
                    m.insert(cm.metadata.name.unwrap_or_default(), now);
                    if m.len() == OBJECTS {
                        return;
                    }
                }
            }
        }));
    }

    let acked: Seen = Arc::default();
    let sent: Seen = Arc::default();
    let began = Instant::now();
    futures::stream::iter(0..OBJECTS)
        .for_each_concurrent(concurrency, |i| {
            let api = api.clone();
            let acked = acked.clone();
            let sent = sent.clone();
            async move {
                let name = format!("cm-{i:05}");
                sent.lock().unwrap().insert(name.clone(), Instant::now());
                api.create(&PostParams::default(), &config_map(name.clone())).await.expect("create");
                acked.lock().unwrap().insert(name, Instant::now());
            }
        })
        .await;
    let elapsed = began.elapsed();
    for w in watchers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("watchers see every object")
            .expect("watcher task");
    }

    let mut from_ack: Vec<Duration> = Vec::with_capacity(OBJECTS * WATCHERS);
    let mut from_send: Vec<Duration> = Vec::with_capacity(OBJECTS * WATCHERS);
    {
        let (acked, sent) = (acked.lock().unwrap(), sent.lock().unwrap());
        for map in &seen {
            for (name, at) in map.lock().unwrap().iter() {
                // An event may arrive before the client has processed the create
                // response: that counts as zero latency from the acknowledgement.
                from_ack.push(at.saturating_duration_since(acked[name]));
                from_send.push(at.saturating_duration_since(sent[name]));
            }
        }
    }
    from_ack.sort();
    from_send.sort();
    // Nearest-rank percentile over at most a few thousand samples.
    let pct = |v: &[Duration], p: usize| v[(v.len() - 1) * p / 100];
    println!(
        "{label:<24} {OBJECTS} creates in {elapsed:>7.1?} = {:>6.0} writes/s | {} watch events: from send p50 {:>7.1?} p99 {:>7.1?} | from ack p50 {:>7.1?} p99 {:>7.1?}",
        f64::from(u32::try_from(OBJECTS).expect("small")) / elapsed.as_secs_f64(),
        from_send.len(),
        pct(&from_send, 50),
        pct(&from_send, 99),
        pct(&from_ack, 50),
        pct(&from_ack, 99),
    );
    emulator.shutdown().await;
}

/// A client for the ServiceAccount `default/bench`, after binding it (and 50 others).
async fn rbac_client(emulator: &kube_emulator::KubeEmulator) -> kube::Client {
    use kube::api::{DynamicObject, Patch, PatchParams};
    let ar = |kind: &str, plural: &str| kube::api::ApiResource {
        group: "rbac.authorization.k8s.io".into(),
        version: "v1".into(),
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let roles: Api<DynamicObject> = Api::namespaced_with(emulator.client(), "default", &ar("Role", "roles"));
    let bindings: Api<DynamicObject> =
        Api::namespaced_with(emulator.client(), "default", &ar("RoleBinding", "rolebindings"));
    let apply = PatchParams::apply("bench");
    let role = serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "watch"]}]});
    roles.patch("cm", &apply, &Patch::Apply(&role)).await.expect("role");
    for i in 0..=50 {
        let sa = if i == 50 { "bench".to_owned() } else { format!("other-{i}") };
        let b = serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("cm-{sa}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "default"}]});
        bindings.patch(&format!("cm-{sa}"), &apply, &Patch::Apply(&b)).await.expect("binding");
    }
    emulator.client_for(&emulator.issue_token("default", "bench"))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        run("sequential (1 writer)", 1, false).await;
        run("concurrent (16 writers)", CONCURRENCY, false).await;
        run("RBAC, sequential", 1, true).await;
        run("RBAC, concurrent (16)", CONCURRENCY, true).await;
    });
}
