//! The operator scenarios of the end-to-end suite (issue 5, §4), one `async fn` each,
//! returning an error that says what did not hold. Each creates what it needs under a
//! fresh name ([`crate::scratch`]) and removes it at the end, so scenarios run in any
//! order on one topology (or on shared real clusters) and leave the seed objects as
//! they found them. Those that need the emulator's fault injection or control of the
//! operator processes do that part only on the emulated topology (tests/README.md).

pub mod deletion;
pub mod faults;
pub mod foreign;
pub mod refused;
pub mod restart;

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::ListParams;

use crate::RegionCluster;

/// How long a scenario waits for an operator to act.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// One Event as `(type, reason, note)`.
pub type EventLine = (String, String, String);

/// The Events (events.k8s.io/v1, what the operator publishes) regarding
/// `namespace/name` of `kind` in `cluster`.
pub async fn events_about(
    cluster: &RegionCluster,
    kind: &str,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Vec<EventLine>> {
    let events = Api::<Event>::namespaced(cluster.client.clone(), namespace).list(&ListParams::default()).await?;
    Ok(events
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
        })
        .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect())
}

/// Waits for an Event of `type_` and `reason` regarding the object; all its Events.
pub async fn wait_event(
    cluster: &RegionCluster,
    (kind, namespace, name): (&str, &str, &str),
    type_: &str,
    reason: &str,
) -> anyhow::Result<Vec<EventLine>> {
    crate::eventually(
        &format!("[{}] a {type_} Event {reason} about {kind} {namespace}/{name}", cluster.region),
        TIMEOUT,
        || async {
            let events = events_about(cluster, kind, namespace, name).await?;
            Ok(events.iter().any(|(t, r, _)| t == type_ && r == reason).then_some(events))
        },
    )
    .await
}
