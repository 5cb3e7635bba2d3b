//! Authentication and the authorization step of a request: bearer tokens mapped to
//! identities (an admin in `system:masters` for test set-up, ServiceAccounts and
//! users issued by the test), kube-apiserver's request attributes derived from the
//! URL, method and query, the RBAC decision ([`crate::rbac`]) and the access record.
//! Off unless [`crate::Config::rbac`] is set: then a request costs one flag check
//! (and the strip of an optional token path prefix), and nothing is recorded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use crate::api::Inner;
use crate::errors::ApiError;
use crate::http::{Query, Route};
use crate::rbac::usage::AccessRecord;
use crate::rbac::{Attributes, Policy, UserInfo};
use crate::registry::ResourceKey;
use crate::store::ObjectKey;

/// The URL path prefix carrying a token: `<server>/emulator-token/<token>/api/...`.
/// client-go sends credentials only over TLS, and the emulator speaks plain HTTP, so
/// a kubeconfig for a token names it in its server URL (client-go and kube-rs keep a
/// server URL's path as the prefix of every request).
pub const TOKEN_PREFIX: &str = "/emulator-token/";

/// Split `/emulator-token/<token>/rest` into (`/rest`, `Some(token)`).
pub fn split_token_prefix(path: &str) -> (&str, Option<&str>) {
    let Some(rest) = path.strip_prefix(TOKEN_PREFIX) else { return (path, None) };
    match rest.find('/') {
        Some(i) => (&rest[i..], Some(&rest[..i])),
        None => ("/", Some(rest)),
    }
}

/// The admin user (what `kind` calls its kubeconfig user), in `system:masters`.
pub const ADMIN_USER: &str = "kubernetes-admin";

/// The token table and the access record.
#[derive(Debug)]
pub struct Auth {
    enabled: bool,
    admin_token: String,
    tokens: Mutex<HashMap<String, UserInfo>>,
    log: Mutex<AccessLog>,
    /// The parsed policy and the store's RBAC version it was parsed at: re-parsed
    /// only after a Role, ClusterRole or binding changed.
    policy: Mutex<Option<(u64, Arc<Policy>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Auth {
    /// A table holding the admin token; `enabled` switches authentication and RBAC on.
    pub fn new(enabled: bool) -> Self {
        let admin_token = new_token();
        let admin = UserInfo::user(ADMIN_USER, &[crate::rbac::MASTERS]);
        Self {
            enabled,
            tokens: Mutex::new(HashMap::from([(admin_token.clone(), admin)])),
            admin_token,
            log: Mutex::new(AccessLog::default()),
            policy: Mutex::new(None),
        }
    }

    /// Whether requests are authenticated and authorized.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The admin's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A new bearer token for `user`.
    pub fn issue(&self, user: UserInfo) -> String {
        let token = new_token();
        lock(&self.tokens).insert(token.clone(), user);
        token
    }

    /// The identity behind a request: its bearer token's (or, without an
    /// `Authorization` header, its [`TOKEN_PREFIX`] token's), anonymous without
    /// either, 401 for an unknown token or another scheme.
    pub fn authenticate(&self, headers: &HeaderMap, path_token: Option<&str>) -> Result<UserInfo, ApiError> {
        let unauthorized = || ApiError::new(401, "Unauthorized", "Unauthorized");
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return match path_token {
                None => Ok(UserInfo::anonymous()),
                Some(token) => lock(&self.tokens).get(token).cloned().ok_or_else(unauthorized),
            };
        };
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        lock(&self.tokens).get(token.trim()).cloned().ok_or_else(unauthorized)
    }

    /// The stored policy, parsed again only when an RBAC object changed.
    fn policy(&self, inner: &Inner) -> Arc<Policy> {
        let version = inner.store.rbac_version();
        let mut cached = lock(&self.policy);
        match cached.as_ref() {
            Some((v, policy)) if *v == version => Arc::clone(policy),
            _ => {
                let policy = Arc::new(stored_policy(inner));
                *cached = Some((version, Arc::clone(&policy)));
                policy
            }
        }
    }

    /// Record a decision.
    pub fn record(&self, record: AccessRecord) {
        lock(&self.log).record(record);
    }

    /// Every distinct decision recorded so far, in the order first taken.
    pub fn log(&self) -> Vec<AccessRecord> {
        lock(&self.log).records.clone()
    }

    /// Forget the recorded decisions.
    pub fn clear_log(&self) {
        *lock(&self.log) = AccessLog::default();
    }
}

/// The access record, one entry per distinct decision (who, what, allowed).
///
/// Least-privilege checks need to know which decisions were taken, not how often: an
/// operator re-reading the same object every second would otherwise grow the record
/// for the life of the emulator (a long `regionstack demo` runs for hours). Keeping
/// each distinct decision once bounds it by the objects and verbs in play.
#[derive(Debug, Default)]
struct AccessLog {
    records: Vec<AccessRecord>,
    seen: HashSet<AccessRecord>,
}

impl AccessLog {
    fn record(&mut self, record: AccessRecord) {
        if !self.seen.contains(&record) {
            self.seen.insert(record.clone());
            self.records.push(record);
        }
    }
}

fn new_token() -> String {
    format!("emulator-{}", uuid::Uuid::new_v4().simple())
}

/// kube-apiserver's request attributes (`RequestInfo`) of a request.
pub fn attributes(method: &Method, route: &Route, path: &str, query: &Query) -> Attributes {
    let Route::Objects(req) = route else {
        return Attributes::non_resource(&method.as_str().to_ascii_lowercase(), path);
    };
    let mut name = req.name.clone().unwrap_or_default();
    let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match method.as_str() {
        "GET" | "HEAD" if name.is_empty() => {
            // kube narrows a list/watch to the name of a `metadata.name=` field selector,
            // so resourceNames rules can allow watching one object.
            if let Some(n) = query.get("fieldSelector").and_then(|f| {
                f.split(',')
                    .find_map(|t| t.strip_prefix("metadata.name=").or_else(|| t.strip_prefix("metadata.name==")))
            }) {
                n.clone_into(&mut name);
            }
            if watch { "watch" } else { "list" }
        }
        "GET" | "HEAD" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if req.name.is_none() => "deletecollection",
        "DELETE" => "delete",
        other => return Attributes::non_resource(&other.to_ascii_lowercase(), path),
    };
    let mut namespace = req.namespace.clone().unwrap_or_default();
    if req.group.is_empty() && req.plural == "namespaces" && namespace.is_empty() {
        // kube: a namespace's own requests are in that namespace.
        namespace = req.name.clone().unwrap_or_default();
    }
    Attributes {
        verb: verb.to_owned(),
        resource_request: true,
        api_group: req.group.clone(),
        resource: req.plural.clone(),
        subresource: req.subresource.clone().unwrap_or_default(),
        namespace,
        name,
        path: String::new(),
    }
}

/// The stored Roles, ClusterRoles and bindings.
pub fn stored_policy(inner: &Inner) -> Policy {
    let group = "rbac.authorization.k8s.io";
    let mut objects: Vec<Value> = Vec::new();
    for (plural, kind) in [
        ("roles", "Role"),
        ("clusterroles", "ClusterRole"),
        ("rolebindings", "RoleBinding"),
        ("clusterrolebindings", "ClusterRoleBinding"),
    ] {
        let key = ResourceKey { group: group.to_owned(), plural: plural.to_owned() };
        for (_, o) in inner.store.list(&key, None) {
            let mut o = (**o).clone();
            o["kind"] = json!(kind);
            objects.push(o);
        }
    }
    Policy::from_objects(&objects)
}

/// A 403 for a denied request, worded as kube-apiserver words it.
pub fn forbidden(user: &UserInfo, a: &Attributes) -> ApiError {
    let mut e = ApiError::new(403, "Forbidden", crate::rbac::forbidden_message(user, a));
    if a.resource_request {
        e.details = Some(json!({"name": a.name, "group": a.api_group, "kind": a.resource}));
    }
    e
}

/// Authenticate and authorize a request (only called when RBAC is on). An apply that
/// would create its object also needs `create`, as kube-apiserver checks it.
pub fn check(
    state: &crate::http::AppState,
    method: &Method,
    route: &Route,
    path: &str,
    path_token: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let auth = &state.auth;
    let user = auth.authenticate(headers, path_token)?;
    if user.is_privileged() {
        return Ok(());
    }
    let a = attributes(method, route, path, query);
    let inner = state.lock();
    let policy = auth.policy(&inner);
    let decide = |a: &Attributes| {
        let allowed = crate::rbac::authorize(&policy, &user, a).allowed;
        auth.record(AccessRecord { user: user.clone(), attributes: a.clone(), allowed });
        if allowed { Ok(()) } else { Err(forbidden(&user, a)) }
    };
    decide(&a)?;
    let is_apply = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/apply-patch"));
    if let Route::Objects(req) = route
        && a.verb == "patch"
        && is_apply
        && req.subresource.is_none()
    {
        let key = ObjectKey {
            resource: ResourceKey { group: req.group.clone(), plural: req.plural.clone() },
            namespace: req.namespace.clone().unwrap_or_default(),
            name: a.name.clone(),
        };
        if inner.store.get(&key).is_none() {
            decide(&Attributes { verb: "create".to_owned(), ..a.clone() })?;
        }
    }
    Ok(())
}

/// Answer a `SelfSubjectAccessReview` (`POST /apis/authorization.k8s.io/v1/
/// selfsubjectaccessreviews`, protobuf or JSON) for the caller: with RBAC off every
/// caller is the admin and allowed. Not recorded in the access log (nothing was done).
pub fn self_subject_access_review(
    state: &crate::http::AppState,
    headers: &HeaderMap,
    path_token: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let protobuf = crate::protobuf::is_protobuf(headers);
    let spec = crate::rbac::review::spec(body, protobuf)?;
    let a = crate::rbac::review::attributes(&spec);
    if !state.auth.enabled() {
        return Ok(crate::rbac::review::answer(&spec, true, crate::rbac::MASTERS));
    }
    let user = state.auth.authenticate(headers, path_token)?;
    let policy = state.auth.policy(&state.lock());
    let decision = crate::rbac::authorize(&policy, &user, &a);
    Ok(crate::rbac::review::answer(&spec, decision.allowed, &decision.reason))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;
    use crate::http::route;

    fn attrs(method: &Method, uri: &str) -> Attributes {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let query: Query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap())
            .collect();
        attributes(method, &route(path), path, &query)
    }

    #[test]
    fn requests_map_to_kube_apiservers_attributes() {
        let (get, post, put, patch, delete) = (Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE);
        let cases: Vec<(&Method, &str, &str)> = vec![
            // (method, URI, "verb group resource[/sub] namespace name" or "verb path")
            (&get, "/api/v1/namespaces/ns/configmaps/c", "get  configmaps ns c"),
            (&get, "/api/v1/namespaces/ns/configmaps", "list  configmaps ns "),
            (&get, "/api/v1/configmaps", "list  configmaps  "),
            (&get, "/api/v1/namespaces/ns/configmaps?watch=true", "watch  configmaps ns "),
            (&get, "/api/v1/namespaces/ns/configmaps?watch=1&fieldSelector=metadata.name=c", "watch  configmaps ns c"),
            (&get, "/api/v1/namespaces/ns/configmaps/c?watch=true", "get  configmaps ns c"),
            (&post, "/api/v1/namespaces/ns/configmaps", "create  configmaps ns "),
            (
                &put,
                "/apis/regionstack.io/v1alpha1/namespaces/ns/piidatabases/db/status",
                "update regionstack.io piidatabases/status ns db",
            ),
            (&patch, "/apis/regionstack.io/v1alpha1/regions/eu/status", "patch regionstack.io regions/status  eu"),
            (&delete, "/api/v1/namespaces/ns/secrets/s", "delete  secrets ns s"),
            (&delete, "/api/v1/namespaces/ns/secrets", "deletecollection  secrets ns "),
            (&get, "/api/v1/namespaces/ns", "get  namespaces ns ns"),
            (&put, "/api/v1/namespaces/ns/finalize", "update  namespaces/finalize ns ns"),
            (&get, "/api/v1/namespaces", "list  namespaces  "),
            (&get, "/apis/coordination.k8s.io/v1/namespaces/sys/leases/l", "get coordination.k8s.io leases sys l"),
            (&get, "/apis", "get /apis"),
            (&get, "/api/v1", "get /api/v1"),
            (&get, "/openapi/v3/apis/regionstack.io/v1alpha1", "get /openapi/v3/apis/regionstack.io/v1alpha1"),
            (&get, "/version", "get /version"),
            (&post, "/healthz", "post /healthz"),
        ];
        let mut failures = Vec::new();
        for (method, uri, expected) in cases {
            let a = attrs(method, uri);
            let got = if a.resource_request {
                format!("{} {} {} {} {}", a.verb, a.api_group, a.combined_resource(), a.namespace, a.name)
            } else {
                format!("{} {}", a.verb, a.path)
            };
            if got != expected {
                failures.push(format!("{method} {uri}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn tokens_in_the_path_are_split_off() {
        assert_eq!(split_token_prefix("/emulator-token/abc/api/v1/pods"), ("/api/v1/pods", Some("abc")));
        assert_eq!(split_token_prefix("/emulator-token/abc"), ("/", Some("abc")));
        assert_eq!(split_token_prefix("/api/v1/pods"), ("/api/v1/pods", None));
    }

    #[test]
    fn authentication_by_header_path_or_none() {
        let auth = Auth::new(true);
        let token = auth.issue(UserInfo::service_account("ns", "sa"));
        let bearer = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, format!("Bearer {t}").parse().unwrap());
            h
        };
        assert_eq!(auth.authenticate(&bearer(&token), None).unwrap().name, "system:serviceaccount:ns:sa");
        assert_eq!(auth.authenticate(&HeaderMap::new(), Some(&token)).unwrap().name, "system:serviceaccount:ns:sa");
        assert!(
            auth.authenticate(&bearer(auth.admin_token()), Some(&token)).unwrap().is_privileged(),
            "the header wins"
        );
        assert_eq!(auth.authenticate(&HeaderMap::new(), None).unwrap(), UserInfo::anonymous());
        assert_eq!(auth.authenticate(&bearer("nope"), None).unwrap_err().code, 401);
        assert_eq!(auth.authenticate(&HeaderMap::new(), Some("nope")).unwrap_err().code, 401);
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(auth.authenticate(&basic, None).unwrap_err().code, 401);
    }
}
