//! Response bodies for reads: single objects and lists (with selectors and paging).

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use crate::api::Inner;
use crate::errors::ApiError;
use crate::http::Query;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};

/// Did the client ask for a `meta.k8s.io` Table (`kubectl get`)?
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("as=Table"))
}

fn columns(rt: &ResourceType) -> Vec<crate::table::Column> {
    if rt.custom {
        crate::table::crd_columns(rt.printer_columns.as_ref().unwrap_or(&Value::Null))
    } else {
        crate::table::builtin_columns(&rt.kind)
    }
}

fn include_object(query: &Query) -> &str {
    query.get("includeObject").map_or("Metadata", String::as_str)
}

/// One object as the client asked for it: itself, or a one-row Table.
pub fn object(rt: &ResourceType, obj: &Value, query: &Query, headers: &HeaderMap, rv: &str) -> Value {
    if wants_table(headers) {
        return crate::table::table(&columns(rt), std::slice::from_ref(obj), include_object(query), rv, None);
    }
    obj.clone()
}

/// A `...List` body.
pub fn list_body(rt: &ResourceType, items: &[Value], rv: &str, continue_token: Option<String>) -> Value {
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    })
}

fn encode_continue(namespace: &str, name: &str) -> String {
    use std::fmt::Write as _;
    format!("{namespace}/{name}").bytes().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request("invalid continue token");
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_owned(), name.to_owned()))
}

/// List objects with `labelSelector`, `fieldSelector`, `limit` and `continue`.
///
/// Paging walks objects in (namespace, name) order from the continue token; unlike
/// kube-apiserver it reads the current state, not a snapshot at the first page.
pub fn list(
    inner: &Inner,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Value, ApiError> {
    let labels =
        LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str)).map_err(ApiError::bad_request)?;
    let fields =
        FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str)).map_err(ApiError::bad_request)?;
    let limit: usize = match query.get("limit") {
        Some(l) if !l.is_empty() => l.parse().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        _ => 0,
    };
    let after = match query.get("continue") {
        Some(t) if !t.is_empty() => Some(decode_continue(t)?),
        _ => None,
    };
    let mut items = Vec::new();
    let mut next = None;
    for (key, obj) in inner.store.list(&rt.key(), namespace) {
        if let Some((ns, name)) = &after
            && (key.namespace.as_str(), key.name.as_str()) <= (ns.as_str(), name.as_str())
        {
            continue;
        }
        if !labels.matches(obj) || !fields.matches(obj) {
            continue;
        }
        if limit > 0 && items.len() == limit {
            next = items.last().map(|last: &Value| {
                let m = &last["metadata"];
                encode_continue(m["namespace"].as_str().unwrap_or_default(), m["name"].as_str().unwrap_or_default())
            });
            break;
        }
        items.push((**obj).clone());
    }
    let rv = inner.store.resource_version().to_string();
    if wants_table(headers) {
        return Ok(crate::table::table(&columns(rt), &items, include_object(query), &rv, next.as_deref()));
    }
    Ok(list_body(rt, &items, &rv, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue("team-a", "db-1");
        assert_eq!(decode_continue(&t).unwrap(), ("team-a".to_owned(), "db-1".to_owned()));
        assert!(decode_continue("zz").is_err());
    }
}
