//! `/openapi/v3` discovery, enough for `kubectl explain` and `kubectl apply`'s validation.
//!
//! What kubectl does with these documents:
//!
//! * `kubectl explain` fetches `/openapi/v3`, follows the group-version's
//!   `serverRelativeURL`, and picks the schema in `components.schemas` whose
//!   `x-kubernetes-group-version-kind` list contains the kind; it follows `$ref` and
//!   single-element `allOf` (how kube-apiserver's v3 documents point at `ObjectMeta`).
//! * `kubectl apply/create --validate=strict` (the default) first asks whether the server
//!   supports the `fieldValidation` query parameter: it looks for a `patch` operation in
//!   the group-version's `paths` whose `x-kubernetes-group-version-kind` (an object there,
//!   not a list) is the kind, and for a `fieldValidation` query parameter on it. This
//!   document advertises it, as kube-apiserver does since 1.27, so kubectl sends
//!   `?fieldValidation=Strict` and leaves unknown-field checks to **the server** (which
//!   must therefore reject unknown fields under `Strict`). Were the parameter missing,
//!   kubectl would fall back to client-side validation against `/openapi/v2`, which the
//!   emulator does not serve.
//! * Schemas still declare `apiVersion`, `kind` and `metadata` at the root (CRD schemas do
//!   not; kube-apiserver adds them), so any schema-driven validation and `explain` of
//!   `metadata` work.
//!
//! `paths` carries, per kind, the collection and item URLs with `get`/`post`/`put`/
//! `patch`/`delete` operations; resource names are guessed from the kind like client-go's
//! `UnsafeGuessKindToResource` (`NetworkPolicy` → `networkpolicies`), which only affects
//! documentation, not kubectl's behaviour.

mod builtin;

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

pub use builtin::builtin_resources;
use builtin::{LIST_META, OBJECT_META, PATCH, STATUS, meta_components, schema_ref};

/// One kind published in a group-version document.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenApiResource {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version (`v1`, `v1alpha1`).
    pub version: String,
    /// Kind (`Region`).
    pub kind: String,
    /// The CRD version's `openAPIV3Schema`, or a built-in's schema.
    pub schema: Value,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// A custom resource: its `patch` operation does not accept strategic merge patches
    /// (kube-apiserver advertises them for built-in kinds only; kubectl's client-side
    /// apply sends one when the document says it may).
    pub custom: bool,
}

/// The discovery path of a group-version: `api/v1` for core, `apis/{group}/{version}`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// The `components.schemas` key kube-apiserver uses for a kind: `io.k8s.api.core.v1.ConfigMap`,
/// `io.k8s.api.apps.v1.Deployment`, `io.k8s.api.coordination.v1.Lease`,
/// `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition`, and
/// for other groups the reversed group: `io.regionstack.v1alpha1.Region`.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let prefix = match group {
        "" => "io.k8s.api.core".to_owned(),
        "apiextensions.k8s.io" => "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_owned(),
        g if !g.contains('.') => format!("io.k8s.api.{g}"),
        g => match g.strip_suffix(".k8s.io") {
            Some(short) if !short.contains('.') => format!("io.k8s.api.{short}"),
            _ => g.split('.').rev().collect::<Vec<_>>().join("."),
        },
    };
    format!("{prefix}.{version}.{kind}")
}

/// `GET /openapi/v3`: one entry per group-version path (`api/v1`, `apis/g/v`) with the
/// `serverRelativeURL` kubectl follows (the hash lets it cache the document).
pub fn root(group_versions: &[(String, String)]) -> Value {
    let paths: Map<String, Value> = group_versions
        .iter()
        .map(|(gv, hash)| {
            let gv = gv.trim_matches('/');
            (gv.to_owned(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}))
        })
        .collect();
    json!({ "paths": paths })
}

/// The resources of one CRD (one per served version), read from its JSON form.
pub fn crd_resources(crd: &Value) -> Vec<OpenApiResource> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let kind = spec["names"]["kind"].as_str().unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| OpenApiResource {
            group: group.to_owned(),
            version: v["name"].as_str().unwrap_or_default().to_owned(),
            kind: kind.to_owned(),
            schema: v["schema"]["openAPIV3Schema"].clone(),
            namespaced,
            custom: true,
        })
        .collect()
}

fn gvk(r: &OpenApiResource, kind: &str) -> Value {
    json!({"group": r.group, "version": r.version, "kind": kind})
}

fn api_version(r: &OpenApiResource) -> String {
    if r.group.is_empty() { r.version.clone() } else { format!("{}/{}", r.group, r.version) }
}

fn type_meta(properties: &mut Map<String, Value>, r: &OpenApiResource) {
    properties.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": format!("APIVersion defines the versioned schema of this representation of an object (here `{}`). More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", api_version(r))}),
    );
    properties.insert(
        "kind".into(),
        json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}),
    );
}

/// The published schema of a kind: its schema plus root `apiVersion`, `kind`, `metadata`
/// (an `allOf` `$ref` to `ObjectMeta`, as kube-apiserver publishes it) and the GVK extension.
pub fn resource_schema(r: &OpenApiResource) -> Value {
    let mut schema = match &r.schema {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    schema.insert("type".into(), json!("object"));
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if !properties.is_object() {
        *properties = json!({});
    }
    if let Value::Object(properties) = properties {
        type_meta(properties, r);
        properties.insert(
            "metadata".into(),
            json!({"allOf": [{"$ref": schema_ref(OBJECT_META)}], "default": {}, "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
        );
    }
    schema.insert("x-kubernetes-group-version-kind".into(), json!([gvk(r, &r.kind)]));
    Value::Object(schema)
}

fn list_schema(r: &OpenApiResource, item: &str) -> Value {
    let mut properties = Map::new();
    type_meta(&mut properties, r);
    properties.insert(
        "items".into(),
        json!({"type": "array", "items": {"$ref": schema_ref(item)}, "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", r.kind)}),
    );
    properties.insert(
        "metadata".into(),
        json!({"allOf": [{"$ref": schema_ref(LIST_META)}], "default": {}, "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}),
    );
    let list_kind = format!("{}List", r.kind);
    json!({
        "type": "object",
        "description": format!("{list_kind} is a list of {}", r.kind),
        "required": ["items"],
        "properties": properties,
        "x-kubernetes-group-version-kind": [gvk(r, &list_kind)],
    })
}

/// client-go's `UnsafeGuessKindToResource`: lower-case plural of a kind.
pub fn guess_plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    match lower.as_str() {
        "" => String::new(),
        "endpoints" => lower,
        s if s.ends_with('s') => format!("{s}es"),
        s if s.ends_with('y') => format!("{}ies", &s[..s.len() - 1]),
        s => format!("{s}s"),
    }
}

fn camel(s: &str) -> String {
    s.split(['.', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query("dryRun", "When present, indicates that modifications should not be persisted."),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.",
        ),
    ]
}

fn operation(r: &OpenApiResource, verb: &str, action: &str, op_kind: &str, schema: &str) -> Value {
    let group = match r.group.as_str() {
        "" => "Core".to_owned(),
        g => camel(g.strip_suffix(".k8s.io").unwrap_or(g)),
    };
    let scope = if r.namespaced && !op_kind.ends_with("ForAllNamespaces") { "Namespaced" } else { "" };
    let body = json!({"application/json": {"schema": {"$ref": schema_ref(schema)}}});
    let mut op = json!({
        "operationId": format!("{verb}{group}{}{scope}{op_kind}", camel(&r.version)),
        "responses": {"200": {"description": "OK", "content": body}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(r, &r.kind),
    });
    let mut params = Vec::new();
    match action {
        "post" | "put" => {
            params = write_params();
            op["requestBody"] = json!({"required": true, "content": {"*/*": {"schema": {"$ref": schema_ref(schema)}}}});
        }
        "patch" => {
            params = write_params();
            params.push(query("force", "Force is going to \"force\" Apply requests."));
            let patch = json!({"schema": {"$ref": schema_ref(PATCH)}});
            let types = [
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ];
            let types = if r.custom { &types[..3] } else { &types[..] };
            op["requestBody"] = json!({"required": true, "content": types.iter().map(|t| ((*t).to_owned(), patch.clone())).collect::<Map<_, _>>()});
        }
        "list" | "watchlist" => {
            for (name, desc) in [
                ("labelSelector", "A selector to restrict the list of returned objects by their labels."),
                ("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
                ("limit", "limit is a maximum number of responses to return for a list call."),
                ("continue", "The continue option should be set when retrieving more results from the server."),
                (
                    "resourceVersion",
                    "resourceVersion sets a constraint on what resource versions a request may be served from.",
                ),
                (
                    "watch",
                    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
                ),
            ] {
                params.push(query(name, desc));
            }
        }
        "delete" => {
            op["responses"] = json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref(STATUS)}}}}});
            params.push(query("dryRun", "When present, indicates that modifications should not be persisted."));
        }
        _ => {}
    }
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    op
}

fn path_params(namespaced: bool, named: bool) -> Value {
    let mut params = vec![
        json!({"name": "pretty", "in": "query", "description": "If 'true', then the output is pretty printed.", "schema": {"type": "string", "uniqueItems": true}}),
    ];
    if named {
        params.push(json!({"name": "name", "in": "path", "required": true, "description": "name of the resource", "schema": {"type": "string", "uniqueItems": true}}));
    }
    if namespaced {
        params.push(json!({"name": "namespace", "in": "path", "required": true, "description": "object name and auth scope, such as for teams and projects", "schema": {"type": "string", "uniqueItems": true}}));
    }
    Value::Array(params)
}

fn add_paths(paths: &mut Map<String, Value>, r: &OpenApiResource, name: &str, list: &str) {
    let base = format!("/{}", group_version_path(&r.group, &r.version));
    let plural = guess_plural(&r.kind);
    let scoped =
        if r.namespaced { format!("{base}/namespaces/{{namespace}}/{plural}") } else { format!("{base}/{plural}") };
    let kind = &r.kind;
    let mut collection = json!({
        "get": operation(r, "list", "list", kind, list),
        "post": operation(r, "create", "post", kind, name),
        "parameters": path_params(r.namespaced, false),
    });
    collection["delete"] = operation(r, "deletecollection", "deletecollection", kind, STATUS);
    paths.insert(scoped.clone(), collection);
    paths.insert(
        format!("{scoped}/{{name}}"),
        json!({
            "get": operation(r, "read", "get", kind, name),
            "put": operation(r, "replace", "put", kind, name),
            "patch": operation(r, "patch", "patch", kind, name),
            "delete": operation(r, "delete", "delete", kind, name),
            "parameters": path_params(r.namespaced, true),
        }),
    );
    if r.namespaced {
        paths.insert(
            format!("{base}/{plural}"),
            json!({"get": operation(r, "list", "list", &format!("{kind}ForAllNamespaces"), list), "parameters": path_params(false, false)}),
        );
    }
}

/// `GET /openapi/v3/{api/v1 | apis/g/v}`: an OpenAPI 3.0 document with every kind of the
/// group-version, its `…List`, the `meta.k8s.io/v1` components they reference, and paths.
pub fn group_version_document(resources: &[OpenApiResource]) -> Value {
    let mut schemas: Map<String, Value> = meta_components().into_iter().collect();
    let mut paths = Map::new();
    for r in resources {
        let name = schema_name(&r.group, &r.version, &r.kind);
        let list = format!("{name}List");
        schemas.insert(name.clone(), resource_schema(r));
        schemas.insert(list.clone(), list_schema(r, &name));
        add_paths(&mut paths, r, &name, &list);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// Stable content hash of a document: FNV-1a (128-bit) over its canonical JSON (object
/// keys sorted), as 32 upper-case hex digits.
pub fn hash(doc: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(doc, &mut canonical);
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in canonical.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{h:032X}")
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

#[cfg(test)]
mod tests;
