//! One watch per kind, shared by every controller that needs it, with its health in
//! plain sight.
//!
//! A [`Hub`] runs a kube-runtime `watcher` into a reflector store and broadcasts each
//! [`Change`] (the object before and after) to the controllers of the current
//! leadership term. The watch runs for the whole life of the process, leader or
//! not, so a standby has warm caches and is ready to take over.
//!
//! Failure handling: every watcher error is counted (`regionstack_watch_errors`),
//! marks the watch failing on `/ready`, and restarts the watcher after kube-runtime's
//! default backoff (client-go's: 0.8 s doubling to 30 s, with jitter). Restarting
//! means a fresh LIST, and that is deliberate: when kube's watcher re-establishes a
//! watch it emits nothing, so a stream observer could not tell that it recovered;
//! the LIST's `InitDone` says so, and it also brings the store up to date with
//! whatever happened while the API was unreachable (changed and deleted objects are
//! broadcast once the list completes). A watch that ends cleanly (server timeout,
//! dropped connection) is resumed by the watcher itself without a LIST.
//!
//! Stored objects are [`slim`]: without `managedFields` and kubectl's last-applied
//! annotation.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, DefaultBackoff, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::health::Health;
use crate::metrics::Metrics;

/// Changes buffered per subscriber; a subscriber that falls further behind gets the
/// whole store again instead (see [`Hub::changes`]).
const CHANNEL_CAPACITY: usize = 1024;

/// An object before and after one change: `old` is `None` for a new object, `new` is
/// `None` for a deleted one.
#[derive(Debug)]
pub struct Change<K> {
    /// The previous version, if the store had one.
    pub old: Option<Arc<K>>,
    /// The current version, unless deleted.
    pub new: Option<Arc<K>>,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        Self { old: self.old.clone(), new: self.new.clone() }
    }
}

impl<K> Change<K> {
    /// A change that introduces `obj` (used for snapshots).
    pub fn created(obj: Arc<K>) -> Self {
        Self { old: None, new: Some(obj) }
    }

    /// Both versions, old first.
    pub fn versions(&self) -> impl Iterator<Item = &Arc<K>> {
        self.old.iter().chain(self.new.iter())
    }
}

/// A watched kind: its store and the broadcast of its changes.
pub struct Hub<K: Resource<DynamicType = ()> + Clone + 'static> {
    kind: &'static str,
    reader: Store<K>,
    tx: broadcast::Sender<Change<K>>,
}

impl<K> Hub<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Start watching `api`; the returned task runs until aborted.
    pub fn start(
        kind: &'static str,
        api: Api<K>,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let writer = Writer::new(());
        let reader = writer.as_reader();
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        health.register(kind);
        let task = tokio::spawn(drive(kind, api, writer, tx.clone(), health, metrics));
        (Self { kind, reader, tx }, task)
    }

    /// The kind watched.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The reflector store (complete once [`Store::wait_until_ready`] returns).
    pub fn store(&self) -> Store<K> {
        self.reader.clone()
    }

    /// Every object of the store as a creation, then every later change. A
    /// subscriber that lags behind the channel gets the whole store again: a
    /// reconcile too many, never one too few.
    pub fn changes(&self) -> impl Stream<Item = Change<K>> + Send + 'static {
        // Subscribe before taking the snapshot so that nothing falls in between.
        let rx = self.tx.subscribe();
        let reader = self.reader.clone();
        let kind = self.kind;
        let snapshot: Vec<_> = self.reader.state().into_iter().map(Change::created).collect();
        futures::stream::iter(snapshot).chain(BroadcastStream::new(rx).flat_map(move |item| {
            let batch = match item {
                Ok(change) => vec![change],
                Err(BroadcastStreamRecvError::Lagged(missed)) => {
                    tracing::warn!(kind, missed, "a controller fell behind the watch; re-queueing every object");
                    reader.state().into_iter().map(Change::created).collect()
                }
            };
            futures::stream::iter(batch)
        }))
    }
}

/// The kubectl annotation that holds a client-side-applied object's whole manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What the stores keep of an object: everything but `managedFields` and kubectl's
/// last-applied copy of the manifest, which no controller reads and which are most
/// of a small object's size (DESIGN §9: 1,000 objects in < 32 MiB; the kube-rs
/// memory guidance does the same). Status writes are server-side applies that never
/// send either.
pub fn slim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Run the watcher forever, restarting it (with a LIST) after each error.
async fn drive<K>(
    kind: &'static str,
    api: Api<K>,
    mut writer: Writer<K>,
    tx: broadcast::Sender<Change<K>>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let mut backoff = DefaultBackoff::default();
    loop {
        let mut relay = Relay { kind, reader: writer.as_reader(), writer: &mut writer, tx: &tx, pending: Vec::new() };
        let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).map_ok(|e| e.modify(slim)).boxed();
        let error = loop {
            match stream.next().await {
                Some(Ok(event)) => {
                    if relay.apply(&event) {
                        health.synced(kind);
                    }
                }
                Some(Err(e)) => break e.to_string(),
                None => break "the watch stream ended".to_owned(),
            }
        };
        drop(stream);
        metrics.watch_error(kind);
        health.failed(kind, &error);
        let delay = Iterator::next(&mut backoff).unwrap_or(std::time::Duration::from_secs(30));
        tracing::warn!(kind, %error, retry_in = ?delay, "watch failed; listing again after a backoff");
        tokio::time::sleep(delay).await;
    }
}

/// Applies watcher events to the store and broadcasts what changed.
struct Relay<'a, K: Resource<DynamicType = ()> + Clone + 'static> {
    kind: &'static str,
    reader: Store<K>,
    writer: &'a mut Writer<K>,
    tx: &'a broadcast::Sender<Change<K>>,
    /// Changes seen during a LIST, broadcast once the store holds the new state (a
    /// controller looks objects up in the store).
    pending: Vec<Change<K>>,
}

impl<K> Relay<'_, K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    /// Apply one event; true when it completed a LIST.
    fn apply(&mut self, event: &Event<K>) -> bool {
        match event {
            Event::Apply(obj) => {
                let key = ObjectRef::from_obj(obj);
                let old = self.reader.get(&key);
                self.writer.apply_watcher_event(event);
                self.send(Change { old, new: self.reader.get(&key) });
            }
            Event::Delete(obj) => {
                let key = ObjectRef::from_obj(obj);
                let old = self.reader.get(&key).or_else(|| Some(Arc::new(obj.clone())));
                self.writer.apply_watcher_event(event);
                self.send(Change { old, new: None });
            }
            Event::Init => {
                self.pending.clear();
                self.writer.apply_watcher_event(event);
            }
            Event::InitApply(obj) => {
                // The store still holds the state before this LIST: compare with it
                // and pass on only what changed meanwhile.
                let old = self.reader.get(&ObjectRef::from_obj(obj));
                let unchanged = old.as_ref().is_some_and(|o| o.meta().resource_version == obj.meta().resource_version);
                if !unchanged {
                    self.pending.push(Change { old, new: Some(Arc::new(obj.clone())) });
                }
                self.writer.apply_watcher_event(event);
            }
            Event::InitDone => {
                let before = self.reader.state();
                self.writer.apply_watcher_event(event);
                for old in before {
                    if self.reader.get(&ObjectRef::from_obj(old.as_ref())).is_none() {
                        self.pending.push(Change { old: Some(old), new: None });
                    }
                }
                let pending = std::mem::take(&mut self.pending);
                tracing::debug!(kind = self.kind, changed = pending.len(), "watch listed");
                for change in pending {
                    self.send(change);
                }
                return true;
            }
        }
        false
    }

    fn send(&self, change: Change<K>) {
        // No subscriber (a standby between terms) is fine: the store is what counts.
        let _ = self.tx.send(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use regionstack_api::Region;

    #[test]
    fn slim_objects_keep_everything_controllers_read() {
        let mut region: Region = serde_json::from_value(serde_json::json!({
            "apiVersion": "regionstack.io/v1alpha1", "kind": "Region",
            "metadata": {"name": "eu-west-1", "generation": 3, "finalizers": ["x"],
                         "annotations": {LAST_APPLIED: "{...}", "regionstack.io/built": "keep"}},
            "spec": {"location": {"country": "IE"}, "jurisdictions": ["GDPR"], "lifecycle": "Active"}
        }))
        .unwrap();
        region.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        let mut slimmed = region.clone();
        slim(&mut slimmed);
        assert_eq!(slimmed.metadata.managed_fields, None);
        let annotations = slimmed.metadata.annotations.clone().unwrap();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["regionstack.io/built"]);
        // Everything else is untouched.
        slimmed.metadata.managed_fields.clone_from(&region.metadata.managed_fields);
        slimmed.metadata.annotations.clone_from(&region.metadata.annotations);
        assert_eq!(serde_json::to_value(&slimmed).unwrap(), serde_json::to_value(&region).unwrap());
    }
}
