//! OpenAPI value validation (kube-openapi's validator as converted to field errors by
//! apiextensions-apiserver) and `x-kubernetes-list-type` uniqueness.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::{ErrorType, FieldError, child_path, flag, go_number, schema_type};

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
        .expect("static regex")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{2})-(\d{2})$").expect("static regex"));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$").expect("static regex")
});

/// JSON type name as kube-openapi reports it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integral(v: &Value) -> bool {
    match v {
        Value::Number(n) => !n.is_f64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn type_ok(schema: &Value, v: &Value) -> bool {
    match schema_type(schema) {
        "" if flag(schema, "x-kubernetes-int-or-string") => v.is_string() || is_integral(v),
        "" => true,
        "integer" => is_integral(v),
        "number" => v.is_number(),
        t => t == json_type(v),
    }
}

/// JSON equality with numbers compared by value (`3` equals `3.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A non-negative count keyword (`maxLength` …), also when written as `3.0`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn as_u64(schema: &Value, key: &str) -> Option<u64> {
    schema.get(key).and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
}

fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => go_number(n),
        other => other.to_string(),
    }
}

fn date_ok(y: &str, m: &str, d: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Whether a string satisfies a `format` (unknown formats always pass, as in kube-openapi).
fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "date-time" => DATE_TIME.captures(s).is_some_and(|c| {
            date_ok(&c[1], &c[2], &c[3])
                && c[4].parse::<u32>().is_ok_and(|h| h < 24)
                && c[5].parse::<u32>().is_ok_and(|m| m < 60)
                && c[6].parse::<u32>().is_ok_and(|s| s < 61)
        }),
        "date" => DATE.captures(s).is_some_and(|c| date_ok(&c[1], &c[2], &c[3])),
        "uuid" => UUID.is_match(s),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        _ => true,
    }
}

pub(super) struct Walker<'a> {
    pub(super) patterns: &'a HashMap<String, Regex>,
    pub(super) errs: &'a mut Vec<FieldError>,
    pub(super) list_errs: &'a mut Vec<FieldError>,
}

impl Walker<'_> {
    /// Validates the object root; `apiVersion`, `kind` and `metadata` are left to others.
    pub(super) fn root(&mut self, schema: &Value, obj: &Value) {
        let Some(map) = obj.as_object() else {
            self.check(schema, obj, "");
            return;
        };
        let mut rest = map.clone();
        for key in ["apiVersion", "kind", "metadata"] {
            rest.remove(key);
        }
        let mut root_schema = schema.clone();
        if let Some(props) = root_schema.get_mut("properties").and_then(Value::as_object_mut) {
            props.remove("metadata");
        }
        self.check(&root_schema, &Value::Object(rest), "");
    }

    fn invalid(&mut self, path: &str, v: Value, detail: String) {
        self.errs.push(FieldError::new(path, ErrorType::Invalid, Some(v), detail));
    }

    fn check(&mut self, s: &Value, v: &Value, path: &str) {
        if v.is_null() {
            let t = schema_type(s);
            if !flag(s, "nullable") && !t.is_empty() {
                let detail = format!("{path} in body must be of type {t}: \"null\"");
                self.errs.push(FieldError::new(path, ErrorType::TypeInvalid, Some(json!("null")), detail));
            }
            return;
        }
        if !type_ok(s, v) {
            let t = match schema_type(s) {
                "" => "integer,string",
                t => t,
            };
            let actual = json_type(v);
            let detail = format!("{path} in body must be of type {t}: \"{actual}\"");
            self.errs.push(FieldError::new(path, ErrorType::TypeInvalid, Some(json!(actual)), detail));
            return;
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| json_eq(a, v))
        {
            let quoted: Vec<String> = allowed
                .iter()
                .map(|a| Value::String(a.as_str().map_or_else(|| a.to_string(), str::to_owned)).to_string())
                .collect();
            let detail = format!("supported values: {}", quoted.join(", "));
            self.errs.push(FieldError::new(path, ErrorType::NotSupported, Some(v.clone()), detail));
        }
        match v {
            Value::String(st) => self.check_string(s, st, path),
            Value::Number(_) => self.check_number(s, v, path),
            Value::Array(items) => self.check_array(s, items, path),
            Value::Object(map) => self.check_object(s, map, path),
            _ => {}
        }
    }

    fn check_string(&mut self, s: &Value, st: &str, path: &str) {
        let chars = st.chars().count() as u64;
        if let Some(max) = as_u64(s, "maxLength")
            && chars > max
        {
            let e = FieldError::new(path, ErrorType::TooLong, Some(json!(st)), format!("may not be longer than {max}"));
            self.errs.push(e);
        }
        if let Some(min) = as_u64(s, "minLength")
            && chars < min
        {
            self.invalid(path, json!(st), format!("{path} in body should be at least {min} chars long"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && self.patterns.get(p).is_some_and(|re| !re.is_match(st))
        {
            self.invalid(path, json!(st), format!("{path} in body should match '{p}'"));
        }
        if let Some(f) = s.get("format").and_then(Value::as_str)
            && !format_ok(f, st)
        {
            let detail = format!("{path} in body must be of type {f}: {}", json!(st));
            self.errs.push(FieldError::new(path, ErrorType::TypeInvalid, Some(json!(st)), detail));
        }
    }

    fn check_number(&mut self, s: &Value, v: &Value, path: &str) {
        let x = v.as_f64().unwrap_or_default();
        if let Some(max) = s.get("maximum").filter(|m| m.is_number()) {
            let m = max.as_f64().unwrap_or_default();
            if flag(s, "exclusiveMaximum") && x >= m {
                self.invalid(path, v.clone(), format!("{path} in body should be less than {}", num(max)));
            } else if x > m {
                let detail = format!("{path} in body should be less than or equal to {}", num(max));
                self.invalid(path, v.clone(), detail);
            }
        }
        if let Some(min) = s.get("minimum").filter(|m| m.is_number()) {
            let m = min.as_f64().unwrap_or_default();
            if flag(s, "exclusiveMinimum") && x <= m {
                self.invalid(path, v.clone(), format!("{path} in body should be greater than {}", num(min)));
            } else if x < m {
                let detail = format!("{path} in body should be greater than or equal to {}", num(min));
                self.invalid(path, v.clone(), detail);
            }
        }
        let fits = match s.get("format").and_then(Value::as_str) {
            Some("int32") => {
                v.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) || v.is_f64() && x.abs() <= f64::from(i32::MAX)
            }
            Some("int64") => v.is_i64() || v.is_f64(),
            _ => true,
        };
        if !fits {
            let f = s["format"].as_str().unwrap_or_default();
            let detail = format!("{path} in body must be of type {f}: \"{}\"", num(v));
            self.errs.push(FieldError::new(path, ErrorType::TypeInvalid, Some(v.clone()), detail));
        }
    }

    fn check_array(&mut self, s: &Value, items: &[Value], path: &str) {
        let len = items.len() as u64;
        if let Some(min) = as_u64(s, "minItems")
            && len < min
        {
            self.invalid(path, json!(len), format!("{path} in body should have at least {min} items"));
        }
        if let Some(max) = as_u64(s, "maxItems")
            && len > max
        {
            let e =
                FieldError::new(path, ErrorType::TooMany, Some(json!(len)), format!("must have at most {max} items"));
            self.errs.push(e);
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"));
            }
        }
        self.check_list_type(s, items, path);
    }

    fn check_list_type(&mut self, s: &Value, items: &[Value], path: &str) {
        let keys: Vec<&str> = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => Vec::new(),
            Some("map") => s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            _ => return,
        };
        let item_schema = s.get("items").unwrap_or(&Value::Null);
        let mut seen: Vec<Value> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let id = if keys.is_empty() {
                item.clone()
            } else {
                let mut m = Map::new();
                for k in &keys {
                    let default = item_schema.pointer(&format!("/properties/{k}/default"));
                    if let Some(kv) = item.get(*k).or(default) {
                        m.insert((*k).to_owned(), kv.clone());
                    }
                }
                Value::Object(m)
            };
            if seen.iter().any(|p| json_eq(p, &id)) {
                self.list_errs.push(FieldError::new(format!("{path}[{i}]"), ErrorType::Duplicate, Some(id), ""));
            } else {
                seen.push(id);
            }
        }
    }

    fn check_object(&mut self, s: &Value, map: &Map<String, Value>, path: &str) {
        let count = map.len() as u64;
        if let Some(max) = as_u64(s, "maxProperties")
            && count > max
        {
            let e =
                FieldError::new(path, ErrorType::TooMany, Some(json!(count)), format!("must have at most {max} items"));
            self.errs.push(e);
        }
        if let Some(min) = as_u64(s, "minProperties")
            && count < min
        {
            self.invalid(path, json!(count), format!("{path} in body should have at least {min} properties"));
        }
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = r.as_str()
                && !map.contains_key(r)
            {
                self.errs.push(FieldError::new(child_path(path, r), ErrorType::Required, None, ""));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(props) = props {
            for (k, ps) in props {
                if let Some(child) = map.get(k) {
                    self.check(ps, child, &child_path(path, k));
                }
            }
        }
        if let Some(addl) = s.get("additionalProperties").filter(|a| a.is_object()) {
            for (k, child) in map {
                if props.is_none_or(|p| !p.contains_key(k)) {
                    self.check(addl, child, &format!("{path}[{k}]"));
                }
            }
        }
    }
}
