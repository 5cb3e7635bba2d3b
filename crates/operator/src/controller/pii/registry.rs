//! Per-database state that outlives one reconcile: the notification listener of each
//! PiiDatabase (keyed by uid) and its latest finding counts (for the metrics' gauges,
//! which add up every database's latest audit).
//!
//! A listener is one `LISTEN regionstack_pii` connection (`regionstack_sql::pii::listen`)
//! whose notifications become reconcile requests on `ctx.triggers.pii`, so drift is
//! repaired in well under a second instead of at the next scheduled audit. It is
//! started by a successful reconcile (Enforce mode), restarted by the next reconcile
//! when it died or the connection parameters changed (a rotated password), and
//! stopped when the object is deleted, becomes foreign or invalid, or switches to
//! Audit mode (no guardrail triggers, so nothing to listen to). A listener that dies
//! asks for one reconcile, which re-creates it or, if the database is gone, fails and
//! backs off.
//!
//! **Drift no notification reports.** PostgreSQL fires no event trigger for
//! replication slots (created by a function) nor for DDL on event triggers themselves,
//! so a hand-made slot or a dropped or disabled guardrail used to wait for the
//! scheduled audit (10 s). The listener therefore also polls, every
//! `Config::drift_poll` (250 ms), a digest of the catalog state the audit covers
//! (`Notifications::fingerprint`: one query on the listening connection, no new
//! connection) and requests a reconcile when it changed (`controller::digest`). The full
//! audit stays the only judge; the digest only says "look now". A repair changes the
//! digest again, which costs one more audit that finds nothing and writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::reflector::ObjectRef;
use regionstack_api::{PiiDatabase, ReasonCode};
use regionstack_sql::pii::Notifications;
use regionstack_sql::{ConnParams, SqlError};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::KIND;
use crate::controller::digest::DriftWatch;
use crate::metrics::Metrics;

type Watch = Arc<Mutex<DriftWatch>>;

struct Listener {
    params: ConnParams,
    watch: Watch,
    task: JoinHandle<()>,
}

/// The listener task: a reconcile request per notification and per digest change;
/// one last request when the connection fails (the reconcile restarts the listener).
async fn listen(
    mut notes: Notifications,
    object: ObjectRef<PiiDatabase>,
    tx: UnboundedSender<ObjectRef<PiiDatabase>>,
    poll: Option<Duration>,
    watch: Watch,
) {
    let mut tick = tokio::time::interval(poll.unwrap_or(Duration::from_secs(3600)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        let request = tokio::select! {
            note = notes.next() => match note {
                Some(Ok(_)) => true,
                Some(Err(e)) => {
                    tracing::warn!(object = %object, error = %e, "PII notification listener failed");
                    break;
                }
                None => break,
            },
            _ = tick.tick(), if poll.is_some() => match notes.fingerprint().await {
                Ok(fingerprint) => watch.lock().expect("watch lock").changed(fingerprint),
                Err(e) => {
                    tracing::warn!(object = %object, error = %e, "PII drift check failed");
                    break;
                }
            },
        };
        if request && tx.send(object.clone()).is_err() {
            return; // the controller is gone
        }
    }
    let _ = tx.send(object);
}

/// Listeners and finding counts of every PiiDatabase this process serves.
#[derive(Default)]
pub struct Registry {
    listeners: Mutex<HashMap<String, Listener>>,
    findings: Mutex<HashMap<String, BTreeMap<ReasonCode, i64>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("listeners", &self.listening()).finish_non_exhaustive()
    }
}

/// The reason codes an audit produces; their gauges are always set, zero included.
const AUDIT_CODES: [ReasonCode; 2] = [ReasonCode::RogueReplication, ReasonCode::GuardrailMissing];

impl Registry {
    /// Make sure a live listener with `params` runs for `uid`. Connecting happens here,
    /// in the reconcile, so a failure is logged and retried by the next reconcile.
    pub(super) async fn ensure_listener(
        &self,
        uid: &str,
        object: ObjectRef<PiiDatabase>,
        params: &ConnParams,
        tx: UnboundedSender<ObjectRef<PiiDatabase>>,
        poll: Option<Duration>,
    ) -> Result<(), SqlError> {
        {
            let listeners = self.listeners.lock().expect("listener lock");
            if listeners.get(uid).is_some_and(|l| &l.params == params && !l.task.is_finished()) {
                return Ok(());
            }
        }
        let notes = regionstack_sql::pii::listen(params).await?;
        let mut watch = DriftWatch::default();
        // The baseline: what the reconcile that starts the listener has just audited.
        if poll.is_some() {
            watch.changed(notes.fingerprint().await?);
        }
        let watch = Arc::new(Mutex::new(watch));
        let task = tokio::spawn(listen(notes, object, tx, poll, watch.clone()));
        let old = self
            .listeners
            .lock()
            .expect("listener lock")
            .insert(uid.to_owned(), Listener { params: params.clone(), watch, task });
        if let Some(old) = old {
            old.task.abort();
        }
        Ok(())
    }

    /// A reconcile of `uid` changed its database (repair, installation): the next
    /// drift check requests one more reconcile (`controller::digest`, A-B-A).
    pub(super) fn changed_by_reconcile(&self, uid: &str) {
        if let Some(l) = self.listeners.lock().expect("listener lock").get(uid) {
            l.watch.lock().expect("watch lock").mark_stale();
        }
    }

    /// Stop the listener of `uid`, if any.
    pub(super) fn stop_listener(&self, uid: &str) {
        if let Some(old) = self.listeners.lock().expect("listener lock").remove(uid) {
            old.task.abort();
        }
    }

    /// Stop every listener: the leadership term ended, and a standby holds no database
    /// connection (the next leader's reconciles start their own listeners).
    pub fn stop_all(&self) {
        for (_, l) in self.listeners.lock().expect("listener lock").drain() {
            l.task.abort();
        }
    }

    /// Whether a live listener runs for `uid`.
    pub(super) fn is_listening(&self, uid: &str) -> bool {
        self.listeners.lock().expect("listener lock").get(uid).is_some_and(|l| !l.task.is_finished())
    }

    /// Number of live listeners.
    pub fn listening(&self) -> usize {
        self.listeners.lock().expect("listener lock").values().filter(|l| !l.task.is_finished()).count()
    }

    /// Record the latest audit of `uid` (`None`: it is no longer audited) and update
    /// the findings gauges with the totals over every database.
    pub(super) fn set_findings(&self, metrics: &Metrics, uid: &str, counts: Option<BTreeMap<ReasonCode, i64>>) {
        let mut all = self.findings.lock().expect("findings lock");
        match counts {
            Some(c) => {
                all.insert(uid.to_owned(), c);
            }
            None => {
                all.remove(uid);
            }
        }
        for code in AUDIT_CODES {
            let total = all.values().filter_map(|c| c.get(&code)).sum();
            metrics.set_findings(KIND, code.as_str(), total);
        }
    }

    /// Forget `uid` entirely: listener stopped, findings no longer counted.
    pub(super) fn forget(&self, metrics: &Metrics, uid: &str) {
        self.stop_listener(uid);
        self.set_findings(metrics, uid, None);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Ok(listeners) = self.listeners.get_mut() {
            for (_, l) in listeners.drain() {
                l.task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_gauges_sum_over_databases() {
        let metrics = Metrics::default();
        let r = Registry::default();
        r.set_findings(&metrics, "a", Some([(ReasonCode::RogueReplication, 2)].into()));
        r.set_findings(
            &metrics,
            "b",
            Some([(ReasonCode::RogueReplication, 1), (ReasonCode::GuardrailMissing, 1)].into()),
        );
        let text = metrics.encode();
        assert!(text.contains(r#"regionstack_audit_findings{kind="PiiDatabase",code="RogueReplication"} 3"#), "{text}");
        r.forget(&metrics, "a");
        let text = metrics.encode();
        assert!(text.contains(r#"regionstack_audit_findings{kind="PiiDatabase",code="RogueReplication"} 1"#), "{text}");
        assert!(text.contains(r#"regionstack_audit_findings{kind="PiiDatabase",code="GuardrailMissing"} 1"#), "{text}");
        assert_eq!(r.listening(), 0);
    }
}
