//! Pruning of undeclared fields and defaulting (apiextensions-apiserver's
//! `structuralpruning` and `structuraldefaulting`).

use serde_json::Value;

use super::{child_path, flag};

const OBJECT_META_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Where a child of an object is described: its property schema, the
/// `additionalProperties` schema, or nowhere (`None`: prune it unless preserved).
fn child_schema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(p) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(p);
    }
    schema.get("additionalProperties").filter(|a| a.is_object())
}

fn additional_true(schema: &Value) -> bool {
    schema.get("additionalProperties").and_then(Value::as_bool) == Some(true)
}

pub(super) fn prune(schema: &Value, value: &mut Value, path: &str, root: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let keep_meta = root || flag(schema, "x-kubernetes-embedded-resource");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields") || additional_true(schema);
            let mut remove = Vec::new();
            for (key, child) in map.iter_mut() {
                if keep_meta && OBJECT_META_KEYS.contains(&key.as_str()) {
                    continue;
                }
                match child_schema(schema, key) {
                    Some(cs) => prune(cs, child, &child_path(path, key), false, out),
                    None if preserve => {}
                    None => remove.push(key.clone()),
                }
            }
            for key in remove {
                map.remove(&key);
                out.push(child_path(path, &key));
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item_schema, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Replaces a non-nullable `null` by the default, or reports that it must be dropped.
fn fix_null(schema: &Value, value: &mut Value) -> bool {
    if value.is_null() && !flag(schema, "nullable") {
        match schema.get("default") {
            Some(d) => *value = d.clone(),
            None => return false,
        }
    }
    true
}

pub(super) fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, ps) in props {
                    if !map.contains_key(key)
                        && let Some(d) = ps.get("default")
                    {
                        map.insert(key.clone(), d.clone());
                    }
                }
            }
            let mut drop = Vec::new();
            for (key, child) in map.iter_mut() {
                let Some(cs) = child_schema(schema, key) else { continue };
                if fix_null(cs, child) {
                    default(cs, child);
                } else {
                    drop.push(key.clone());
                }
            }
            for key in drop {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    fix_null(item_schema, item);
                    default(item_schema, item);
                }
            }
        }
        _ => {}
    }
}
