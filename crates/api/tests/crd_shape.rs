//! The shape of the generated CRDs: names, scope, subresources, printer columns, list
//! semantics of conditions, and a description on every field so that `kubectl explain`
//! teaches the whole API.

mod common;

use common::{crd_of, node, schema_of};
use regionstack_api::{CATEGORY, GROUP, VERSION};
use serde_json::Value;

const KINDS: [&str; 3] = ["Region", "PiiDatabase", "TelemetryReplica"];

#[test]
fn group_version_and_names() {
    let expected = [
        ("Region", "regions", "region", "rsregion", "Cluster"),
        ("PiiDatabase", "piidatabases", "piidatabase", "piidb", "Namespaced"),
        ("TelemetryReplica", "telemetryreplicas", "telemetryreplica", "telrep", "Namespaced"),
    ];
    for (kind, plural, singular, short, scope) in expected {
        let crd = crd_of(kind);
        assert_eq!(crd.metadata.name.as_deref(), Some(format!("{plural}.{GROUP}").as_str()));
        assert_eq!(crd.spec.group, GROUP, "{kind}: group");
        assert_eq!(crd.spec.scope, scope, "{kind}: scope");
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.names.plural, plural, "{kind}: plural");
        assert_eq!(crd.spec.names.singular.as_deref(), Some(singular), "{kind}: singular");
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_owned()]), "{kind}: short names");
        assert_eq!(crd.spec.names.categories, Some(vec![CATEGORY.to_owned()]), "{kind}: categories");

        assert_eq!(crd.spec.versions.len(), 1, "{kind}: one version");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, VERSION, "{kind}: version");
        assert!(version.served && version.storage, "{kind}: v1alpha1 is served and stored");
        let subresources = version.subresources.as_ref().unwrap_or_else(|| panic!("{kind}: no subresources"));
        assert!(subresources.status.is_some(), "{kind}: status subresource");
        assert!(subresources.scale.is_none(), "{kind}: no scale subresource");
    }
    assert_eq!(CATEGORY, "regionstack");
    assert_eq!(regionstack_api::API_VERSION, format!("{GROUP}/{VERSION}"));
}

#[test]
fn root_schema_has_spec_status_and_requires_spec() {
    for kind in KINDS {
        let schema = schema_of(kind);
        assert_eq!(schema["type"], "object", "{kind}");
        let properties: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(properties, ["spec", "status"], "{kind}: top-level properties");
        assert_eq!(schema["required"], serde_json::json!(["spec"]), "{kind}: spec is required");
        assert_eq!(schema["properties"]["status"]["type"], "object", "{kind}");
        assert!(
            schema.get("x-kubernetes-preserve-unknown-fields").is_none(),
            "{kind}: the schema must be fully structural"
        );
    }
}

/// One printer column as (name, type, jsonPath, priority).
type Column = (String, String, String, i32);

fn columns(kind: &str) -> Vec<Column> {
    crd_of(kind).spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.name, c.type_, c.json_path, c.priority.unwrap_or(0)))
        .collect()
}

/// The columns `kubectl get` shows without `-o wide`.
fn default_columns(kind: &str) -> Vec<(String, String)> {
    columns(kind).into_iter().filter(|c| c.3 == 0).map(|c| (c.0, c.2)).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(n, p)| ((*n).to_owned(), (*p).to_owned())).collect()
}

const READY: &str = r#".status.conditions[?(@.type=="Ready")].status"#;
const COMPLIANT: &str = r#".status.conditions[?(@.type=="ResidencyCompliant")].status"#;
const AGE: &str = ".metadata.creationTimestamp";

#[test]
fn region_printer_columns() {
    assert_eq!(
        default_columns("Region"),
        pairs(&[
            ("Country", ".spec.location.country"),
            ("Lifecycle", ".spec.lifecycle"),
            ("Jurisdictions", ".spec.jurisdictions"),
            ("Ready", READY),
            ("Age", AGE),
        ])
    );
}

#[test]
fn pii_database_printer_columns() {
    assert_eq!(
        default_columns("PiiDatabase"),
        pairs(&[
            ("Region", ".spec.region"),
            ("Mode", ".spec.enforcement"),
            ("Compliant", COMPLIANT),
            ("Ready", READY),
            ("Age", AGE),
        ])
    );
}

#[test]
fn telemetry_replica_printer_columns() {
    assert_eq!(
        default_columns("TelemetryReplica"),
        pairs(&[
            ("Source", ".spec.source.region"),
            ("Targets", ".spec.targets[*].region"),
            ("Data class", ".status.dataClass"),
            ("Compliant", COMPLIANT),
            ("Ready", READY),
            ("Age", AGE),
        ])
    );
}

/// Resolve a printer column's JSONPath against the schema: every step must name a
/// declared property, so a renamed field cannot leave a silently empty column.
fn resolve_column_path<'a>(schema: &'a Value, json_path: &str) -> Option<&'a Value> {
    let mut current = schema;
    for step in json_path.trim_start_matches('.').split('.') {
        // `conditions[?(@.type=="Ready")]` and `targets[*]` descend into the items.
        let (name, indexed) = match step.find('[') {
            Some(i) => (&step[..i], true),
            None => (step, false),
        };
        current = current.get("properties")?.get(name)?;
        if indexed {
            current = current.get("items")?;
        }
    }
    Some(current)
}

#[test]
fn printer_columns_point_at_declared_fields_with_matching_types() {
    for kind in KINDS {
        let schema = schema_of(kind);
        for (name, type_, json_path, _) in columns(kind) {
            if json_path == AGE {
                assert_eq!(type_, "date", "{kind}/{name}");
                continue;
            }
            // The filter expression splits on '.', so resolve conditions by hand.
            let path = json_path
                .replace(r#"[?(@.type=="Ready")]"#, "[]")
                .replace(r#"[?(@.type=="ResidencyCompliant")]"#, "[]");
            let field = resolve_column_path(&schema, &path)
                .unwrap_or_else(|| panic!("{kind}: column {name} points at undeclared {json_path}"));
            let field_type = field["type"].as_str().unwrap();
            let compatible = match type_.as_str() {
                "boolean" => field_type == "boolean",
                "integer" => field_type == "integer",
                // string columns also render enums, lists of strings and the like
                "string" => matches!(field_type, "string" | "array"),
                other => panic!("{kind}: column {name} has unexpected type {other}"),
            };
            assert!(compatible, "{kind}: column {name} ({type_}) shows a field of type {field_type}");
        }
    }
}

#[test]
fn conditions_are_a_map_list_keyed_by_type() {
    for kind in KINDS {
        let schema = schema_of(kind);
        let conditions = node(&schema, "status.conditions");
        assert_eq!(conditions["type"], "array", "{kind}");
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}: conditions list type");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], serde_json::json!(["type"]), "{kind}: map keys");
        // The API server refuses map keys that are neither required nor defaulted.
        let required = conditions["items"]["required"].as_array().unwrap();
        for field in ["type", "status", "reason", "message", "lastTransitionTime"] {
            assert!(required.iter().any(|r| r == field), "{kind}: condition {field} must be required");
        }
        assert_eq!(
            conditions["items"]["properties"]["status"]["enum"],
            serde_json::json!(["True", "False", "Unknown"]),
            "{kind}: condition status enum"
        );
        assert_eq!(conditions["items"]["properties"]["lastTransitionTime"]["format"], "date-time", "{kind}");
        let observed = node(&schema, "status.observedGeneration");
        assert_eq!(observed["type"], "integer", "{kind}: status.observedGeneration");
        assert_eq!(observed["format"], "int64", "{kind}: status.observedGeneration");
    }
}

/// Every list-map key must be a required field of the items (the API server refuses
/// the CRD otherwise); check all of them, not only conditions.
#[test]
fn every_map_list_key_is_required_in_its_items() {
    fn walk(schema: &Value, path: &str, problems: &mut Vec<String>) {
        if schema["x-kubernetes-list-type"] == "map" {
            let required = schema["items"]["required"].as_array().cloned().unwrap_or_default();
            for key in schema["x-kubernetes-list-map-keys"].as_array().expect("map lists name their keys") {
                let defaulted = schema["items"]["properties"][key.as_str().unwrap()].get("default").is_some();
                if !required.contains(key) && !defaulted {
                    problems.push(format!("{path}: map key {key} is neither required nor defaulted"));
                }
            }
        }
        for_each_child(schema, path, &mut |child, child_path| walk(child, child_path, problems));
    }
    let mut problems = Vec::new();
    for kind in KINDS {
        walk(&schema_of(kind), kind, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Call `f` for each sub-schema with its JSON path: properties (`.name`), array items
/// (`[]`), additionalProperties (`.*`) and allOf/anyOf/oneOf branches.
fn for_each_child(schema: &Value, path: &str, f: &mut dyn FnMut(&Value, &str)) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            f(child, &format!("{path}.{name}"));
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        f(items, &format!("{path}[]"));
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        f(additional, &format!("{path}.*"));
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                f(branch, &format!("{path}({keyword}[{i}])"));
            }
        }
    }
}

/// Paths of every property, array item and additionalProperties schema below `schema`
/// that has no non-empty description. allOf/anyOf/oneOf branches are walked for the
/// properties they declare but need no description of their own (`kubectl explain`
/// shows the description of the field, not of a branch).
fn undocumented(schema: &Value, path: &str, missing: &mut Vec<String>) {
    for_each_child(schema, path, &mut |child, child_path| {
        let is_branch = child_path.ends_with(')');
        let documented = child.get("description").and_then(Value::as_str).is_some_and(|d| !d.trim().is_empty());
        if !documented && !is_branch {
            missing.push(child_path.to_owned());
        }
        undocumented(child, child_path, missing);
    });
}

#[test]
fn every_field_has_a_description() {
    let mut missing = Vec::new();
    let mut walked = 0;
    for kind in KINDS {
        let schema = schema_of(kind);
        assert!(
            schema["description"].as_str().is_some_and(|d| !d.trim().is_empty()),
            "{kind}: the kind itself has no description"
        );
        undocumented(&schema, kind, &mut missing);
        count(&schema, &mut walked);
    }
    // Guard against a walk that silently visits nothing.
    assert!(walked > 100, "the description walk visited only {walked} schemas");
    assert!(
        missing.is_empty(),
        "fields without a description (add a `///` doc comment in crates/api/src, then run `{}`):\n  {}",
        regionstack_api::crd::REGENERATE_COMMAND,
        missing.join("\n  ")
    );
}

fn count(schema: &Value, n: &mut usize) {
    for_each_child(schema, "", &mut |child, _| {
        *n += 1;
        count(child, n);
    });
}

/// The walk itself: a hand-made schema with undocumented fields at every kind of
/// position is reported path by path.
#[test]
fn description_walk_reports_nested_and_item_paths() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "spec": {
                "description": "documented",
                "type": "object",
                "properties": {
                    "blank": {"type": "string", "description": "  "},
                    "list": {
                        "description": "documented",
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"deep": {"type": "integer"}}
                        }
                    },
                    "labels": {
                        "description": "documented",
                        "type": "object",
                        "additionalProperties": {"type": "string"}
                    },
                    "choice": {
                        "description": "documented",
                        "oneOf": [{"properties": {"inBranch": {"type": "string"}}}]
                    }
                }
            },
            "status": {"type": "object"}
        }
    });
    let mut missing = Vec::new();
    undocumented(&schema, "X", &mut missing);
    missing.sort();
    assert_eq!(
        missing,
        [
            "X.spec.blank",
            "X.spec.choice(oneOf[0]).inBranch",
            "X.spec.labels.*",
            "X.spec.list[]",
            "X.spec.list[].deep",
            "X.status",
        ]
    );
}
