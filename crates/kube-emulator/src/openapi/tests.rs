use serde_json::{Value, json};

use super::{
    OpenApiResource, builtin_resources, crd_resources, group_version_document, group_version_path, guess_plural, hash,
    root, schema_name,
};

const OBJECT_META_REF: &str = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn regionstack_resources() -> Vec<OpenApiResource> {
    regionstack_api::crd::all()
        .into_iter()
        .flat_map(|(_, crd)| crd_resources(&serde_json::to_value(crd).unwrap()))
        .collect()
}

/// What `kubectl explain` does: the schema whose GVK extension lists the kind.
fn find_by_gvk<'a>(doc: &'a Value, group: &str, version: &str, kind: &str) -> Option<(&'a String, &'a Value)> {
    let want = json!({"group": group, "version": version, "kind": kind});
    doc["components"]["schemas"]
        .as_object()?
        .iter()
        .find(|(_, s)| s["x-kubernetes-group-version-kind"].as_array().is_some_and(|gvks| gvks.contains(&want)))
}

/// What kubectl's fieldValidation verifier does: a PATCH for the GVK with the query param.
fn patch_supports_field_validation(doc: &Value, group: &str, version: &str, kind: &str) -> bool {
    let want = json!({"group": group, "version": version, "kind": kind});
    doc["paths"].as_object().unwrap().values().filter_map(|p| p.get("patch")).any(|op| {
        op["x-kubernetes-group-version-kind"] == want
            && op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    })
}

#[test]
fn names_and_paths() {
    assert_eq!(schema_name("", "v1", "ConfigMap"), "io.k8s.api.core.v1.ConfigMap");
    assert_eq!(schema_name("apps", "v1", "Deployment"), "io.k8s.api.apps.v1.Deployment");
    assert_eq!(schema_name("coordination.k8s.io", "v1", "Lease"), "io.k8s.api.coordination.v1.Lease");
    assert_eq!(schema_name("events.k8s.io", "v1", "Event"), "io.k8s.api.events.v1.Event");
    assert_eq!(
        schema_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    );
    assert_eq!(schema_name("regionstack.io", "v1alpha1", "Region"), "io.regionstack.v1alpha1.Region");
    assert_eq!(group_version_path("", "v1"), "api/v1");
    assert_eq!(group_version_path("regionstack.io", "v1alpha1"), "apis/regionstack.io/v1alpha1");
    assert_eq!(guess_plural("NetworkPolicy"), "networkpolicies");
    assert_eq!(guess_plural("Ingress"), "ingresses");
    assert_eq!(guess_plural("PiiDatabase"), "piidatabases");
}

#[test]
fn root_lists_group_versions() {
    let doc = json!({"a": 1});
    let gvs = vec![("api/v1".to_owned(), hash(&doc)), ("apis/regionstack.io/v1alpha1".to_owned(), "ABC".to_owned())];
    let r = root(&gvs);
    assert_eq!(r["paths"].as_object().unwrap().len(), 2);
    assert_eq!(
        r["paths"]["apis/regionstack.io/v1alpha1"],
        json!({"serverRelativeURL": "/openapi/v3/apis/regionstack.io/v1alpha1?hash=ABC"})
    );
    assert_eq!(r["paths"]["api/v1"]["serverRelativeURL"], format!("/openapi/v3/api/v1?hash={}", hash(&doc)));
}

#[test]
fn crd_document_has_root_fields_gvk_and_object_meta() {
    let resources = regionstack_resources();
    assert_eq!(resources.len(), 3);
    let doc = group_version_document(&resources);
    assert_eq!(doc["openapi"], "3.0.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let meta = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
    for field in [
        "name",
        "namespace",
        "labels",
        "annotations",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "finalizers",
        "ownerReferences",
        "managedFields",
        "generateName",
    ] {
        assert!(meta["properties"].get(field).is_some(), "ObjectMeta.{field}");
    }
    for kind in ["Region", "PiiDatabase", "TelemetryReplica"] {
        let (name, schema) = find_by_gvk(&doc, "regionstack.io", "v1alpha1", kind).unwrap();
        assert_eq!(name, &format!("io.regionstack.v1alpha1.{kind}"));
        let props = &schema["properties"];
        assert_eq!(props["apiVersion"]["type"], "string");
        assert_eq!(props["kind"]["type"], "string");
        assert_eq!(props["metadata"]["allOf"][0]["$ref"], OBJECT_META_REF);
        assert_eq!(props["spec"]["type"], "object", "{kind}.spec comes from the CRD");
        assert!(props.get("status").is_some());
        let (list, list_schema) = find_by_gvk(&doc, "regionstack.io", "v1alpha1", &format!("{kind}List")).unwrap();
        assert_eq!(list, &format!("io.regionstack.v1alpha1.{kind}List"));
        assert_eq!(list_schema["properties"]["items"]["items"]["$ref"], format!("#/components/schemas/{name}"));
        assert!(patch_supports_field_validation(&doc, "regionstack.io", "v1alpha1", kind));
    }
    // Every $ref resolves inside the document.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        assert!(schemas.contains_key(target), "dangling $ref {target}");
    }
    let region = &resources.iter().find(|r| r.kind == "Region").unwrap();
    let prefix = if region.namespaced {
        "/apis/regionstack.io/v1alpha1/namespaces/{namespace}"
    } else {
        "/apis/regionstack.io/v1alpha1"
    };
    assert!(doc["paths"].get(format!("{prefix}/regions/{{name}}")).is_some());
}

/// What kubectl's client-side apply checks (`gvkSupportsPatchOpenAPIV3`) before it
/// sends a strategic merge patch instead of a JSON merge patch.
fn patch_accepts_strategic_merge(doc: &Value, group: &str, version: &str, kind: &str) -> bool {
    let want = json!({"group": group, "version": version, "kind": kind});
    let op = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p.get("patch"))
        .find(|op| op["x-kubernetes-group-version-kind"] == want)
        .unwrap();
    op["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some()
}

#[test]
fn strategic_merge_patch_is_advertised_for_builtins_only() {
    let doc = group_version_document(&regionstack_resources());
    for kind in ["Region", "PiiDatabase", "TelemetryReplica"] {
        assert!(!patch_accepts_strategic_merge(&doc, "regionstack.io", "v1alpha1", kind), "{kind}");
    }
    let core: Vec<_> = builtin_resources().into_iter().filter(|r| r.group.is_empty()).collect();
    let doc = group_version_document(&core);
    assert!(patch_accepts_strategic_merge(&doc, "", "v1", "ConfigMap"));
}

#[test]
fn builtin_documents() {
    let builtins = builtin_resources();
    let kinds: Vec<(&str, &str)> = builtins.iter().map(|r| (r.group.as_str(), r.kind.as_str())).collect();
    for want in [
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Namespace"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("", "Event"),
        ("apps", "Deployment"),
        ("coordination.k8s.io", "Lease"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("events.k8s.io", "Event"),
    ] {
        assert!(kinds.contains(&want), "{want:?}");
    }
    let core: Vec<_> = builtins.iter().filter(|r| r.group.is_empty()).cloned().collect();
    let doc = group_version_document(&core);
    let (name, cm) = find_by_gvk(&doc, "", "v1", "ConfigMap").unwrap();
    assert_eq!(name, "io.k8s.api.core.v1.ConfigMap");
    assert_eq!(cm["properties"]["metadata"]["allOf"][0]["$ref"], OBJECT_META_REF);
    assert!(cm["properties"].get("data").is_some());
    let (_, svc) = find_by_gvk(&doc, "", "v1", "Service").unwrap();
    assert_eq!(svc["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"], true);
    assert!(doc["paths"].get("/api/v1/namespaces/{namespace}/configmaps/{name}").is_some());
    assert!(doc["paths"].get("/api/v1/namespaces/{name}").is_some());
    assert!(patch_supports_field_validation(&doc, "", "v1", "Namespace"));
    let apps: Vec<_> = builtins.iter().filter(|r| r.group == "apps").cloned().collect();
    let doc = group_version_document(&apps);
    assert!(find_by_gvk(&doc, "apps", "v1", "Deployment").is_some());
    assert!(find_by_gvk(&doc, "apps", "v1", "DeploymentList").is_some());
}

#[test]
fn hash_is_stable_and_content_sensitive() {
    let doc = group_version_document(&regionstack_resources());
    let h = hash(&doc);
    assert_eq!(h.len(), 32);
    assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(h, hash(&group_version_document(&regionstack_resources())));
    // Key order does not matter, content does.
    let a: Value = serde_json::from_str(r#"{"x": 1, "y": [1, {"b": 2, "a": "s"}]}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"y": [1, {"a": "s", "b": 2}], "x": 1}"#).unwrap();
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&json!({"x": 2, "y": [1, {"a": "s", "b": 2}]})));
    assert_ne!(h, hash(&group_version_document(&builtin_resources())));
}
