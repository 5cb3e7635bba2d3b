//! Waiting with a deadline: the one way the workspace's tests wait for something to
//! happen (never a fixed sleep that is either too short on a loaded machine or wastes
//! time on an idle one).

use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] asks again: short enough that a wait ends within a few
/// tens of milliseconds of the condition holding, long enough to cost nothing.
pub const INTERVAL: Duration = Duration::from_millis(25);

/// Polls `check` every [`INTERVAL`] until it returns `Some`, and returns that value.
///
/// # Panics
/// After `timeout`, naming `what` was awaited: this is for tests, where a missed
/// deadline is the failure.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(INTERVAL).await;
    }
}
