//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`).
//! kubectl's typed commands (`kubectl create namespace|configmap|secret|deployment|
//! role|…`, `kubectl auth can-i`) send protobuf and client-go never retries as JSON,
//! so the emulator reads kube's envelope (`k8s\0` + `runtime.Unknown`) and decodes the
//! object with static field tables taken from the upstream `generated.proto` files
//! into the JSON the same object would have had. The request then follows the JSON
//! path unchanged. Responses stay JSON: client-go decodes by the response's type.
//!
//! Owns: the envelope (here), the wire format (`wire`), the table-driven decoder
//! (`decode`) and the tables (`meta`, `core`, `kinds`).

pub mod core;
pub mod decode;
pub mod kinds;
pub mod meta;
pub mod wire;

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use crate::errors::ApiError;
use decode::DecodeError;

/// kube's protobuf envelope magic.
pub const MAGIC: &[u8] = b"k8s\0";

/// Whether a request's body is protobuf.
pub fn is_protobuf(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("protobuf"))
}

/// The kinds whose protobuf bodies are decoded, for error messages.
const DECODED: &str = "Namespace, ConfigMap, Secret, ServiceAccount, Service, Deployment, PodDisruptionBudget, \
                       Role, ClusterRole, RoleBinding, ClusterRoleBinding, SelfSubjectAccessReview";

fn unsupported(message: String) -> ApiError {
    ApiError::new(415, "UnsupportedMediaType", message)
}

fn text(v: wire::Value<'_>) -> Result<String, ApiError> {
    match v {
        wire::Value::Bytes(b) => String::from_utf8(b.to_vec())
            .map_err(|_| ApiError::bad_request("error decoding protobuf request body: a type field is not UTF-8")),
        other => Err(ApiError::bad_request(format!(
            "error decoding protobuf request body: expected a string, got a {} field",
            other.wire_type()
        ))),
    }
}

/// Decode a protobuf request body into the JSON object it stands for (with
/// `apiVersion` and `kind`). Malformed bytes are 400 `BadRequest`; a kind or field the
/// tables do not know is 415 `UnsupportedMediaType` naming it, never dropped.
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let bad = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("error decoding protobuf request body: {e}"));
    let envelope =
        body.strip_prefix(MAGIC).ok_or_else(|| bad(&"the body does not start with the k8s protobuf magic"))?;
    let (mut api_version, mut kind, mut raw, mut encoding) = (String::new(), String::new(), &[][..], String::new());
    for (number, value) in wire::fields(envelope).map_err(|e| bad(&e))? {
        match (number, value) {
            (1, wire::Value::Bytes(type_meta)) => {
                for (n, v) in wire::fields(type_meta).map_err(|e| bad(&e))? {
                    match n {
                        1 => api_version = text(v)?,
                        2 => kind = text(v)?,
                        _ => {}
                    }
                }
            }
            (2, wire::Value::Bytes(bytes)) => raw = bytes,
            (3, v) => encoding = text(v)?,
            (4, _) => {}
            (n, v) => return Err(bad(&format!("unexpected envelope field {n} ({})", v.wire_type()))),
        }
    }
    if !encoding.is_empty() {
        return Err(unsupported(format!("protobuf bodies with contentEncoding {encoding:?} are not supported")));
    }
    let Some(table) = kinds::table(&api_version, &kind) else {
        return Err(unsupported(format!(
            "the body of the request was in an unknown format: the emulator decodes protobuf only for {DECODED}, \
             not {kind} ({api_version}); send it as JSON instead, e.g. with `kubectl apply -f`"
        )));
    };
    let mut object = decode::message(table, raw, "").map_err(|e| match e {
        DecodeError::Malformed(m) => bad(&format!("{kind}: {m}")),
        DecodeError::UnknownField { path, message, number } => unsupported(format!(
            "the emulator cannot decode protobuf field number {number} of {message} (at {kind} {}); \
             no data is dropped silently, so send the object as JSON instead, e.g. with `kubectl apply -f`",
            if path.is_empty() { "top level".to_owned() } else { path }
        )),
    })?;
    object.insert("apiVersion".to_owned(), json!(api_version));
    object.insert("kind".to_owned(), json!(kind));
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests;
