//! What every reconcile receives: the operator's identity (its region), the API
//! client, the reflector stores, metrics, the event recorder and per-object backoff.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use regionstack_api::{PiiDatabase, Region, TelemetryReplica};
use regionstack_policy::Catalogue;
use tokio::sync::mpsc;

use super::CONTROLLER_NAME;
use super::error::Backoff;
use crate::metrics::Metrics;

/// Default of [`Config::drift_poll`]: four cheap catalog queries per second and
/// database keep drift detection well under DESIGN §9's 1 s.
pub const DRIFT_POLL: Duration = Duration::from_millis(250);

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct Config {
    /// The region this operator serves (`--region`).
    pub region: String,
    /// How often a PII database is audited when no notification arrives.
    pub audit_interval: Duration,
    /// How often a healthy TelemetryReplica is revisited (lag, pruning, drift).
    pub resync_interval: Duration,
    /// How often a served database's catalog digest is checked for drift that no
    /// notification reports (`None`: never; see `pii::registry`).
    pub drift_poll: Option<Duration>,
    /// Legal catalogue used by the residency policy (DPDP restricted list).
    pub catalogue: Catalogue,
    /// This process's identity: Lease holder and Events' `reportingInstance`.
    pub instance: String,
}

impl Config {
    /// Defaults for `region`: audit every 10 s, revisit replicas every 15 s, check the
    /// catalog digest of served databases every 250 ms.
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            audit_interval: Duration::from_secs(10),
            resync_interval: Duration::from_secs(15),
            drift_poll: Some(DRIFT_POLL),
            catalogue: Catalogue::new(),
            instance: format!("{CONTROLLER_NAME}-{region}"),
        }
    }
}

/// Requests for an immediate reconcile from outside the watches (for example a
/// PII database's DDL notification). Controllers consume the receiving ends.
#[derive(Clone, Debug)]
pub struct Triggers {
    /// Reconcile this PiiDatabase now.
    pub pii: mpsc::UnboundedSender<ObjectRef<PiiDatabase>>,
    /// Reconcile this TelemetryReplica now.
    pub telemetry: mpsc::UnboundedSender<ObjectRef<TelemetryReplica>>,
}

/// The receiving ends of [`Triggers`].
#[derive(Debug)]
pub struct TriggerReceivers {
    /// PiiDatabase reconcile requests.
    pub pii: mpsc::UnboundedReceiver<ObjectRef<PiiDatabase>>,
    /// TelemetryReplica reconcile requests.
    pub telemetry: mpsc::UnboundedReceiver<ObjectRef<TelemetryReplica>>,
}

/// A connected pair of [`Triggers`] and their receivers.
pub fn triggers() -> (Triggers, TriggerReceivers) {
    let (pii_tx, pii_rx) = mpsc::unbounded_channel();
    let (tel_tx, tel_rx) = mpsc::unbounded_channel();
    (Triggers { pii: pii_tx, telemetry: tel_tx }, TriggerReceivers { pii: pii_rx, telemetry: tel_rx })
}

/// Shared by every reconcile of every controller in one operator process.
pub struct Context {
    /// The API client (the regional cluster).
    pub client: Client,
    /// Process settings.
    pub config: Config,
    /// All Regions, kept by a reflector (the topology is small and read on every
    /// reconcile).
    pub regions: Store<Region>,
    /// All PiiDatabases (the Region controller counts them). Empty unless set with
    /// [`Context::with_stores`].
    pub pii_databases: Store<PiiDatabase>,
    /// All TelemetryReplicas (the Region controller counts them). Empty unless set
    /// with [`Context::with_stores`].
    pub telemetry_replicas: Store<TelemetryReplica>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Event recorder (events.k8s.io/v1).
    pub recorder: Recorder,
    /// Failure counts per object for exponential backoff.
    pub backoff: Backoff,
    /// Out-of-band reconcile requests.
    pub triggers: Triggers,
    /// PiiDatabase notification listeners and finding counts.
    pub pii: super::pii::Registry,
    /// Drift pollers of the databases that hold served exports.
    pub exports: super::telemetry::drift::Pollers,
}

impl Context {
    /// A context for `config` on `client`.
    pub fn new(
        client: Client,
        config: Config,
        regions: Store<Region>,
        metrics: Arc<Metrics>,
        triggers: Triggers,
    ) -> Self {
        let reporter = Reporter { controller: CONTROLLER_NAME.to_owned(), instance: Some(config.instance.clone()) };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            regions,
            pii_databases: reflector::store().0,
            telemetry_replicas: reflector::store().0,
            metrics,
            backoff: Backoff::default(),
            triggers,
            pii: super::pii::Registry::default(),
            exports: super::telemetry::drift::Pollers::default(),
        }
    }

    /// The same context reading PiiDatabases and TelemetryReplicas from these stores
    /// (the runtime passes its reflectors' readers).
    #[must_use]
    pub fn with_stores(
        mut self,
        pii_databases: Store<PiiDatabase>,
        telemetry_replicas: Store<TelemetryReplica>,
    ) -> Self {
        self.pii_databases = pii_databases;
        self.telemetry_replicas = telemetry_replicas;
        self
    }

    /// All Regions known to the store, as owned values.
    pub fn region_list(&self) -> Vec<Region> {
        self.regions.state().iter().map(|r| (**r).clone()).collect()
    }

    /// The Region called `name`, if the store has it.
    pub fn region(&self, name: &str) -> Option<Arc<Region>> {
        self.regions.get(&ObjectRef::new(name))
    }
}
