//! The Sprig and Helm template functions the chart uses, on top of gtmpl's Go
//! built-ins (`and`, `or`, `not`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `len`, `index`,
//! `print`, `printf`, `println`, `urlquery`, `call`).
//!
//! gtmpl functions are plain `fn` pointers without access to the template set, so
//! `include` finds the named templates through a thread-local set up by the renderer
//! for the duration of one render ([`with_sources`]); it re-parses the sources that
//! hold `define`s and executes the named template on the given data.

use std::cell::RefCell;
use std::collections::BTreeMap;

use gtmpl::{Context, Func, FuncError, Template, Value};

use crate::values::{from_gtmpl, to_gtmpl};

/// Every function the renderer adds, by name.
pub const FUNCS: &[(&str, Func)] = &[
    ("include", include as Func),
    ("required", required as Func),
    ("default", default as Func),
    ("empty", empty as Func),
    ("quote", quote as Func),
    ("squote", squote as Func),
    ("toYaml", to_yaml as Func),
    ("toJson", to_json as Func),
    ("indent", indent as Func),
    ("nindent", nindent as Func),
    ("trunc", trunc as Func),
    ("trimSuffix", trim_suffix as Func),
    ("trimPrefix", trim_prefix as Func),
    ("trim", trim as Func),
    ("replace", replace as Func),
    ("contains", contains as Func),
    ("hasPrefix", has_prefix as Func),
    ("join", join as Func),
    ("lower", lower as Func),
    ("upper", upper as Func),
    ("toString", to_string as Func),
    ("hasKey", has_key as Func),
];

thread_local! {
    /// (name, text) of the templates that `include` can reach during a render.
    static SOURCES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with `sources` reachable by `include` (restored afterwards, so renders nest).
pub fn with_sources<T>(sources: Vec<(String, String)>, f: impl FnOnce() -> T) -> T {
    let previous = SOURCES.with(|s| std::mem::replace(&mut *s.borrow_mut(), sources));
    let result = f();
    SOURCES.with(|s| *s.borrow_mut() = previous);
    result
}

/// A template with the built-ins, [`FUNCS`] and every source that defines templates.
pub fn template_set(name: &str) -> Result<Template, String> {
    let mut tmpl = Template::with_name(name);
    tmpl.add_funcs(FUNCS);
    let sources = SOURCES.with(|s| s.borrow().clone());
    for (source, text) in sources.iter().filter(|(_, text)| text.contains("define")) {
        tmpl.add_template(source.clone(), text.clone()).map_err(|e| format!("parse error in {source}: {e}"))?;
    }
    Ok(tmpl)
}

fn err(message: impl Into<String>) -> FuncError {
    FuncError::Generic(message.into())
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n { Ok(()) } else { Err(FuncError::ExactlyXArgs(name.to_owned(), n)) }
}

/// Go's `fmt` rendering of a value as `print` shows it (`<no value>` is kept, like Go;
/// the renderer blanks it in the output as Helm does).
fn text(value: &Value) -> String {
    match value {
        Value::Nil | Value::NoValue => String::new(),
        other => other.to_string(),
    }
}

fn int_arg(name: &str, value: &Value) -> Result<i64, FuncError> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| err(format!("{name}: {n} is not an integer"))),
        Value::String(s) => s.parse().map_err(|_| err(format!("{name}: {s:?} is not an integer"))),
        other => Err(err(format!("{name}: expected an integer, got {other}"))),
    }
}

/// Sprig's notion of empty (`default`, `empty`, `required` on non-strings).
fn is_empty(value: &Value) -> bool {
    match value {
        Value::NoValue | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Map(m) | Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0) || n.as_u64() == Some(0) || n.as_f64() == Some(0.0),
        Value::Function(_) => false,
    }
}

/// `include NAME DATA`: execute the named template and return its output as a string.
fn include(args: &[Value]) -> Result<Value, FuncError> {
    arity("include", args, 2)?;
    let Value::String(name) = &args[0] else { return Err(err("include: the template name must be a string")) };
    let mut tmpl = template_set("<include>").map_err(err)?;
    let call = format!("{{{{- template {} . -}}}}", serde_json::Value::String(name.clone()));
    tmpl.parse(call).map_err(|e| err(format!("include {name:?}: {e}")))?;
    if !tmpl.tree_set.contains_key(name.as_str()) {
        return Err(err(format!("include: no template {name:?} is defined")));
    }
    let out = tmpl.render(&Context::from(args[1].clone())).map_err(|e| err(format!("include {name:?}: {e}")))?;
    Ok(Value::String(out))
}

/// `required MESSAGE VALUE`: VALUE, or a rendering error with MESSAGE when it is nil
/// or an empty string (Sprig: other empty values pass).
fn required(args: &[Value]) -> Result<Value, FuncError> {
    arity("required", args, 2)?;
    match &args[1] {
        Value::Nil | Value::NoValue => Err(err(text(&args[0]))),
        Value::String(s) if s.is_empty() => Err(err(text(&args[0]))),
        other => Ok(other.clone()),
    }
}

/// `default DEFAULT VALUE`: VALUE unless it is empty (a missing VALUE counts as empty).
fn default(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [fallback] => Ok(fallback.clone()),
        [fallback, given] => Ok(if is_empty(given) { fallback.clone() } else { given.clone() }),
        _ => Err(FuncError::AtLeastXArgs("default".to_owned(), 1)),
    }
}

fn empty(args: &[Value]) -> Result<Value, FuncError> {
    arity("empty", args, 1)?;
    Ok(Value::Bool(is_empty(&args[0])))
}

/// Go's `%q` for the characters charts quote (JSON escaping; non-ASCII is kept as is,
/// like Go does for printable runes).
fn go_quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `quote A B ...`: each non-nil argument double-quoted, space separated.
#[allow(clippy::unnecessary_wraps)] // gtmpl's `Func` signature
fn quote(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> =
        args.iter().filter(|a| !matches!(a, Value::Nil | Value::NoValue)).map(|a| go_quote(&text(a))).collect();
    Ok(Value::String(parts.join(" ")))
}

#[allow(clippy::unnecessary_wraps)] // gtmpl's `Func` signature
fn squote(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> =
        args.iter().filter(|a| !matches!(a, Value::Nil | Value::NoValue)).map(|a| format!("'{}'", text(a))).collect();
    Ok(Value::String(parts.join(" ")))
}

/// `toYaml VALUE`: block YAML without the trailing newline (Helm trims it); keys sorted,
/// as Go's YAML encoder sorts map keys.
fn to_yaml(args: &[Value]) -> Result<Value, FuncError> {
    arity("toYaml", args, 1)?;
    let json = from_gtmpl(&args[0]);
    if json.is_null() {
        return Ok(Value::String("null".to_owned()));
    }
    let yaml = serde_norway::to_string(&json).map_err(|e| err(format!("toYaml: {e}")))?;
    Ok(Value::String(yaml.trim_end_matches('\n').to_owned()))
}

fn to_json(args: &[Value]) -> Result<Value, FuncError> {
    arity("toJson", args, 1)?;
    Ok(Value::String(from_gtmpl(&args[0]).to_string()))
}

fn pad(name: &str, args: &[Value]) -> Result<(String, String), FuncError> {
    arity(name, args, 2)?;
    let width = usize::try_from(int_arg(name, &args[0])?).map_err(|_| err(format!("{name}: negative width")))?;
    Ok((" ".repeat(width), text(&args[1])))
}

/// `indent N TEXT`: every line of TEXT prefixed with N spaces.
fn indent(args: &[Value]) -> Result<Value, FuncError> {
    let (pad, s) = pad("indent", args)?;
    Ok(Value::String(format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))))
}

/// `nindent N TEXT`: a newline, then `indent N TEXT`.
fn nindent(args: &[Value]) -> Result<Value, FuncError> {
    let (pad, s) = pad("nindent", args)?;
    Ok(Value::String(format!("\n{pad}{}", s.replace('\n', &format!("\n{pad}")))))
}

/// `trunc N TEXT`: the first N characters (N < 0: the last -N), as Sprig counts bytes
/// of ASCII names.
fn trunc(args: &[Value]) -> Result<Value, FuncError> {
    arity("trunc", args, 2)?;
    let n = int_arg("trunc", &args[0])?;
    let chars: Vec<char> = text(&args[1]).chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let out: String = if n >= 0 {
        chars.iter().take(usize::try_from(n.min(len)).unwrap_or(0)).collect()
    } else {
        chars.iter().skip(usize::try_from((len + n).max(0)).unwrap_or(0)).collect()
    };
    Ok(Value::String(out))
}

fn two_strings(name: &str, args: &[Value]) -> Result<(String, String), FuncError> {
    arity(name, args, 2)?;
    Ok((text(&args[0]), text(&args[1])))
}

fn trim_suffix(args: &[Value]) -> Result<Value, FuncError> {
    let (suffix, s) = two_strings("trimSuffix", args)?;
    Ok(Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_owned()))
}

fn trim_prefix(args: &[Value]) -> Result<Value, FuncError> {
    let (prefix, s) = two_strings("trimPrefix", args)?;
    Ok(Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_owned()))
}

fn trim(args: &[Value]) -> Result<Value, FuncError> {
    arity("trim", args, 1)?;
    Ok(Value::String(text(&args[0]).trim().to_owned()))
}

/// `replace OLD NEW TEXT`.
fn replace(args: &[Value]) -> Result<Value, FuncError> {
    arity("replace", args, 3)?;
    Ok(Value::String(text(&args[2]).replace(&text(&args[0]), &text(&args[1]))))
}

/// `contains SUBSTRING TEXT`.
fn contains(args: &[Value]) -> Result<Value, FuncError> {
    let (needle, s) = two_strings("contains", args)?;
    Ok(Value::Bool(s.contains(&needle)))
}

fn has_prefix(args: &[Value]) -> Result<Value, FuncError> {
    let (prefix, s) = two_strings("hasPrefix", args)?;
    Ok(Value::Bool(s.starts_with(&prefix)))
}

/// `join SEP LIST`.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    arity("join", args, 2)?;
    let items = match &args[1] {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>(),
        Value::Nil | Value::NoValue => Vec::new(),
        other => vec![text(other)],
    };
    Ok(Value::String(items.join(&text(&args[0]))))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    arity("lower", args, 1)?;
    Ok(Value::String(text(&args[0]).to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    arity("upper", args, 1)?;
    Ok(Value::String(text(&args[0]).to_uppercase()))
}

fn to_string(args: &[Value]) -> Result<Value, FuncError> {
    arity("toString", args, 1)?;
    Ok(Value::String(text(&args[0])))
}

/// `hasKey MAP KEY`.
fn has_key(args: &[Value]) -> Result<Value, FuncError> {
    arity("hasKey", args, 2)?;
    match &args[0] {
        Value::Map(m) | Value::Object(m) => Ok(Value::Bool(m.contains_key(&text(&args[1])))),
        _ => Err(err("hasKey: the first argument must be a map")),
    }
}

/// The template context Helm builds: `.Values`, `.Release`, `.Chart`, `.Capabilities`,
/// `.Template`.
pub fn context(top: &BTreeMap<&str, serde_json::Value>) -> Value {
    let map: serde_json::Map<String, serde_json::Value> =
        top.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    to_gtmpl(&serde_json::Value::Object(map))
}
