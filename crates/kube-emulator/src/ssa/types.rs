//! Which lists are atomic, sets or maps, and which maps are atomic: the part of an
//! OpenAPI schema that server-side apply needs.

use serde_json::Value;

/// How a list is merged and tracked by server-side apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced and owned as a whole (the default).
    Atomic,
    /// A set of scalars; each value is owned separately (`v:"x"`).
    Set,
    /// A list of objects keyed by these fields; each element is owned separately
    /// (`k:{"name":"x"}`).
    Map(Vec<String>),
}

/// How a map (JSON object) is tracked by server-side apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// Each key is owned separately (the default).
    Granular,
    /// Replaced and owned as a whole.
    Atomic,
}

/// A lookup from a field path to its list or map type. Paths are object keys from the
/// root of the object, with `"[]"` for "an element of a list" and `"*"` (in rules)
/// matching any key of a map with `additionalProperties`.
#[derive(Debug, Clone)]
pub struct ListTypes {
    lists: Vec<(Vec<String>, ListKind)>,
    atomic_maps: Vec<Vec<String>>,
}

impl Default for ListTypes {
    fn default() -> Self {
        Self::new()
    }
}

fn owned(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| (*s).to_owned()).collect()
}

fn matches(rule: &[String], path: &[String]) -> bool {
    rule.len() == path.len() && rule.iter().zip(path).all(|(r, p)| r == p || (r == "*" && p != "[]"))
}

impl ListTypes {
    /// Only what every object shares: `metadata.finalizers` is a set and
    /// `metadata.ownerReferences` a map keyed by `uid`; everything else is atomic.
    pub fn new() -> Self {
        Self { lists: Vec::new(), atomic_maps: Vec::new() }
            .with_list(&["metadata", "finalizers"], ListKind::Set)
            .with_list(&["metadata", "ownerReferences"], ListKind::Map(vec!["uid".into()]))
    }

    /// Adds (or overrides) the type of the list at `path`.
    #[must_use]
    pub fn with_list(mut self, path: &[&str], kind: ListKind) -> Self {
        let path = owned(path);
        self.lists.retain(|(p, _)| *p != path);
        self.lists.push((path, kind));
        self
    }

    /// Marks the map at `path` atomic.
    #[must_use]
    pub fn with_atomic_map(mut self, path: &[&str]) -> Self {
        self.atomic_maps.push(owned(path));
        self
    }

    /// The type of the list at `path`.
    pub fn list_kind(&self, path: &[String]) -> ListKind {
        self.lists.iter().find(|(rule, _)| matches(rule, path)).map_or(ListKind::Atomic, |(_, kind)| kind.clone())
    }

    /// The type of the map at `path`.
    pub fn map_kind(&self, path: &[String]) -> MapKind {
        if self.atomic_maps.iter().any(|rule| matches(rule, path)) { MapKind::Atomic } else { MapKind::Granular }
    }

    /// Merge keys for [`crate::patch::strategic_merge_patch`]: `Some(keys)` for list
    /// maps, `Some(vec![])` for sets, `None` for atomic lists.
    pub fn merge_keys(&self, path: &[String]) -> Option<Vec<String>> {
        match self.list_kind(path) {
            ListKind::Atomic => None,
            ListKind::Set => Some(Vec::new()),
            ListKind::Map(keys) => Some(keys),
        }
    }

    /// Reads `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
    /// `x-kubernetes-map-type` from a CRD version's `openAPIV3Schema`.
    pub fn from_schema(schema: &Value) -> Self {
        let mut types = Self::new();
        let mut path = Vec::new();
        types.walk(schema, &mut path);
        types
    }

    fn walk(&mut self, schema: &Value, path: &mut Vec<String>) {
        let Some(node) = schema.as_object() else { return };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => self.lists.push((path.clone(), ListKind::Set)),
            Some("map") => {
                let keys = node
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                self.lists.push((path.clone(), ListKind::Map(keys)));
            }
            _ => {}
        }
        if node.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            self.atomic_maps.push(path.clone());
        }
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                path.push(name.clone());
                self.walk(child, path);
                path.pop();
            }
        }
        if let Some(items) = node.get("items") {
            path.push("[]".to_owned());
            self.walk(items, path);
            path.pop();
        }
        if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
            path.push("*".to_owned());
            self.walk(values, path);
            path.pop();
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for alternative in node.get(combinator).and_then(Value::as_array).into_iter().flatten() {
                self.walk(alternative, path);
            }
        }
    }

    /// The list types of a few built-in kinds: pod templates (containers, init
    /// containers, volumes, env, ports, volume mounts), Service ports and
    /// `status.conditions`. Every other list is atomic.
    pub fn builtin(kind: &str) -> Self {
        let by_name = || ListKind::Map(vec!["name".into()]);
        let mut types = Self::new().with_list(&["status", "conditions"], ListKind::Map(vec!["type".into()]));
        let pod_spec: &[&'static str] = match kind {
            "Pod" => &["spec"],
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => {
                &["spec", "template", "spec"]
            }
            "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
            "Service" => {
                return types.with_list(&["spec", "ports"], ListKind::Map(vec!["port".into()]));
            }
            _ => return types,
        };
        let at = |suffix: &[&'static str]| -> Vec<&'static str> { pod_spec.iter().chain(suffix).copied().collect() };
        for containers in ["containers", "initContainers", "ephemeralContainers"] {
            types = types
                .with_list(&at(&[containers]), by_name())
                .with_list(&at(&[containers, "[]", "ports"]), ListKind::Map(vec!["containerPort".into()]))
                .with_list(&at(&[containers, "[]", "env"]), by_name())
                .with_list(&at(&[containers, "[]", "volumeMounts"]), ListKind::Map(vec!["mountPath".into()]));
        }
        types
            .with_list(&at(&["volumes"]), by_name())
            .with_list(&at(&["imagePullSecrets"]), by_name())
            .with_list(&at(&["hostAliases"]), ListKind::Map(vec!["ip".into()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Vec<String> {
        path.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn builtin_deployment() {
        let types = ListTypes::builtin("Deployment");
        assert_eq!(types.list_kind(&p("spec.template.spec.containers")), ListKind::Map(vec!["name".into()]));
        assert_eq!(
            types.list_kind(&p("spec.template.spec.containers.[].ports")),
            ListKind::Map(vec!["containerPort".into()])
        );
        assert_eq!(types.list_kind(&p("spec.template.spec.containers.[].env")), ListKind::Map(vec!["name".into()]));
        assert_eq!(types.list_kind(&p("spec.template.spec.tolerations")), ListKind::Atomic);
        assert_eq!(types.list_kind(&p("metadata.finalizers")), ListKind::Set);
        assert_eq!(types.merge_keys(&p("spec.template.spec.containers")), Some(vec!["name".into()]));
        assert_eq!(types.map_kind(&p("spec.selector")), MapKind::Granular);
    }

    #[test]
    fn from_regionstack_crd_schemas() {
        let crds: Vec<Value> =
            regionstack_api::crd::all().into_iter().map(|(_, crd)| serde_json::to_value(crd).unwrap()).collect();
        let schema_of = |kind: &str| {
            let crd = crds.iter().find(|c| c["spec"]["names"]["kind"] == kind).unwrap();
            ListTypes::from_schema(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        };
        let replica = schema_of("TelemetryReplica");
        assert_eq!(replica.list_kind(&p("spec.targets")), ListKind::Map(vec!["region".into()]));
        assert_eq!(replica.list_kind(&p("status.conditions")), ListKind::Map(vec!["type".into()]));
        let region = schema_of("Region");
        assert_eq!(region.list_kind(&p("status.conditions")), ListKind::Map(vec!["type".into()]));
        assert_eq!(region.list_kind(&p("spec.jurisdictions")), ListKind::Set);
        let pii = schema_of("PiiDatabase");
        assert_eq!(pii.list_kind(&p("metadata.finalizers")), ListKind::Set);
    }

    #[test]
    fn wildcards_and_atomic_maps() {
        let schema = serde_json::json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "byZone": {"type": "object", "additionalProperties": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
        }}}});
        let types = ListTypes::from_schema(&schema);
        assert_eq!(types.list_kind(&p("spec.byZone.eu")), ListKind::Set);
        assert_eq!(types.map_kind(&p("spec.selector")), MapKind::Atomic);
        assert_eq!(types.map_kind(&p("spec.byZone")), MapKind::Granular);
    }
}
