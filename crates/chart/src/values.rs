//! Values: Helm's merge of values.yaml with user values (`-f`, `--set`,
//! `--set-string`, `--set-json`), and the conversions between JSON values and the
//! template engine's values.

use std::collections::HashMap;

use gtmpl::Value;
use serde_json::{Map, Number, Value as Json};

use crate::Error;

/// Deep-merge `overlay` onto `base`, as Helm coalesces user values onto the chart's:
/// maps merge key by key, anything else replaces, and a `null` removes the key.
pub fn merge(base: &mut Json, overlay: &Json) {
    match (base, overlay) {
        (Json::Object(base), Json::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key).filter(|e| e.is_object() && value.is_object()) {
                    merge(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// `--set`'s typing of a scalar: `true`/`false`, `null`, integers; anything else is a
/// string (Helm keeps floats and other numbers as strings too).
pub fn typed_scalar(raw: &str) -> Json {
    match raw {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        "null" => Json::Null,
        _ => match raw.parse::<i64>() {
            // Helm only types a number when it round-trips (no leading zeros or `+`).
            Ok(n) if n.to_string() == raw => Json::Number(n.into()),
            _ => Json::String(raw.to_owned()),
        },
    }
}

/// Split one `--set` argument the way Helm's strvals parser does:
/// `a=1,b.c=x,list={x,y}` → `[("a", 1), ("b.c", "x"), ("list", ["x", "y"])]`, values
/// typed with [`typed_scalar`] (or kept as strings with `strings`). `\,` is a literal
/// comma in a value; a path keeps its `\.` escapes for [`set_path`].
pub fn parse_set(arg: &str, strings: bool) -> Result<Vec<(String, Json)>, Error> {
    let scalar = |raw: &str| if strings { Json::String(raw.to_owned()) } else { typed_scalar(raw) };
    let mut out = Vec::new();
    let mut chars = arg.chars().peekable();
    while chars.peek().is_some() {
        let mut key = String::new();
        loop {
            match chars.next() {
                Some('=') => break,
                Some('\\') => {
                    key.push('\\');
                    key.extend(chars.next());
                }
                Some(',') | None => return Err(Error::Values(format!("--set {arg:?}: key {key:?} has no value"))),
                Some(c) => key.push(c),
            }
        }
        // A value: `{a,b}` is a list, otherwise text up to an unescaped comma.
        let list = chars.peek() == Some(&'{');
        if list {
            chars.next();
        }
        let mut items = Vec::new();
        let mut item = String::new();
        loop {
            match chars.next() {
                Some('\\') => item.extend(chars.next()),
                Some('}') if list => {
                    if !item.is_empty() || !items.is_empty() {
                        items.push(scalar(&std::mem::take(&mut item)));
                    }
                    match chars.next() {
                        Some(',') | None => break,
                        Some(c) => return Err(Error::Values(format!("--set {arg:?}: unexpected {c:?} after a list"))),
                    }
                }
                Some(',') if list => items.push(scalar(&std::mem::take(&mut item))),
                Some(',') if !list => break,
                None if list => return Err(Error::Values(format!("--set {arg:?}: unclosed list"))),
                None => break,
                Some(c) => item.push(c),
            }
        }
        let value = if list { Json::Array(items) } else { scalar(&item) };
        out.push((key, value));
    }
    Ok(out)
}

/// One step of a `--set` path: a map key or a list index.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Split `a.b\.c[1].d` into steps (`\.` escapes a dot inside a key).
fn parse_path(path: &str) -> Result<Vec<Step>, Error> {
    let bad = |why: &str| Error::Values(format!("--set path {path:?}: {why}"));
    let mut steps = Vec::new();
    let mut key = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(chars.next().ok_or_else(|| bad("ends with a backslash"))?),
            '.' => {
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                } else if !matches!(steps.last(), Some(Step::Index(_))) {
                    return Err(bad("empty key"));
                }
            }
            '[' => {
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                steps.push(Step::Index(digits.parse().map_err(|_| bad("list index must be a number"))?));
            }
            c => key.push(c),
        }
    }
    if !key.is_empty() {
        steps.push(Step::Key(key));
    }
    if steps.is_empty() || !matches!(steps[0], Step::Key(_)) {
        return Err(bad("must start with a key"));
    }
    Ok(steps)
}

/// Assign `value` at `path` inside `root` (creating maps and list slots on the way,
/// like Helm's strvals parser).
pub fn set_path(root: &mut Json, path: &str, value: Json) -> Result<(), Error> {
    let steps = parse_path(path)?;
    let mut here = root;
    for step in steps {
        here = match step {
            Step::Key(key) => {
                if !here.is_object() {
                    *here = Json::Object(Map::new());
                }
                here.as_object_mut().expect("just made an object").entry(key).or_insert(Json::Null)
            }
            Step::Index(i) => {
                if !here.is_array() {
                    *here = Json::Array(Vec::new());
                }
                let list = here.as_array_mut().expect("just made an array");
                if list.len() <= i {
                    list.resize(i + 1, Json::Null);
                }
                &mut list[i]
            }
        };
    }
    *here = value;
    Ok(())
}

/// A JSON value as the template engine's value (maps stay maps; `null` is nil).
pub fn to_gtmpl(value: &Json) -> Value {
    match value {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or_default())
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(to_gtmpl).collect()),
        Json::Object(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), to_gtmpl(v))).collect::<HashMap<_, _>>()),
    }
}

/// A template value as JSON, map keys sorted (Go's YAML and JSON encoders sort them).
pub fn from_gtmpl(value: &Value) -> Json {
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Json::Number(u.into())
            } else {
                n.as_f64().and_then(Number::from_f64).map_or(Json::Null, Json::Number)
            }
        }
        Value::Array(items) => Json::Array(items.iter().map(from_gtmpl).collect()),
        Value::Map(map) | Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Json::Object(keys.into_iter().map(|k| (k.clone(), from_gtmpl(&map[k]))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_overrides_deeply_and_null_removes() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": "x"});
        merge(&mut base, &json!({"a": {"b": 5}, "d": [3], "e": null}));
        assert_eq!(base, json!({"a": {"b": 5, "c": 2}, "d": [3]}));
    }

    #[test]
    fn set_paths_with_escapes_and_indexes() {
        let mut root = json!({});
        set_path(&mut root, "podLabels.team\\.io/name", json!("db")).unwrap();
        set_path(&mut root, "tolerations[1].key", json!("k")).unwrap();
        assert_eq!(root, json!({"podLabels": {"team.io/name": "db"}, "tolerations": [null, {"key": "k"}]}));
        assert!(set_path(&mut root, "[0]", json!(1)).is_err());
        assert!(set_path(&mut root, "a..b", json!(1)).is_err());
    }

    #[test]
    fn set_arguments_split_like_strvals() {
        let parsed = parse_set(r"a=1,b.c=x\,y,list={CN,PK},empty={},flag=true", false).unwrap();
        assert_eq!(
            parsed,
            [
                ("a".to_owned(), json!(1)),
                ("b.c".to_owned(), json!("x,y")),
                ("list".to_owned(), json!(["CN", "PK"])),
                ("empty".to_owned(), json!([])),
                ("flag".to_owned(), json!(true)),
            ]
        );
        assert_eq!(parse_set("port=80", true).unwrap(), [("port".to_owned(), json!("80"))]);
        assert_eq!(parse_set(r"labels.a\.b=c", false).unwrap(), [(r"labels.a\.b".to_owned(), json!("c"))]);
        assert!(parse_set("a", false).is_err());
        assert!(parse_set("a={x,y", false).is_err());
        assert!(parse_set("a={x}y", false).is_err());
    }

    #[test]
    fn set_typing_is_helms() {
        assert_eq!(typed_scalar("true"), json!(true));
        assert_eq!(typed_scalar("8080"), json!(8080));
        assert_eq!(typed_scalar("007"), json!("007"));
        assert_eq!(typed_scalar("1.5"), json!("1.5"));
        assert_eq!(typed_scalar("null"), json!(null));
        assert_eq!(typed_scalar("eu-west-1"), json!("eu-west-1"));
    }

    #[test]
    fn conversion_round_trips_and_sorts() {
        let v = json!({"z": 1, "a": [true, "s", null, 1.5], "m": {"y": -3}});
        let back = from_gtmpl(&to_gtmpl(&v));
        assert_eq!(back, v);
        let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "m", "z"]);
    }
}
