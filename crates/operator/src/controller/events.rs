//! Kubernetes Events (events.k8s.io/v1) for every repair, violation and failure
//! (DESIGN I6), after stackabletech/operator-rs `logging/k8s_events.rs`: the reason is
//! a reason code or an error category (bounded), the note is human text that never
//! contains a secret. Publishing is best effort: a failed Event is logged, it never
//! fails the reconcile that produced it.

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::Context;

/// Events' notes are limited to 1 kB by the API.
const MAX_NOTE: usize = 1024;

/// Publish an Event about `obj`.
pub async fn publish<K>(ctx: &Context, obj: &K, type_: EventType, reason: &str, action: &str, note: &str)
where
    K: Resource<DynamicType = ()>,
{
    let mut note = note.to_owned();
    if note.len() > MAX_NOTE {
        let mut cut = MAX_NOTE - 3;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    let event =
        Event { type_, reason: reason.to_owned(), note: Some(note), action: action.to_owned(), secondary: None };
    // With its resourceVersion, as client-go's GetReference makes it: kube's recorder
    // folds Events with the same reference, type, reason and action into one series
    // that keeps the *first* note, so without the version a different failure of the
    // same category would be shown with the old text.
    let mut reference = obj.object_ref(&());
    reference.resource_version.clone_from(&obj.meta().resource_version);
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(reason, action, error = %e, "could not publish event");
    }
}

/// A Warning Event.
pub async fn warn<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, reason: &str, action: &str, note: &str) {
    publish(ctx, obj, EventType::Warning, reason, action, note).await;
}

/// A Normal Event.
pub async fn normal<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, reason: &str, action: &str, note: &str) {
    publish(ctx, obj, EventType::Normal, reason, action, note).await;
}
