//! Least privilege made visible: the access record of every authorization decision
//! taken for a non-admin identity, and [`unused_permissions`], which lists what a set
//! of Roles/ClusterRoles/bindings grants that a recorded run never exercised.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use super::{Attributes, Binding, Policy, Rule, UserInfo};

/// One authorization decision, as [`crate::KubeEmulator::access_log`] returns it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessRecord {
    /// Who asked.
    pub user: UserInfo,
    /// What was asked (verb, group, resource, subresource, namespace, name or path).
    pub attributes: Attributes,
    /// Whether it was allowed.
    pub allowed: bool,
}

impl fmt::Display for AccessRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.attributes;
        let outcome = if self.allowed { "allowed" } else { "DENIED" };
        if !a.resource_request {
            return write!(f, "{outcome}: {} {} path {}", self.user.name, a.verb, a.path);
        }
        let group = if a.api_group.is_empty() { "core" } else { &a.api_group };
        write!(f, "{outcome}: {} {} {} ({group})", self.user.name, a.verb, a.combined_resource())?;
        if !a.name.is_empty() {
            write!(f, " {:?}", a.name)?;
        }
        if a.namespace.is_empty() { write!(f, " cluster-wide") } else { write!(f, " in {}", a.namespace) }
    }
}

/// One granted permission: a verb on a resource (or a non-resource URL), within a
/// namespace (RoleBinding) or cluster-wide (ClusterRoleBinding).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// The namespace of the RoleBinding granting it; empty: cluster-wide.
    pub namespace: String,
    /// API group (`*` possible), empty for core; empty for non-resource URLs.
    pub api_group: String,
    /// `resource`, `resource/subresource` or `*`; empty for non-resource URLs.
    pub resource: String,
    /// A verb (`*` possible).
    pub verb: String,
    /// `resourceNames` of the rule (empty: any).
    pub resource_names: Vec<String>,
    /// The non-resource URL, for non-resource rules.
    pub non_resource_url: String,
    /// `<BindingKind>/<name> → <RoleKind>/<name>` that grants it.
    pub granted_by: String,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.non_resource_url.is_empty() {
            return write!(f, "{} {} (via {})", self.verb, self.non_resource_url, self.granted_by);
        }
        let group = if self.api_group.is_empty() { "core" } else { &self.api_group };
        write!(f, "{} {} ({group})", self.verb, self.resource)?;
        if !self.resource_names.is_empty() {
            write!(f, " named {:?}", self.resource_names)?;
        }
        let scope =
            if self.namespace.is_empty() { "cluster-wide".to_owned() } else { format!("in {}", self.namespace) };
        write!(f, " {scope} (via {})", self.granted_by)
    }
}

impl Permission {
    fn rule(&self) -> Rule {
        let one = |s: &str| vec![s.to_owned()];
        if self.non_resource_url.is_empty() {
            Rule {
                verbs: one(&self.verb),
                api_groups: one(&self.api_group),
                resources: one(&self.resource),
                resource_names: self.resource_names.clone(),
                non_resource_urls: Vec::new(),
            }
        } else {
            Rule { verbs: one(&self.verb), non_resource_urls: one(&self.non_resource_url), ..Rule::default() }
        }
    }
}

/// Everything `objects` (Roles, ClusterRoles and their bindings; other kinds are
/// ignored) grants, one [`Permission`] per binding × group × resource × verb.
pub fn granted_permissions(objects: &[Value]) -> Vec<Permission> {
    let policy = Policy::from_objects(objects);
    let set: BTreeSet<Permission> = grants(&policy).into_iter().map(|(p, _)| p).collect();
    set.into_iter().collect()
}

/// Each permission with the binding that grants it.
fn grants(policy: &Policy) -> Vec<(Permission, &Binding)> {
    let mut out = Vec::new();
    for b in &policy.bindings {
        let Some(role) = policy.role_of(b) else { continue };
        let granted_by = format!("{}/{} → {}/{}", b.kind, b.name, role.kind, role.name);
        let permission = |verb: &String| Permission {
            namespace: b.namespace.clone(),
            api_group: String::new(),
            resource: String::new(),
            verb: verb.clone(),
            resource_names: Vec::new(),
            non_resource_url: String::new(),
            granted_by: granted_by.clone(),
        };
        for rule in &role.rules {
            for verb in &rule.verbs {
                for group in &rule.api_groups {
                    for resource in &rule.resources {
                        let p = Permission {
                            api_group: group.clone(),
                            resource: resource.clone(),
                            resource_names: rule.resource_names.clone(),
                            ..permission(verb)
                        };
                        out.push((p, b));
                    }
                }
                // Non-resource URLs count only from ClusterRoleBindings, as in kube.
                if b.kind == "ClusterRoleBinding" {
                    for url in &rule.non_resource_urls {
                        out.push((Permission { non_resource_url: url.clone(), ..permission(verb) }, b));
                    }
                }
            }
        }
    }
    out
}

/// The permissions `objects` grants that no allowed record in `records` exercised:
/// a permission is exercised by an allowed request of a subject of its binding,
/// within the binding's namespace (any namespace for a ClusterRoleBinding), that the
/// permission alone would allow. Sorted; empty when everything granted was used.
pub fn unused_permissions(objects: &[Value], records: &[AccessRecord]) -> Vec<Permission> {
    let policy = Policy::from_objects(objects);
    let unused: BTreeSet<Permission> = grants(&policy)
        .into_iter()
        .filter(|(p, b)| {
            let rule = p.rule();
            !records.iter().any(|r| {
                r.allowed
                    && (b.namespace.is_empty() || r.attributes.namespace == b.namespace)
                    && b.subjects.iter().any(|s| s.applies_to(&r.user, &b.namespace))
                    && rule.allows(&r.attributes)
            })
        })
        .map(|(p, _)| p)
        .collect();
    unused.into_iter().collect()
}
