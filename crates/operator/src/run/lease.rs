//! Leader election with a `coordination.k8s.io/v1` Lease (after linkerd2's
//! policy-controller and kubert's `LeaseManager`): one operator per region acts,
//! the others stand by with warm caches.
//!
//! - The Lease is `regionstack-<region>` in `--lease-namespace`. A contender takes it
//!   when it is absent, has no holder, or its `renewTime + leaseDurationSeconds` has
//!   passed; the holder renews every third of the duration.
//! - Every write is conditional: a create (409 when someone else created it first)
//!   or a replace carrying the `resourceVersion` that was read (409 when it moved), so
//!   two contenders can never both win.
//! - The holder steps down when it could not renew for two thirds of the duration
//!   (client-go's renew deadline), before any standby may consider the Lease expired.
//! - On shutdown the holder releases the Lease (clears `holderIdentity` and
//!   `renewTime`) so that a standby or a restarted Pod takes over at once.
//!
//! Expiry is judged with the wall clock against `renewTime` (as kubert does): clocks
//! of the cluster's nodes are assumed to agree to well under the lease duration.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

use super::health::Health;
use crate::controller::FIELD_MANAGER;
use crate::metrics::Metrics;

/// The Lease of one region's operators.
#[derive(Clone)]
pub struct LeaseManager {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaseManager {
    /// The Lease `regionstack-<region>` in `namespace`, contended for as `identity`.
    pub fn new(client: kube::Client, namespace: &str, region: &str, identity: &str, duration: Duration) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: lease_name(region),
            identity: identity.to_owned(),
            duration,
        }
    }

    /// How often the holder renews and a standby retries.
    pub fn period(&self) -> Duration {
        self.duration / 3
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Take or renew the Lease. `Ok(true)` when this process holds it now.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..ObjectMeta::default() },
                spec: Some(self.claim(LeaseSpec::default(), now, true)),
            };
            return conflict_is_false(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.take().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let ours = holder == Some(self.identity.as_str());
        if !ours && holder.is_some() && !expired(&spec, now) {
            return Ok(false);
        }
        if !ours {
            tracing::info!(lease = %self.name, previous = holder.unwrap_or("none"), "taking over the Lease");
        }
        lease.spec = Some(self.claim(spec, now, !ours));
        conflict_is_false(self.api.replace(&self.name, &Self::params(), &lease).await)
    }

    /// `spec` claimed by this process at `now`; `acquired` on a change of holder.
    fn claim(&self, mut spec: LeaseSpec, now: Timestamp, acquired: bool) -> LeaseSpec {
        if acquired {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.map_or(0, |n| n.saturating_add(1)));
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(self.duration_seconds());
        spec.renew_time = Some(MicroTime(now));
        spec
    }

    /// Give the Lease up if this process holds it. Best effort: a failure only means
    /// that a standby waits for the Lease to expire.
    pub async fn release(&self) {
        let result = async {
            let Some(mut lease) = self.api.get_opt(&self.name).await? else { return Ok(false) };
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(false);
            }
            spec.holder_identity = None;
            spec.renew_time = None;
            conflict_is_false(self.api.replace(&self.name, &Self::params(), &lease).await)
        }
        .await;
        match result {
            Ok(true) => tracing::info!(lease = %self.name, "released the Lease"),
            Ok(false) => {}
            Err(e) => tracing::warn!(lease = %self.name, error = %e, "could not release the Lease"),
        }
    }

    fn params() -> PostParams {
        PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() }
    }

    /// The current holder, if any (for tests and logs).
    pub async fn holder(&self) -> Result<Option<String>, kube::Error> {
        let lease = self.api.get_opt(&self.name).await?;
        Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity).filter(|h| !h.is_empty()))
    }

    /// The Lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `regionstack-<region>`.
pub fn lease_name(region: &str) -> String {
    format!("regionstack-{region}")
}

fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else { return true };
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0));
    renewed.0.checked_add(SignedDuration::from_secs(seconds)).map_or(true, |until| until <= now)
}

/// A 409 (someone else wrote first) is a lost race, not an error.
fn conflict_is_false<T>(result: Result<T, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Contend for the Lease until `stop` turns true, publishing leadership on `leading`.
/// Returns whether this process held the Lease when it stopped.
pub async fn elect(
    lease: LeaseManager,
    leading: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
    health: &Health,
    metrics: &Metrics,
) {
    let deadline = lease.duration * 2 / 3;
    let mut last_renewal: Option<Instant> = None;
    loop {
        health.beat();
        let attempt = tokio::time::timeout(lease.period(), lease.try_acquire_or_renew()).await;
        let holds = match attempt {
            Ok(Ok(true)) => {
                last_renewal = Some(Instant::now());
                true
            }
            Ok(Ok(false)) => false,
            Ok(Err(e)) => {
                tracing::warn!(lease = %lease.name(), error = %e, "Lease request failed");
                last_renewal.is_some_and(|t| t.elapsed() < deadline)
            }
            Err(_elapsed) => {
                tracing::warn!(lease = %lease.name(), "Lease request timed out");
                last_renewal.is_some_and(|t| t.elapsed() < deadline)
            }
        };
        if !holds {
            last_renewal = None;
        }
        if *leading.borrow() != holds {
            if holds {
                tracing::info!(lease = %lease.name(), identity = %lease.identity, "leading");
            } else {
                tracing::warn!(lease = %lease.name(), identity = %lease.identity, "not leading (any more)");
            }
            metrics.set_leader(holds);
            leading.send_replace(holds);
        }
        // Standbys retry as often as the holder renews, so that a released Lease is
        // taken within one period.
        tokio::select! {
            () = tokio::time::sleep(lease.period()) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_uses_renew_time_and_duration() {
        let t = |s: i64| Some(MicroTime(Timestamp::from_second(s).unwrap()));
        let now = Timestamp::from_second(1_000).unwrap();
        let spec =
            |renew, secs| LeaseSpec { renew_time: renew, lease_duration_seconds: Some(secs), ..LeaseSpec::default() };
        assert!(!expired(&spec(t(990), 15), now));
        assert!(expired(&spec(t(985), 15), now));
        assert!(expired(&spec(None, 15), now));
        assert_eq!(lease_name("eu-west-1"), "regionstack-eu-west-1");
    }
}
