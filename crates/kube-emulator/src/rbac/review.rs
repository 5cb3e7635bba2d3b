//! `SelfSubjectAccessReview` (`kubectl auth can-i`): the caller asks whether it may do
//! something and gets the authorizer's answer without doing it. kubectl sends the
//! review as protobuf (decoded by `crate::protobuf`); JSON bodies are read too. The
//! answer is always JSON, which client-go accepts.

use serde_json::{Value, json};

use super::Attributes;
use crate::errors::ApiError;

/// The review's spec from a protobuf body (`k8s\0` envelope, read by the shared
/// table-driven decoder) or a JSON body.
pub fn spec(body: &[u8], protobuf: bool) -> Result<Value, ApiError> {
    let review = if protobuf {
        crate::protobuf::decode_object(body)?
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?
    };
    if review.get("kind").is_some_and(|k| k != "SelfSubjectAccessReview") {
        return Err(ApiError::bad_request("the body is not a SelfSubjectAccessReview"));
    }
    review.get("spec").cloned().ok_or_else(|| ApiError::bad_request("the SelfSubjectAccessReview has no spec"))
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
        let mut body = crate::protobuf::MAGIC.to_vec();
        body.extend(message(&[(1, &type_meta), (2, &review)]));
        let spec = super::spec(&body, true).unwrap();
        assert_eq!(attributes(&spec), Attributes::resource("list", "", "configmaps", "team", ""));

        let nra = message(&[(1, b"/metrics"), (2, b"get")]);
        let review = message(&[(2, &message(&[(2, &nra)]))]);
        let mut body = crate::protobuf::MAGIC.to_vec();
        body.extend(message(&[(1, &type_meta), (2, &review)]));
        assert_eq!(attributes(&super::spec(&body, true).unwrap()), Attributes::non_resource("get", "/metrics"));
        assert_eq!(super::spec(b"not protobuf", true).unwrap_err().code, 400);
        let json = br#"{"kind":"SelfSubjectAccessReview","spec":{"nonResourceAttributes":{"path":"/x","verb":"get"}}}"#;
        assert_eq!(attributes(&super::spec(json, false).unwrap()), Attributes::non_resource("get", "/x"));
    }
}
