//! `x-kubernetes-validations` through `kube-cel`, reported as apiextensions-apiserver
//! does: the bad value shown is the schema type of the node declaring the rule.

use serde_json::Value;

use super::{ErrorType, FieldError, schema_type};

enum Segment<'a> {
    Key(&'a str),
    Index(&'a str),
}

/// Splits `spec.tables[0].columns[1].unit` into keys and indices.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some((idx, tail)) = rest.split_once(']') {
            out.push(Segment::Index(idx.trim_matches(['\'', '"'])));
            rest = tail.strip_prefix('[').unwrap_or(tail);
        }
    }
    out
}

fn declares(schema: &Value, rule: &str) -> bool {
    schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|rs| rs.iter().any(|r| r.get("rule").and_then(Value::as_str) == Some(rule)))
}

/// Walks `path` through the schema: returns the type of the deepest node on it declaring
/// `rule`, and the path re-rendered the apiserver's way (map keys as `[key]`).
fn locate(root: &Value, path: &str, rule: &str) -> (String, String) {
    let mut node = Some(root);
    let mut ty = if declares(root, rule) { schema_type(root).to_owned() } else { String::new() };
    let mut rendered = String::new();
    for seg in segments(path) {
        let schema = node.unwrap_or(&Value::Null);
        let (next, text) = match seg {
            Segment::Index(i) if schema.get("items").is_some() => (schema.get("items"), format!("[{i}]")),
            Segment::Index(k) => (schema.get("additionalProperties"), format!("[{k}]")),
            Segment::Key(k) => match schema.get("properties").and_then(|p| p.get(k)) {
                Some(p) => (Some(p), super::child_path(&rendered, k)[rendered.len()..].to_owned()),
                None => match schema.get("additionalProperties").filter(|a| a.is_object()) {
                    Some(a) => (Some(a), format!("[{k}]")),
                    None => (None, super::child_path(&rendered, k)[rendered.len()..].to_owned()),
                },
            },
        };
        rendered.push_str(&text);
        node = next;
        if let Some(n) = node
            && declares(n, rule)
        {
            schema_type(n).clone_into(&mut ty);
        }
    }
    (ty, rendered)
}

pub(super) fn validate(
    root: &Value,
    compiled: &kube_cel::CompiledSchema,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let Err(errors) = kube_cel::validate_compiled(compiled, obj, old) else { return Vec::new() };
    errors
        .into_iter()
        .map(|e| {
            let (ty, path) = locate(root, &e.field_path, &e.rule);
            let ty = Some(Value::String(ty));
            match (e.kind, e.reason.as_deref()) {
                (kube_cel::ErrorKind::ValidationFailure, Some("FieldValueForbidden")) => {
                    FieldError::new(path, ErrorType::Forbidden, None, e.message)
                }
                (kube_cel::ErrorKind::ValidationFailure, Some("FieldValueRequired")) => {
                    FieldError::new(path, ErrorType::Required, None, e.message)
                }
                (kube_cel::ErrorKind::ValidationFailure, Some("FieldValueDuplicate")) => {
                    FieldError::new(path, ErrorType::Duplicate, ty, "")
                }
                _ => FieldError::new(path, ErrorType::Invalid, ty, e.message),
            }
        })
        .collect()
}
