//! The PiiDatabase controller in-process against an emulated cluster, and real
//! PostgreSQL servers shaped like a PII database's.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_emulator::KubeEmulator;
use regionstack::controller::context::{TriggerReceivers, triggers};
use regionstack::controller::{Config, Context, error, pii};
use regionstack::metrics::Metrics;
use regionstack_api::{PiiDatabase, Region};
use testbed::PgServer;
use tokio::task::JoinHandle;

/// An emulator with regionstack's CRDs, some Regions, and a PiiDatabase controller for
/// one region. Dropping it stops the controller and the emulator.
pub struct Harness {
    pub emulator: KubeEmulator,
    pub client: Client,
    pub ctx: Arc<Context>,
    tasks: Vec<JoinHandle<()>>,
    _telemetry:
        tokio::sync::mpsc::UnboundedReceiver<kube::runtime::reflector::ObjectRef<regionstack_api::TelemetryReplica>>,
}

impl Harness {
    /// Start the emulator, install the CRDs (and CloudNativePG's when `cnpg`), create
    /// `regions`, and run the controller of `region` auditing every `audit_interval`.
    pub async fn start(region: &str, audit_interval: Duration, regions: &[Region], cnpg: bool) -> Self {
        super::init_logging();
        let emulator = KubeEmulator::start().await.expect("start the emulator");
        let client = emulator.client();
        super::install_crds(&client).await;
        if cnpg {
            super::install_cnpg_crd(&client).await;
        }
        super::create_regions(&client, regions).await;

        let (store, writer) = reflector::store::<Region>();
        let regions_stream =
            reflector::reflector(writer, watcher(Api::<Region>::all(client.clone()), watcher::Config::default()))
                .applied_objects()
                .for_each(|_| std::future::ready(()));
        let mut tasks = vec![tokio::spawn(regions_stream)];
        wait_for_regions(&store, regions.len()).await;

        let mut config = Config::new(region);
        config.audit_interval = audit_interval;
        let (triggers, receivers) = triggers();
        let TriggerReceivers { pii: mut pii_rx, telemetry } = receivers;
        let ctx = Arc::new(Context::new(client.clone(), config, store, Arc::new(Metrics::default()), triggers));
        let requests = futures::stream::poll_fn(move |cx| pii_rx.poll_recv(cx));
        let controller = Controller::new(Api::<PiiDatabase>::all(client.clone()), watcher::Config::default())
            .reconcile_on(requests)
            .run(pii::reconcile, error::error_policy, ctx.clone())
            .for_each(|_| std::future::ready(()));
        tasks.push(tokio::spawn(controller));
        Self { emulator, client, ctx, tasks, _telemetry: telemetry }
    }

    /// The PiiDatabase API of `namespace`.
    pub fn api(&self, namespace: &str) -> Api<PiiDatabase> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Create a PiiDatabase.
    pub async fn create(&self, db: &PiiDatabase) -> PiiDatabase {
        let ns = db.metadata.namespace.as_deref().unwrap_or("default");
        self.api(ns).create(&kube::api::PostParams::default(), db).await.expect("create PiiDatabase")
    }

    /// Merge-patch a PiiDatabase's spec (as a user would edit it).
    pub async fn patch_spec(&self, namespace: &str, name: &str, spec: serde_json::Value) {
        self.api(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(serde_json::json!({ "spec": spec })))
            .await
            .expect("patch PiiDatabase");
    }

    /// Poll the PiiDatabase until `check` accepts it.
    pub async fn wait(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&PiiDatabase) -> bool,
    ) -> PiiDatabase {
        let api = self.api(namespace);
        super::eventually(what, Duration::from_secs(20), || {
            let api = api.clone();
            let check = &check;
            async move { api.get_opt(name).await.expect("get PiiDatabase").filter(|db| check(db)) }
        })
        .await
    }

    /// Wait for `n` more reconciles of PiiDatabases than so far.
    pub async fn wait_reconciles(&self, n: u64) {
        let start = self.ctx.metrics.reconcile_count(pii::KIND);
        super::eventually("reconciles", Duration::from_secs(20), || async move {
            (self.ctx.metrics.reconcile_count(pii::KIND) >= start + n).then_some(())
        })
        .await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn wait_for_regions(store: &Store<Region>, n: usize) {
    store.wait_until_ready().await.expect("region reflector");
    super::eventually("the Region store", Duration::from_secs(10), || async move {
        (store.state().len() >= n).then_some(())
    })
    .await;
}

/// A PostgreSQL server whose `pg_hba.conf` lets only the local superuser replicate
/// (the testbed's default lets everyone in, which the audit rightly reports), with
/// the databases `dbs`.
pub async fn pg_server(dbs: &[&str]) -> PgServer {
    let dbs: Vec<String> = dbs.iter().map(|d| (*d).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let server = PgServer::start().expect("start PostgreSQL");
        let hba = server.data_dir().join("pg_hba.conf");
        let text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        let mut kept: Vec<&str> = text.lines().filter(|l| !l.contains("replication")).collect();
        kept.push("local replication postgres trust");
        std::fs::write(&hba, kept.join("\n") + "\n").expect("write pg_hba.conf");
        server.psql("postgres", "SELECT pg_reload_conf()").expect("reload");
        for db in &dbs {
            server.create_database(db).expect("create database");
        }
        server
    })
    .await
    .expect("start PostgreSQL")
}

/// The keys of a regionstack connection Secret for `db` on `server` (plain TCP).
pub fn connection_data(server: &PgServer, db: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", server.host().to_owned()),
        ("port", server.port().to_string()),
        ("user", server.superuser().to_owned()),
        ("password", server.password().to_owned()),
        ("dbname", db.to_owned()),
        ("sslmode", "disable".to_owned()),
    ]
}

/// Run `sql` in `db` with psql (blocking, so inside `block_in_place`: tests run on
/// the multi-threaded runtime); the result text or the error text.
pub fn psql(server: &PgServer, db: &str, sql: &str) -> Result<String, String> {
    tokio::task::block_in_place(|| server.psql(db, sql)).map_err(|e| e.to_string())
}
