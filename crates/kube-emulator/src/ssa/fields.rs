//! Field paths and field sets in the `FieldsV1` encoding of structured-merge-diff:
//! `f:<name>` for an object key, `k:{"name":"x"}` for a list-map element, `v:"x"` for
//! a set element, `i:<n>` for a list index and `"."` for "the element itself".

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::types::{ListKind, ListTypes, MapKind};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pe {
    /// An object key.
    Field(String),
    /// A list-map element, by its canonical JSON key object (fields sorted).
    Key(String),
    /// A set element, by its compact JSON encoding.
    Value(String),
    /// A list element by position (only read back from foreign managedFields).
    Index(usize),
}

/// A path from the root of an object.
pub type Path = Vec<Pe>;

/// A set of owned field paths ("members"). A granular map or list with content is
/// not a member itself; its entries are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

fn json(value: &Value) -> String {
    serde_json::to_string(value).expect("JSON values always serialize")
}

/// The canonical key of a list-map element: its key fields, sorted, as compact JSON.
pub fn key_of(item: &Value, keys: &[String]) -> Pe {
    let mut names: Vec<&String> = keys.iter().filter(|k| item.get(k.as_str()).is_some()).collect();
    names.sort();
    let body: Vec<String> =
        names.iter().map(|k| format!("{}:{}", json(&Value::from(k.as_str())), json(&item[k.as_str()]))).collect();
    Pe::Key(format!("{{{}}}", body.join(",")))
}

fn canonical_key(encoded: &str) -> Option<Pe> {
    let Value::Object(fields) = serde_json::from_str::<Value>(encoded).ok()? else { return None };
    let keys: Vec<String> = fields.keys().cloned().collect();
    Some(key_of(&Value::Object(fields), &keys))
}

fn parse_pe(s: &str) -> Option<Pe> {
    let (kind, rest) = s.split_once(':')?;
    match kind {
        "f" => Some(Pe::Field(rest.to_owned())),
        "k" => canonical_key(rest),
        "v" => serde_json::from_str::<Value>(rest).ok().map(|v| Pe::Value(json(&v))),
        "i" => rest.parse().ok().map(Pe::Index),
        _ => None,
    }
}

fn pe_v1(pe: &Pe) -> String {
    match pe {
        Pe::Field(name) => format!("f:{name}"),
        Pe::Key(key) => format!("k:{key}"),
        Pe::Value(value) => format!("v:{value}"),
        Pe::Index(i) => format!("i:{i}"),
    }
}

/// A path as kube-apiserver prints it in conflicts: `.spec.targets[region="eu"].weight`.
pub fn display(path: &[Pe]) -> String {
    let mut out = String::new();
    for pe in path {
        match pe {
            Pe::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Pe::Key(key) => {
                let fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let mut names: Vec<&String> = fields.keys().collect();
                names.sort();
                let parts: Vec<String> = names.iter().map(|k| format!("{k}={}", json(&fields[k.as_str()]))).collect();
                let _ = write!(out, "[{}]", parts.join(","));
            }
            Pe::Value(value) => {
                let _ = write!(out, "[={value}]");
            }
            Pe::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

impl FieldSet {
    /// Decodes a `fieldsV1` object; unknown path elements are skipped.
    pub fn from_v1(v1: &Value) -> Self {
        fn walk(node: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
            let Some(children) = node.as_object() else { return };
            for (k, child) in children {
                if k == "." {
                    out.insert(path.clone());
                    continue;
                }
                let Some(pe) = parse_pe(k) else { continue };
                path.push(pe);
                if child.as_object().is_none_or(Map::is_empty) {
                    out.insert(path.clone());
                } else {
                    walk(child, path, out);
                }
                path.pop();
            }
        }
        let mut out = BTreeSet::new();
        walk(v1, &mut Vec::new(), &mut out);
        Self(out)
    }

    /// Encodes as a `fieldsV1` object.
    pub fn to_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for pe in path {
                let child = node.entry(pe_v1(pe)).or_insert_with(|| Value::Object(Map::new()));
                node = child.as_object_mut().expect("fieldsV1 nodes are objects");
            }
            // A member that also has children is marked with ".".
            if !node.is_empty() {
                node.insert(".".to_owned(), Value::Object(Map::new()));
            }
        }
        // Members inserted before their children need the "." marker too.
        for path in &self.0 {
            let mut node = &mut root;
            for pe in path {
                node = node.get_mut(&pe_v1(pe)).and_then(Value::as_object_mut).expect("inserted above");
            }
            if !node.is_empty() && !node.contains_key(".") {
                node.insert(".".to_owned(), Value::Object(Map::new()));
            }
        }
        Value::Object(root)
    }

    /// Whether `path` or anything under it is a member.
    pub fn covers(&self, path: &[Pe]) -> bool {
        self.0.range(path.to_vec()..).next().is_some_and(|p| p.starts_with(path))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Object keys that identify an object or are set by the server; never owned.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Every member field of `object`, typed by `types`, without the identity and
/// server-set fields (`apiVersion`, `kind`, `metadata.name`, ...).
pub fn fields_of(object: &Value, types: &ListTypes) -> FieldSet {
    let mut out = BTreeSet::new();
    if let Some(fields) = object.as_object() {
        for (key, value) in fields {
            if key == "apiVersion" || key == "kind" {
                continue;
            }
            if key == "metadata" {
                let Some(meta) = value.as_object() else { continue };
                for (mkey, mvalue) in meta.iter().filter(|(k, _)| !SERVER_METADATA.contains(&k.as_str())) {
                    let mut path = vec![Pe::Field(key.clone()), Pe::Field(mkey.clone())];
                    let mut schema = vec![key.clone(), mkey.clone()];
                    walk(mvalue, &mut path, &mut schema, types, &mut out);
                }
                continue;
            }
            walk(value, &mut vec![Pe::Field(key.clone())], &mut vec![key.clone()], types, &mut out);
        }
    }
    FieldSet(out)
}

fn walk(value: &Value, path: &mut Path, schema: &mut Vec<String>, types: &ListTypes, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(fields) if !fields.is_empty() && types.map_kind(schema) == MapKind::Granular => {
            for (key, child) in fields {
                path.push(Pe::Field(key.clone()));
                schema.push(key.clone());
                walk(child, path, schema, types, out);
                schema.pop();
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match types.list_kind(schema) {
            ListKind::Atomic => {
                out.insert(path.clone());
            }
            ListKind::Set => {
                for item in items {
                    path.push(Pe::Value(json(item)));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListKind::Map(keys) => {
                schema.push("[]".to_owned());
                for item in items {
                    path.push(key_of(item, &keys));
                    out.insert(path.clone());
                    walk(item, path, schema, types, out);
                    path.pop();
                }
                schema.pop();
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

fn matches_key(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(key) else { return false };
    !fields.is_empty() && fields.iter().all(|(k, v)| item.get(k) == Some(v))
}

fn position(items: &[Value], pe: &Pe) -> Option<usize> {
    match pe {
        Pe::Key(key) => items.iter().position(|item| matches_key(item, key)),
        Pe::Value(value) => items.iter().position(|item| json(item) == *value),
        Pe::Index(i) => (*i < items.len()).then_some(*i),
        Pe::Field(_) => None,
    }
}

/// The value at `path`, if there is one.
pub fn get<'a>(value: &'a Value, path: &[Pe]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, pe| match (node, pe) {
        (Value::Object(fields), Pe::Field(name)) => fields.get(name),
        (Value::Array(items), pe) => position(items, pe).map(|i| &items[i]),
        _ => None,
    })
}

/// Removes the value at `path`, if there is one.
pub fn remove(value: &mut Value, path: &[Pe]) {
    let Some((last, parent)) = path.split_last() else { return };
    let mut node = value;
    for pe in parent {
        node = match (node, pe) {
            (Value::Object(fields), Pe::Field(name)) => match fields.get_mut(name) {
                Some(child) => child,
                None => return,
            },
            (Value::Array(items), pe) => match position(items, pe) {
                Some(i) => &mut items[i],
                None => return,
            },
            _ => return,
        };
    }
    match (node, last) {
        (Value::Object(fields), Pe::Field(name)) => {
            fields.remove(name);
        }
        (Value::Array(items), pe) => {
            if let Some(i) = position(items, pe) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_fields_v1() {
        let v1 = json!({
            "f:metadata": {"f:finalizers": {"v:\"a\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {"f:targets": {"k:{\"region\":\"eu\"}": {".": {}, "f:region": {}, "f:weight": {}}}},
        });
        let set = FieldSet::from_v1(&v1);
        assert_eq!(set.0.len(), 5);
        assert_eq!(set.to_v1(), v1);
        let key = Pe::Key("{\"region\":\"eu\"}".into());
        let path = vec![Pe::Field("spec".into()), Pe::Field("targets".into()), key.clone(), Pe::Field("weight".into())];
        assert_eq!(display(&path), ".spec.targets[region=\"eu\"].weight");
        assert!(set.covers(&path[..3]));
        let object = json!({"spec": {"targets": [{"region": "us"}, {"region": "eu", "weight": 3}]}});
        assert_eq!(get(&object, &path), Some(&json!(3)));
        let mut object = object;
        remove(&mut object, &path[..3]);
        assert_eq!(object, json!({"spec": {"targets": [{"region": "us"}]}}));
    }
}
