//! Fault injection for reliability tests: dropped watches, forced 410s, failing
//! requests, latency, and a paused server that refuses connections.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// A rule failing the next `remaining` matching requests.
#[derive(Clone, Debug)]
pub struct FailRule {
    /// Only requests with this verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`); any when `None`.
    pub verb: Option<String>,
    /// Only requests for this plural resource name; any when `None`.
    pub resource: Option<String>,
    /// How many more requests fail.
    pub remaining: u32,
    /// 500, 429 (with Retry-After) or 409.
    pub status: u16,
}

/// Fault switches shared by the handle and the server.
#[derive(Debug)]
pub struct Faults {
    rules: Mutex<Vec<FailRule>>,
    latency_ms: AtomicU64,
    expire_next_watch: AtomicBool,
    /// Plural resource names whose next watch answers 410 (one entry per watch).
    expire_next_watch_of: Mutex<Vec<String>>,
    /// Incremented to end every open watch.
    drop_generation: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rules: Mutex::new(Vec::new()),
            latency_ms: AtomicU64::new(0),
            expire_next_watch: AtomicBool::new(false),
            expire_next_watch_of: Mutex::new(Vec::new()),
            drop_generation: watch::channel(0).0,
        }
    }
}

impl Faults {
    /// Fail the next `count` requests matching `verb` and `resource` with `status`.
    pub fn fail_next(&self, count: u32, verb: Option<&str>, resource: Option<&str>, status: u16) {
        self.rules.lock().expect("fault rules").push(FailRule {
            verb: verb.map(str::to_owned),
            resource: resource.map(str::to_owned),
            remaining: count,
            status,
        });
    }

    /// Should this request fail, and with which status?
    pub fn take_failure(&self, verb: &str, resource: &str) -> Option<u16> {
        let mut rules = self.rules.lock().expect("fault rules");
        let rule = rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.verb.as_deref().is_none_or(|v| v == verb)
                && r.resource.as_deref().is_none_or(|x| x == resource)
        })?;
        rule.remaining -= 1;
        let status = rule.status;
        rules.retain(|r| r.remaining > 0);
        Some(status)
    }

    /// Delay every request by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// The current added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }

    /// The next watch request answers 410 Gone.
    pub fn expire_next_watch(&self) {
        self.expire_next_watch.store(true, Ordering::SeqCst);
    }

    /// The next watch of `resource` (plural name, e.g. `piidatabases`) answers 410
    /// Gone: a test can aim the fault at one client when several watch the server.
    pub fn expire_next_watch_of(&self, resource: &str) {
        self.expire_next_watch_of.lock().expect("expiry list").push(resource.to_owned());
    }

    /// Consume a forced 410 for a watch of `resource`: the switch of
    /// [`Faults::expire_next_watch`], else one entry of [`Faults::expire_next_watch_of`].
    pub fn take_expired_watch(&self, resource: &str) -> bool {
        if self.expire_next_watch.swap(false, Ordering::SeqCst) {
            return true;
        }
        let mut aimed = self.expire_next_watch_of.lock().expect("expiry list");
        let hit = aimed.iter().position(|r| r == resource);
        hit.map(|i| aimed.remove(i)).is_some()
    }

    /// End every open watch (clients see the stream close and must re-watch).
    pub fn drop_watches(&self) {
        self.drop_generation.send_modify(|g| *g += 1);
    }

    /// A receiver that changes when watches are dropped.
    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        self.drop_generation.subscribe()
    }
}
