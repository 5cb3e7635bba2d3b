//! The resource types the emulator serves: a fixed set of built-ins that regionstack
//! and kubectl need, plus whatever CustomResourceDefinitions are created at run time.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::schema::CrdSchema;
use crate::ssa::ListTypes;

/// One served resource (a group/version/plural), as discovery describes it.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// Served version.
    pub version: String,
    /// Kind of its objects.
    pub kind: String,
    /// Plural resource name used in URLs.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Short names (`kubectl get piidb`).
    pub short_names: Vec<String>,
    /// Categories (`kubectl get regionstack`).
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Whether `/status` is a subresource (status is then ignored by main writes and
    /// `metadata.generation` only moves on spec changes).
    pub status_subresource: bool,
    /// True for resources served from a CustomResourceDefinition.
    pub custom: bool,
    /// The CRD version's `openAPIV3Schema`, for custom resources.
    pub schema: Option<Value>,
    /// The CRD version's `additionalPrinterColumns`, for custom resources.
    pub printer_columns: Option<Value>,
    /// The compiled schema that validates, defaults and prunes custom resources.
    pub validator: Option<Arc<CrdSchema>>,
    /// How lists and maps merge (server-side apply, strategic merge patch).
    pub list_types: Arc<ListTypes>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `plural.group` (or `plural` for core), as in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// `Kind.group` (or `Kind`), as in 422 messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) }
    }

    /// The storage key prefix shared by every version of this resource.
    pub fn key(&self) -> ResourceKey {
        ResourceKey { group: self.group.clone(), plural: self.plural.clone() }
    }

    /// Discovery entries: the resource and its subresources.
    pub fn discovery_entries(&self) -> Vec<Value> {
        let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut out = vec![main];
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }
}

/// Identifies a resource independently of the version it is served at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// API group.
    pub group: String,
    /// Plural name.
    pub plural: String,
}

fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    status: bool,
    short: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| (*s).to_owned()).collect(),
        categories: Vec::new(),
        namespaced,
        status_subresource: status,
        custom: false,
        schema: None,
        printer_columns: None,
        validator: None,
        list_types: Arc::new(ListTypes::builtin(kind)),
    }
}

/// The built-in kinds regionstack and kubectl need. Deployments are stored, never run.
pub fn builtins() -> Vec<ResourceType> {
    let mut all = vec![
        builtin("", "v1", "Namespace", "namespaces", false, true, &["ns"]),
        builtin("", "v1", "Secret", "secrets", true, false, &[]),
        builtin("", "v1", "ConfigMap", "configmaps", true, false, &["cm"]),
        builtin("", "v1", "Service", "services", true, true, &["svc"]),
        builtin("", "v1", "ServiceAccount", "serviceaccounts", true, false, &["sa"]),
        builtin("", "v1", "Event", "events", true, false, &["ev"]),
        builtin("events.k8s.io", "v1", "Event", "events", true, false, &["ev"]),
        builtin("coordination.k8s.io", "v1", "Lease", "leases", true, false, &[]),
        builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, false, &["netpol"]),
        builtin("apps", "v1", "Deployment", "deployments", true, true, &["deploy"]),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            true,
            &["crd", "crds"],
        ),
        builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, true, &["pdb"]),
        builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", true, false, &[]),
        builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, false, &[]),
        builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, false, &[]),
        builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, false, &[]),
    ];
    for r in &mut all {
        if matches!(r.kind.as_str(), "Deployment" | "Service") {
            r.categories = vec!["all".to_owned()];
        }
    }
    all
}

/// Resource types served from one CustomResourceDefinition object (one per served
/// version), or an error message when the CRD is not acceptable.
pub fn from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("spec is required")?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let group = s(spec.get("group")).ok_or("spec.group is required")?;
    let names = spec.get("names").ok_or("spec.names is required")?;
    let plural = s(names.get("plural")).ok_or("spec.names.plural is required")?;
    let kind = s(names.get("kind")).ok_or("spec.names.kind is required")?;
    let expected_name = format!("{plural}.{group}");
    if crd.pointer("/metadata/name").and_then(Value::as_str) != Some(expected_name.as_str()) {
        return Err(format!(
            "metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group ({expected_name})"
        ));
    }
    let list = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let namespaced = match s(spec.get("scope")).as_deref() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
            ));
        }
    };
    let versions = spec.get("versions").and_then(Value::as_array).ok_or("spec.versions is required")?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let version = s(v.get("name")).ok_or("spec.versions[].name is required")?;
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let validator = match &schema {
            Some(sch) => Some(Arc::new(
                CrdSchema::new(sch)
                    .map_err(|e| format!("spec.versions[{version}].schema.openAPIV3Schema: Invalid value: {e}"))?,
            )),
            None => None,
        };
        let list_types = Arc::new(schema.as_ref().map_or_else(ListTypes::new, ListTypes::from_schema));
        out.push(ResourceType {
            group: group.clone(),
            version,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: s(names.get("singular")).unwrap_or_else(|| kind.to_lowercase()),
            short_names: list(names.get("shortNames")),
            categories: list(names.get("categories")),
            namespaced,
            status_subresource: v.pointer("/subresources/status").is_some(),
            custom: true,
            schema,
            printer_columns: v.get("additionalPrinterColumns").cloned(),
            validator,
            list_types,
        });
    }
    if out.is_empty() {
        return Err("spec.versions: Invalid value: must have at least one served version".to_owned());
    }
    Ok(out)
}

/// All served resource types, indexed for routing.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// (group, version, plural) → type.
    by_gvr: BTreeMap<(String, String, String), ResourceType>,
}

impl Registry {
    /// A registry with the built-in kinds.
    pub fn with_builtins() -> Self {
        let mut r = Self::default();
        for t in builtins() {
            r.insert(t);
        }
        r
    }

    /// Serve a type.
    pub fn insert(&mut self, t: ResourceType) {
        self.by_gvr.insert((t.group.clone(), t.version.clone(), t.plural.clone()), t);
    }

    /// Stop serving every version of a custom resource.
    pub fn remove_custom(&mut self, group: &str, plural: &str) {
        self.by_gvr.retain(|(g, _, p), t| !(t.custom && g == group && p == plural));
    }

    /// Look a type up by its URL coordinates.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.by_gvr.get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
    }

    /// Every served type.
    pub fn all(&self) -> impl Iterator<Item = &ResourceType> {
        self.by_gvr.values()
    }

    /// Served versions per group, in a stable order (core group excluded).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.all().filter(|t| !t.group.is_empty()) {
            let versions = out.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        out
    }

    /// Types served at a group/version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceType> + 'a {
        self.all().filter(move |t| t.group == group && t.version == version)
    }

    /// Find the type of a kind at an apiVersion (used to validate request bodies).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.all().find(|t| t.api_version() == api_version && t.kind == kind)
    }
}
