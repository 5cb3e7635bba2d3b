//! An in-memory Kubernetes API server, spoken to over real HTTP by the real `kube`
//! client, `kube-runtime` watchers and `kubectl`. Test and demo infrastructure only
//! (DESIGN §8); the crate README lists the supported semantics and every known
//! deviation from kube-apiserver.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let emulator = kube_emulator::KubeEmulator::start().await?;
//! let client = emulator.client();
//! emulator.write_kubeconfig("/tmp/kubeconfig")?;
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod discovery;
pub mod errors;
pub mod faults;
pub mod gc;
pub mod http;
mod jsonpath;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod patching;
pub mod protobuf;
pub mod rbac;
pub mod registry;
pub mod render;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod ssa;
pub mod store;
pub mod table;
pub mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::watch as tokio_watch;

pub use api::Config;
pub use faults::Faults;
pub use rbac::usage::{AccessRecord, Permission, granted_permissions, unused_permissions};

use crate::http::AppState;
use crate::server::Mode;

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct KubeEmulator {
    addr: SocketAddr,
    state: Arc<AppState>,
    mode: tokio_watch::Sender<Mode>,
    /// The mode the server has put into effect (lags `mode`).
    actual: tokio_watch::Receiver<Mode>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl KubeEmulator {
    /// Start on a free loopback port with default settings.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Config::default(), 0).await
    }

    /// Start with settings, on `port` (0 = any free port).
    pub async fn start_with(config: Config, port: u16) -> anyhow::Result<Self> {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", port)).await.context("binding the emulator's port")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState {
            auth: auth::Auth::new(config.rbac),
            inner: Mutex::new(api::Inner::new(config)),
            faults: Faults::default(),
            open_watches: Arc::default(),
        });
        {
            // Namespaces every cluster has.
            let mut inner = state.lock();
            let ns = inner.registry.get("", "v1", "namespaces").cloned().expect("built in");
            for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                let obj = serde_json::json!({"metadata": {"name": name}});
                inner.create(&ns, None, obj, &api::WriteOptions::default()).map_err(|e| anyhow::anyhow!(e.message))?;
            }
        }
        let router = axum::Router::new().fallback(http::handle).with_state(state.clone());
        let (mode, rx) = tokio_watch::channel(Mode::Serving);
        let (actual_tx, actual) = tokio_watch::channel(Mode::Serving);
        let task = tokio::spawn(server::run(listener, addr, router, rx, actual_tx));
        Ok(Self { addr, state, mode, actual, task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `kube::Client` talking to this emulator as the admin (`system:masters`).
    pub fn client(&self) -> kube::Client {
        self.client_for(self.admin_token())
    }

    /// A `kube::Client` presenting `token` (from [`issue_token`](Self::issue_token)).
    pub fn client_for(&self, token: &str) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("a valid URL"));
        let value = format!("Bearer {token}").parse().expect("a token is a valid header value");
        config.headers.push((axum::http::header::AUTHORIZATION, value));
        kube::Client::try_from(config).expect("a client for a plain HTTP URL")
    }

    /// A kubeconfig (context `emulator`) pointing at this emulator, as the admin.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_yaml_for(self.admin_token())
    }

    /// A kubeconfig (context `emulator`) presenting `token`: as `user.token`, and
    /// (with RBAC on) in the server URL's path too, because client-go (kubectl) sends
    /// credentials only over TLS ([`auth::TOKEN_PREFIX`]).
    pub fn kubeconfig_yaml_for(&self, token: &str) -> String {
        let url = if self.rbac_enabled() { format!("{}{}{token}", self.url(), auth::TOKEN_PREFIX) } else { self.url() };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {url}\ncontexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n    namespace: default\ncurrent-context: emulator\nusers:\n- name: emulator\n  user:\n    token: {token}\n"
        )
    }

    /// Write the admin kubeconfig to a file.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        self.write_kubeconfig_for(path, self.admin_token())
    }

    /// Write a kubeconfig presenting `token` to a file.
    pub fn write_kubeconfig_for(&self, path: impl AsRef<Path>, token: &str) -> anyhow::Result<()> {
        std::fs::write(path.as_ref(), self.kubeconfig_yaml_for(token))
            .with_context(|| format!("writing {}", path.as_ref().display()))
    }

    /// Whether requests are authenticated and authorized ([`Config::rbac`]).
    pub fn rbac_enabled(&self) -> bool {
        self.state.auth.enabled()
    }

    /// The admin's bearer token (user `kubernetes-admin`, group `system:masters`);
    /// what [`client`](Self::client) and [`write_kubeconfig`](Self::write_kubeconfig) use.
    pub fn admin_token(&self) -> &str {
        self.state.auth.admin_token()
    }

    /// A bearer token for the ServiceAccount `namespace/name` (user
    /// `system:serviceaccount:<ns>:<name>`, groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<ns>`, `system:authenticated`). The ServiceAccount
    /// object need not exist.
    pub fn issue_token(&self, namespace: &str, service_account: &str) -> String {
        self.state.auth.issue(rbac::UserInfo::service_account(namespace, service_account))
    }

    /// A bearer token for a user in `groups` (plus `system:authenticated`).
    pub fn issue_user_token(&self, user: &str, groups: &[&str]) -> String {
        self.state.auth.issue(rbac::UserInfo::user(user, groups))
    }

    /// Every distinct authorization decision (who, what, allowed) taken for a
    /// non-admin identity so far, in the order first taken (empty while RBAC is off).
    /// A decision taken again is not recorded twice, which keeps the record bounded.
    pub fn access_log(&self) -> Vec<rbac::usage::AccessRecord> {
        self.state.auth.log()
    }

    /// The distinct denied requests of the access log.
    pub fn denied(&self) -> Vec<rbac::usage::AccessRecord> {
        self.access_log().into_iter().filter(|r| !r.allowed).collect()
    }

    /// Forget the access log.
    pub fn clear_access_log(&self) {
        self.state.auth.clear_log();
    }

    /// Fault injection switches.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Forget all watch history: any watch from a version before now gets 410 Gone.
    pub fn compact(&self) {
        self.state.lock().store.compact_all();
    }

    /// A gauge of the watch streams open right now: a test starts a watching client
    /// and waits for the gauge to move instead of sleeping.
    pub fn open_watches(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        Arc::clone(&self.state.open_watches)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state.lock().store.resource_version()
    }

    /// Close the listener and every connection; new connections are refused until
    /// [`resume`](Self::resume).
    pub fn pause(&self) {
        let _ = self.mode.send(Mode::Paused);
    }

    /// Listen again on the same port; returns once connections are accepted (at once
    /// when not paused).
    pub async fn resume(&self) {
        let mut actual = self.actual.clone();
        if *self.mode.borrow() == Mode::Paused {
            // Let the pause take effect first: sent back to back, the two commands would
            // coalesce and the server would never see the pause.
            let _ = actual.wait_for(|m| *m != Mode::Serving).await;
            let _ = self.mode.send(Mode::Serving);
        }
        let _ = actual.wait_for(|m| *m != Mode::Paused).await;
    }

    /// Stop the server and wait for it.
    pub async fn shutdown(mut self) {
        let _ = self.mode.send(Mode::Stopped);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        let _ = self.mode.send(Mode::Stopped);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
