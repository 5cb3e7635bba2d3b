//! Helpers shared by the watch, fault-injection and controller tests.

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube_emulator::KubeEmulator;

/// How long any single wait in these tests may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// `fut`, or a panic naming `what` after [`DEADLINE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_elapsed| panic!("timed out after {DEADLINE:?} waiting for {what}"))
}

/// The next item of a stream, failing the test if the stream ends or stays silent.
pub async fn next<S: Stream + Unpin>(what: &str, stream: &mut S) -> S::Item {
    within(what, stream.next()).await.unwrap_or_else(|| panic!("the stream ended while waiting for {what}"))
}

/// Poll `check` (every 20 ms) until it returns `Some`, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// A ConfigMap with labels and one data entry.
pub fn config_map(name: &str, labels: &[(&str, &str)], value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty())
                .then(|| labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("value".to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    }
}

/// Create a ConfigMap, returning what the server stored.
pub async fn create_cm(api: &Api<ConfigMap>, name: &str, labels: &[(&str, &str)], value: &str) -> ConfigMap {
    api.create(&PostParams::default(), &config_map(name, labels, value)).await.expect("create a ConfigMap")
}

/// `metadata.resourceVersion` as a number.
pub fn rv_of<K: kube::Resource>(obj: &K) -> u64 {
    obj.meta().resource_version.as_deref().expect("a resourceVersion").parse().expect("a numeric resourceVersion")
}

/// A client without kube's default retry of 429/503/504, to see raw answers.
pub fn client_without_retry(emulator: &KubeEmulator) -> kube::Client {
    let mut config = kube::Config::new(emulator.url().parse().expect("a valid URL"));
    config.default_retry = false;
    kube::Client::try_from(config).expect("a client")
}

/// A namespace with the given name.
pub async fn create_namespace(client: &kube::Client, name: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("create a namespace");
}

/// A constant, short backoff for watchers and controllers, so that recovery after an
/// injected fault takes milliseconds instead of client-go's 800 ms and more.
#[derive(Debug)]
pub struct QuickBackoff;

impl Iterator for QuickBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(Duration::from_millis(20))
    }
}

impl kube::runtime::utils::Backoff for QuickBackoff {
    fn reset(&mut self) {}
}

/// Aborts a spawned task when dropped, so a failing test does not leave it running.
pub struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Assert that `items` is strictly increasing.
pub fn assert_increasing<T: PartialOrd + Debug>(items: &[T]) {
    assert!(items.windows(2).all(|w| w[0] < w[1]), "expected strictly increasing, got {items:?}");
}
