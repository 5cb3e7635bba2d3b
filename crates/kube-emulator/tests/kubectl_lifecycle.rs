//! End to end with the real `kubectl`: patch, the status subresource, wait and delete.
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
    let gauge = c.emulator.open_watches();
    await_no_watches(&gauge);
    let patcher = {
        let k = k.clone();
        let gauge = gauge.clone();
        std::thread::spawn(move || {
            // Only once `kubectl wait` is watching: the condition must arrive as an event.
            await_watches(&gauge, 1);
            k.set_ready("eu-west-1", "True");
        })
    };
    let wait = k.ok(&["wait", "--for=condition=Ready", "region/eu-west-1", "--timeout=20s"]);
    patcher.join().expect("the patcher thread");
    wait.stdout_has("region.regionstack.io/eu-west-1 condition met");
    assert!(!wait.stderr.contains("error"), "{wait}");

    // Unmet conditions time out.
    let unmet = k.fails(&["wait", "--for=condition=Ready", "region/ap-south-1", "--timeout=2s"]);
    unmet.stderr_has("timed out waiting for the condition");
    k.fails(&["wait", "--for=condition=Ready=false", "region/eu-west-1", "--timeout=1s"]).stderr_has("timed out");

    k.ok(&["wait", "--for=jsonpath={.spec.lifecycle}=Planned", "region/ap-south-1", "--timeout=20s"]);

    // Deletion while the wait watches.
    await_no_watches(&gauge);
    let deleter = {
        let k = k.clone();
        let gauge = gauge.clone();
        std::thread::spawn(move || {
            await_watches(&gauge, 1);
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
    let gauge = c.emulator.open_watches();
    await_no_watches(&gauge);
    let remover = {
        let k = k.clone();
        std::thread::spawn(move || {
            // Only once `kubectl wait --for=delete` is watching the namespace.
            await_watches(&gauge, 1);
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
