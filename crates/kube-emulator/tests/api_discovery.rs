//! Discovery, OpenAPI v3, health endpoints and server-side Tables.

mod support_api;

use axum::http::{Method, Request};
use kube::api::{Api, GroupVersionKind, PostParams};
use kube::discovery::{Discovery, Scope};
use regionstack_api::PiiDatabase;
use regionstack_api::fixtures::PiiDatabaseBuilder;
use serde_json::Value;
use support_api::{Env, start, start_with_crds};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

fn resource<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

fn group_names(groups: &Value) -> Vec<String> {
    groups["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn version_and_health() {
    let env = start().await;
    let version = env.client.apiserver_version().await.unwrap();
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "33"));
    assert!(version.git_version.starts_with("v1.33."), "{}", version.git_version);
    for path in ["/healthz", "/readyz", "/livez"] {
        let req = Request::builder().method(Method::GET).uri(path).body(Vec::new()).unwrap();
        assert_eq!(env.client.request_text(req).await.unwrap(), "ok", "{path}");
    }
}

#[tokio::test]
async fn core_and_group_lists() {
    let env = start().await;
    let api = env.get_json("/api").await;
    assert_eq!((api["kind"].as_str(), api["versions"].clone()), (Some("APIVersions"), serde_json::json!(["v1"])));

    let groups = env.get_json("/apis").await;
    assert_eq!(groups["kind"], "APIGroupList");
    let names = group_names(&groups);
    for g in ["apps", "apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io", "networking.k8s.io", "policy"] {
        assert!(names.contains(&g.to_owned()), "{g} in {names:?}");
    }
    assert!(!names.contains(&"regionstack.io".to_owned()));

    let core = env.get_json("/api/v1").await;
    assert_eq!((core["kind"].as_str(), core["groupVersion"].as_str()), (Some("APIResourceList"), Some("v1")));
    let cms = resource(&core, "configmaps");
    assert_eq!((cms["kind"].as_str(), cms["namespaced"].as_bool()), (Some("ConfigMap"), Some(true)));
    assert_eq!(cms["shortNames"], serde_json::json!(["cm"]));
    let verbs: Vec<&str> = cms["verbs"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for verb in ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] {
        assert!(verbs.contains(&verb), "{verb}");
    }
    assert_eq!(resource(&core, "namespaces")["namespaced"], false);
    assert_eq!(resource(&core, "namespaces/status")["kind"], "Namespace");

    let apps = env.get_json("/apis/apps/v1").await;
    assert_eq!(resource(&apps, "deployments")["categories"], serde_json::json!(["all"]));
    let group = env.get_json("/apis/apps").await;
    assert_eq!(group["preferredVersion"]["groupVersion"], "apps/v1");
    assert_eq!(support_api::status(env.get_json_result("/apis/nope.example.com").await).code, 404);
}

#[tokio::test]
async fn crd_resources_are_discoverable() {
    let env = start_with_crds().await;
    assert!(group_names(&env.get_json("/apis").await).contains(&"regionstack.io".to_owned()));
    let list = env.get_json("/apis/regionstack.io/v1alpha1").await;
    assert_eq!(list["groupVersion"], "regionstack.io/v1alpha1");
    let pii = resource(&list, "piidatabases");
    assert_eq!(pii["singularName"], "piidatabase");
    assert_eq!(pii["kind"], "PiiDatabase");
    assert_eq!(pii["namespaced"], true);
    assert_eq!(pii["shortNames"], serde_json::json!(["piidb"]));
    assert_eq!(pii["categories"], serde_json::json!(["regionstack"]));
    let status = resource(&list, "piidatabases/status");
    assert_eq!(status["kind"], "PiiDatabase");
    let mut verbs: Vec<&str> = status["verbs"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    verbs.sort_unstable();
    assert_eq!(verbs, ["get", "patch", "update"]);
    let region = resource(&list, "regions");
    assert_eq!((region["namespaced"].as_bool(), region["kind"].as_str()), (Some(false), Some("Region")));
    assert_eq!(region["shortNames"], serde_json::json!(["rsregion"]));
    resource(&list, "telemetryreplicas/status");
}

#[tokio::test]
async fn kube_discovery_finds_the_crd_kinds() {
    let env = start_with_crds().await;
    let discovery = Discovery::new(env.client.clone()).run().await.unwrap();
    assert!(discovery.has_group("regionstack.io"));
    for (kind, plural, scope) in [
        ("Region", "regions", Scope::Cluster),
        ("PiiDatabase", "piidatabases", Scope::Namespaced),
        ("TelemetryReplica", "telemetryreplicas", Scope::Namespaced),
    ] {
        let gvk = GroupVersionKind::gvk("regionstack.io", "v1alpha1", kind);
        let (ar, caps) = discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(ar.plural, plural);
        assert_eq!(caps.scope, scope);
        assert!(caps.subresources.iter().any(|(sub, _)| sub.plural == "status"), "{kind} has /status");
    }
    let (cm, _) = discovery.resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")).expect("core kinds too");
    assert_eq!(cm.plural, "configmaps");
}

#[tokio::test]
async fn openapi_v3_documents() {
    let env = start_with_crds().await;
    let root = env.get_json("/openapi/v3").await;
    let paths = root["paths"].as_object().expect("paths");
    for gv in ["api/v1", "apis/apps/v1", "apis/regionstack.io/v1alpha1"] {
        assert!(paths.contains_key(gv), "{gv} in {:?}", paths.keys().collect::<Vec<_>>());
    }
    let url = paths["apis/regionstack.io/v1alpha1"]["serverRelativeURL"].as_str().unwrap();
    assert!(url.starts_with("/openapi/v3/apis/regionstack.io/v1alpha1?hash="), "{url}");
    let doc = env.get_json(url).await;
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let region = schemas
        .values()
        .find(|s| {
            s["x-kubernetes-group-version-kind"].as_array().is_some_and(|gvks| {
                gvks.iter()
                    .any(|g| g["group"] == "regionstack.io" && g["version"] == "v1alpha1" && g["kind"] == "Region")
            })
        })
        .expect("a schema for Region");
    assert!(region["properties"]["spec"]["properties"].get("jurisdictions").is_some(), "{region}");
    assert_eq!(support_api::status(env.get_json_result("/openapi/v3/apis/nope/v1").await).code, 404);
}

async fn create_db(env: &Env, name: &str) {
    let db = PiiDatabaseBuilder::new(name, "eu-west-1").compliance([regionstack_api::Jurisdiction::Gdpr]).build();
    let dbs: Api<PiiDatabase> = env.ns("default");
    dbs.create(&PostParams::default(), &db).await.unwrap();
}

#[tokio::test]
async fn tables_use_printer_columns() {
    let env = start_with_crds().await;
    create_db(&env, "a").await;
    create_db(&env, "b").await;
    let path = "/apis/regionstack.io/v1alpha1/namespaces/default/piidatabases";
    let table = env.get_accept(path, TABLE).await;
    assert_eq!((table["kind"].as_str(), table["apiVersion"].as_str()), (Some("Table"), Some("meta.k8s.io/v1")));
    let columns: Vec<(&str, i64)> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["priority"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(
        columns,
        [("Name", 0), ("Region", 0), ("Mode", 0), ("Compliant", 0), ("Ready", 0), ("Reason", 1), ("Age", 0)]
    );
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let cells = rows[0]["cells"].as_array().unwrap();
    assert_eq!(
        (&cells[0], &cells[1], &cells[2]),
        (&Value::from("a"), &Value::from("eu-west-1"), &Value::from("Enforce"))
    );
    assert!(cells[3].is_null(), "no status yet: {cells:?}");
    assert!(cells[6].as_str().is_some_and(|age| age.ends_with('s')), "an age: {cells:?}");
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");

    let one = env.get_accept(&format!("{path}/b"), TABLE).await;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["rows"][0]["cells"][0], "b");

    let cms = env.get_accept("/api/v1/namespaces/kube-system/configmaps", TABLE).await;
    assert_eq!(cms["kind"], "Table");
    assert_eq!(cms["columnDefinitions"][0]["name"], "Name");
    // Without the Table media type the list is a plain list.
    let plain = env.get_json(path).await;
    assert_eq!(plain["kind"], "PiiDatabaseList");
}

#[tokio::test]
async fn table_cells_follow_column_types() {
    let env = start_with_crds().await;
    let regions = env.dynamic(&support_api::regionstack("Region"), None);
    regions.create(&PostParams::default(), &support_api::dynamic(support_api::region_json("eu"))).await.unwrap();
    let status = serde_json::json!({"status": {"local": true, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }]}});
    let pp = kube::api::PatchParams::default();
    regions.patch_status("eu", &pp, &kube::api::Patch::Merge(status)).await.unwrap();
    let table = env.get_accept("/apis/regionstack.io/v1alpha1/regions", TABLE).await;
    let names: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Name", "Country", "Lifecycle", "Jurisdictions", "Local", "Ready", "Age"]);
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[1], "IE");
    assert_eq!(cells[3], "[\"GDPR\"]", "string columns print arrays as JSON");
    assert_eq!(cells[4], true, "boolean columns keep booleans");
    assert_eq!(cells[5], "True", "filter expressions pick the Ready condition");
    let full = env.get_accept("/apis/regionstack.io/v1alpha1/regions?includeObject=Object", TABLE).await;
    assert_eq!(full["rows"][0]["object"]["kind"], "Region");
    assert_eq!(full["rows"][0]["object"]["spec"]["lifecycle"], "Active");
}
