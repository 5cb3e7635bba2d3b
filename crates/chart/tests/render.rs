//! Rendering charts/regionstack: what the defaults produce, how a missing or invalid
//! value fails, what each toggle changes, the hardened Pod, the operator's command line
//! and the RBAC rules (each with its reason).

use chart::{Chart, Error, Release, Rendered, Values};
use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use regionstack::cli::{Cli, Command};
use serde_json::{Value, json};

fn release() -> Release {
    Release::new("regionstack", "regionstack-system")
}

// By value: the builder chains at the call sites read better.
#[allow(clippy::needless_pass_by_value)]
fn render(values: Values) -> Result<Rendered, Error> {
    Chart::regionstack().expect("charts/regionstack loads").render(&release(), &values)
}

#[allow(clippy::needless_pass_by_value)]
fn render_ok(values: Values) -> Rendered {
    render(values).unwrap_or_else(|e| panic!("rendering failed: {e}"))
}

fn region() -> Values {
    Values::new().set("region", "eu-west-1")
}

fn deployment(rendered: &Rendered) -> Value {
    rendered.one("Deployment").expect("exactly one Deployment").object.clone()
}

fn container(rendered: &Rendered) -> Value {
    let d = deployment(rendered);
    let containers = d["spec"]["template"]["spec"]["containers"].as_array().unwrap().clone();
    assert_eq!(containers.len(), 1, "one container");
    containers[0].clone()
}

fn args(rendered: &Rendered) -> Vec<String> {
    container(rendered)["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

#[test]
fn defaults_with_a_region_render_every_kind_in_install_order() {
    let rendered = render_ok(region());
    assert_eq!(
        rendered.kinds(),
        [
            "PodDisruptionBudget",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment"
        ]
    );
    for m in &rendered.manifests {
        assert_eq!(m.name().split('-').next(), Some("regionstack"), "{}", m.kind());
        let labels = &m.object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm", "{}", m.kind());
        assert_eq!(labels["regionstack.io/region"], "eu-west-1", "{}", m.kind());
        assert_eq!(labels["app.kubernetes.io/version"], "0.1.0", "{}", m.kind());
        if !m.kind().starts_with("Cluster") {
            assert_eq!(m.object["metadata"]["namespace"], "regionstack-system", "{}", m.kind());
        }
    }
    // The CRDs travel with the chart, unrendered, one per kind.
    let crds: Vec<&str> = rendered.crds.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(crds, ["piidatabase.yaml", "region.yaml", "telemetryreplica.yaml"]);
}

#[test]
fn every_document_parses_and_the_deployment_is_a_valid_typed_object() {
    let rendered =
        render_ok(region().set("networkPolicy.enabled", "true").set("metrics.serviceMonitor.enabled", "true"));
    for m in &rendered.manifests {
        let again: Value = serde_norway::from_str(&m.yaml).unwrap_or_else(|e| panic!("{}: {e}", m.template));
        assert_eq!(again, m.object);
    }
    // Typed deserialization catches wrong field types (a port as a string, ...).
    let d: Deployment = serde_json::from_value(deployment(&rendered)).expect("a valid apps/v1 Deployment");
    assert_eq!(d.spec.replicas, Some(2));
    let _: k8s_openapi::api::networking::v1::NetworkPolicy =
        serde_json::from_value(rendered.one("NetworkPolicy").unwrap().object.clone()).expect("valid NetworkPolicy");
    let _: k8s_openapi::api::policy::v1::PodDisruptionBudget =
        serde_json::from_value(rendered.one("PodDisruptionBudget").unwrap().object.clone()).expect("valid PDB");
    // The whole stream splits back into the same documents.
    let stream = rendered.to_yaml();
    assert_eq!(stream.matches("\n---\n").count() + 1, rendered.manifests.len(), "{stream}");
}

#[test]
fn a_missing_region_fails_with_a_clear_message() {
    let message = render(Values::new()).unwrap_err().to_string();
    assert!(message.contains("- (root): \"region\" is a required property"), "{message}");

    // Without the schema (helm --skip-schema-validation) the template's `required` says it.
    let err = Chart::regionstack().unwrap().skip_schema_validation().render(&release(), &Values::new()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("region is required: the region this operator acts for, e.g. --set region=eu-west-1"),
        "{message}"
    );
    // An empty string is refused the same way.
    let err = Chart::regionstack()
        .unwrap()
        .skip_schema_validation()
        .render(&release(), &Values::new().set("region", ""))
        .unwrap_err();
    assert!(err.to_string().contains("region is required"), "{err}");
}

#[test]
fn values_the_schema_rejects_are_named() {
    let cases: &[(Values, &str)] = &[
        (Values::new().set("region", "EU_WEST_1"), "- region: \"EU_WEST_1\" does not match"),
        (region().set("operator.logFormat", "xml"), "- operator.logFormat:"),
        (region().set("metrics.port", "70000"), "- metrics.port: 70000 is greater than the maximum of 65535"),
        (region().set("operator.auditInterval", "0"), "- operator.auditInterval: 0 is less than the minimum of 1"),
        (region().set("replicaCount", "two"), "- replicaCount: \"two\" is not of type \"integer\""),
        (region().set("operator.dpdpRestricted[0]", "china"), "- operator.dpdpRestricted.0: \"china\" does not match"),
        (region().set("image.pullPolicy", "Sometimes"), "- image.pullPolicy:"),
        (region().set("metrcs.port", "9090"), "metrcs"),
        (region().set("rbac.create", "yes"), "- rbac.create: \"yes\" is not of type \"boolean\""),
        (region().set("networkPolicy.postgresPorts[0]", "0"), "- networkPolicy.postgresPorts.0:"),
        (region().set("metrics.serviceMonitor.interval", "often"), "- metrics.serviceMonitor.interval:"),
    ];
    for (values, expected) in cases {
        match render(values.clone()) {
            Err(Error::Schema(message)) => assert!(message.contains(expected), "want {expected:?} in:\n{message}"),
            other => panic!("want a schema error naming {expected:?}, got {other:?}"),
        }
    }
    // And valid non-default values pass.
    render_ok(region().set("podDisruptionBudget.maxUnavailable", "50%").set("operator.logFormat", "text"));
}

#[test]
fn the_deployment_args_are_a_valid_regionstack_run_command_line() {
    let rendered = render_ok(
        region()
            .set("metrics.port", "9100")
            .set("operator.auditInterval", "30")
            .set("operator.resyncInterval", "60")
            .set("operator.driftPollMs", "1000")
            .set("operator.logFormat", "text")
            .set_json("operator.dpdpRestricted", json!(["CN", "PK"])),
    );
    let args = args(&rendered);
    let cli = Cli::try_parse_from(std::iter::once("regionstack".to_owned()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("regionstack {args:?}: {e}"));
    let Command::Run(run) = cli.command else { panic!("not `run`: {args:?}") };
    assert_eq!(run.region, "eu-west-1");
    assert_eq!(run.health_addr.to_string(), "0.0.0.0:9100");
    assert_eq!(run.lease_namespace, "regionstack-system");
    // Kubernetes expands $(POD_NAME) from the env var set by the downward API.
    assert_eq!(run.instance.as_deref(), Some("$(POD_NAME)"));
    assert_eq!(run.audit_interval, 30);
    assert_eq!(run.resync_interval, 60);
    assert_eq!(run.drift_poll_ms, 1000);
    assert_eq!(run.log_format, regionstack::run::LogFormat::Text);
    assert_eq!(run.dpdp_restricted, ["CN", "PK"]);

    let c = container(&rendered);
    assert_eq!(c["env"][0], json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}));
    assert_eq!(c["ports"][0], json!({"name": "metrics", "containerPort": 9100, "protocol": "TCP"}));
    assert_eq!(c["livenessProbe"]["httpGet"], json!({"path": "/live", "port": "metrics"}));
    assert_eq!(c["readinessProbe"]["httpGet"], json!({"path": "/ready", "port": "metrics"}));
    assert_eq!(c["image"], "ghcr.io/regionstack/regionstack:0.1.0", "the tag defaults to appVersion");
    let svc = &rendered.one("Service").unwrap().object;
    assert_eq!(svc["spec"]["ports"][0]["port"], 9100);

    // Without dpdpRestricted the flag is absent (not an empty value).
    assert!(!self::args(&render_ok(region())).iter().any(|a| a.starts_with("--dpdp")));
}

#[test]
fn pod_and_container_are_hardened() {
    let rendered = render_ok(region().set("podSecurityContext.fsGroup", "2000"));
    let pod = deployment(&rendered)["spec"]["template"]["spec"]["securityContext"].clone();
    assert_eq!(
        pod,
        json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 2000,
               "seccompProfile": {"type": "RuntimeDefault"}})
    );
    let sc = container(&rendered)["securityContext"].clone();
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}));
    assert_eq!(sc["seccompProfile"], json!({"type": "RuntimeDefault"}));
    assert_eq!(
        container(&rendered)["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}})
    );
}

#[test]
fn toggles_change_the_output() {
    let base = render_ok(region());
    assert!(base.one("ServiceMonitor").is_none() && base.one("NetworkPolicy").is_none());

    let monitored = render_ok(
        region().set("metrics.serviceMonitor.enabled", "true").set("metrics.serviceMonitor.labels.release", "prom"),
    );
    let sm = &monitored.one("ServiceMonitor").expect("a ServiceMonitor").object;
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "prom");
    assert_eq!(sm["spec"]["endpoints"][0], json!({"port": "metrics", "path": "/metrics", "interval": "30s"}));
    let selector = &sm["spec"]["selector"]["matchLabels"];
    let svc_labels = &monitored.one("Service").unwrap().object["metadata"]["labels"];
    for (k, v) in selector.as_object().unwrap() {
        assert_eq!(&svc_labels[k], v, "the ServiceMonitor selects the metrics Service by {k}");
    }
    // No Service, nothing to monitor.
    let no_service =
        render_ok(region().set("metrics.serviceMonitor.enabled", "true").set("metrics.service.enabled", "false"));
    assert!(no_service.one("Service").is_none() && no_service.one("ServiceMonitor").is_none());

    let fenced = render_ok(region().set("networkPolicy.enabled", "true"));
    let np = &fenced.one("NetworkPolicy").expect("a NetworkPolicy").object["spec"];
    assert_eq!(np["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["ingress"], json!([]), "no metricsFrom: no ingress");
    let egress_ports: Vec<i64> = np["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ports"].as_array().unwrap().clone())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(egress_ports, [443, 6443, 5432, 53, 53]);
    let scraped = render_ok(
        region()
            .set("networkPolicy.enabled", "true")
            .set_json(
                "networkPolicy.metricsFrom",
                json!([{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]),
            )
            .set_json("networkPolicy.postgresPorts", json!([5432, 6432])),
    );
    let np = &scraped.one("NetworkPolicy").unwrap().object["spec"];
    assert_eq!(
        np["ingress"],
        json!([{"from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
                "ports": [{"port": 8080, "protocol": "TCP"}]}])
    );
    assert_eq!(np["egress"][1]["ports"], json!([{"port": 5432, "protocol": "TCP"}, {"port": 6432, "protocol": "TCP"}]));

    let no_pdb = render_ok(region().set("podDisruptionBudget.enabled", "false"));
    assert!(no_pdb.one("PodDisruptionBudget").is_none());
    let pdb = render_ok(region().set("podDisruptionBudget.maxUnavailable", "0"));
    assert_eq!(pdb.one("PodDisruptionBudget").unwrap().object["spec"]["maxUnavailable"], 0);

    let no_rbac = render_ok(region().set("rbac.create", "false"));
    let kinds: Vec<&str> = no_rbac.rbac_objects().iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, ["ServiceAccount"], "only the ServiceAccount without rbac.create");
    assert!(no_rbac.notes.contains("rbac.create=false"), "{}", no_rbac.notes);

    let own_sa = render_ok(region().set("serviceAccount.create", "false").set("serviceAccount.name", "platform-sa"));
    assert!(own_sa.one("ServiceAccount").is_none());
    assert_eq!(deployment(&own_sa)["spec"]["template"]["spec"]["serviceAccountName"], "platform-sa");
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        assert_eq!(own_sa.one(binding).unwrap().object["subjects"][0]["name"], "platform-sa", "{binding}");
    }
    let default_sa = render_ok(region().set("serviceAccount.create", "false"));
    assert_eq!(deployment(&default_sa)["spec"]["template"]["spec"]["serviceAccountName"], "default");

    let annotated = render_ok(
        region()
            .set("serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn", "arn:aws:iam::1:role/rs")
            .set("replicaCount", "1")
            .set("image.tag", "0.2.0-rc.1")
            .set("podLabels.team", "data")
            .set("podAnnotations.note", "x")
            .set("priorityClassName", "system-cluster-critical")
            .set("nodeSelector.kubernetes\\.io/os", "linux")
            .set_json("tolerations", json!([{"key": "dedicated", "operator": "Exists"}]))
            .set_json("imagePullSecrets", json!([{"name": "regcred"}])),
    );
    let sa = &annotated.one("ServiceAccount").unwrap().object;
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "arn:aws:iam::1:role/rs");
    let d = deployment(&annotated);
    let pod = &d["spec"]["template"];
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(pod["metadata"]["labels"]["team"], "data");
    assert_eq!(pod["metadata"]["annotations"]["note"], "x");
    assert_eq!(pod["spec"]["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["spec"]["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(pod["spec"]["tolerations"], json!([{"key": "dedicated", "operator": "Exists"}]));
    assert_eq!(pod["spec"]["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(pod["spec"]["containers"][0]["image"], "ghcr.io/regionstack/regionstack:0.2.0-rc.1");
    // Pod labels never leak into the immutable selector.
    assert!(d["spec"]["selector"]["matchLabels"].get("team").is_none());
}

#[test]
fn names_follow_the_release() {
    let other = Chart::regionstack().unwrap().render(&Release::new("ops", "platform"), &region()).unwrap();
    assert_eq!(other.one("Deployment").unwrap().name(), "ops-regionstack");
    assert_eq!(other.one("Service").unwrap().name(), "ops-regionstack-metrics");
    let role = &other.one("Role").unwrap().object;
    assert_eq!(role["metadata"]["namespace"], "platform");
    let crb = &other.one("ClusterRoleBinding").unwrap().object;
    assert_eq!(
        crb["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "ops-regionstack", "namespace": "platform"})
    );
    let long = "a-release-name-that-is-much-longer-than-the-sixty-three-characters-allowed";
    let truncated = Chart::regionstack().unwrap().render(&Release::new(long, "ns"), &region()).unwrap();
    let name = truncated.one("Deployment").unwrap().name().to_owned();
    assert!(name.len() <= 63 && !name.ends_with('-'), "{name}");
    let overridden = render_ok(region().set("fullnameOverride", "rs"));
    assert_eq!(overridden.one("Deployment").unwrap().name(), "rs");
}

#[test]
fn rbac_is_the_least_the_operator_calls_and_every_rule_says_why() {
    let rendered = render_ok(region());
    let rules = |kind: &str| rendered.one(kind).unwrap().object["rules"].as_array().unwrap().clone();
    let cluster = rules("ClusterRole");
    let flat = |rules: &[Value]| -> Vec<String> {
        rules
            .iter()
            .flat_map(|r| {
                let groups = r["apiGroups"].as_array().unwrap().clone();
                let resources = r["resources"].as_array().unwrap().clone();
                let verbs = r["verbs"].as_array().unwrap().clone();
                let names = r.get("resourceNames").cloned().unwrap_or(json!([]));
                groups.into_iter().flat_map(move |g| {
                    let (verbs, names) = (verbs.clone(), names.clone());
                    resources.clone().into_iter().flat_map(move |res| {
                        let (g, names) = (g.clone(), names.clone());
                        verbs.clone().into_iter().map(move |v| {
                            format!(
                                "{}/{} {}{}",
                                g.as_str().unwrap(),
                                res.as_str().unwrap(),
                                v.as_str().unwrap(),
                                if names.as_array().unwrap().is_empty() { String::new() } else { format!(" {names}") }
                            )
                        })
                    })
                })
            })
            .collect()
    };
    let mut granted = flat(&cluster);
    granted.sort();
    let mut expected: Vec<&str> = vec![
        "regionstack.io/regions list",
        "regionstack.io/regions watch",
        "regionstack.io/piidatabases list",
        "regionstack.io/piidatabases watch",
        "regionstack.io/telemetryreplicas list",
        "regionstack.io/telemetryreplicas watch",
        "regionstack.io/regions/status patch",
        "regionstack.io/piidatabases/status patch",
        "regionstack.io/telemetryreplicas/status patch",
        "regionstack.io/piidatabases patch",
        "regionstack.io/telemetryreplicas patch",
        "regionstack.io/piidatabases/finalizers update",
        "/secrets get",
        "postgresql.cnpg.io/clusters create",
        "postgresql.cnpg.io/clusters patch",
        "events.k8s.io/events create",
        "events.k8s.io/events patch",
    ];
    expected.sort_unstable();
    assert_eq!(granted, expected);
    // No wildcard and no write on Secrets anywhere.
    let all = format!("{cluster:?}{:?}", rules("Role"));
    assert!(!all.contains("\"*\""), "{all}");

    let mut lease = flat(&rules("Role"));
    lease.sort();
    assert_eq!(
        lease,
        [
            "coordination.k8s.io/leases create",
            "coordination.k8s.io/leases get [\"regionstack-eu-west-1\"]",
            "coordination.k8s.io/leases update [\"regionstack-eu-west-1\"]",
        ]
    );

    // Every rule is preceded by a comment saying why it exists.
    for m in rendered.rbac_objects().iter().filter(|m| m.kind().ends_with("Role")) {
        let lines: Vec<&str> = m.yaml.lines().collect();
        for (i, _) in lines.iter().enumerate().filter(|(_, l)| l.trim_start().starts_with("- apiGroups:")) {
            assert!(
                lines[i - 1].trim_start().starts_with('#'),
                "{} rule at line {i} has no comment:\n{}",
                m.kind(),
                m.yaml
            );
        }
    }
    let kinds: Vec<&str> = rendered.rbac_objects().iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
}

#[test]
fn notes_render_with_the_release() {
    let rendered = render_ok(region());
    let notes = &rendered.notes;
    assert!(notes.contains("installed for region eu-west-1"), "{notes}");
    assert!(notes.contains("get lease regionstack-eu-west-1"), "{notes}");
    assert!(notes.contains("port-forward service/regionstack-metrics 8080"), "{notes}");
    assert!(notes.contains("never upgrades them"), "{notes}");
    assert!(!notes.contains("rbac.create=false"), "{notes}");
    assert!(!notes.contains("<no value>"), "{notes}");
}

#[test]
fn values_files_merge_like_helm_f() {
    let file = "region: ap-south-1\noperator:\n  dpdpRestricted: [CN]\nresources:\n  limits: null\n";
    let rendered = render_ok(Values::new().yaml(file).set("operator.logFormat", "text"));
    let args = args(&rendered);
    assert!(args.contains(&"--region=ap-south-1".to_owned()), "{args:?}");
    assert!(args.contains(&"--dpdp-restricted=CN".to_owned()), "{args:?}");
    assert!(args.contains(&"--log-format=text".to_owned()), "{args:?}");
    // Sibling defaults survive a partial map; `null` removes a default.
    assert!(args.contains(&"--audit-interval=10".to_owned()), "{args:?}");
    assert_eq!(container(&rendered)["resources"], json!({"requests": {"cpu": "50m", "memory": "64Mi"}}));
    assert!(matches!(render(Values::new().yaml("- a list")), Err(Error::Values(_))));

    // A whole --set argument, as typed on Helm's command line.
    let set = render_ok(Values::new().set_arg("region=eu-west-3,operator.dpdpRestricted={CN,PK},replicaCount=3"));
    assert!(self::args(&set).contains(&"--dpdp-restricted=CN,PK".to_owned()));
    assert_eq!(deployment(&set)["spec"]["replicas"], 3);
    match render(Values::new().set_arg("region")) {
        Err(Error::Values(message)) => assert!(message.contains("has no value"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_are_the_values_contract() {
    // The contract the docs describe (session brief of issue 6); change both together.
    let chart = Chart::regionstack().unwrap();
    assert_eq!(chart.metadata()["apiVersion"], "v2");
    assert_eq!(chart.name(), "regionstack");
    assert_eq!(chart.metadata()["appVersion"], env!("CARGO_PKG_VERSION"), "appVersion is the workspace version");
    assert_eq!(
        chart.defaults(),
        &json!({
            "nameOverride": "", "fullnameOverride": "",
            "image": {"repository": "ghcr.io/regionstack/regionstack", "tag": "", "pullPolicy": "IfNotPresent"},
            "imagePullSecrets": [],
            "replicaCount": 2,
            "serviceAccount": {"create": true, "name": "", "annotations": {}},
            "rbac": {"create": true},
            "operator": {"auditInterval": 10, "resyncInterval": 15, "driftPollMs": 250, "logFormat": "json", "dpdpRestricted": []},
            "metrics": {"port": 8080, "service": {"enabled": true},
                        "serviceMonitor": {"enabled": false, "interval": "30s", "labels": {}}},
            "networkPolicy": {"enabled": false, "metricsFrom": [], "postgresPorts": [5432]},
            "podDisruptionBudget": {"enabled": true, "maxUnavailable": 1},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "podSecurityContext": {"fsGroup": 65532},
            "nodeSelector": {}, "tolerations": [], "affinity": {}, "podAnnotations": {}, "podLabels": {},
            "priorityClassName": "",
        })
    );
}

#[test]
fn every_value_in_values_yaml_is_commented() {
    // A key that holds a value (not a map of further keys) has a comment right above
    // it; the keys inside `resources` are Kubernetes' own and documented as a whole.
    let text = std::fs::read_to_string(Chart::regionstack_dir().join("values.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut uncommented = Vec::new();
    let mut in_resources = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            in_resources = line.starts_with("resources:");
        }
        let is_key =
            trimmed.split_once(':').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()));
        if !is_key || in_resources || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let parent = trimmed.ends_with(':')
            && lines.get(i + 1).is_some_and(|next| next.len() - next.trim_start().len() > line.len() - trimmed.len());
        if !parent && !lines[i - 1].trim_start().starts_with('#') {
            uncommented.push(*line);
        }
    }
    assert!(uncommented.is_empty(), "values without a comment: {uncommented:?}");
    assert!(text.contains("# region: eu-west-1"), "the required region is shown commented out");
}

/// `value` decoded as the k8s-openapi type `T` and encoded again: unknown fields
/// (typos such as `readOnlyRootFileSystem`) vanish and wrong types fail, so comparing
/// with the input is a strict decode, which the emulator does not do for built-ins.
fn strict_round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

#[test]
fn every_rendered_object_decodes_strictly_as_its_kubernetes_type() {
    use k8s_openapi::api::{core::v1, networking, policy, rbac};
    let everything = render_ok(
        region()
            .set("networkPolicy.enabled", "true")
            .set_json("networkPolicy.metricsFrom", json!([{"podSelector": {"matchLabels": {"app": "prometheus"}}}]))
            .set_json("tolerations", json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]))
            .set_json(
                "affinity",
                json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                 "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "regionstack"}}}}]}}),
            )
            .set_json("imagePullSecrets", json!([{"name": "regcred"}]))
            .set("podDisruptionBudget.maxUnavailable", "50%"),
    );
    let mut checked = 0;
    for m in &everything.manifests {
        let back = match m.kind() {
            "ServiceAccount" => strict_round_trip::<v1::ServiceAccount>(&m.object),
            "Service" => strict_round_trip::<v1::Service>(&m.object),
            "Deployment" => strict_round_trip::<Deployment>(&m.object),
            "ClusterRole" => strict_round_trip::<rbac::v1::ClusterRole>(&m.object),
            "ClusterRoleBinding" => strict_round_trip::<rbac::v1::ClusterRoleBinding>(&m.object),
            "Role" => strict_round_trip::<rbac::v1::Role>(&m.object),
            "RoleBinding" => strict_round_trip::<rbac::v1::RoleBinding>(&m.object),
            "PodDisruptionBudget" => strict_round_trip::<policy::v1::PodDisruptionBudget>(&m.object),
            "NetworkPolicy" => strict_round_trip::<networking::v1::NetworkPolicy>(&m.object),
            other => panic!("no strict check for {other}: add its k8s-openapi type here"),
        };
        let back = back.unwrap_or_else(|e| panic!("{} does not decode: {e}", m.kind()));
        assert_eq!(back, m.object, "{} has fields its type does not know", m.kind());
        checked += 1;
    }
    assert_eq!(checked, 9);
}
