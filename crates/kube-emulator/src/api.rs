//! The API's object semantics, independent of HTTP: create, update, patch and the
//! shared write path that enforces identity fields, the status subresource,
//! `metadata.generation`, optimistic concurrency and finalizers.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::meta;
use crate::registry::{Registry, ResourceType};
use crate::store::{ObjectKey, Store};

/// Tunables of an emulator instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Changes kept for watches; a watch from an older version gets 410 Gone.
    pub history_limit: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: std::time::Duration,
    /// Authenticate bearer tokens and authorize requests with RBAC (off by default:
    /// every request is then admin and nothing is recorded).
    pub rbac: bool,
}

impl Config {
    /// The default settings with RBAC switched on.
    #[must_use]
    pub fn with_rbac() -> Self {
        Self { rbac: true, ..Self::default() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self { history_limit: 10_000, bookmark_interval: std::time::Duration::from_secs(1), rbac: false }
    }
}

/// Options every write carries. The flags are independent query parameters, hence bools.
#[derive(Clone, Debug, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct WriteOptions {
    /// `fieldManager`, or the client's user agent.
    pub field_manager: String,
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `force=true` for server-side apply.
    pub force: bool,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being pruned.
    pub strict: bool,
    /// The caller already set `managedFields` (server-side apply).
    pub managed_fields_set: bool,
}

/// Patch flavours, by request content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// Registry, objects and settings behind one lock.
#[derive(Debug)]
pub struct Inner {
    /// Served types.
    pub registry: Registry,
    /// Objects and history.
    pub store: Store,
    /// Settings.
    pub config: Config,
}

/// Kinds whose `metadata.generation` kube-apiserver maintains.
fn tracks_generation(rt: &ResourceType) -> bool {
    rt.custom
        || matches!(
            rt.kind.as_str(),
            "Deployment" | "CustomResourceDefinition" | "PodDisruptionBudget" | "NetworkPolicy"
        )
}

impl Inner {
    /// A fresh API server state.
    pub fn new(config: Config) -> Self {
        Self { registry: Registry::with_builtins(), store: Store::new(config.history_limit), config }
    }

    /// The key of an object.
    pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey { resource: rt.key(), namespace: namespace.unwrap_or_default().to_owned(), name: name.to_owned() }
    }

    /// Read one object.
    pub fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Arc<Value>, ApiError> {
        self.store.get(&Self::key(rt, namespace, name)).cloned().ok_or_else(|| ApiError::not_found(rt, name))
    }

    fn check_type_meta(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        let want = rt.api_version();
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != want => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({want})"
                )));
            }
            _ => obj["apiVersion"] = json!(want),
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != rt.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
            _ => obj["kind"] = json!(rt.kind),
        }
        Ok(())
    }

    fn check_namespace(rt: &ResourceType, namespace: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
        if !rt.namespaced {
            meta::metadata_mut(obj).remove("namespace");
            return Ok(());
        }
        let ns = namespace.ok_or_else(|| ApiError::bad_request("a namespace is required for a namespaced resource"))?;
        if let Some(body_ns) = meta::meta_str(obj, "namespace")
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta::metadata_mut(obj).insert("namespace".into(), json!(ns));
        Ok(())
    }

    /// Create an object.
    pub fn create(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        Self::check_type_meta(rt, &mut obj)?;
        Self::check_namespace(rt, namespace, &mut obj)?;
        let name = match (meta::meta_str(&obj, "name"), meta::meta_str(&obj, "generateName")) {
            (Some(n), _) if !n.is_empty() => n.to_owned(),
            (_, Some(prefix)) if !prefix.is_empty() => meta::generate_name(prefix),
            _ => {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        rt.qualified_kind()
                    ),
                    &[
                        json!({"reason": "FieldValueRequired", "message": "Required value: name or generateName is required", "field": "metadata.name"}),
                    ],
                ));
            }
        };
        if rt.namespaced {
            let ns = namespace.unwrap_or_default();
            let ns_rt = self.registry.get("", "v1", "namespaces").expect("namespaces are built in").clone();
            match self.store.get(&Self::key(&ns_rt, None, ns)) {
                None => return Err(ApiError::not_found(&ns_rt, ns)),
                Some(n) if meta::deleting(n) => {
                    return Err(ApiError::new(
                        403,
                        "Forbidden",
                        format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            rt.qualified_plural()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let key = Self::key(rt, namespace, &name);
        if self.store.get(&key).is_some() {
            return Err(ApiError::already_exists(rt, &name));
        }
        {
            let m = meta::metadata_mut(&mut obj);
            m.insert("name".into(), json!(name));
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(meta::now()));
            for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
                m.remove(f);
            }
            if tracks_generation(rt) {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        if rt.status_subresource {
            obj.as_object_mut().expect("checked above").remove("status");
        }
        Self::prepare_builtin(rt, &mut obj, None)?;
        admit(rt, &mut obj, None, opts)?;
        if !opts.managed_fields_set {
            crate::ssa::record_update(None, &mut obj, &opts.field_manager, &rt.list_types, &meta::now(), None);
        }
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        let stored = self.store.put(key, obj);
        self.after_write(rt, &stored);
        if !meta::owner_uids(&stored).is_empty() {
            // A dependent whose owners are already gone is collected.
            self.collect_garbage();
        }
        Ok(stored)
    }

    /// Built-in kinds with server-maintained fields.
    fn prepare_builtin(rt: &ResourceType, obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Namespace") if old.is_none() => {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            ("", "Secret") => {
                // stringData is write-only: merged into data, base64-encoded.
                use base64::Engine as _;
                if let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
                    for (k, v) in plain {
                        let encoded = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
                        obj["data"][k] = json!(encoded);
                    }
                }
                // kube's SetDefaults_Secret: no type is Opaque (`kubectl create secret
                // generic` sends an empty one).
                if obj.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
                    obj["type"] = json!("Opaque");
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                let types = crate::registry::from_crd(obj).map_err(|e| {
                    ApiError::invalid(
                        rt,
                        meta::name(obj),
                        format!(
                            "CustomResourceDefinition.apiextensions.k8s.io \"{}\" is invalid: {e}",
                            meta::name(obj)
                        ),
                        &[],
                    )
                })?;
                let names = &obj["spec"]["names"];
                let mut accepted = names.clone();
                if accepted.get("singular").is_none() {
                    accepted["singular"] = json!(types[0].singular);
                }
                accepted["listKind"] =
                    json!(names.get("listKind").cloned().unwrap_or_else(|| json!(format!("{}List", types[0].kind))));
                let now = meta::now();
                obj["status"] = json!({
                    "acceptedNames": accepted,
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                    ],
                    "storedVersions": [types[0].version],
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Side effects of a stored write: CRDs start (or stop) serving their types.
    fn after_write(&mut self, rt: &ResourceType, stored: &Value) {
        if rt.kind == "CustomResourceDefinition"
            && rt.group == "apiextensions.k8s.io"
            && let Ok(types) = crate::registry::from_crd(stored)
        {
            self.registry.remove_custom(&types[0].group, &types[0].plural);
            for t in types {
                self.registry.insert(t);
            }
        }
    }

    /// Replace an object (PUT), on the main resource or the status subresource.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let old = self.get(rt, namespace, name)?;
        Self::check_type_meta(rt, &mut obj)?;
        if meta::meta_str(&obj, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        if let Some(rv) = meta::meta_str(&obj, "resourceVersion")
            && !rv.is_empty()
            && Some(rv) != meta::meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(rt, name));
        }
        self.commit(rt, namespace, &old, obj, subresource, opts)
    }

    /// The write path shared by update and patch.
    pub fn commit(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        old: &Value,
        mut new: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        Self::check_type_meta(rt, &mut new)?;
        let name = meta::name(old).to_owned();
        if rt.status_subresource {
            if subresource == Some("status") {
                let status = new.get("status").cloned();
                let managed = new.pointer("/metadata/managedFields").cloned();
                new = old.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        new.as_object_mut().expect("objects only").remove("status");
                    }
                }
                if let Some(m) = managed {
                    new["metadata"]["managedFields"] = m;
                }
            } else {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().expect("objects only").remove("status");
                    }
                }
            }
        }
        {
            let old_meta = old.get("metadata").cloned().unwrap_or_default();
            let m = meta::metadata_mut(&mut new);
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old_meta.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
        if meta::deleting(old) {
            let before = meta::finalizers(old);
            if let Some(added) = meta::finalizers(&new).into_iter().find(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    rt,
                    &name,
                    format!(
                        "{} \"{name}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{added}\"}}",
                        rt.qualified_kind()
                    ),
                    &[json!({"reason": "FieldValueForbidden", "field": "metadata.finalizers"})],
                ));
            }
        }
        Self::prepare_builtin(rt, &mut new, Some(old))?;
        admit(rt, &mut new, Some(old), opts)?;
        if tracks_generation(rt) && meta::spec_part(&new) != meta::spec_part(old) {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(generation);
        }
        // Server-side apply set `managedFields` itself: a change of ownership alone (a
        // second manager applying the same value) is a write, as in kube-apiserver.
        let ownership_changed =
            opts.managed_fields_set && new.pointer("/metadata/managedFields") != old.pointer("/metadata/managedFields");
        if meta::comparable(&new) == meta::comparable(old) && !ownership_changed {
            // kube-apiserver does not write (nor bump resourceVersion) for a no-op.
            return Ok(Arc::new(old.clone()));
        }
        if !opts.managed_fields_set {
            crate::ssa::record_update(
                Some(old),
                &mut new,
                &opts.field_manager,
                &rt.list_types,
                &meta::now(),
                subresource,
            );
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        let key = Self::key(rt, namespace, &name);
        if meta::deleting(&new) && meta::finalizers(&new).is_empty() {
            let gone = self.store.remove(&key).expect("the old object exists");
            self.collect_garbage();
            return Ok(gone);
        }
        let stored = self.store.put(key, new);
        self.after_write(rt, &stored);
        if meta::deleting(&stored) || !meta::owner_uids(&stored).is_empty() {
            self.collect_garbage();
        }
        Ok(stored)
    }
}

/// Schema admission for custom resources: prune unknown fields (an error under
/// `fieldValidation=Strict`), apply defaults, validate (CEL transition rules see `old`).
fn admit(rt: &ResourceType, obj: &mut Value, old: Option<&Value>, opts: &WriteOptions) -> Result<(), ApiError> {
    let Some(validator) = &rt.validator else { return Ok(()) };
    let name = meta::name(obj).to_owned();
    let pruned = validator.prune_and_default(obj);
    if opts.strict && !pruned.is_empty() {
        let fields: Vec<String> = pruned.iter().map(|p| format!("unknown field \"{p}\"")).collect();
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            fields.join(", ")
        )));
    }
    let errors = validator.validate(obj, old);
    if errors.is_empty() {
        return Ok(());
    }
    let causes: Vec<Value> =
        errors.iter().map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field})).collect();
    Err(ApiError::invalid(rt, &name, crate::schema::invalid_message(&rt.kind, &rt.group, &name, &errors), &causes))
}
