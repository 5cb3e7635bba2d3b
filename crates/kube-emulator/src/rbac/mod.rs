//! Authorization the way kube-apiserver's RBAC authorizer decides it: request
//! attributes (user, verb, API group, resource, subresource, namespace, name, or a
//! non-resource path) checked against Role/ClusterRole rules reached through
//! RoleBindings and ClusterRoleBindings. Pure functions over the stored objects, so
//! they are table-tested without a server; [`crate::auth`] feeds them HTTP requests.
//!
//! Also here, because kube-apiserver has them before or beside RBAC: members of
//! `system:masters` are allowed everything, and the bootstrap roles
//! `system:discovery`, `system:public-info-viewer` and `system:basic-user` are built
//! in (see [`bootstrap_rules`]), not stored. Aggregation (`aggregationRule`) and the
//! escalation checks on writing roles and bindings are not modelled.

pub mod review;
pub mod usage;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// `system:masters`: allowed everything, as kube-apiserver's privileged-group authorizer.
pub const MASTERS: &str = "system:masters";
/// Every authenticated user's group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The anonymous user's group.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of requests without credentials.
pub const ANONYMOUS: &str = "system:anonymous";

/// Who makes a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserInfo {
    /// `system:serviceaccount:<ns>:<name>`, a user name, or `system:anonymous`.
    pub name: String,
    /// Groups, including `system:authenticated` or `system:unauthenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A ServiceAccount's identity, with the groups kube gives its tokens.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.to_owned(),
            ],
        }
    }

    /// A user with `groups` (plus `system:authenticated`).
    pub fn user(name: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_owned());
        }
        Self { name: name.to_owned(), groups }
    }

    /// The anonymous user.
    pub fn anonymous() -> Self {
        Self { name: ANONYMOUS.to_owned(), groups: vec![UNAUTHENTICATED.to_owned()] }
    }

    /// Whether the user is in `system:masters` (never authorized against RBAC).
    pub fn is_privileged(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// What a request asks to do, as kube-apiserver's `RequestInfo` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`; for non-resource requests the lower-case HTTP method.
    pub verb: String,
    /// A resource request (`/api/...`, `/apis/g/v/...` with a resource) or a path.
    pub resource_request: bool,
    /// API group (empty for core).
    pub api_group: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`status`), empty when none.
    pub subresource: String,
    /// Namespace, empty for cluster-scoped requests (for `namespaces/<n>`, `<n>`).
    pub namespace: String,
    /// Object name, empty for collections.
    pub name: String,
    /// The URL path of a non-resource request.
    pub path: String,
}

impl Attributes {
    /// A resource request.
    pub fn resource(verb: &str, api_group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Self {
            verb: verb.to_owned(),
            resource_request: true,
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            path: String::new(),
        }
    }

    /// A non-resource request (`/version`, `/apis`, `/healthz`...).
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self { verb: verb.to_owned(), path: path.to_owned(), ..Self::default() }
    }

    /// `resource` or `resource/subresource`, as rules name it.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// One PolicyRule of a Role or ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources` (`x`, `x/status`, `*`, `*/status`).
    pub resources: Vec<String>,
    /// `resourceNames`.
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    pub non_resource_urls: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

impl Rule {
    /// A rule from its JSON form.
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v.get("verbs")),
            api_groups: strings(v.get("apiGroups")),
            resources: strings(v.get("resources")),
            resource_names: strings(v.get("resourceNames")),
            non_resource_urls: strings(v.get("nonResourceURLs")),
        }
    }

    /// kube's `RuleAllows`.
    pub fn allows(&self, a: &Attributes) -> bool {
        if !verb_matches(&self.verbs, &a.verb) {
            return false;
        }
        if a.resource_request {
            api_group_matches(&self.api_groups, &a.api_group)
                && resource_matches(&self.resources, &a.combined_resource(), &a.subresource)
                && (self.resource_names.is_empty() || (!a.name.is_empty() && self.resource_names.contains(&a.name)))
        } else {
            self.non_resource_urls.iter().any(|u| non_resource_url_matches(u, &a.path))
        }
    }
}

/// `*` or the verb.
pub fn verb_matches(verbs: &[String], verb: &str) -> bool {
    verbs.iter().any(|v| v == "*" || v == verb)
}

/// `*` or the group.
pub fn api_group_matches(groups: &[String], group: &str) -> bool {
    groups.iter().any(|g| g == "*" || g == group)
}

/// `*`, the exact `resource[/subresource]`, or `*/<subresource>`.
pub fn resource_matches(resources: &[String], combined: &str, subresource: &str) -> bool {
    resources.iter().any(|r| {
        r == "*" || r == combined || (!subresource.is_empty() && r.strip_prefix("*/").is_some_and(|s| s == subresource))
    })
}

/// `*`, the exact path, or a prefix ending in `*`.
pub fn non_resource_url_matches(rule: &str, path: &str) -> bool {
    rule == "*" || rule == path || rule.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix))
}

/// A subject of a binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace (ServiceAccounts).
    pub namespace: String,
}

impl Subject {
    /// kube's `appliesTo`; `binding_namespace` defaults a ServiceAccount's namespace.
    pub fn applies_to(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.name == self.name,
            "Group" => user.groups.contains(&self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() { binding_namespace } else { &self.namespace };
                user.name
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.split_once(':'))
                    .is_some_and(|(n, name)| n == ns && name == self.name)
            }
            _ => false,
        }
    }
}

/// A RoleBinding (namespace set) or ClusterRoleBinding (namespace empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace of a RoleBinding.
    pub namespace: String,
    /// `roleRef.kind`: `Role` or `ClusterRole`.
    pub role_kind: String,
    /// `roleRef.name`.
    pub role_name: String,
    /// Subjects.
    pub subjects: Vec<Subject>,
}

/// A Role (namespace set) or ClusterRole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace of a Role.
    pub namespace: String,
    /// Rules.
    pub rules: Vec<Rule>,
}

/// Every Role, ClusterRole and binding the authorizer consults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Roles and ClusterRoles.
    pub roles: Vec<Role>,
    /// RoleBindings and ClusterRoleBindings.
    pub bindings: Vec<Binding>,
}

impl Policy {
    /// From objects (anything but the four RBAC kinds is ignored).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut policy = Self::default();
        for o in objects {
            let kind = text(o, "/kind");
            let name = text(o, "/metadata/name").to_owned();
            let namespace = text(o, "/metadata/namespace").to_owned();
            match kind {
                "Role" | "ClusterRole" => policy.roles.push(Role {
                    kind: kind.to_owned(),
                    name,
                    namespace: if kind == "Role" { namespace } else { String::new() },
                    rules: o
                        .get("rules")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().map(Rule::from_json).collect())
                        .unwrap_or_default(),
                }),
                "RoleBinding" | "ClusterRoleBinding" => policy.bindings.push(Binding {
                    kind: kind.to_owned(),
                    name,
                    namespace: if kind == "RoleBinding" { namespace } else { String::new() },
                    role_kind: text(o, "/roleRef/kind").to_owned(),
                    role_name: text(o, "/roleRef/name").to_owned(),
                    subjects: o
                        .get("subjects")
                        .and_then(Value::as_array)
                        .map(|s| {
                            s.iter()
                                .map(|s| Subject {
                                    kind: text(s, "/kind").to_owned(),
                                    name: text(s, "/name").to_owned(),
                                    namespace: text(s, "/namespace").to_owned(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
                _ => {}
            }
        }
        policy
    }

    /// The role a binding refers to (a RoleBinding's Role lives in its namespace).
    pub fn role_of(&self, b: &Binding) -> Option<&Role> {
        self.roles.iter().find(|r| {
            r.kind == b.role_kind
                && r.name == b.role_name
                && (b.role_kind == "ClusterRole" || r.namespace == b.namespace)
        })
    }

    /// The bindings whose grants reach `user` for a request in `namespace` (empty:
    /// cluster scope): every ClusterRoleBinding, and the RoleBindings of that namespace.
    pub fn bindings_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Binding> + 'a {
        self.bindings.iter().filter(move |b| {
            (b.kind == "ClusterRoleBinding" || (!namespace.is_empty() && b.namespace == namespace))
                && b.subjects.iter().any(|s| s.applies_to(user, &b.namespace))
        })
    }
}

/// The outcome of an authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed?
    pub allowed: bool,
    /// What allowed it (`ClusterRoleBinding/x of ClusterRole/y`, `system:masters`,
    /// `bootstrap system:discovery`), empty when denied.
    pub reason: String,
}

/// The bootstrap rules kube-apiserver's default ClusterRoles grant, by group:
/// `system:discovery` (authenticated: `/api`, `/apis`, `/openapi`, `/version`, and
/// everything under them), `system:public-info-viewer` (authenticated and
/// unauthenticated: `/healthz`, `/livez`, `/readyz`, `/version`), `system:basic-user`
/// (authenticated: create `selfsubjectaccessreviews` and `selfsubjectrulesreviews`).
pub fn bootstrap_rules(user: &UserInfo) -> Vec<(&'static str, Rule)> {
    let urls = |u: &[&str]| Rule {
        verbs: vec!["get".to_owned()],
        non_resource_urls: u.iter().map(|s| (*s).to_owned()).collect(),
        ..Rule::default()
    };
    let mut out = Vec::new();
    let authenticated = user.groups.iter().any(|g| g == AUTHENTICATED);
    if authenticated || user.groups.iter().any(|g| g == UNAUTHENTICATED) {
        out.push((
            "system:public-info-viewer",
            urls(&["/healthz", "/livez", "/readyz", "/version", "/version/", "/healthz/*", "/livez/*", "/readyz/*"]),
        ));
    }
    if authenticated {
        out.push((
            "system:discovery",
            urls(&["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"]),
        ));
        out.push((
            "system:basic-user",
            Rule {
                verbs: vec!["create".to_owned()],
                api_groups: vec!["authorization.k8s.io".to_owned()],
                resources: vec!["selfsubjectaccessreviews".to_owned(), "selfsubjectrulesreviews".to_owned()],
                ..Rule::default()
            },
        ));
    }
    out
}

/// Decide a request: `system:masters`, then the bootstrap rules, then RBAC.
pub fn authorize(policy: &Policy, user: &UserInfo, a: &Attributes) -> Decision {
    if user.is_privileged() {
        return Decision { allowed: true, reason: MASTERS.to_owned() };
    }
    // The bootstrap roles grant only paths and self-reviews: skip building them otherwise.
    if (!a.resource_request || a.api_group == "authorization.k8s.io")
        && let Some((role, _)) = bootstrap_rules(user).into_iter().find(|(_, r)| r.allows(a))
    {
        return Decision { allowed: true, reason: format!("bootstrap {role}") };
    }
    for b in policy.bindings_for(user, &a.namespace) {
        let Some(role) = policy.role_of(b) else { continue };
        // Only ClusterRoles bound cluster-wide grant non-resource URLs.
        if !a.resource_request && b.kind != "ClusterRoleBinding" {
            continue;
        }
        if role.rules.iter().any(|r| r.allows(a)) {
            return Decision { allowed: true, reason: format!("{}/{} of {}/{}", b.kind, b.name, role.kind, role.name) };
        }
    }
    Decision { allowed: false, reason: String::new() }
}

/// kube-apiserver's 403 message for a denied request.
pub fn forbidden_message(user: &UserInfo, a: &Attributes) -> String {
    if !a.resource_request {
        return format!("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, a.verb, a.path);
    }
    let gr = if a.api_group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.api_group) };
    let prefix =
        if a.name.is_empty() { format!("{gr} is forbidden") } else { format!("{gr} \"{}\" is forbidden", a.name) };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    format!(
        "{prefix}: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        user.name,
        a.verb,
        a.combined_resource(),
        a.api_group
    )
}
