//! Discovery: `/version`, `/api`, `/apis`, group and group-version resource lists
//! (the legacy, non-aggregated format; kubectl falls back to it), and OpenAPI v3.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::http::{AppState, Route, error_response, json_response};

/// The Kubernetes version the emulator claims to be.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "33");

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// Serve a discovery route.
pub fn serve(state: &AppState, route: &Route, _headers: &HeaderMap) -> Response {
    let inner = state.lock();
    let not_found =
        || error_response(&ApiError::new(404, "NotFound", "the server could not find the requested resource"));
    let body = match route {
        Route::Version => json!({
            "major": KUBERNETES_VERSION.0,
            "minor": KUBERNETES_VERSION.1,
            "gitVersion": format!("v{}.{}.0-regionstack-emulator", KUBERNETES_VERSION.0, KUBERNETES_VERSION.1),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
        Route::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }),
        Route::Groups => {
            let groups: Vec<Value> = inner.registry.groups().iter().map(|(g, vs)| group_entry(g, vs)).collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        Route::Group(g) => match inner.registry.groups().get(g) {
            Some(vs) => {
                let mut e = group_entry(g, vs);
                e["kind"] = json!("APIGroup");
                e["apiVersion"] = json!("v1");
                e
            }
            None => return not_found(),
        },
        Route::Resources(g, v) => {
            let resources: Vec<Value> = inner
                .registry
                .in_group_version(g, v)
                .flat_map(crate::registry::ResourceType::discovery_entries)
                .collect();
            if resources.is_empty() {
                return not_found();
            }
            let gv = if g.is_empty() { v.clone() } else { format!("{g}/{v}") };
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
        }
        Route::OpenApiRoot => {
            let docs = openapi_documents(&inner);
            let paths: Vec<(String, String)> = docs.iter().map(|(p, d)| (p.clone(), crate::openapi::hash(d))).collect();
            crate::openapi::root(&paths)
        }
        Route::OpenApiDoc(path) => match openapi_documents(&inner).remove(path) {
            Some(doc) => doc,
            None => return not_found(),
        },
        _ => return not_found(),
    };
    json_response(StatusCode::OK, &body)
}

/// One OpenAPI v3 document per served group-version, keyed by discovery path.
fn openapi_documents(inner: &crate::api::Inner) -> std::collections::BTreeMap<String, Value> {
    use crate::openapi::{OpenApiResource, builtin_resources, group_version_document, group_version_path};
    let builtin = builtin_resources();
    let mut by_gv: std::collections::BTreeMap<String, Vec<OpenApiResource>> = std::collections::BTreeMap::new();
    for rt in inner.registry.all() {
        let resource = if rt.custom {
            OpenApiResource {
                group: rt.group.clone(),
                version: rt.version.clone(),
                kind: rt.kind.clone(),
                schema: rt
                    .schema
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})),
                namespaced: rt.namespaced,
                custom: true,
            }
        } else {
            match builtin.iter().find(|b| b.group == rt.group && b.version == rt.version && b.kind == rt.kind) {
                Some(b) => b.clone(),
                None => OpenApiResource {
                    group: rt.group.clone(),
                    version: rt.version.clone(),
                    kind: rt.kind.clone(),
                    schema: json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                    namespaced: rt.namespaced,
                    custom: false,
                },
            }
        };
        by_gv.entry(group_version_path(&rt.group, &rt.version)).or_default().push(resource);
    }
    by_gv.into_iter().map(|(path, rs)| (path, group_version_document(&rs))).collect()
}
