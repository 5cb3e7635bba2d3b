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
        Err(_) => {
            serde_norway::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
    }
}

impl Inner {
    /// Apply a patch to an object (creating it for server-side apply).
    #[allow(clippy::too_many_arguments)]
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
        let live = match self.get(rt, namespace, name) {
            Ok(o) => Some(o),
            Err(e) if kind == PatchType::Apply && e.code == 404 && subresource.is_none() => None,
            Err(e) => return Err(e),
        };
        if kind == PatchType::Apply {
            return self.server_side_apply(rt, namespace, name, subresource, live.as_deref(), &patch, opts);
        }
        let old = live.expect("only apply proceeds without a live object");
        let mut new = (*old).clone();
        match kind {
            PatchType::Merge | PatchType::Apply => crate::patch::merge_patch(&mut new, &patch),
            PatchType::StrategicMerge => {
                if rt.custom {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                let types = rt.list_types.clone();
                crate::patch::strategic_merge_patch(&mut new, &patch, &|p| types.merge_keys(p))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            PatchType::Json => crate::patch::json_patch(&mut new, &patch).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?,
        }
        if let Some(rv) = meta::meta_str(&new, "resourceVersion")
            && Some(rv) != meta::meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(rt, name));
        }
        self.commit(rt, namespace, &old, new, subresource, opts)
    }

    /// Server-side apply: merge the manager's intent with field ownership, creating the
    /// object when it does not exist.
    #[allow(clippy::too_many_arguments)]
    fn server_side_apply(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        live: Option<&Value>,
        patch: &Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        if opts.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let mut applied = patch.clone();
        let Some(fields) = applied.as_object_mut() else {
            return Err(ApiError::bad_request("the apply configuration must be a JSON object"));
        };
        // kube-apiserver's reset fields: the main resource does not apply `status`, the
        // status subresource applies nothing but `status`.
        if rt.status_subresource {
            match subresource {
                None => {
                    fields.remove("status");
                }
                Some(_) => fields.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")),
            }
        }
        if meta::meta_str(&applied, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        meta::metadata_mut(&mut applied).insert("name".into(), Value::String(name.to_owned()));
        if let Some(ns) = namespace {
            meta::metadata_mut(&mut applied).insert("namespace".into(), Value::String(ns.to_owned()));
        }
        let merged = crate::ssa::apply(live, &applied, &opts.field_manager, opts.force, &rt.list_types, &meta::now(), subresource)
            .map_err(|conflicts| {
                let causes = conflicts
                    .iter()
                    .map(|c| serde_json::json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
                    .collect::<Vec<_>>();
                let mut e = ApiError::new(409, "Conflict", crate::ssa::conflict_message(&conflicts, &rt.api_version()));
                e.details = Some(serde_json::json!({"name": name, "group": rt.group, "kind": rt.plural, "causes": causes}));
                e
            })?;
        let opts = WriteOptions { managed_fields_set: true, ..opts.clone() };
        match live {
            None => self.create(rt, namespace, merged, &opts),
            Some(old) => self.commit(rt, namespace, old, merged, subresource, &opts),
        }
    }
}
