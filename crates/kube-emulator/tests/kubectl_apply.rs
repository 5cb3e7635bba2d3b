//! End to end with the real `kubectl`: apply (client-side, server-side, dry run) and schema rejections.
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
