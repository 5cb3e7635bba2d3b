//! `regionstack run`: the operator process of one regional cluster.
//!
//! What runs, for the whole life of the process:
//! - three watches ([`watch::Hub`]: Regions, PiiDatabases, TelemetryReplicas) with
//!   their reflector stores, leader or not, so a standby is warm and `/ready` tells
//!   the truth about the API connection;
//! - the health server ([`health`]: `/live`, `/ready`, `/metrics`);
//! - leader election ([`lease`]).
//!
//! And, only while this process holds the Lease and every store has listed once, the
//! three controllers ([`controllers`]). Losing the Lease stops them (in-flight
//! reconciles get [`STOP_GRACE`] to finish) and the process stands by again; it does
//! not exit, so its caches stay warm and it can lead again later. Shutdown (SIGINT,
//! SIGTERM, or the `shutdown` future in-process) stops the controllers first, then
//! releases the Lease so a standby or the restarted Pod takes over at once, then
//! stops the watches and the health server.

mod args;
pub mod controllers;
pub mod health;
pub mod lease;
pub mod logging;
pub mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::FutureExt as _;
use kube::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch as channel};

pub use args::{LogFormat, RunArgs};

use crate::controller::{Context, context};
use crate::metrics::Metrics;
use controllers::{Hubs, Triggers};
use health::Health;
use lease::LeaseManager;
use watch::Hub;

/// How long in-flight reconciles may run on after the controllers were told to stop.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Run the operator until `shutdown` resolves: initialize logging, bind
/// `--health-addr`, then [`run_on`].
pub async fn run(args: RunArgs, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    logging::init(args.log_format);
    let listener = TcpListener::bind(args.health_addr)
        .await
        .with_context(|| format!("binding the health address {}", args.health_addr))?;
    run_on(args, listener, shutdown).await
}

/// Run the operator with the health server on `listener` (tests bind port 0 and read
/// the port from the listener), until `shutdown` resolves.
pub async fn run_on(
    args: RunArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let client = client(&args).await?;
    let config = args.config();
    let metrics = Arc::new(Metrics::default());
    // The elector beats once per renew period (bounded by a timeout of one period).
    let health = Arc::new(Health::new(args.lease_duration()));
    let addr = listener.local_addr()?;
    tracing::info!(%addr, region = %config.region, instance = %config.instance, "serving /live, /ready and /metrics");

    let (server_stop, server_stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, health::router(health.clone(), metrics.clone()))
        .with_graceful_shutdown(server_stopped.map(|_| ()))
        .into_future();
    let mut tasks = Tasks::default();
    let server = tasks.spawn(server);

    let (regions, task) = Hub::start("Region", Api::all(client.clone()), health.clone(), metrics.clone());
    tasks.0.push(task);
    let (pii, task) = Hub::start("PiiDatabase", Api::all(client.clone()), health.clone(), metrics.clone());
    tasks.0.push(task);
    let (telemetry, task) = Hub::start("TelemetryReplica", Api::all(client.clone()), health.clone(), metrics.clone());
    tasks.0.push(task);
    let hubs = Hubs { regions, pii, telemetry };

    let (triggers, receivers) = context::triggers();
    let lease = LeaseManager::new(
        client.clone(),
        &args.lease_namespace,
        &config.region,
        &config.instance,
        args.lease_duration(),
    );
    let ctx = Arc::new(
        Context::new(client, config, hubs.regions.store(), metrics.clone(), triggers)
            .with_stores(hubs.pii.store(), hubs.telemetry.store()),
    );

    let (leading_tx, leading) = channel::channel(false);
    let (stop_elector, elector_stopped) = channel::channel(false);
    let elector = {
        let (lease, health, metrics) = (lease.clone(), health.clone(), metrics.clone());
        tasks.spawn(async move { lease::elect(lease, leading_tx, elector_stopped, &health, &metrics).await })
    };

    supervise(&hubs, &ctx, &Triggers::from(receivers), leading, shutdown).await;

    tracing::info!("shutting down");
    stop_elector.send_replace(true);
    let _ = (&mut tasks.0[elector]).await;
    lease.release().await;
    metrics.set_leader(false);
    let _ = server_stop.send(());
    if tokio::time::timeout(Duration::from_secs(5), &mut tasks.0[server]).await.is_err() {
        tracing::warn!("the health server did not stop in time");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The process's background tasks, aborted when dropped: when `run_on` is dropped
/// without a graceful shutdown (an aborted task in a test or the demo), nothing of
/// it lingers, in particular not the Lease renewals.
#[derive(Default)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Tasks {
    /// Spawn `fut`; returns its index.
    fn spawn<F, T>(&mut self, fut: F) -> usize
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.0.push(tokio::spawn(fut.map(drop)));
        self.0.len() - 1
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Run a controller term whenever this process leads with synced stores, until
/// `shutdown`.
async fn supervise(
    hubs: &Hubs,
    ctx: &Arc<Context>,
    triggers: &Triggers,
    mut leading: channel::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let ready = async {
            let _ = leading.wait_for(|l| *l).await;
            hubs.synced().await;
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = ready => {}
        }
        if !*leading.borrow() {
            continue;
        }
        tracing::info!("leading with synced caches: starting the controllers");
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop = stop_rx.map(|_| ()).shared();
        let mut term = std::pin::pin!(controllers::run(hubs, ctx.clone(), triggers, stop));
        let shutting_down = tokio::select! {
            () = &mut term => {
                tracing::error!("the controllers stopped on their own");
                false
            }
            _ = leading.wait_for(|l| !*l) => {
                tracing::warn!("lost the Lease: stopping the controllers");
                false
            }
            () = &mut shutdown => true,
        };
        let _ = stop_tx.send(());
        if tokio::time::timeout(STOP_GRACE, &mut term).await.is_err() {
            tracing::warn!(grace = ?STOP_GRACE, "reconciles still running after the grace period are abandoned");
        }
        // Listeners and drift pollers belong to the term: a standby keeps no database
        // connection open and reports no drift.
        ctx.pii.stop_all();
        ctx.exports.stop_all();
        tracing::info!("controllers stopped");
        if shutting_down {
            return;
        }
    }
}

/// A client from `--kubeconfig` (a path list like `KUBECONFIG`'s is merged), else
/// in-cluster configuration or the usual kubeconfig lookup.
async fn client(args: &RunArgs) -> anyhow::Result<kube::Client> {
    let config = match &args.kubeconfig {
        Some(paths) => {
            let mut merged: Option<Kubeconfig> = None;
            for path in std::env::split_paths(paths) {
                let next =
                    Kubeconfig::read_from(&path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
                merged = Some(match merged {
                    Some(m) => m.merge(next)?,
                    None => next,
                });
            }
            let kubeconfig = merged.context("--kubeconfig names no file")?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await.context("no kubeconfig and no in-cluster configuration")?,
    };
    kube::Client::try_from(config).context("building the API client")
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutdown requested by signal");
}
