//! What "ready" means for the seed topology, per cluster (DESIGN §3: the same objects
//! are applied everywhere; each operator acts for its own region and reports the rest
//! as not its own). Every object must have been observed at its current generation
//! (`status.observedGeneration == metadata.generation`) and be in the state below:
//!
//! | object in cluster R | expected |
//! | --- | --- |
//! | Region, `Active` | `Ready=True`; `status.local` true exactly for R |
//! | Region, `Planned`/`Draining` | a `Ready` condition (either status); `local` as above |
//! | PiiDatabase of R, R `Active` | `Ready=True`, `ResidencyCompliant=True` |
//! | PiiDatabase of R, R not `Active` | `Ready=False`, reason `RegionNotActive` |
//! | PiiDatabase of another region | `Ready=False`, reason `ForeignRegion` |
//! | TelemetryReplica whose source is R | side `Source`, `Ready=True`, `ResidencyCompliant=True` |
//! | TelemetryReplica targeting R | side `Target`, `Ready=True`, `ResidencyCompliant=True` |
//! | any other TelemetryReplica | side `NotInvolved`, `Ready=False`, reason `ForeignRegion` |

use std::fmt;
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::ListParams;
use regionstack_api::condition::find_condition;
use regionstack_api::telemetry::ReplicaSide;
use regionstack_api::{Condition, ConditionStatus, Lifecycle, PiiDatabase, Region, TelemetryReplica};

use super::cluster::RegionCluster;

/// One object's expected and observed state in one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectState {
    /// The cluster (its region).
    pub cluster: String,
    /// `Region/eu-west-1`, `PiiDatabase/customers/customers-eu-west-1`, …
    pub object: String,
    /// What is expected, in words.
    pub expected: String,
    /// What the status says.
    pub observed: String,
    /// Whether it holds.
    pub met: bool,
}

impl fmt::Display for ObjectState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.met { "ok  " } else { "WAIT" };
        write!(f, "{mark} [{}] {}: {} (expected {})", self.cluster, self.object, self.observed, self.expected)
    }
}

/// `Ready` condition expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `Ready=True` (and `ResidencyCompliant=True` when `compliant`).
    Ready {
        /// Also require `ResidencyCompliant=True`.
        compliant: bool,
    },
    /// `Ready=False` with this reason.
    NotReady(&'static str),
    /// A `Ready` condition, either status.
    Observed,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ready { compliant: true } => f.write_str("Ready=True, ResidencyCompliant=True"),
            Expect::Ready { compliant: false } => f.write_str("Ready=True"),
            Expect::NotReady(reason) => write!(f, "Ready=False {reason}"),
            Expect::Observed => f.write_str("a Ready condition"),
        }
    }
}

/// The expectation for a PiiDatabase of `db_region` in the cluster of `cluster`.
pub fn expect_pii(cluster: &str, db_region: &str, lifecycle: Option<Lifecycle>) -> Expect {
    if db_region != cluster {
        Expect::NotReady("ForeignRegion")
    } else if lifecycle == Some(Lifecycle::Active) {
        Expect::Ready { compliant: true }
    } else {
        Expect::NotReady("RegionNotActive")
    }
}

/// The side and expectation for a TelemetryReplica in the cluster of `cluster`.
pub fn expect_replica(cluster: &str, source: &str, targets: &[&str]) -> (ReplicaSide, Expect) {
    if source == cluster {
        (ReplicaSide::Source, Expect::Ready { compliant: true })
    } else if targets.contains(&cluster) {
        (ReplicaSide::Target, Expect::Ready { compliant: true })
    } else {
        (ReplicaSide::NotInvolved, Expect::NotReady("ForeignRegion"))
    }
}

fn describe(conditions: &[Condition]) -> String {
    if conditions.is_empty() {
        return "no conditions".into();
    }
    let parts: Vec<String> = conditions.iter().map(|c| format!("{}={:?} {}", c.type_, c.status, c.reason)).collect();
    parts.join(", ")
}

fn holds(expect: Expect, conditions: &[Condition]) -> bool {
    let is =
        |type_: &str, status: ConditionStatus| find_condition(conditions, type_).is_some_and(|c| c.status == status);
    match expect {
        Expect::Ready { compliant } => {
            is("Ready", ConditionStatus::True) && (!compliant || is("ResidencyCompliant", ConditionStatus::True))
        }
        Expect::NotReady(reason) => find_condition(conditions, "Ready")
            .is_some_and(|c| c.status == ConditionStatus::False && c.reason == reason),
        Expect::Observed => find_condition(conditions, "Ready").is_some(),
    }
}

fn generation_note(generation: Option<i64>, observed: Option<i64>) -> Option<String> {
    (generation != observed).then(|| format!("observedGeneration {observed:?} != generation {generation:?}"))
}

/// Every regionstack object of `cluster` against its expectation.
pub async fn states(cluster: &RegionCluster) -> anyhow::Result<Vec<ObjectState>> {
    let lp = ListParams::default();
    let regions = Api::<Region>::all(cluster.client.clone()).list(&lp).await?.items;
    let dbs = Api::<PiiDatabase>::all(cluster.client.clone()).list(&lp).await?.items;
    let replicas = Api::<TelemetryReplica>::all(cluster.client.clone()).list(&lp).await?.items;
    let lifecycle =
        |name: &str| regions.iter().find(|r| r.metadata.name.as_deref() == Some(name)).map(|r| r.spec.lifecycle);
    let mut out = Vec::new();
    let mut push = |object: String, expected: String, observed: String, met: bool| {
        out.push(ObjectState { cluster: cluster.region.clone(), object, expected, observed, met });
    };

    for region in &regions {
        let name = region.metadata.name.clone().unwrap_or_default();
        let status = region.status.clone().unwrap_or_default();
        let expect = if region.spec.lifecycle == Lifecycle::Active {
            Expect::Ready { compliant: false }
        } else {
            Expect::Observed
        };
        let own = name == cluster.region;
        let local_ok = (status.local == Some(true)) == own;
        let stale = generation_note(region.metadata.generation, status.observed_generation);
        let observed = format!(
            "{}, local={:?}{}",
            describe(&status.conditions),
            status.local,
            stale.as_ref().map(|s| format!(", {s}")).unwrap_or_default()
        );
        let met = holds(expect, &status.conditions) && local_ok && stale.is_none();
        push(format!("Region/{name}"), format!("{expect}, local={own}"), observed, met);
    }
    for db in &dbs {
        let key = format!(
            "PiiDatabase/{}/{}",
            db.metadata.namespace.as_deref().unwrap_or(""),
            db.metadata.name.as_deref().unwrap_or("")
        );
        let status = db.status.clone().unwrap_or_default();
        let expect = expect_pii(&cluster.region, &db.spec.region, lifecycle(&db.spec.region));
        let stale = generation_note(db.metadata.generation, status.observed_generation);
        let observed =
            format!("{}{}", describe(&status.conditions), stale.as_ref().map(|s| format!(", {s}")).unwrap_or_default());
        push(key, expect.to_string(), observed, holds(expect, &status.conditions) && stale.is_none());
    }
    for replica in &replicas {
        let key = format!(
            "TelemetryReplica/{}/{}",
            replica.metadata.namespace.as_deref().unwrap_or(""),
            replica.metadata.name.as_deref().unwrap_or("")
        );
        let targets: Vec<&str> = replica.spec.targets.iter().map(|t| t.region.as_str()).collect();
        let (side, expect) = expect_replica(&cluster.region, &replica.spec.source.region, &targets);
        let status = replica.status.clone().unwrap_or_default();
        let stale = generation_note(replica.metadata.generation, status.observed_generation);
        let observed = format!(
            "side={:?}, {}{}",
            status.side,
            describe(&status.conditions),
            stale.as_ref().map(|s| format!(", {s}")).unwrap_or_default()
        );
        let met = status.side == Some(side) && holds(expect, &status.conditions) && stale.is_none();
        push(key, format!("side={side:?}, {expect}"), observed, met);
    }
    Ok(out)
}

/// Polls every cluster until every object is in its expected state, or `timeout`
/// passes. Returns the last states seen and whether all held.
pub async fn wait_settled(clusters: &[RegionCluster], timeout: Duration) -> (Vec<ObjectState>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let mut all = Vec::new();
        let mut errors = Vec::new();
        for cluster in clusters {
            match states(cluster).await {
                Ok(states) => all.extend(states),
                Err(err) => errors.push(ObjectState {
                    cluster: cluster.region.clone(),
                    object: "API".into(),
                    expected: "reachable".into(),
                    observed: format!("{err:#}"),
                    met: false,
                }),
            }
        }
        all.extend(errors);
        let done = !all.is_empty() && all.iter().all(|s| s.met);
        if done || Instant::now() >= deadline {
            return (all, done);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_expectations() {
        let active = Some(Lifecycle::Active);
        let cases = [
            ("eu-west-1", "eu-west-1", active, Expect::Ready { compliant: true }),
            ("eu-west-3", "eu-west-1", active, Expect::NotReady("ForeignRegion")),
            ("ap-south-1", "eu-west-1", active, Expect::NotReady("ForeignRegion")),
            ("ap-south-1", "ap-south-1", Some(Lifecycle::Planned), Expect::NotReady("RegionNotActive")),
            ("eu-west-1", "eu-west-1", Some(Lifecycle::Draining), Expect::NotReady("RegionNotActive")),
            ("eu-west-1", "eu-west-1", None, Expect::NotReady("RegionNotActive")),
        ];
        for (cluster, region, lifecycle, want) in cases {
            assert_eq!(expect_pii(cluster, region, lifecycle), want, "{cluster} {region}");
        }
    }

    #[test]
    fn replica_sides() {
        let targets = ["eu-west-3"];
        assert_eq!(expect_replica("eu-west-1", "eu-west-1", &targets).0, ReplicaSide::Source);
        assert_eq!(expect_replica("eu-west-3", "eu-west-1", &targets).0, ReplicaSide::Target);
        assert_eq!(
            expect_replica("ap-south-1", "eu-west-1", &targets),
            (ReplicaSide::NotInvolved, Expect::NotReady("ForeignRegion"))
        );
    }

    #[test]
    fn conditions_are_matched_by_type_status_and_reason() {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let cond = |t: &str, s, r: &str| Condition::new(t, s, r, "", Some(1), now.clone());
        let ready = [
            cond("Ready", ConditionStatus::True, "Reconciled"),
            cond("ResidencyCompliant", ConditionStatus::True, "Compliant"),
        ];
        assert!(holds(Expect::Ready { compliant: true }, &ready));
        assert!(!holds(Expect::Ready { compliant: true }, &ready[..1]));
        let foreign = [cond("Ready", ConditionStatus::False, "ForeignRegion")];
        assert!(holds(Expect::NotReady("ForeignRegion"), &foreign));
        assert!(!holds(Expect::NotReady("RegionNotActive"), &foreign));
        assert!(holds(Expect::Observed, &foreign));
        assert!(!holds(Expect::Observed, &[]));
    }
}
