//! The three non-apply PATCH flavours of kube-apiserver, as pure functions over JSON:
//! RFC 7386 merge patch, RFC 6902 JSON patch and Kubernetes' strategic merge patch.
//!
//! Strategic merge patch support, relative to kube-apiserver:
//! * maps merge recursively and `null` deletes a key, as in a merge patch;
//! * a list whose path has merge keys (`list_keys(path)` returns `Some(keys)`) is merged
//!   element-wise: an element matches a live element when every key field present in
//!   the patch element is equal; unmatched elements are appended. `Some(vec![])` marks
//!   a merged list of primitives (such as `metadata.finalizers`): values are unioned;
//! * every other list is replaced;
//! * directives: `$patch: delete` on a list element (removes matching elements) or on a
//!   map (removes it), `$patch: replace` on a map (replaces it) or as a list element
//!   (replaces the list with the other elements), `$deleteFromPrimitiveList/<field>`;
//! * `$retainKeys` and `$setElementOrder/<field>` are accepted and ignored, so list
//!   order is the live order with new elements appended.
//!
//! Paths handed to `list_keys` are object keys from the root, with `"[]"` standing for
//! "an element of a list" (e.g. `spec.template.spec.containers.[].ports`), the same
//! convention as [`crate::ssa::ListTypes`].

use serde_json::{Map, Value};

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch document is not well-formed for its patch type.
    #[error("invalid patch: {0}")]
    Invalid(String),
    /// A JSON patch operation failed (bad path or a failing `test`).
    #[error(transparent)]
    JsonPatch(#[from] json_patch::PatchError),
}

impl PatchError {
    /// True when the error is a failed JSON patch `test` operation.
    pub fn is_test_failure(&self) -> bool {
        matches!(self, Self::JsonPatch(e) if matches!(e.kind, json_patch::PatchErrorKind::TestFailed))
    }
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes a
/// key, any other value (arrays included) replaces the target.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(obj) = target else { unreachable!() };
    for (key, value) in patch {
        if value.is_null() {
            obj.remove(key);
        } else {
            merge_patch(obj.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies an RFC 6902 JSON patch (a JSON array of operations, `test` included).
/// Atomic: on error `target` is left unchanged.
///
/// As in kube-apiserver (evanphx/json-patch), a `test` for `null` passes when the path
/// is missing: kube-runtime's finalizer helper sends one before adding the first finalizer.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Invalid(e.to_string()))?;
    let mut working = target.clone();
    for (i, op) in ops.0.iter().enumerate() {
        if let json_patch::PatchOperation::Test(t) = op
            && t.value.is_null()
            && working.pointer(t.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(&mut working, std::slice::from_ref(op)).map_err(|mut e| {
            e.operation = i;
            e
        })?;
    }
    *target = working;
    Ok(())
}

/// Applies a Kubernetes strategic merge patch; see the module docs for what is
/// supported. `list_keys` gives the merge keys of the list at a path.
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    list_keys: &dyn Fn(&[String]) -> Option<Vec<String>>,
) -> Result<(), PatchError> {
    let mut at = Vec::new();
    smp_value(target, patch, &mut at, list_keys)
}

type Keys<'a> = &'a dyn Fn(&[String]) -> Option<Vec<String>>;

fn directive(patch: &Map<String, Value>) -> Option<&str> {
    patch.get("$patch").and_then(Value::as_str)
}

fn smp_value(target: &mut Value, patch: &Value, at: &mut Vec<String>, keys: Keys) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match directive(patch) {
        Some("replace") => {
            let mut replacement = Value::Object(Map::new());
            let rest: Map<String, Value> =
                patch.iter().filter(|(k, _)| *k != "$patch").map(|(k, v)| (k.clone(), v.clone())).collect();
            smp_value(&mut replacement, &Value::Object(rest), at, keys)?;
            *target = replacement;
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(PatchError::Invalid(format!("unknown patch directive {other:?}"))),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(obj) = target else { unreachable!() };
    for (key, value) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let Value::Array(remove) = value else {
                return Err(PatchError::Invalid(format!("{key} must be a list")));
            };
            if let Some(Value::Array(items)) = obj.get_mut(field) {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if value.is_null() {
            obj.remove(key);
            continue;
        }
        at.push(key.clone());
        let slot = obj.entry(key.clone()).or_insert(Value::Null);
        let result = match value {
            Value::Array(items) => smp_list(slot, items, at, keys),
            _ => smp_value(slot, value, at, keys),
        };
        at.pop();
        result?;
        if obj.get(key).is_some_and(Value::is_null) {
            obj.remove(key);
        }
    }
    Ok(())
}

fn smp_list(target: &mut Value, patch: &[Value], at: &mut Vec<String>, keys: Keys) -> Result<(), PatchError> {
    let replace =
        patch.iter().any(|item| item.as_object().is_some_and(|o| directive(o) == Some("replace") && o.len() == 1));
    let patch: Vec<&Value> = patch
        .iter()
        .filter(|item| !item.as_object().is_some_and(|o| directive(o) == Some("replace") && o.len() == 1))
        .collect();
    let merge_keys = if replace { None } else { keys(at) };
    let Some(merge_keys) = merge_keys else {
        // Replaced: run each element through the patch logic to strip directives.
        at.push("[]".to_owned());
        let mut out = Vec::new();
        for item in patch {
            if item.as_object().is_some_and(|o| directive(o) == Some("delete")) {
                continue;
            }
            let mut fresh = Value::Null;
            smp_value(&mut fresh, item, at, keys)?;
            out.push(fresh);
        }
        at.pop();
        *target = Value::Array(out);
        return Ok(());
    };
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(live) = target else { unreachable!() };
    at.push("[]".to_owned());
    for item in patch {
        let Value::Object(fields) = item else {
            // A primitive in a merged list: set union.
            if !live.contains(item) {
                live.push(item.clone());
            }
            continue;
        };
        if merge_keys.is_empty() {
            at.pop();
            return Err(PatchError::Invalid(format!("list {} has no merge key but got an object", at.join("."))));
        }
        let matches =
            |candidate: &Value| merge_keys.iter().all(|k| fields.get(k).is_none_or(|v| candidate.get(k) == Some(v)));
        if directive(fields) == Some("delete") {
            live.retain(|candidate| !matches(candidate));
            continue;
        }
        if let Some(existing) = live.iter_mut().find(|c| matches(c)) {
            smp_value(existing, item, at, keys)?;
        } else {
            let mut fresh = Value::Null;
            smp_value(&mut fresh, item, at, keys)?;
            live.push(fresh);
        }
    }
    at.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        // The test cases of RFC 7386 Appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"spec": {"replicas": 1, "tags": ["a"]}, "old": true});
        let patch = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/tags/-", "value": "b"},
            {"op": "remove", "path": "/old"},
            {"op": "copy", "from": "/spec/replicas", "path": "/copied"},
            {"op": "move", "from": "/copied", "path": "/moved"},
        ]);
        json_patch(&mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"spec": {"replicas": 3, "tags": ["a", "b"]}, "moved": 3}));
    }

    #[test]
    fn json_patch_test_for_null_passes_on_a_missing_path() {
        let mut doc = json!({"metadata": {"name": "x"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["f"]},
        ]);
        json_patch(&mut doc, &patch).unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["f"]));
        // Once the path exists, `null` no longer matches it.
        let err = json_patch(&mut doc, &patch).unwrap_err();
        assert!(err.is_test_failure());
        assert_eq!(doc["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn json_patch_failing_test_leaves_target_unchanged() {
        let mut doc = json!({"spec": {"replicas": 1}});
        let before = doc.clone();
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "test", "path": "/spec/replicas", "value": 1},
        ]);
        let err = json_patch(&mut doc, &patch).unwrap_err();
        assert!(err.is_test_failure(), "{err}");
        assert_eq!(doc, before);
        let err = json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert!(!err.is_test_failure());
        assert!(matches!(json_patch(&mut doc, &json!({"op": "add"})), Err(PatchError::Invalid(_))));
    }

    fn deployment_keys(path: &[String]) -> Option<Vec<String>> {
        match path.join(".").as_str() {
            "spec.template.spec.containers" => Some(vec!["name".into()]),
            "spec.template.spec.containers.[].ports" => Some(vec!["containerPort".into()]),
            "metadata.finalizers" => Some(vec![]),
            _ => None,
        }
    }

    #[test]
    fn strategic_merge_containers_by_name() {
        let mut deploy = json!({
            "metadata": {"labels": {"app": "web", "tier": "x"}, "finalizers": ["a"]},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "proxy:1"},
                ],
                "tolerations": [{"key": "a"}],
            }}}
        });
        let patch = json!({
            "metadata": {"labels": {"tier": null}, "finalizers": ["b", "a"]},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "web", "image": "web:2", "ports": [{"containerPort": 443}]},
                    {"name": "sidecar", "$patch": "delete"},
                    {"name": "logger", "image": "log:1"},
                ],
                "tolerations": [{"key": "b"}],
                "$setElementOrder/containers": [{"name": "web"}, {"name": "logger"}],
            }}}
        });
        strategic_merge_patch(&mut deploy, &patch, &deployment_keys).unwrap();
        assert_eq!(
            deploy,
            json!({
                "metadata": {"labels": {"app": "web"}, "finalizers": ["a", "b"]},
                "spec": {"template": {"spec": {
                    "containers": [
                        {"name": "web", "image": "web:2", "ports": [{"containerPort": 80}, {"containerPort": 443}]},
                        {"name": "logger", "image": "log:1"},
                    ],
                    "tolerations": [{"key": "b"}],
                }}}
            })
        );
    }

    #[test]
    fn strategic_merge_replace_and_delete_directives() {
        let mut obj = json!({
            "metadata": {"finalizers": ["a", "b"]},
            "spec": {"selector": {"a": "1", "b": "2"}, "gone": {"x": 1},
                     "template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}
        });
        let patch = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {
                "selector": {"$patch": "replace", "c": "3"},
                "gone": {"$patch": "delete"},
                "$retainKeys": ["selector", "template"],
                "template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "c"}]}},
            }
        });
        strategic_merge_patch(&mut obj, &patch, &deployment_keys).unwrap();
        assert_eq!(
            obj,
            json!({
                "metadata": {"finalizers": ["b"]},
                "spec": {"selector": {"c": "3"}, "template": {"spec": {"containers": [{"name": "c"}]}}}
            })
        );
        let err = strategic_merge_patch(&mut obj, &json!({"spec": {"$patch": "bogus"}}), &deployment_keys);
        assert!(matches!(err, Err(PatchError::Invalid(_))));
    }
}
