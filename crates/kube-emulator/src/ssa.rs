//! Server-side apply and `metadata.managedFields` bookkeeping, after
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/> and the
//! `FieldsV1` encoding of sigs.k8s.io/structured-merge-diff.
//!
//! Managers are identified as in kube-apiserver: an `Apply` entry per manager and
//! subresource, an `Update` entry per manager, subresource and apiVersion. Known
//! deviations from kube-apiserver:
//! * `null` values in an apply configuration are dropped (treated as absent);
//! * merged list-map and set elements keep the live order, new ones are appended;
//! * no version conversion of managed fields, no cap on the number of `Update`
//!   entries, no validation of duplicate keys in an apply configuration;
//! * entries keep their order and new ones are appended (kube sorts them);
//! * `record_update` ignores `managedFields` sent by the client and starts from
//!   `old`'s.

mod fields;
#[cfg(test)]
mod tests;
mod types;

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

pub use fields::{FieldSet, Path, Pe};
use fields::{display, fields_of, get, remove};
pub use types::{ListKind, ListTypes, MapKind};

/// A field another manager owns with a different value than the one applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// The conflicting field, as kube prints it (`.spec.region`,
    /// `.spec.targets[region="eu"].weight`).
    pub field: String,
    /// The other manager's operation, `Apply` or `Update`.
    pub operation: String,
    /// The other manager's subresource, if any.
    pub subresource: Option<String>,
}

/// One decoded `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Entry {
    fn decode(raw: &Value) -> Option<Self> {
        let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields: raw.get("fieldsV1").map(FieldSet::from_v1).unwrap_or_default(),
        })
    }

    fn encode(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), json!(self.manager));
        out.insert("operation".into(), json!(self.operation));
        out.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            out.insert("time".into(), json!(time));
        }
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), self.fields.to_v1());
        if let Some(sub) = &self.subresource {
            out.insert("subresource".into(), json!(sub));
        }
        Value::Object(out)
    }
}

fn read_entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::decode).collect())
        .unwrap_or_default()
}

fn write_entries(object: &mut Value, entries: &[Entry]) {
    if !object.is_object() {
        *object = json!({});
    }
    let meta = object.as_object_mut().expect("made an object above").entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else { return };
    let encoded: Vec<Value> = entries.iter().filter(|e| !e.fields.is_empty()).map(Entry::encode).collect();
    if encoded.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(encoded));
    }
}

fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    out
}

/// Whether the field at `path` differs between `a` and `b`. A list-map element with
/// content only "changes" by appearing or disappearing; its fields are compared on
/// their own.
fn changed(a: &Value, b: &Value, path: &[Pe]) -> bool {
    if matches!(path.last(), Some(Pe::Key(_))) {
        get(a, path).is_some() != get(b, path).is_some()
    } else {
        get(a, path) != get(b, path)
    }
}

fn drop_nulls(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), drop_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(drop_nulls).collect()),
        other => other.clone(),
    }
}

/// Structured merge of an apply configuration into the live object.
fn merge(live: &mut Value, applied: &Value, schema: &mut Vec<String>, types: &ListTypes) {
    match applied {
        Value::Object(fields) if schema.is_empty() || types.map_kind(schema) == MapKind::Granular => {
            if !live.is_object() {
                *live = json!({});
            }
            let live = live.as_object_mut().expect("made an object above");
            for (key, value) in fields {
                schema.push(key.clone());
                merge(live.entry(key.clone()).or_insert(Value::Null), value, schema, types);
                schema.pop();
            }
        }
        Value::Array(items) => match types.list_kind(schema) {
            ListKind::Atomic => *live = applied.clone(),
            ListKind::Set => {
                if !live.is_array() {
                    *live = json!([]);
                }
                let live = live.as_array_mut().expect("made an array above");
                for item in items {
                    if !live.contains(item) {
                        live.push(item.clone());
                    }
                }
            }
            ListKind::Map(keys) => {
                if !live.is_array() {
                    *live = json!([]);
                }
                let live = live.as_array_mut().expect("made an array above");
                schema.push("[]".to_owned());
                for item in items {
                    let key = fields::key_of(item, &keys);
                    match live.iter_mut().find(|l| fields::key_of(l, &keys) == key) {
                        Some(existing) => merge(existing, item, schema, types),
                        None => live.push(item.clone()),
                    }
                }
                schema.pop();
            }
        },
        _ => *live = applied.clone(),
    }
}

/// Applies `applied` (the full intent of `manager`) onto `live` (`None` on create)
/// and returns the new object with updated `metadata.managedFields`; see the module
/// docs. `Err` lists the fields other managers own with other values, unless `force`
/// (then their ownership moves to `manager`).
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    list_types: &ListTypes,
    now: &str,
    subresource: Option<&str>,
) -> Result<Value, Vec<Conflict>> {
    let base = live.map_or_else(|| json!({}), without_managed_fields);
    let mut entries = live.map(read_entries).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // Like kube: fields of an object nobody tracked yet belong to a placeholder.
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: "Update".into(),
            api_version: base.get("apiVersion").and_then(Value::as_str).unwrap_or_default().into(),
            time: Some(now.into()),
            subresource: None,
            fields: fields_of(&base, list_types),
        });
    }
    let applied = without_managed_fields(&drop_nulls(applied));
    let new_set = fields_of(&applied, list_types);
    let mut merged = base.clone();
    merge(&mut merged, &applied, &mut Vec::new(), list_types);

    let subresource = subresource.map(str::to_owned);
    let mine = |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource == subresource;
    let mut conflicts = Vec::new();
    for entry in entries.iter_mut().filter(|e| !mine(e)) {
        let lost: Vec<Path> =
            entry.fields.0.intersection(&new_set.0).filter(|p| changed(&base, &merged, p)).cloned().collect();
        for path in lost {
            conflicts.push(Conflict {
                manager: entry.manager.clone(),
                field: display(&path),
                operation: entry.operation.clone(),
                subresource: entry.subresource.clone(),
            });
            if force {
                entry.fields.0.remove(&path);
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }

    let old_set = entries.iter().find(|e| mine(e)).map(|e| e.fields.clone()).unwrap_or_default();
    let mut kept = new_set.clone();
    for entry in entries.iter().filter(|e| !mine(e)) {
        kept.0.extend(entry.fields.0.iter().cloned());
    }
    for dropped in old_set.0.difference(&new_set.0) {
        if !kept.covers(dropped) {
            remove(&mut merged, dropped);
        }
    }

    let touched = old_set != new_set || merged != base;
    let api_version = applied.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(entry) = entries.iter_mut().find(|e| mine(e)) {
        entry.fields = new_set;
        entry.api_version = api_version;
        if touched {
            entry.time = Some(now.into());
        }
    } else {
        entries.push(Entry {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version,
            time: Some(now.into()),
            subresource,
            fields: new_set,
        });
    }
    write_entries(&mut merged, &entries);
    Ok(merged)
}

/// Records a non-apply write (create, update, patch): the fields whose values changed
/// from `old` to `new` (all fields on create) become owned by `manager` with
/// operation `Update` and are taken from every other entry; fields that no longer
/// exist are dropped from every entry. Sets `new`'s `metadata.managedFields`.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    list_types: &ListTypes,
    now: &str,
    subresource: Option<&str>,
) {
    let after = without_managed_fields(new);
    let before = old.map(without_managed_fields);
    let mut entries = old.map(read_entries).unwrap_or_default();
    let owned = fields_of(&after, list_types);
    let changes: FieldSet =
        FieldSet(owned.0.iter().filter(|p| before.as_ref().is_none_or(|b| changed(b, &after, p))).cloned().collect());
    for entry in &mut entries {
        entry.fields.0.retain(|p| !changes.0.contains(p) && get(&after, p).is_some());
    }
    let api_version = after.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let subresource = subresource.map(str::to_owned);
    if !changes.is_empty() {
        let mine = |e: &Entry| {
            e.manager == manager
                && e.operation == "Update"
                && e.subresource == subresource
                && e.api_version == api_version
        };
        if let Some(entry) = entries.iter_mut().find(|e| mine(e)) {
            entry.fields.0.extend(changes.0);
            entry.time = Some(now.into());
        } else {
            entries.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version,
                time: Some(now.into()),
                subresource,
                fields: changes,
            });
        }
    }
    write_entries(new, &entries);
}

fn describe(conflict: &Conflict, api_version: &str) -> String {
    let mut who = format!("{:?}", conflict.manager);
    if let Some(sub) = &conflict.subresource {
        let _ = write!(who, " with subresource {sub:?}");
    }
    if conflict.operation == "Update" {
        let _ = write!(who, " using {api_version}");
    }
    who
}

/// kube-apiserver's 409 message for apply conflicts, e.g. `Apply failed with 1
/// conflict: conflict with "kubectl-client-side-apply" using regionstack.io/v1alpha1:
/// .spec.region`. Managers that applied are named without `using <apiVersion>`, as
/// kube does.
pub fn conflict_message(conflicts: &[Conflict], api_version: &str) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {}: {}", describe(only, api_version), only.field);
    }
    let mut managers: Vec<String> = conflicts.iter().map(|c| describe(c, api_version)).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for who in managers {
        lines.push(format!("conflicts with {who}:"));
        for conflict in conflicts.iter().filter(|c| describe(c, api_version) == who) {
            lines.push(format!("- {}", conflict.field));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}
