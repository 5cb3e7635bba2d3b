//! HTTP: routing kube-apiserver URLs to the API semantics, content negotiation and
//! `Status` error bodies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::{Inner, PatchType, WriteOptions};
use crate::errors::ApiError;
use crate::faults::Faults;
use crate::gc::{DeleteOptions, Propagation};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    /// API state behind one lock.
    pub inner: Mutex<Inner>,
    /// Fault switches.
    pub faults: Faults,
    /// Watch streams currently open (tests wait on it instead of sleeping).
    pub open_watches: Arc<std::sync::atomic::AtomicUsize>,
    /// Tokens, RBAC switch and access record.
    pub auth: crate::auth::Auth,
}

impl AppState {
    /// Lock the API state (a poisoned lock means a handler panicked: keep serving).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A request for objects of one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// API group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub plural: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`).
    pub subresource: Option<String>,
}

/// What a URL asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/readyz`, `/livez`
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    Resources(String, String),
    /// `/openapi/v3`
    OpenApiRoot,
    /// `/openapi/v3/{api/v1 | apis/g/v}`
    OpenApiDoc(String),
    /// Objects.
    Objects(ResourceRequest),
    /// Anything else.
    Unknown,
}

/// Parse a request path.
pub fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez", ..] => return Route::Health,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["apis", g] => return Route::Group((*g).to_owned()),
        ["openapi", "v3"] => return Route::OpenApiRoot,
        ["openapi", "v3", rest @ ..] => return Route::OpenApiDoc(rest.join("/")),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::Unknown,
    };
    let o = |s: &&str| Some((*s).to_owned());
    let (namespace, plural, name, sub) = match rest {
        [] => return Route::Resources(group.to_owned(), version.to_owned()),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => (None, "namespaces", o(ns), o(sub)),
        ["namespaces", ns, plural] => (o(ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (o(ns), *plural, o(name), None),
        ["namespaces", ns, plural, name, sub] => (o(ns), *plural, o(name), o(sub)),
        [plural] => (None, *plural, None, None),
        [plural, name] => (None, *plural, o(name), None),
        [plural, name, sub] => (None, *plural, o(name), o(sub)),
        _ => return Route::Unknown,
    };
    Route::Objects(ResourceRequest {
        group: group.to_owned(),
        version: version.to_owned(),
        namespace,
        plural: plural.to_owned(),
        name,
        subresource: sub,
    })
}

/// Query parameters, decoded.
pub type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                urlencoding::decode(&s.replace('+', " ")).map_or_else(|_| s.to_owned(), std::borrow::Cow::into_owned)
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// A `Status` error response.
pub fn error_response(e: &ApiError) -> Response {
    let mut r =
        json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.to_status());
    if let Some(secs) = e.retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn verb(method: &Method, req: &ResourceRequest, query: &Query) -> &'static str {
    match (method.as_str(), req.name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => "watch",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn injected(status: u16) -> ApiError {
    match status {
        429 => {
            let mut e = ApiError::new(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later (injected)",
            );
            e.retry_after = Some(1);
            e
        }
        409 => ApiError::new(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version and try again (injected)",
        ),
        other => ApiError::new(
            other,
            "InternalError",
            "an error on the server (injected) has prevented the request from succeeding",
        ),
    }
}

/// The single entry point of the HTTP API.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let query = parse_query(uri.query());
    tracing::debug!(
        %method,
        uri = %uri,
        content_type = ?headers.get(header::CONTENT_TYPE),
        accept = ?headers.get(header::ACCEPT),
        "request"
    );
    let (path, path_token) = crate::auth::split_token_prefix(uri.path());
    let route = route(path);
    if state.auth.enabled()
        && let Err(e) = crate::auth::check(&state, &method, &route, path, path_token, &query, &headers)
    {
        return error_response(&e);
    }
    match route {
        Route::Objects(req)
            if method == Method::POST
                && req.group == "authorization.k8s.io"
                && req.plural == "selfsubjectaccessreviews" =>
        {
            match crate::auth::self_subject_access_review(&state, &headers, path_token, &body) {
                Ok(review) => json_response(StatusCode::CREATED, &review),
                Err(e) => error_response(&e),
            }
        }
        Route::Objects(req) => {
            let verb = verb(&method, &req, &query);
            if let Some(status) = state.faults.take_failure(verb, &req.plural) {
                return error_response(&injected(status));
            }
            objects(&state, verb, &req, &query, &headers, &body)
        }
        Route::Health => (StatusCode::OK, "ok").into_response(),
        other => crate::discovery::serve(&state, &other, &headers),
    }
}

fn resource_type(state: &AppState, req: &ResourceRequest) -> Result<ResourceType, ApiError> {
    let inner = state.lock();
    let rt = inner
        .registry
        .get(&req.group, &req.version, &req.plural)
        .cloned()
        .ok_or_else(|| ApiError::new(404, "NotFound", "the server could not find the requested resource"))?;
    if !rt.namespaced && req.namespace.is_some() {
        return Err(ApiError::new(404, "NotFound", "the server could not find the requested resource"));
    }
    match req.subresource.as_deref() {
        None => {}
        Some("status") if rt.status_subresource => {}
        Some("finalize") if rt.kind == "Namespace" => {}
        Some(_) => return Err(ApiError::new(404, "NotFound", "the server could not find the requested resource")),
    }
    Ok(rt)
}

fn write_options(query: &Query, headers: &HeaderMap) -> WriteOptions {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    WriteOptions {
        field_manager: query
            .get("fieldManager")
            .cloned()
            .unwrap_or_else(|| agent.split('/').next().unwrap_or(agent).to_owned()),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        force: query.get("force").is_some_and(|f| f == "true"),
        strict: query.get("fieldValidation").is_some_and(|f| f == "Strict"),
        managed_fields_set: false,
    }
}

/// The object a create or update sends. kubectl's typed commands send protobuf and
/// client-go never retries as JSON, so protobuf is decoded into the JSON the object
/// would have had and the request continues down the JSON path.
fn request_object(body: &[u8], headers: &HeaderMap) -> Result<Value, ApiError> {
    if crate::protobuf::is_protobuf(headers) {
        crate::protobuf::decode_object(body)
    } else {
        crate::patching::decode_body(body, false)
    }
}

fn delete_options(query: &Query, headers: &HeaderMap, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    if crate::protobuf::is_protobuf(headers) && !body.is_empty() {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the emulator decodes protobuf only for created and updated objects, not DeleteOptions; send JSON",
        ));
    }
    let body: Value = if body.is_empty() { json!({}) } else { crate::patching::decode_body(body, false)? };
    let policy = query
        .get("propagationPolicy")
        .cloned()
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str).map(str::to_owned));
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => return Err(ApiError::bad_request(format!("unsupported propagationPolicy {other:?}"))),
    };
    let pre = |f: &str| body.pointer(&format!("/preconditions/{f}")).and_then(Value::as_str).map(str::to_owned);
    let dry_run = query.get("dryRun").is_some_and(|d| d == "All")
        || body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions { propagation, uid: pre("uid"), resource_version: pre("resourceVersion"), dry_run })
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ct = ct.split(';').next().unwrap_or_default().trim();
    match ct {
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchType::Apply),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {other}"),
        )),
    }
}

fn objects(
    state: &Arc<AppState>,
    verb: &'static str,
    req: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let rt = match resource_type(state, req) {
        Ok(rt) => rt,
        Err(e) => return error_response(&e),
    };
    if verb == "watch" {
        return crate::watch::serve(state, rt, req.namespace.clone(), query);
    }
    let ns = req.namespace.as_deref();
    let name = req.name.as_deref().unwrap_or_default();
    let sub = req.subresource.as_deref();
    if rt.namespaced && ns.is_none() && !matches!(verb, "list" | "deletecollection") {
        return error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ));
    }
    let result: Result<(StatusCode, Value), ApiError> = (|| {
        let opts = write_options(query, headers);
        match verb {
            "get" => {
                let inner = state.lock();
                let obj = inner.get(&rt, ns, name)?;
                let rv = inner.store.resource_version().to_string();
                Ok((StatusCode::OK, crate::render::object(&rt, &obj, query, headers, &rv)))
            }
            "list" => crate::render::list(&state.lock(), &rt, ns, query, headers).map(|v| (StatusCode::OK, v)),
            "create" => {
                let obj = request_object(body, headers)?;
                let created = state.lock().create(&rt, ns, obj, &opts)?;
                Ok((StatusCode::CREATED, (*created).clone()))
            }
            "update" => {
                let obj = request_object(body, headers)?;
                Ok((StatusCode::OK, (*state.lock().update(&rt, ns, name, sub, obj, &opts)?).clone()))
            }
            "patch" => {
                let kind = patch_type(headers)?;
                let mut opts = opts;
                if kind == PatchType::Apply && !query.contains_key("fieldManager") {
                    // Apply requires an explicit manager; the user agent only names updates.
                    opts.field_manager.clear();
                }
                Ok((StatusCode::OK, (*state.lock().patch(&rt, ns, name, sub, kind, body, &opts)?).clone()))
            }
            "delete" => {
                let d = delete_options(query, headers, body)?;
                Ok((StatusCode::OK, (*state.lock().delete(&rt, ns, name, &d)?).clone()))
            }
            "deletecollection" => {
                let d = delete_options(query, headers, body)?;
                let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
                    .map_err(ApiError::bad_request)?;
                let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
                    .map_err(ApiError::bad_request)?;
                let mut inner = state.lock();
                let deleted = inner.delete_collection(&rt, ns, |o| labels.matches(o) && fields.matches(o), &d)?;
                let rv = inner.store.resource_version().to_string();
                Ok((
                    StatusCode::OK,
                    crate::render::list_body(
                        &rt,
                        &deleted.iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
                        &rv,
                        None,
                    ),
                ))
            }
            _ => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )),
        }
    })();
    match result {
        Ok((status, v)) => json_response(status, &v),
        Err(e) => error_response(&e),
    }
}

/// An empty body (used by streaming responses that end immediately).
pub fn empty() -> Body {
    Body::empty()
}
