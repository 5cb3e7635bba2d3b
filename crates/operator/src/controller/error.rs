//! The error contract of every reconcile step and the policy that turns an error into
//! the next requeue.
//!
//! Validation errors ([`ErrorCategory::is_transient`] false) wait for a change of the
//! object (or of a Region, which re-queues its dependants): retrying cannot help.
//! Transient errors (API, database, missing Secret) back off exponentially from 1 s
//! to 5 min with ±50 % jitter, so that many objects failing together do not retry in
//! lock-step. Success resets the count.
//!
//! **Waiting on a peer** ([`ErrorCategory::retry_soon`]): some failures are the
//! normal first moments of a fresh object, not faults: a target region's import
//! before the source region's operator has built the export it subscribes to, an
//! apply worker that is still starting. Backing those off exponentially made a fresh
//! seed topology settle in ~10 s (1 + 2 + 4 s of waits, plus jitter) although the
//! peer was ready after ~1 s. They are retried every [`SOON_FIRST`] (0.1 s) for the
//! first [`SOON_FIRST_ATTEMPTS`] failures, then every [`SOON`] (0.25 s; both ±20 %
//! jitter) up to [`SOON_ATTEMPTS`] failures (~8 s, what a peer needs to catch up), then the
//! ordinary backoff takes over from its start, so a peer that is really down costs
//! a bounded burst of cheap retries and then nothing more than any other failure.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use std::sync::Arc;

use kube::Resource;
use kube::runtime::controller::Action;

use super::Context;

/// A bounded label for an error: metric label value and Event reason. Implementors
/// return a `&'static str` from a fixed set, never text derived from input.
pub trait ErrorCategory {
    /// PascalCase category, e.g. `DatabaseUnreachable`, `InvalidSpec`, `KubeApi`.
    fn category(&self) -> &'static str;
    /// Whether retrying later may succeed without a change to the object.
    fn is_transient(&self) -> bool;
    /// Whether the failure is a wait on a peer that is expected to end within seconds
    /// (module documentation): retried soon, a bounded number of times.
    fn retry_soon(&self) -> bool {
        false
    }
}

/// The error type of a whole reconcile: a step error plus the kind it happened in.
pub trait ReconcileError: ErrorCategory + std::error::Error + Send + Sync + 'static {}
impl<T: ErrorCategory + std::error::Error + Send + Sync + 'static> ReconcileError for T {}

const BASE: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(300);
/// Retry interval while waiting on a peer.
pub const SOON: Duration = Duration::from_millis(250);
/// Retry interval of the first [`SOON_FIRST_ATTEMPTS`] waits on a peer: a peer
/// building its side is usually done within a second, and every 0.25 s cost up to a
/// quarter of a second after it was.
pub const SOON_FIRST: Duration = Duration::from_millis(100);
/// Failures retried every [`SOON_FIRST`] before [`SOON`] applies.
pub const SOON_FIRST_ATTEMPTS: u32 = 10;
/// Failures retried every [`SOON`] before the ordinary backoff applies.
pub const SOON_ATTEMPTS: u32 = 40;

/// The delay after the `n`-th consecutive failure (`n` ≥ 1); `soon`: the failure is a
/// wait on a peer; `r` in [0, 1) picks the jitter. Pure, for the tests.
pub fn delay(n: u32, soon: bool, r: f64) -> Duration {
    if soon && n <= SOON_FIRST_ATTEMPTS {
        return SOON_FIRST.mul_f64(0.8 + 0.4 * r);
    }
    if soon && n <= SOON_ATTEMPTS {
        return SOON.mul_f64(0.8 + 0.4 * r);
    }
    // Failures past the fast phase start the exponential phase from its beginning.
    let n = if soon { n - SOON_ATTEMPTS } else { n };
    let exp = BASE.saturating_mul(1u32 << (n.max(1) - 1).min(16)).min(MAX);
    exp.mul_f64(0.5 + r)
}

/// Consecutive failure counts per object key (`kind/namespace/name`).
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
    jitter: RandomState,
}

impl Backoff {
    /// Record a failure of `key` and return how long to wait: `BASE * 2^(n-1)`,
    /// capped at `MAX`, scaled by a factor in [0.5, 1.5).
    pub fn next_delay(&self, key: &str) -> Duration {
        self.next(key, false)
    }

    /// Record a failure of `key` that waits on a peer and return how long to wait
    /// ([`delay`]).
    pub fn next_delay_soon(&self, key: &str) -> Duration {
        self.next(key, true)
    }

    fn next(&self, key: &str, soon: bool) -> Duration {
        let n = {
            let mut map = self.failures.lock().expect("backoff lock");
            let n = map.entry(key.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let r = self.jitter.hash_one((key, n, nanos));
        #[allow(clippy::cast_precision_loss)]
        let r = (r % 1_000_000) as f64 / 1_000_000.0;
        delay(n, soon, r)
    }

    /// Forget the failures of `key` (after a successful reconcile or on deletion).
    pub fn reset(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }

    /// The current consecutive failure count of `key`.
    pub fn failures(&self, key: &str) -> u32 {
        self.failures.lock().expect("backoff lock").get(key).copied().unwrap_or(0)
    }
}

/// The requeue decision for `err` on the object `key`.
pub fn requeue_for(backoff: &Backoff, key: &str, err: &dyn ErrorCategory) -> Action {
    if !err.is_transient() {
        Action::await_change()
    } else if err.retry_soon() {
        Action::requeue(backoff.next_delay_soon(key))
    } else {
        Action::requeue(backoff.next_delay(key))
    }
}

/// The error policy of every controller: count the error, log it, and requeue per
/// [`requeue_for`]. Warning Events are published by the reconcile itself, where the
/// object and the full context are at hand.
#[allow(clippy::needless_pass_by_value)] // the signature kube-runtime's Controller::run expects
pub fn error_policy<K, E>(obj: Arc<K>, err: &E, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
    E: ReconcileError,
{
    let key = object_key(obj.as_ref());
    let action = requeue_for(&ctx.backoff, &key, err);
    tracing::warn!(object = %key, category = err.category(), error = %err, requeue = ?action, "reconcile failed");
    action
}

/// `Kind/namespace/name` (or `Kind/name`): the backoff key and log field of an object.
pub fn object_key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    let kind = K::kind(&());
    match (obj.meta().namespace.as_deref(), obj.meta().name.as_deref()) {
        (Some(ns), Some(name)) => format!("{kind}/{ns}/{name}"),
        (_, name) => format!("{kind}/{}", name.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_reset() {
        let b = Backoff::default();
        let d1 = b.next_delay("k");
        assert!(d1 >= Duration::from_millis(500) && d1 < Duration::from_millis(1500), "{d1:?}");
        let d2 = b.next_delay("k");
        assert!(d2 >= Duration::from_secs(1) && d2 < Duration::from_secs(3), "{d2:?}");
        for _ in 0..20 {
            b.next_delay("k");
        }
        let capped = b.next_delay("k");
        assert!(capped >= MAX / 2 && capped < MAX.mul_f64(1.5), "{capped:?}");
        assert_eq!(b.failures("other"), 0);
        b.reset("k");
        assert_eq!(b.failures("k"), 0);
    }

    #[test]
    fn waits_on_a_peer_are_retried_soon_then_back_off() {
        // (failure n, soon, jitter r, expected delay in ms)
        let cases = [
            (1, true, 0.0, 80),
            (1, true, 0.5, 100),
            (SOON_FIRST_ATTEMPTS, true, 0.999_999, 119),
            (SOON_FIRST_ATTEMPTS + 1, true, 0.0, 200),
            (SOON_FIRST_ATTEMPTS + 1, true, 0.5, 250),
            (SOON_ATTEMPTS, true, 0.999_999, 299),
            (SOON_ATTEMPTS + 1, true, 0.5, 1_000),
            (SOON_ATTEMPTS + 3, true, 0.5, 4_000),
            (SOON_ATTEMPTS + 40, true, 0.5, 300_000),
            (1, false, 0.5, 1_000),
            (3, false, 0.0, 2_000),
            (40, false, 0.5, 300_000),
        ];
        for (n, soon, r, ms) in cases {
            assert_eq!(delay(n, soon, r).as_millis(), ms, "n={n} soon={soon} r={r}");
        }
    }

    #[test]
    fn requeue_follows_the_error_kind() {
        struct E(bool, bool);
        impl ErrorCategory for E {
            fn category(&self) -> &'static str {
                "Test"
            }
            fn is_transient(&self) -> bool {
                self.0
            }
            fn retry_soon(&self) -> bool {
                self.1
            }
        }
        let b = Backoff::default();
        assert_eq!(requeue_for(&b, "k", &E(false, true)), Action::await_change());
        assert_eq!(b.failures("k"), 0, "a permanent error is no failure to back off from");
        for _ in 0..3 {
            assert_ne!(requeue_for(&b, "k", &E(true, true)), Action::await_change());
        }
        assert_eq!(b.failures("k"), 3);
        let soon = b.next_delay_soon("k");
        assert!(soon >= SOON_FIRST.mul_f64(0.8) && soon < SOON_FIRST.mul_f64(1.2), "{soon:?}");
        b.reset("k");
        requeue_for(&b, "k", &E(true, false));
        assert_eq!(b.failures("k"), 1);
    }
}
