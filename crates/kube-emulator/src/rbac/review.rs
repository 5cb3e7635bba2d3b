//! `SelfSubjectAccessReview` (`kubectl auth can-i`): the caller asks whether it may do
//! something and gets the authorizer's answer without doing it. kubectl sends the
//! review as protobuf, which the emulator speaks nowhere else, so this module reads
//! the few fields a review has from kube's protobuf envelope (`k8s\0` + `Unknown`);
//! JSON bodies are read too. The answer is always JSON, which client-go accepts.

use serde_json::{Value, json};

use super::Attributes;

/// kube's protobuf envelope magic.
const MAGIC: &[u8] = b"k8s\0";

/// Length-delimited fields of one protobuf message, as (field number, bytes); other
/// wire types are skipped.
fn fields(mut buf: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = buf.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (value, rest) = (buf.get(..len)?, buf.get(len..)?);
                out.push((key >> 3, value));
                buf = rest;
            }
            5 => buf = buf.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

fn field<'a>(fields: &[(u64, &'a [u8])], number: u64) -> Option<&'a [u8]> {
    fields.iter().find(|(n, _)| *n == number).map(|(_, v)| *v)
}

fn text(fields: &[(u64, &[u8])], number: u64) -> String {
    field(fields, number).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
}

/// The review's spec as JSON, from a protobuf body (`k8s\0` envelope).
fn spec_from_protobuf(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let review = fields(field(&unknown, 2)?)?;
    let spec = fields(field(&review, 2)?)?;
    if let Some(ra) = field(&spec, 1) {
        let ra = fields(ra)?;
        let keys = ["namespace", "verb", "group", "version", "resource", "subresource", "name"];
        let attrs: serde_json::Map<String, Value> =
            keys.iter().zip(1..).map(|(k, n)| ((*k).to_owned(), json!(text(&ra, n)))).collect();
        return Some(json!({"resourceAttributes": attrs}));
    }
    let nra = fields(field(&spec, 2)?)?;
    Some(json!({"nonResourceAttributes": {"path": text(&nra, 1), "verb": text(&nra, 2)}}))
}

/// The review's spec from a protobuf or JSON body.
pub fn spec(body: &[u8], protobuf: bool) -> Option<Value> {
    if protobuf { spec_from_protobuf(body) } else { serde_json::from_slice::<Value>(body).ok()?.get("spec").cloned() }
}

/// The request attributes a review's spec asks about.
pub fn attributes(spec: &Value) -> Attributes {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(ra) = spec.get("resourceAttributes") {
        let mut a = Attributes::resource(
            &s(ra, "verb"),
            &s(ra, "group"),
            &s(ra, "resource"),
            &s(ra, "namespace"),
            &s(ra, "name"),
        );
        a.subresource = s(ra, "subresource");
        a
    } else {
        let nra = spec.get("nonResourceAttributes").cloned().unwrap_or_default();
        Attributes::non_resource(&s(&nra, "verb"), &s(&nra, "path"))
    }
}

/// The answered review.
pub fn answer(spec: &Value, allowed: bool, reason: &str) -> Value {
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": spec,
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in fields {
            out.push((n << 3) | 2);
            out.push(u8::try_from(v.len()).unwrap());
            out.extend_from_slice(v);
        }
        out
    }

    #[test]
    fn protobuf_reviews_are_read() {
        let ra = message(&[(1, b"team"), (2, b"list"), (5, b"configmaps")]);
        let spec = message(&[(1, &ra)]);
        let review = message(&[(1, b""), (2, &spec)]);
        let type_meta = message(&[(1, b"authorization.k8s.io/v1"), (2, b"SelfSubjectAccessReview")]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(1, &type_meta), (2, &review)]));
        let spec = super::spec(&body, true).unwrap();
        assert_eq!(attributes(&spec), Attributes::resource("list", "", "configmaps", "team", ""));

        let nra = message(&[(1, b"/metrics"), (2, b"get")]);
        let review = message(&[(2, &message(&[(2, &nra)]))]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(2, &review)]));
        assert_eq!(attributes(&super::spec(&body, true).unwrap()), Attributes::non_resource("get", "/metrics"));
        assert!(super::spec(b"not protobuf", true).is_none());
    }
}
