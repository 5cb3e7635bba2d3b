//! Deletion: finalizers, propagation policies (background, foreground, orphan),
//! owner-reference garbage collection and namespace termination. Collection runs
//! synchronously after the write that triggers it, so a test observes the end state
//! as soon as the request returns (kube's collector is asynchronous; see the README).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::Inner;
use crate::errors::ApiError;
use crate::meta;
use crate::registry::{ResourceKey, ResourceType};
use crate::store::ObjectKey;

/// `propagationPolicy` of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete now, dependents afterwards.
    #[default]
    Background,
    /// Dependents first; the owner waits with the `foregroundDeletion` finalizer.
    Foreground,
    /// Leave dependents, removing their owner references.
    Orphan,
}

/// Options of a DELETE.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// Propagation policy.
    pub propagation: Propagation,
    /// Precondition on `metadata.uid`.
    pub uid: Option<String>,
    /// Precondition on `metadata.resourceVersion`.
    pub resource_version: Option<String>,
    /// Answer without deleting.
    pub dry_run: bool,
}

const FOREGROUND: &str = "foregroundDeletion";

impl Inner {
    /// Delete one object.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let old = self.get(rt, namespace, name)?;
        if opts.uid.as_deref().is_some_and(|u| u != meta::uid(&old))
            || opts.resource_version.as_deref().is_some_and(|rv| Some(rv) != meta::meta_str(&old, "resourceVersion"))
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": Precondition failed", rt.qualified_plural()),
            ));
        }
        if opts.dry_run {
            return Ok(old);
        }
        let key = Self::key(rt, namespace, name);
        let uid = meta::uid(&old).to_owned();
        match opts.propagation {
            Propagation::Orphan => self.orphan_dependents(&uid),
            Propagation::Foreground if !meta::deleting(&old) => {
                let mut obj = (*old).clone();
                let mut f = meta::finalizers(&obj);
                f.push(FOREGROUND.to_owned());
                meta::set_finalizers(&mut obj, &f);
                obj["metadata"]["deletionTimestamp"] = json!(meta::now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                let stored = self.store.put(key, obj);
                self.collect_garbage();
                return Ok(self.store.get(&Self::key(rt, namespace, name)).cloned().unwrap_or(stored));
            }
            _ => {}
        }
        let result = self.mark_deleted(&key).unwrap_or(old);
        self.collect_garbage();
        Ok(result)
    }

    /// Delete every object of a resource matching a filter (DELETE on a collection).
    pub fn delete_collection(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
        opts: &DeleteOptions,
    ) -> Result<Vec<Arc<Value>>, ApiError> {
        let targets: Vec<(Option<String>, String)> = self
            .store
            .list(&rt.key(), namespace)
            .filter(|(_, o)| keep(o))
            .map(|(k, _)| (rt.namespaced.then(|| k.namespace.clone()), k.name.clone()))
            .collect();
        targets.iter().map(|(ns, n)| self.delete(rt, ns.as_deref(), n, opts)).collect()
    }

    /// Start deleting: objects with finalizers get `deletionTimestamp`, others go now.
    /// Returns the object as it stands afterwards.
    fn mark_deleted(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let obj = self.store.get(key)?.clone();
        let is_namespace = key.resource.group.is_empty() && key.resource.plural == "namespaces";
        if meta::finalizers(&obj).is_empty() && !is_namespace {
            return self.store.remove(key);
        }
        if meta::deleting(&obj) {
            return Some(obj);
        }
        let mut obj = (*obj).clone();
        obj["metadata"]["deletionTimestamp"] = json!(meta::now());
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if is_namespace {
            obj["status"]["phase"] = json!("Terminating");
        }
        Some(self.store.put(key.clone(), obj))
    }

    fn orphan_dependents(&mut self, owner_uid: &str) {
        let dependents: Vec<(ObjectKey, Value)> = self
            .store
            .iter()
            .filter(|(_, o)| meta::owner_uids(o).iter().any(|u| u == owner_uid))
            .map(|(k, o)| (k.clone(), (**o).clone()))
            .collect();
        for (key, mut obj) in dependents {
            if let Some(refs) = obj.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
                if refs.is_empty() {
                    meta::metadata_mut(&mut obj).remove("ownerReferences");
                }
            }
            self.store.put(key, obj);
        }
    }

    /// Run owner-reference collection and namespace termination to a fixed point.
    pub fn collect_garbage(&mut self) {
        loop {
            let mut uids: HashMap<String, bool> = HashMap::new();
            for (_, o) in self.store.iter() {
                let foreground = meta::deleting(o) && meta::finalizers(o).iter().any(|f| f == FOREGROUND);
                uids.insert(meta::uid(o).to_owned(), foreground);
            }
            let mut doomed: Vec<ObjectKey> = Vec::new();
            let mut has_dependents: HashSet<String> = HashSet::new();
            let terminating: HashSet<String> = self
                .store
                .iter()
                .filter(|(k, o)| k.resource.group.is_empty() && k.resource.plural == "namespaces" && meta::deleting(o))
                .map(|(k, _)| k.name.clone())
                .collect();
            let mut occupied: HashSet<String> = HashSet::new();
            for (k, o) in self.store.iter() {
                if !k.namespace.is_empty() {
                    occupied.insert(k.namespace.clone());
                    if terminating.contains(&k.namespace) && !meta::deleting(o) {
                        doomed.push(k.clone());
                        continue;
                    }
                }
                let owners = meta::owner_uids(o);
                if owners.is_empty() {
                    continue;
                }
                for u in &owners {
                    has_dependents.insert(u.clone());
                }
                let all_gone = owners.iter().all(|u| !uids.contains_key(u));
                let foreground_owner = owners.iter().any(|u| uids.get(u).copied().unwrap_or(false));
                if (all_gone || foreground_owner) && !meta::deleting(o) {
                    doomed.push(k.clone());
                }
            }
            // Foreground owners whose dependents are all gone lose their finalizer.
            let released: Vec<ObjectKey> = self
                .store
                .iter()
                .filter(|(_, o)| {
                    uids.get(meta::uid(o)).copied().unwrap_or(false) && !has_dependents.contains(meta::uid(o))
                })
                .map(|(k, _)| k.clone())
                .collect();
            // Terminating namespaces with nothing left in them go.
            let empty_namespaces: Vec<ObjectKey> = self
                .store
                .iter()
                .filter(|(k, _)| {
                    k.resource.group.is_empty()
                        && k.resource.plural == "namespaces"
                        && terminating.contains(&k.name)
                        && !occupied.contains(&k.name)
                })
                .map(|(k, _)| k.clone())
                .collect();
            doomed.extend(self.custom_resources_without_crd());
            if doomed.is_empty() && released.is_empty() && empty_namespaces.is_empty() {
                return;
            }
            for key in doomed {
                self.mark_deleted(&key);
            }
            for key in released {
                if let Some(o) = self.store.get(&key).cloned() {
                    let mut o = (*o).clone();
                    let f: Vec<String> = meta::finalizers(&o).into_iter().filter(|f| f != FOREGROUND).collect();
                    meta::set_finalizers(&mut o, &f);
                    if f.is_empty() {
                        self.store.remove(&key);
                    } else {
                        self.store.put(key, o);
                    }
                }
            }
            for key in empty_namespaces {
                self.store.remove(&key);
            }
        }
    }

    /// Custom resources whose CRD is gone, to be deleted. Their type stops being served
    /// once the last of them (held by finalizers) is gone.
    fn custom_resources_without_crd(&mut self) -> Vec<ObjectKey> {
        let mut doomed = Vec::new();
        let mut unserved: Vec<ResourceKey> = Vec::new();
        for t in self.registry.all().filter(|t| t.custom) {
            let crd = ObjectKey {
                resource: ResourceKey {
                    group: "apiextensions.k8s.io".to_owned(),
                    plural: "customresourcedefinitions".to_owned(),
                },
                namespace: String::new(),
                name: format!("{}.{}", t.plural, t.group),
            };
            if self.store.get(&crd).is_some() {
                continue;
            }
            let mut left = false;
            for (k, o) in self.store.list(&t.key(), None) {
                left = true;
                if !meta::deleting(o) {
                    doomed.push(k.clone());
                }
            }
            if !left {
                unserved.push(t.key());
            }
        }
        for key in unserved {
            self.registry.remove_custom(&key.group, &key.plural);
        }
        doomed
    }
}
