//! PATCH requests: decode the body by content type and apply it to the live object,
//! then hand the result to the shared write path.

use std::sync::Arc;

use serde_json::Value;

use crate::api::{Inner, PatchType, WriteOptions};
use crate::errors::ApiError;
use crate::meta;
use crate::registry::ResourceType;

/// Decode a request body as JSON, or as YAML for apply patches (kubectl sends JSON,
/// but the content type is YAML and humans send YAML).
pub fn decode_body(body: &[u8], yaml: bool) -> Result<Value, ApiError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) if !yaml => Err(ApiError::bad_request(format!("error decoding request body: {e}"))),
        Err(_) => serde_norway::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
    }
}

impl Inner {
    /// Apply a patch to an object (creating it for server-side apply).
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        kind: PatchType,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let patch = decode_body(body, kind == PatchType::Apply)?;
        let old = match self.get(rt, namespace, name) {
            Ok(o) => o,
            Err(e) if kind == PatchType::Apply && e.code == 404 && subresource.is_none() => {
                let mut obj = patch;
                meta::metadata_mut(&mut obj).insert("name".into(), Value::String(name.to_owned()));
                return self.create(rt, namespace, obj, opts);
            }
            Err(e) => return Err(e),
        };
        let mut new = (*old).clone();
        match kind {
            PatchType::Merge | PatchType::Apply => json_patch::merge(&mut new, &patch),
            PatchType::StrategicMerge => {
                if rt.custom {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                json_patch::merge(&mut new, &patch);
            }
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(patch)
                    .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
                json_patch::patch(&mut new, &ops).map_err(|e| ApiError::new(422, "Invalid", format!("the server rejected our request due to an error in our request: {e}")))?;
            }
        }
        if let Some(rv) = meta::meta_str(&new, "resourceVersion")
            && Some(rv) != meta::meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(rt, name));
        }
        self.commit(rt, namespace, &old, new, subresource, opts)
    }
}
