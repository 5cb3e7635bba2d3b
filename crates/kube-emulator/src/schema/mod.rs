//! Custom-resource validation against a CRD version's structural `openAPIV3Schema`, the
//! way kube-apiserver does it: pruning of unknown fields, defaulting, OpenAPI value
//! validation, `x-kubernetes-list-type` uniqueness and `x-kubernetes-validations` (CEL,
//! evaluated by `kube-cel`). Errors carry kube-apiserver's field paths and wording.

mod cel;
mod prune;
mod structural;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use regex::Regex;
use serde_json::Value;

/// Why a field is invalid; mirrors apimachinery's `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// The value is malformed or out of range (`FieldValueInvalid`).
    Invalid,
    /// The value is not one of an enumeration (`FieldValueNotSupported`).
    NotSupported,
    /// The value has the wrong type (`FieldValueTypeInvalid`).
    TypeInvalid,
    /// A string is too long (`FieldValueTooLong`).
    TooLong,
    /// A list or map has too many entries (`FieldValueTooMany`).
    TooMany,
    /// A set or map-list entry is repeated (`FieldValueDuplicate`).
    Duplicate,
    /// The value is not allowed (`FieldValueForbidden`).
    Forbidden,
}

impl ErrorType {
    /// The Kubernetes `CauseType` string (`StatusCause.reason`), e.g. `FieldValueRequired`.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Duplicate => "Duplicate value",
            Self::Forbidden => "Forbidden",
        })
    }
}

/// One field-level validation error, shaped like apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.tables[0].name`; `<nil>` for the object root.
    pub field: String,
    /// What is wrong with it.
    pub kind: ErrorType,
    /// Human-readable detail (may be empty).
    pub detail: String,
    /// The offending value as printed in the message (`None` prints as `null`).
    pub bad_value: Option<Value>,
}

impl FieldError {
    pub(crate) fn new(
        field: impl Into<String>,
        kind: ErrorType,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        let field = field.into();
        Self { field: if field.is_empty() { "<nil>".into() } else { field }, kind, detail: detail.into(), bad_value }
    }

    /// The message without the field path (apimachinery's `ErrorBody`).
    #[must_use]
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => self.kind.to_string(),
            _ => format!("{}: {}", self.kind, go_value(self.bad_value.as_ref())),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Prints a value as apimachinery's `ErrorBody` does: scalars plainly (strings quoted),
/// anything else with Go's `%#v`.
fn go_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".into(),
        Some(Value::Number(n)) => go_number(n),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::String(s)) => Value::String(s.clone()).to_string(),
        Some(other) => go_sharp_v(other),
    }
}

/// Go's `%v` of a JSON number (`float64` prints without a trailing `.0`).
pub(crate) fn go_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), go_sharp_v(&m[*k]))).collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        other => go_value(Some(other)),
    }
}

/// A CRD version's schema, compiled once: regular expressions and CEL programs.
pub struct CrdSchema {
    root: Value,
    patterns: HashMap<String, Regex>,
    cel: kube_cel::CompiledSchema,
    /// Whether any node carries CEL rules: only then does a blocking error leave rules
    /// unchecked (and kube-apiserver say so).
    has_rules: bool,
}

impl fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdSchema").field("root", &self.root).finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// Compiles `openAPIV3Schema`; fails on a non-object schema, a `pattern` the `regex`
    /// crate cannot compile, or a CEL rule (or `messageExpression`) that does not compile.
    pub fn new(open_api_v3_schema: &Value) -> Result<Self, String> {
        if !open_api_v3_schema.is_object() {
            return Err("openAPIV3Schema must be an object".into());
        }
        let mut patterns = HashMap::new();
        collect_patterns(open_api_v3_schema, &mut patterns)?;
        let cel = kube_cel::compile_schema(open_api_v3_schema);
        let failures = cel.compilation_errors();
        if !failures.is_empty() {
            let msgs: Vec<String> = failures.iter().map(ToString::to_string).collect();
            return Err(format!("x-kubernetes-validations: {}", msgs.join("; ")));
        }
        let has_rules = has_rules(open_api_v3_schema);
        Ok(Self { root: open_api_v3_schema.clone(), patterns, cel, has_rules })
    }

    /// Removes fields the schema does not declare (except under
    /// `x-kubernetes-preserve-unknown-fields: true`, and never `apiVersion`, `kind` or
    /// `metadata` at the root or in embedded resources), drops `null`s of non-nullable
    /// fields, then applies `default`s. Returns the paths pruned, for
    /// `unknown field "<path>"` warnings.
    pub fn prune_and_default(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        prune::prune(&self.root, obj, "", true, &mut pruned);
        prune::default(&self.root, obj);
        pruned
    }

    /// Validates `obj` (already pruned and defaulted): OpenAPI value validation, then
    /// list-type uniqueness, then — unless a blocking error was found, as kube-apiserver
    /// does — the CEL rules, with transition rules only when `old` is given.
    #[must_use]
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut list_errs = Vec::new();
        structural::Walker { patterns: &self.patterns, errs: &mut errs, list_errs: &mut list_errs }
            .root(&self.root, obj);
        errs.append(&mut list_errs);
        let blocking = errs.iter().any(|e| {
            matches!(
                e.kind,
                ErrorType::NotSupported
                    | ErrorType::Required
                    | ErrorType::TooLong
                    | ErrorType::TooMany
                    | ErrorType::TypeInvalid
            )
        });
        if blocking && self.has_rules {
            errs.push(FieldError::new(
                "",
                ErrorType::Invalid,
                None,
                "some validation rules were not checked because the object was invalid; \
                 correct the existing errors to complete validation",
            ));
        } else if !blocking {
            errs.extend(cel::validate(&self.root, &self.cel, obj, old));
        }
        errs
    }
}

fn has_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.contains_key("x-kubernetes-validations") || map.values().any(has_rules),
        Value::Array(items) => items.iter().any(has_rules),
        _ => false,
    }
}

fn collect_patterns(schema: &Value, out: &mut HashMap<String, Regex>) -> Result<(), String> {
    let Some(map) = schema.as_object() else { return Ok(()) };
    if let Some(p) = map.get("pattern").and_then(Value::as_str) {
        let re = Regex::new(p).map_err(|e| format!("pattern {p:?} is not supported: {e}"))?;
        out.insert(p.to_owned(), re);
    }
    for key in ["properties", "patternProperties", "definitions"] {
        if let Some(props) = map.get(key).and_then(Value::as_object) {
            for child in props.values() {
                collect_patterns(child, out)?;
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get(key) {
            collect_patterns(child, out)?;
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for child in map.get(key).and_then(Value::as_array).into_iter().flatten() {
            collect_patterns(child, out)?;
        }
    }
    Ok(())
}

/// kube-apiserver's `422 Invalid` message for `errors`, e.g.
/// `PiiDatabase.regionstack.io "db" is invalid: spec.region: Required value`; several
/// errors are bracketed and comma-separated, identical messages listed once.
#[must_use]
pub fn invalid_message(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
    let mut msgs: Vec<String> = Vec::new();
    for e in errors {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    let agg = match msgs.len() {
        0 => "<nil>".to_owned(),
        1 => msgs.remove(0),
        _ => format!("[{}]", msgs.join(", ")),
    };
    format!("{qualified} {} is invalid: {agg}", Value::String(name.to_owned()))
}

/// `base.key`, or `key` at the root.
pub(crate) fn child_path(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_owned() } else { format!("{base}.{key}") }
}

/// The schema's single `type`, if any.
pub(crate) fn schema_type(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}
