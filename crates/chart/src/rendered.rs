//! The output of a render: parsed manifests in Helm's install order, the CRD files,
//! the notes, and the selections tests need (by kind, the RBAC objects).

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::Error;

/// One rendered Kubernetes object.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The template it came from, e.g. `regionstack/templates/deployment.yaml`.
    pub template: String,
    /// The document's YAML as rendered.
    pub yaml: String,
    /// The parsed object.
    pub object: Json,
}

impl Manifest {
    /// `.kind`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    /// `.metadata.name`.
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
}

/// The output of a render: manifests in install order, the CRDs, and the notes.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The objects from `templates/`, in Helm's install order.
    pub manifests: Vec<Manifest>,
    /// The files of `crds/` as (file name, text), unrendered, as Helm installs them.
    pub crds: Vec<(String, String)>,
    /// NOTES.txt rendered (empty when the chart has none).
    pub notes: String,
    /// The merged values the templates saw.
    pub values: Json,
}

/// RBAC kinds, in the order they must be applied.
const RBAC_KINDS: &[&str] = &["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];

impl Rendered {
    /// The kinds rendered, in order (with repeats).
    pub fn kinds(&self) -> Vec<&str> {
        self.manifests.iter().map(Manifest::kind).collect()
    }

    /// Every manifest of `kind`.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Manifest> + 'a {
        self.manifests.iter().filter(move |m| m.kind() == kind)
    }

    /// The single manifest of `kind`, if exactly one was rendered.
    pub fn one<'a>(&'a self, kind: &'a str) -> Option<&'a Manifest> {
        let mut all = self.of_kind(kind);
        let first = all.next()?;
        all.next().is_none().then_some(first)
    }

    /// The ServiceAccount, ClusterRole(s), Role(s) and their bindings, in apply order:
    /// what an operator run under the chart's RBAC needs.
    pub fn rbac_objects(&self) -> Vec<&Manifest> {
        RBAC_KINDS.iter().flat_map(|kind| self.of_kind(kind)).collect()
    }

    /// [`Rendered::rbac_objects`] as one multi-document YAML stream, for
    /// `kubectl apply -f` (e.g. the e2e suite running operators under the chart's RBAC).
    pub fn rbac_yaml(&self) -> String {
        self.rbac_objects().iter().map(|m| ["---\n", m.yaml.trim_end(), "\n"].concat()).collect()
    }

    /// All manifests as one multi-document YAML stream (`helm template` minus the
    /// `# Source:` comments' exact layout), CRDs not included.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for m in &self.manifests {
            let _ = write!(out, "---\n# Source: {}\n{}\n", m.template, m.yaml.trim_end());
        }
        out
    }

    /// The CRD files concatenated, as `kubectl apply -f crds/` would read them.
    pub fn crds_yaml(&self) -> String {
        self.crds.iter().map(|(_, text)| text.as_str()).collect()
    }
}

/// Helm's install order by kind (`releaseutil.InstallOrder`); other kinds come last.
pub(crate) const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Split a template's output on `---` lines, drop empty documents, parse the rest.
pub(crate) fn split_documents(template: &str, out: &str) -> Result<Vec<Manifest>, Error> {
    let mut docs = vec![String::new()];
    for line in out.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().expect("never empty");
            doc.push_str(line);
            doc.push('\n');
        }
    }
    let mut manifests = Vec::new();
    for yaml in docs {
        let object: Json = serde_norway::Deserializer::from_str(&yaml)
            .next()
            .map(Json::deserialize)
            .transpose()
            .map_err(|e| Error::Yaml { template: template.to_owned(), message: e.to_string() })?
            .unwrap_or(Json::Null);
        if object.is_null() {
            continue;
        }
        if !object.is_object() || object["kind"].as_str().is_none() || object["apiVersion"].as_str().is_none() {
            return Err(Error::Yaml {
                template: template.to_owned(),
                message: "a document is not an object with apiVersion and kind".to_owned(),
            });
        }
        manifests.push(Manifest { template: template.to_owned(), yaml, object });
    }
    Ok(manifests)
}
