//! Object storage: every object as JSON under one global, monotonically increasing
//! `resourceVersion`, with a bounded history of changes that watches replay from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::registry::ResourceKey;

/// Where an object lives: resource, namespace (empty for cluster-scoped), name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The resource.
    pub resource: ResourceKey,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Kind of change a watch reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as retained in history and broadcast to watches.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// Where the object lives.
    pub key: ObjectKey,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before removal, for deletions).
    pub object: Arc<Value>,
    /// The object before the change (`None` for creations), so that a filtered watch
    /// can tell an object entering or leaving its selection.
    pub old: Option<Arc<Value>>,
}

/// The watch could not start: the requested version is older than the history kept.
#[derive(Debug, Clone, Copy)]
pub struct Gone {
    /// The oldest version a watch may start from.
    pub oldest: u64,
}

/// What a new watch gets: the changes it missed, then a live feed.
pub type Subscription = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// All objects plus change history.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Highest version no longer in history: watches must start at or after it.
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
    /// The version of the last change to an RBAC object (the authorizer's cache key).
    rbac_version: u64,
}

impl Store {
    /// An empty store keeping `history_limit` changes for watches.
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(65_536);
        Self {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit,
            compacted: 0,
            tx,
            rbac_version: 0,
        }
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Objects of a resource, optionally in one namespace, in key order, starting after
    /// `after` (exclusive) when given.
    pub fn list<'a>(
        &'a self,
        resource: &'a ResourceKey,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> + 'a {
        let start = ObjectKey {
            resource: resource.clone(),
            namespace: namespace.unwrap_or_default().to_owned(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(move |(k, _)| &k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
    }

    /// Every object (for garbage collection and namespace deletion).
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Arc<Value>)> {
        self.objects.iter()
    }

    /// The version of the last change to a Role, ClusterRole or binding.
    pub fn rbac_version(&self) -> u64 {
        self.rbac_version
    }

    fn record(&mut self, key: ObjectKey, kind: EventType, object: Arc<Value>, old: Option<Arc<Value>>) {
        if key.resource.group == "rbac.authorization.k8s.io" {
            self.rbac_version = self.rv;
        }
        let change = Arc::new(Change { rv: self.rv, key, kind, object, old });
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody watches.
        let _ = self.tx.send(change);
    }

    /// Store `object` under `key` with a new resourceVersion; returns the stored object.
    pub fn put(&mut self, key: ObjectKey, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let object = Arc::new(object);
        let old = self.objects.insert(key.clone(), object.clone());
        let kind = if old.is_some() { EventType::Modified } else { EventType::Added };
        self.record(key, kind, object.clone(), old);
        object
    }

    /// Remove an object; the DELETED event carries the deletion's resourceVersion.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let old = self.objects.remove(key)?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let last = Arc::new(last);
        self.record(key.clone(), EventType::Deleted, last.clone(), Some(old));
        Some(last)
    }

    /// Changes after `rv` still in history plus a receiver for later ones, taken
    /// atomically so that nothing falls between them.
    pub fn subscribe_from(&self, rv: u64) -> Result<Subscription, Gone> {
        if rv < self.compacted {
            return Err(Gone { oldest: self.compacted });
        }
        let past = self.history.iter().filter(|c| c.rv > rv).cloned().collect();
        Ok((past, self.tx.subscribe()))
    }

    /// Forget all history (fault injection: the next watch from an old version gets 410).
    pub fn compact_all(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }
}
