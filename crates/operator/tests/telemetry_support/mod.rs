//! Shared by the TelemetryReplica controller tests: one "region" = a Kubernetes API
//! emulator with the CRDs, the topology and Secrets, an in-process operator for that
//! region, and (for regions with telemetry) a real PostgreSQL server. Everything is
//! stopped on drop, also when a test panics.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource};
use kube_emulator::KubeEmulator;
use regionstack::controller::{Config, Context, context, error, telemetry};
use regionstack::metrics::Metrics;
use regionstack_api::fixtures::{RegionBuilder, SYSTEM_NAMESPACE};
use regionstack_api::region::SslMode;
use regionstack_api::{Jurisdiction, Region, TelemetryReplica};
use testbed::PgServer;

/// Name of the telemetry admin Secret in `regionstack-system`.
pub const ADMIN_SECRET: &str = "telemetry-admin";
/// The database holding telemetry on every server (source tables, import tables).
pub const TELEMETRY_DB: &str = "telemetry";
/// The replication login every test replica uses.
pub const LOGIN: &str = "rs_repl_device";
/// Its password (never expected in any status, event or log).
pub const LOGIN_PASSWORD: &str = "canary-replication-password";

/// Aborts a task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An in-process operator for one region: the Region reflector and the
/// TelemetryReplica controller (a Region change re-queues every replica).
pub struct Operator {
    /// Its context (metrics included).
    pub ctx: Arc<Context>,
    _tasks: Vec<AbortOnDrop>,
}

/// Start the TelemetryReplica controller of `region` on `client`.
pub fn start_operator(client: &Client, region: &str, resync: Duration) -> Operator {
    let (regions, writer) = reflector::store::<Region>();
    let region_api: Api<Region> = Api::all(client.clone());
    let reflect = reflector::reflector(writer, watcher(region_api.clone(), watcher::Config::default()))
        .default_backoff()
        .applied_objects()
        .for_each(|_| futures::future::ready(()));
    let mut config = Config::new(region);
    config.resync_interval = resync;
    let (triggers, receivers) = context::triggers();
    let ctx = Arc::new(Context::new(client.clone(), config, regions, Arc::new(Metrics::default()), triggers));
    let requests =
        futures::stream::unfold(receivers.telemetry, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
    let controller = Controller::new(Api::<TelemetryReplica>::all(client.clone()), watcher::Config::default());
    let replicas = controller.store();
    let run = controller
        .watches(region_api, watcher::Config::default(), move |_: Region| {
            replicas.state().iter().map(|r| ObjectRef::from_obj(r.as_ref())).collect::<Vec<_>>()
        })
        .reconcile_on(requests)
        .run(telemetry::reconcile, error::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    Operator { ctx, _tasks: vec![AbortOnDrop(tokio::spawn(reflect)), AbortOnDrop(tokio::spawn(run))] }
}

/// One regional cluster: its emulator, maybe a telemetry server, and its operator.
pub struct RegionEnv {
    /// The region's name.
    pub name: String,
    /// Its operator (dropped first: fields drop in declaration order).
    pub operator: Operator,
    /// A client of its emulator.
    pub client: Client,
    /// Its telemetry server, when it has one.
    pub pg: Option<Arc<PgServer>>,
    /// Its API server.
    pub emulator: KubeEmulator,
}

/// An emulator with the CRDs, the `regionstack-system` namespace and the Regions.
pub async fn emulator(regions: &[Region]) -> KubeEmulator {
    let emulator = KubeEmulator::start().await.expect("start the emulator");
    let client = emulator.client();
    let crds: Vec<_> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd).collect();
    testbed::topology::objects::install_crds(&client, &crds).await.expect("install the CRDs");
    let ns = Namespace { metadata: named(SYSTEM_NAMESPACE, None), ..Namespace::default() };
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
    let region_api: Api<Region> = Api::all(client);
    eventually("the Region kind is served", Duration::from_secs(10), || async {
        region_api.list(&ListParams::default()).await.ok()
    })
    .await;
    for r in regions {
        region_api.create(&PostParams::default(), r).await.expect("create a Region");
    }
    emulator
}

fn named(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_owned()), namespace: namespace.map(str::to_owned), ..ObjectMeta::default() }
}

/// Create a Secret with string data.
pub async fn secret(client: &Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<String, ByteString> =
        data.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect();
    let s = Secret { metadata: named(name, Some(namespace)), data: Some(data), ..Secret::default() };
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &s)
        .await
        .expect("create Secret");
}

/// The admin Secret of a telemetry server (import database `telemetry`).
pub async fn admin_secret(client: &Client, pg: &PgServer, dbname: &str) {
    let port = pg.port().to_string();
    let data = [
        ("host", pg.host()),
        ("port", port.as_str()),
        ("user", pg.superuser()),
        ("password", pg.password()),
        ("dbname", dbname),
        ("sslmode", "disable"),
    ];
    secret(client, SYSTEM_NAMESPACE, ADMIN_SECRET, &data).await;
}

/// A Region with a telemetry connection Secret and a plain-text publisher endpoint on
/// loopback (`port` 0: no endpoint).
pub fn region(name: &str, country: &str, jurisdictions: &[Jurisdiction], port: u16) -> Region {
    let mut b = RegionBuilder::new(name)
        .country(country)
        .jurisdictions(jurisdictions.iter().copied())
        .telemetry_secret(SYSTEM_NAMESPACE, ADMIN_SECRET);
    if port != 0 {
        b = b.publisher_endpoint("127.0.0.1", i32::from(port)).edit(|s| {
            s.telemetry.as_mut().unwrap().publisher_endpoint.as_mut().unwrap().ssl_mode = Some(SslMode::Disable);
        });
    }
    b.build()
}

/// Start telemetry servers, in parallel, named after their regions.
pub async fn pg_servers(names: &[&str]) -> Vec<Arc<PgServer>> {
    let options = names.iter().map(|n| testbed::PgOptions::new(*n)).collect();
    let cluster = tokio::task::spawn_blocking(move || testbed::Cluster::start_with(options))
        .await
        .unwrap()
        .expect("start PostgreSQL");
    cluster.into_servers().into_iter().map(Arc::new).collect()
}

/// Remove the `replication` lines of the testbed's `pg_hba.conf` (keeping the local
/// superuser), as a production server would: otherwise the source audit rightly
/// reports that the hop-2 login could replicate physically.
pub async fn confine_hba(pg: &Arc<PgServer>) {
    let hba = pg.data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
    let mut kept: Vec<&str> = text.lines().filter(|l| !l.contains("replication")).collect();
    kept.push("local replication postgres trust");
    std::fs::write(&hba, kept.join("\n") + "\n").expect("write pg_hba.conf");
    psql(pg, "postgres", "SELECT pg_reload_conf()").await;
}

/// Run `sql` in `db` (psql, off the async workers); the first column, one line per row.
pub async fn psql(pg: &Arc<PgServer>, db: &str, sql: &str) -> String {
    let (pg, db, sql) = (pg.clone(), db.to_owned(), sql.to_owned());
    tokio::task::spawn_blocking(move || pg.psql(&db, &sql).unwrap_or_else(|e| panic!("{sql}: {e}"))).await.unwrap()
}

pub use testbed::poll::eventually;

/// The replica `name` in `default`, if it exists.
pub async fn get_replica(client: &Client, name: &str) -> Option<TelemetryReplica> {
    Api::<TelemetryReplica>::namespaced(client.clone(), "default").get_opt(name).await.expect("get replica")
}

/// `(status, reason)` of a condition of the replica, when set for its generation.
pub fn condition(r: &TelemetryReplica, type_: &str) -> Option<(String, String)> {
    let status = r.status.as_ref()?;
    let c = regionstack_api::condition::find_condition(&status.conditions, type_)?;
    (c.observed_generation == r.meta().generation).then(|| (format!("{:?}", c.status), c.reason.clone()))
}

/// Wait until condition `type_` of replica `name` has `status`/`reason`; returns the
/// replica as it was then.
pub async fn wait_condition(
    client: &Client,
    name: &str,
    type_: &str,
    want: (&str, &str),
    timeout: Duration,
) -> TelemetryReplica {
    let what = format!("{name}: {type_}={}/{}", want.0, want.1);
    eventually(&what, timeout, || async {
        let r = get_replica(client, name).await?;
        (condition(&r, type_).as_ref().map(|(s, re)| (s.as_str(), re.as_str())) == Some(want)).then_some(r)
    })
    .await
}

/// Reasons of the events.k8s.io Events about objects in `default`.
pub async fn event_reasons(client: &Client) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default()).await.expect("list events");
    list.items
        .into_iter()
        .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default() + ": " + &e.note.unwrap_or_default()))
        .collect()
}

/// Rows (any column, cast to text) containing one of `needles`, in every user table
/// of `db`: `table.column=count, ...`, empty when none (`PgServer::canary_hits`).
pub async fn canary_hits(pg: &Arc<PgServer>, db: &str, needles: &[&str]) -> String {
    let (pg, db) = (pg.clone(), db.to_owned());
    let needles: Vec<String> = needles.iter().map(|n| (*n).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        pg.canary_hits(&db, &needles).unwrap_or_else(|e| panic!("canary scan of {db}: {e}"))
    })
    .await
    .unwrap()
}

impl RegionEnv {
    /// A cluster for region `name` with every Region of `regions`, the telemetry admin
    /// Secret of `pg` (admin database `admin_db`) and the replication Secret
    /// `replication_secret`, and its operator.
    pub async fn start(
        name: &str,
        regions: &[Region],
        pg: Option<(Arc<PgServer>, &str)>,
        replication_secret: &str,
        resync: Duration,
    ) -> Self {
        let emulator = emulator(regions).await;
        let client = emulator.client();
        if let Some((pg, admin_db)) = &pg {
            admin_secret(&client, pg, admin_db).await;
            let creds = [("username", LOGIN), ("password", LOGIN_PASSWORD)];
            secret(&client, "default", replication_secret, &creds).await;
        }
        let operator = start_operator(&client, name, resync);
        Self { name: name.to_owned(), operator, client, pg: pg.map(|(p, _)| p), emulator }
    }

    /// The replica API of this cluster (namespace `default`).
    pub fn replicas(&self) -> Api<TelemetryReplica> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Status writes of the TelemetryReplica controller so far.
    pub fn status_writes(&self) -> u64 {
        self.operator.ctx.metrics.status_writes(telemetry::KIND)
    }

    /// Reconciles of the TelemetryReplica controller so far.
    pub fn reconciles(&self) -> u64 {
        self.operator.ctx.metrics.reconcile_count(telemetry::KIND)
    }
}

/// Wait for an Event of `type_` whose `reason: note` starts with `prefix` and
/// contains `needle` (Events are published next to, not atomically with, status).
pub async fn wait_event(client: &Client, type_: &str, prefix: &str, needle: &str) {
    let what = format!("a {type_} event {prefix}...{needle}");
    eventually(&what, Duration::from_secs(30), || async {
        let events = event_reasons(client).await;
        events.iter().any(|(t, r)| t == type_ && r.starts_with(prefix) && r.contains(needle)).then_some(())
    })
    .await;
}
