//! Drift checks of the source side between resyncs (DESIGN §9: an altered export is
//! repaired within a second, not at the next 15 s resync).
//!
//! No database notification reports a changed publication in the source or boundary
//! database (regionstack installs no event triggers there: the application owns the
//! source database). Instead, each database that holds a served export is polled
//! every `Config::drift_poll` (250 ms) with one cheap query: a digest of its
//! publications, their tables, column lists and row filters, and of the columns of
//! the published (or hand-off) source tables
//! (`regionstack_sql::telemetry::audit::publication_fingerprint`). When it changes,
//! every replica exported from that database is reconciled, and the reconcile's
//! audit decides (repairs the export, reports a rogue publication or a column added
//! to a source table without a rule). The digest is
//! only the cue; a repair changes it again, which costs one more reconcile that finds
//! nothing and writes nothing.
//!
//! One poller (one connection) per database, shared by all the replicas exported from
//! it: `host:port/dbname` is the key, never a credential. A replica registers after
//! each successful source-side reconcile and leaves when it is no longer served here
//! or deleted; the last one to leave stops the poller. A poller whose connection fails
//! ends quietly: the next successful reconcile (at the resync interval at the latest)
//! starts it again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use regionstack_api::TelemetryReplica;
use regionstack_sql::ConnParams;
use regionstack_sql::telemetry::audit::publication_fingerprint;

use crate::controller::digest::DriftWatch;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

type Replicas = Arc<Mutex<HashSet<ObjectRef<TelemetryReplica>>>>;

type Watch = Arc<Mutex<DriftWatch>>;

struct Poller {
    params: ConnParams,
    replicas: Replicas,
    watch: Watch,
    task: JoinHandle<()>,
}

/// The drift pollers of one operator process.
#[derive(Default)]
pub struct Pollers {
    pollers: Mutex<HashMap<String, Poller>>,
}

impl std::fmt::Debug for Pollers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pollers").field("databases", &self.polling()).finish_non_exhaustive()
    }
}

/// `host:port/dbname`: the poller's key (no login, no password).
fn key(params: &ConnParams) -> String {
    format!("{}:{}/{}", params.host, params.port, params.dbname)
}

impl Pollers {
    /// Poll every database in `databases` for `replica` (each at most once per
    /// process), sending `replica` to `tx` when one of them changes. `every`: `None`
    /// turns drift checks off.
    pub fn watch(
        &self,
        replica: &ObjectRef<TelemetryReplica>,
        databases: &[ConnParams],
        tx: &UnboundedSender<ObjectRef<TelemetryReplica>>,
        every: Option<Duration>,
    ) {
        let Some(every) = every else { return };
        let mut pollers = self.pollers.lock().expect("pollers lock");
        for params in databases {
            let key = key(params);
            let replicas = match pollers.get(&key) {
                // A rotated password or a failed connection: start again, same replicas.
                Some(p) if p.params != *params || p.task.is_finished() => {
                    p.task.abort();
                    p.replicas.clone()
                }
                Some(p) => {
                    p.replicas.lock().expect("replicas lock").insert(replica.clone());
                    continue;
                }
                None => Replicas::default(),
            };
            replicas.lock().expect("replicas lock").insert(replica.clone());
            let watch = Watch::default();
            let task = tokio::spawn(poll(params.clone(), replicas.clone(), watch.clone(), tx.clone(), every));
            pollers.insert(key, Poller { params: params.clone(), replicas, watch, task });
        }
    }

    /// A reconcile of `replica` changed its databases (built or repaired the export):
    /// the next check of each requests one more reconcile (`controller::digest`).
    pub fn changed_by_reconcile(&self, replica: &ObjectRef<TelemetryReplica>) {
        for p in self.pollers.lock().expect("pollers lock").values() {
            if p.replicas.lock().expect("replicas lock").contains(replica) {
                p.watch.lock().expect("watch lock").mark_stale();
            }
        }
    }

    /// `replica` is no longer exported here: leave every poller, stopping those left
    /// without replicas.
    pub fn unwatch(&self, replica: &ObjectRef<TelemetryReplica>) {
        self.pollers.lock().expect("pollers lock").retain(|_, p| {
            let mut replicas = p.replicas.lock().expect("replicas lock");
            replicas.remove(replica);
            if replicas.is_empty() {
                p.task.abort();
                false
            } else {
                true
            }
        });
    }

    /// Stop every poller: the leadership term ended (see `pii::Registry::stop_all`).
    pub fn stop_all(&self) {
        for (_, p) in self.pollers.lock().expect("pollers lock").drain() {
            p.task.abort();
        }
    }

    /// Databases polled by a live poller.
    pub fn polling(&self) -> usize {
        self.pollers.lock().expect("pollers lock").values().filter(|p| !p.task.is_finished()).count()
    }
}

impl Drop for Pollers {
    fn drop(&mut self) {
        if let Ok(pollers) = self.pollers.get_mut() {
            for (_, p) in pollers.drain() {
                p.task.abort();
            }
        }
    }
}

async fn poll(
    params: ConnParams,
    replicas: Replicas,
    watch: Watch,
    tx: UnboundedSender<ObjectRef<TelemetryReplica>>,
    every: Duration,
) {
    let client = match regionstack_sql::connect(&params).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(database = %key(&params), error = %e, "export drift poller cannot connect");
            return;
        }
    };
    loop {
        match publication_fingerprint(&client).await {
            Ok(fingerprint) => {
                let changed = watch.lock().expect("watch lock").changed(fingerprint);
                if changed {
                    let due: Vec<_> = replicas.lock().expect("replicas lock").iter().cloned().collect();
                    tracing::debug!(database = %key(&params), replicas = due.len(), "publications changed");
                    for replica in due {
                        if tx.send(replica).is_err() {
                            return; // the controller is gone
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(database = %key(&params), error = %e, "export drift check failed");
                return;
            }
        }
        tokio::time::sleep(every).await;
    }
}
