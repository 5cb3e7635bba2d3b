//! The kubectl/client-go JSONPath subset that `additionalPrinterColumns` use.
//!
//! Supported: `.a.b`, `a.b` (leading dot optional), `$`, an optional surrounding `{…}`,
//! `.a\.b` (escaped dot), `['key.with.dots']` / `["k"]`, `['a','b']`, `[0]`, `[-1]`,
//! `[0,2]`, `[1:3]` / `[::2]`, `[*]` / `.*`, recursive descent `..name`, and filters
//! `[?(@.type=="Ready")]` with `==`, `!=`, `<`, `<=`, `>`, `>=` between a relative path
//! (`@.x.y`) and a string, number, boolean or `null` literal (either side), plus the
//! existence test `[?(@.x)]`. Missing keys and out-of-range indexes produce no match
//! rather than an error, as with client-go's `AllowMissingKeys(true)` that kube-apiserver
//! sets for printer columns. Not supported: `range`/`end` templates, `=~`, `&&`/`||`.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Fields(Vec<String>),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Wildcard,
    Descendants,
    Filter(Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    left: Operand,
    cmp: Option<(Op, Operand)>,
}

/// Evaluates `path` against `obj` and returns every match, in document order.
///
/// ```
/// # use serde_json::json;
/// let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
/// let got = kube_emulator::table::jsonpath(&obj, r#".status.conditions[?(@.type=="Ready")].status"#).unwrap();
/// assert_eq!(got, [json!("True")]);
/// ```
pub fn jsonpath(obj: &Value, path: &str) -> Result<Vec<Value>, String> {
    let steps = parse(path)?;
    Ok(eval(obj, &steps).into_iter().cloned().collect())
}

fn parse(path: &str) -> Result<Vec<Step>, String> {
    let mut p = path.trim();
    if let Some(inner) = p.strip_prefix('{') {
        p = inner.strip_suffix('}').ok_or_else(|| format!("unclosed '{{' in JSONPath {path:?}"))?.trim();
    }
    p = p.strip_prefix('$').unwrap_or(p);
    parse_steps(p).map_err(|e| format!("invalid JSONPath {path:?}: {e}"))
}

fn parse_steps(src: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' if chars.get(i + 1) == Some(&'.') => {
                steps.push(Step::Descendants);
                i += 2;
                if chars.get(i).is_some_and(|c| *c != '[') {
                    let (name, next) = read_name(&chars, i);
                    steps.push(if name == "*" { Step::Wildcard } else { Step::Field(name) });
                    i = next;
                }
            }
            '.' => {
                i += 1;
                if chars.get(i).is_none_or(|c| *c == '[') {
                    continue;
                }
                let (name, next) = read_name(&chars, i);
                steps.push(if name == "*" { Step::Wildcard } else { Step::Field(name) });
                i = next;
            }
            '[' => {
                let end = bracket_end(&chars, i)?;
                let inner: String = chars[i + 1..end].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = end + 1;
            }
            c if c.is_whitespace() => i += 1,
            _ if i == 0 => {
                let (name, next) = read_name(&chars, i);
                steps.push(Step::Field(name));
                i = next;
            }
            c => return Err(format!("unexpected {c:?} at offset {i}")),
        }
    }
    Ok(steps)
}

/// Reads a dotted-path field name up to the next unescaped `.` or `[`.
fn read_name(chars: &[char], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' if chars.get(i + 1) == Some(&'.') => {
                name.push('.');
                i += 2;
            }
            '.' | '[' | ']' => break,
            _ => {
                name.push(c);
                i += 1;
            }
        }
    }
    (name.trim().to_owned(), i)
}

/// Index of the `]` closing the `[` at `open`, skipping quoted strings and parentheses.
fn bracket_end(chars: &[char], open: usize) -> Result<usize, String> {
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for (i, &c) in chars.iter().enumerate().skip(open + 1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ']') if depth == 0 => return Ok(i),
            _ => {}
        }
    }
    Err(format!("unclosed '[' at offset {open}"))
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(expr) = inner.strip_prefix('?') {
        let expr = expr.trim();
        let expr = expr
            .strip_prefix('(')
            .and_then(|e| e.strip_suffix(')'))
            .ok_or_else(|| format!("filter must look like ?(...), got {inner:?}"))?;
        return Ok(Step::Filter(Box::new(parse_filter(expr.trim())?)));
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let names = split_top_level(inner, ',')
            .into_iter()
            .map(|part| match parse_literal(part.trim()) {
                Some(Value::String(s)) => Ok(s),
                _ => Err(format!("bad quoted key {part:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if names.len() == 1 {
            Step::Field(names.into_iter().next().unwrap_or_default())
        } else {
            Step::Fields(names)
        });
    }
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').collect();
        if parts.len() > 3 {
            return Err(format!("bad slice {inner:?}"));
        }
        let num = |i: usize| -> Result<Option<i64>, String> {
            match parts.get(i).map(|s| s.trim()) {
                None | Some("") => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| format!("bad slice bound {s:?}")),
            }
        };
        return Ok(Step::Slice(num(0)?, num(1)?, num(2)?));
    }
    let indexes = inner
        .split(',')
        .map(|s| s.trim().parse::<i64>().map_err(|_| format!("bad index {s:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Step::Indexes(indexes))
}

/// Splits on `sep` outside quotes.
fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c == sep => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_filter(expr: &str) -> Result<Filter, String> {
    const OPS: [(&str, Op); 6] =
        [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let mut quote: Option<char> = None;
    for (i, c) in expr.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, _) => {
                if let Some((tok, op)) = OPS.iter().find(|(tok, _)| expr[i..].starts_with(tok)) {
                    let left = parse_operand(expr[..i].trim())?;
                    let right = parse_operand(expr[i + tok.len()..].trim())?;
                    return Ok(Filter { left, cmp: Some((*op, right)) });
                }
            }
            (Some(_), _) => {}
        }
    }
    Ok(Filter { left: parse_operand(expr)?, cmp: None })
}

fn parse_operand(s: &str) -> Result<Operand, String> {
    if let Some(rest) = s.strip_prefix('@') {
        if rest.contains(['=', '<', '>', '!']) {
            return Err(format!("bad filter operand {s:?}"));
        }
        return Ok(Operand::Path(parse_steps(rest)?));
    }
    parse_literal(s).map(Operand::Literal).ok_or_else(|| format!("bad filter operand {s:?}"))
}

fn parse_literal(s: &str) -> Option<Value> {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Some(Value::String(inner.to_owned()));
        }
    }
    match s {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" | "nil" => Some(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(s).ok().map(Value::Number),
    }
}

fn eval<'a>(root: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let mut cur = vec![root];
    for step in steps {
        let mut next = Vec::new();
        for v in cur {
            apply(step, v, &mut next);
        }
        cur = next;
    }
    cur
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(name) => out.extend(v.get(name.as_str()).filter(|_| v.is_object())),
        Step::Fields(names) => out.extend(names.iter().filter_map(|n| v.as_object().and_then(|m| m.get(n)))),
        Step::Wildcard => match v {
            Value::Array(items) => out.extend(items),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Indexes(idx) => {
            if let Value::Array(items) = v {
                out.extend(idx.iter().filter_map(|&i| resolve_index(i, items.len()).map(|i| &items[i])));
            }
        }
        Step::Slice(start, end, step) => {
            if let Value::Array(items) = v {
                slice(items, *start, *end, *step, out);
            }
        }
        Step::Descendants => descendants(v, out),
        Step::Filter(filter) => {
            if let Value::Array(items) = v {
                out.extend(items.iter().filter(|item| matches(filter, item)));
            }
        }
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    usize::try_from(i).ok().filter(|&i| i64::try_from(i).is_ok_and(|i| i < len))
}

fn slice<'a>(items: &'a [Value], start: Option<i64>, end: Option<i64>, step: Option<i64>, out: &mut Vec<&'a Value>) {
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let clamp = |i: i64| if i < 0 { (i + len).max(0) } else { i.min(len) };
    let (start, end) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
    let step = usize::try_from(step.unwrap_or(1)).unwrap_or(1).max(1);
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else { return };
    if start < end {
        out.extend(items[start..end].iter().step_by(step));
    }
}

fn descendants<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Array(items) => items.iter().for_each(|i| descendants(i, out)),
        Value::Object(map) => map.values().for_each(|i| descendants(i, out)),
        _ => {}
    }
}

fn operand_values<'a>(operand: &'a Operand, item: &'a Value) -> Vec<&'a Value> {
    match operand {
        Operand::Path(steps) => eval(item, steps),
        Operand::Literal(v) => vec![v],
    }
}

fn matches(filter: &Filter, item: &Value) -> bool {
    let lefts = operand_values(&filter.left, item);
    let Some((op, right)) = &filter.cmp else {
        return lefts.iter().any(|v| !v.is_null() && *v != &Value::Bool(false));
    };
    let rights = operand_values(right, item);
    lefts.iter().any(|l| rights.iter().any(|r| compare(l, *op, r)))
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::jsonpath;

    fn obj() -> serde_json::Value {
        json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"targets": [{"region": "eu-west-3", "n": 1}, {"region": "eu-west-1", "n": 2}], "on": true},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "Done"},
                {"type": "ResidencyCompliant", "status": "False"}
            ]}
        })
    }

    fn jp(path: &str) -> Vec<serde_json::Value> {
        jsonpath(&obj(), path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn fields_and_missing_keys() {
        assert_eq!(jp(".metadata.name"), [json!("a")]);
        assert_eq!(jp("metadata.name"), [json!("a")]);
        assert_eq!(jp("{.metadata.name}"), [json!("a")]);
        assert_eq!(jp("$.metadata.name"), [json!("a")]);
        assert!(jp(".metadata.nope.deeper").is_empty());
        assert!(jp(".metadata.name.deeper").is_empty());
        assert_eq!(jp(".spec.on"), [json!(true)]);
    }

    #[test]
    fn quoted_and_escaped_keys() {
        assert_eq!(jp(".metadata.labels['app.kubernetes.io/name']"), [json!("x")]);
        assert_eq!(jp(r#".metadata.labels["app.kubernetes.io/name"]"#), [json!("x")]);
        assert_eq!(jp(r".metadata.labels.app\.kubernetes\.io/name"), [json!("x")]);
        assert_eq!(jp(".metadata['name','nope']"), [json!("a")]);
    }

    #[test]
    fn indexes_slices_and_wildcards() {
        assert_eq!(jp(".spec.targets[0].region"), [json!("eu-west-3")]);
        assert_eq!(jp(".spec.targets[-1].region"), [json!("eu-west-1")]);
        assert!(jp(".spec.targets[5].region").is_empty());
        assert_eq!(jp(".spec.targets[*].region"), [json!("eu-west-3"), json!("eu-west-1")]);
        assert_eq!(jp(".spec.targets[0:1].n"), [json!(1)]);
        assert_eq!(jp(".spec.targets[::2].n"), [json!(1)]);
        assert_eq!(jp(".spec.targets[0,1].n"), [json!(1), json!(2)]);
        assert_eq!(jp(".spec.targets.*.n"), [json!(1), json!(2)]);
        assert_eq!(jp("..region"), [json!("eu-west-3"), json!("eu-west-1")]);
    }

    #[test]
    fn filters() {
        assert_eq!(jp(r#".status.conditions[?(@.type=="Ready")].status"#), [json!("True")]);
        assert_eq!(jp(r".status.conditions[?(@.type == 'Ready')].reason"), [json!("Done")]);
        assert_eq!(jp(r#".status.conditions[?(@.type!="Ready")].type"#), [json!("ResidencyCompliant")]);
        assert_eq!(jp(".status.conditions[?(@.reason)].type"), [json!("Ready")]);
        assert_eq!(jp(".spec.targets[?(@.n>1)].region"), [json!("eu-west-1")]);
        assert_eq!(jp(".spec.targets[?(@.n==1)].region"), [json!("eu-west-3")]);
        assert_eq!(jp(".spec.targets[?(@.n<=2)].n"), [json!(1), json!(2)]);
        assert!(jp(r#".status.conditions[?(@.type=="Missing")].status"#).is_empty());
        let bools = json!({"items": [{"ok": true, "v": 1}, {"ok": false, "v": 2}]});
        assert_eq!(jsonpath(&bools, ".items[?(@.ok==true)].v").unwrap(), [json!(1)]);
        assert_eq!(jsonpath(&bools, ".items[?(@.ok!=true)].v").unwrap(), [json!(2)]);
        assert_eq!(jsonpath(&bools, r#".items[?("x"=="x")].v"#).unwrap().len(), 2);
    }

    #[test]
    fn syntax_errors() {
        for bad in [".a[", ".a[x]", "{.a", ".a[?(@.b=)]", ".a[1:2:3:4]", ".a]"] {
            assert!(jsonpath(&obj(), bad).is_err(), "{bad} should not parse");
        }
    }
}
