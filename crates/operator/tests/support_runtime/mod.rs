//! Helpers of the runtime tests: an emulator with the CRDs installed, operators run
//! in-process with `regionstack::run::run_on` on a free port, a minimal HTTP client
//! for the health server, and polling with deadlines (never fixed sleeps).

#![allow(dead_code, missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube_emulator::KubeEmulator;
use regionstack::run::{LogFormat, RunArgs};
use regionstack_api::Region;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The namespace of the leader-election Lease.
pub const LEASE_NAMESPACE: &str = "regionstack-system";

/// Poll `check` until it returns `Some`, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    testbed::poll::eventually(what, DEADLINE, check).await
}

/// An emulator, its client and a kubeconfig file pointing at it.
pub struct Env {
    pub emulator: KubeEmulator,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Env {
    /// An emulator with the regionstack CRDs and the Lease namespace.
    pub async fn start() -> Self {
        let env = Self::without_crds().await;
        env.install_crds().await;
        env
    }

    /// An emulator with only the Lease namespace.
    pub async fn without_crds() -> Self {
        let emulator = KubeEmulator::start().await.expect("start the emulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        emulator.write_kubeconfig(&kubeconfig).expect("write kubeconfig");
        let client = emulator.client();
        let ns = Namespace {
            metadata: ObjectMeta { name: Some(LEASE_NAMESPACE.to_owned()), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
        Self { emulator, client, kubeconfig, _dir: dir }
    }

    /// Install the CRDs from `regionstack_api::crd::all()` and wait until served.
    pub async fn install_crds(&self) {
        let crds: Vec<_> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd).collect();
        testbed::topology::objects::install_crds(&self.client, &crds).await.expect("install the CRDs");
        let regions: Api<Region> = Api::all(self.client.clone());
        eventually("the Region API", || async { regions.list(&ListParams::default()).await.ok() }).await;
    }

    /// Arguments for an operator of `region` called `instance` on this emulator.
    pub fn args(&self, region: &str, instance: &str) -> RunArgs {
        let mut args = RunArgs::new(region);
        args.kubeconfig = Some(self.kubeconfig.clone());
        args.instance = Some(instance.to_owned());
        LEASE_NAMESPACE.clone_into(&mut args.lease_namespace);
        args.log_format = LogFormat::Text;
        args
    }

    /// The holder of the Lease of `region`.
    pub async fn lease_holder(&self, region: &str) -> Option<String> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        let lease = leases.get_opt(&format!("regionstack-{region}")).await.ok()??;
        lease.spec?.holder_identity.filter(|h| !h.is_empty())
    }
}

/// An operator running in this test process. Dropping it aborts it (a crash).
pub struct Operator {
    pub addr: SocketAddr,
    pub instance: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Operator {
    /// Start an operator with `args` on a free loopback port.
    pub async fn start(args: RunArgs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().expect("bound address");
        let instance = args.instance();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(regionstack::run::run_on(args, listener, async move {
            let _ = rx.await;
        }));
        Self { addr, instance, shutdown: Some(tx), task: Some(task) }
    }

    /// Graceful shutdown (what SIGTERM does); fails the test if `run_on` failed.
    pub async fn stop(mut self) {
        let _ = self.shutdown.take().expect("running").send(());
        let task = self.task.take().expect("running");
        let result = tokio::time::timeout(DEADLINE, task).await.expect("the operator stops in time");
        result.expect("the operator task").expect("the operator ran without error");
    }

    /// Stop without any cleanup, like a killed process (the Lease is not released).
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// GET `path` from the health server: (status, body).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.addr, path).await
    }

    /// The status code of `path`, if the server answered.
    pub async fn status(&self, path: &str) -> Option<u16> {
        self.get(path).await.map(|(status, _)| status)
    }

    /// Sum of the (integer) samples of `metric` whose labels contain every `labels`
    /// pair.
    pub async fn metric(&self, metric: &str, labels: &[(&str, &str)]) -> u64 {
        let (status, body) = self.get("/metrics").await.expect("metrics answer");
        assert_eq!(status, 200, "{body}");
        sum_samples(&body, metric, labels)
    }

    /// Reconciles of `kind` so far, both results.
    pub async fn reconciles(&self, kind: &str) -> u64 {
        self.metric("regionstack_reconciles_total", &[("kind", kind)]).await
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Sum of the integer samples of `metric` in an OpenMetrics text whose labels
/// contain every `labels` pair.
pub fn sum_samples(text: &str, metric: &str, labels: &[(&str, &str)]) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, rest) = series.split_once('{').unwrap_or((series, ""));
            (name == metric && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<u64>().ok())?
        })
        .sum()
}

/// A one-shot HTTP/1.0 GET: (status, body), or `None` when nothing answers.
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let (head, body) = http_get_raw(addr, path).await?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body))
}

/// A one-shot HTTP/1.0 GET: (status line and headers, body).
pub async fn http_get_raw(addr: SocketAddr, path: &str) -> Option<(String, String)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        Some((head.to_owned(), body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange).await.ok()?
}
