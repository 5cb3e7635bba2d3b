//! Watches: a chunked stream of `{"type","object"}` lines from a resourceVersion, with
//! bookmarks, timeouts, selectors, 410 Gone for compacted history, and fault
//! injection (dropped streams, forced expiry).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;

use crate::errors::ApiError;
use crate::http::{AppState, Query, error_response};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Change, EventType, ObjectKey};

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Serve one watch request.
pub fn serve(state: &Arc<AppState>, rt: ResourceType, namespace: Option<String>, query: &Query) -> Response {
    let labels = match LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str)) {
        Ok(l) => l,
        Err(e) => return error_response(&ApiError::bad_request(e)),
    };
    let fields = match FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str)) {
        Ok(f) => f,
        Err(e) => return error_response(&ApiError::bad_request(e)),
    };
    let bookmarks = query.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = Duration::from_secs(query.get("timeoutSeconds").and_then(|t| t.parse().ok()).unwrap_or(1800));
    let requested: Option<u64> =
        query.get("resourceVersion").filter(|v| !v.is_empty() && *v != "0").and_then(|v| v.parse().ok());

    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    // Bookmarks carry the watched type, as kube-apiserver sends them: client-go decodes
    // them into that type and rejects an empty `kind`.
    let bookmark = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {}});
    let plural = rt.plural.clone();
    let selects = move |key: &ObjectKey, object: &Value| {
        key.resource == rt.key()
            && namespace.as_deref().is_none_or(|ns| key.namespace == ns)
            && labels.matches(object)
            && fields.matches(object)
    };
    // What this watch sends for a change, as kube-apiserver's watch cache does: an
    // object entering the selection is ADDED, one leaving it is DELETED (its previous
    // state at the change's version), so that a filtered cache never keeps stale objects.
    let render = move |c: &Change| -> Option<Bytes> {
        let now = selects(&c.key, &c.object);
        let before = c.old.as_deref().is_some_and(|o| selects(&c.key, o));
        match c.kind {
            EventType::Added | EventType::Deleted => now.then(|| line(c.kind.as_str(), &c.object)),
            EventType::Modified => match (before, now) {
                (true, true) => Some(line("MODIFIED", &c.object)),
                (false, true) => Some(line("ADDED", &c.object)),
                (true, false) => {
                    let mut last = c.old.as_deref().cloned().unwrap_or_default();
                    last["metadata"]["resourceVersion"] = json!(c.rv.to_string());
                    Some(line("DELETED", &last))
                }
                (false, false) => None,
            },
        }
    };

    // Start under the lock so nothing happens between the replay and the live feed.
    let (initial, live, bookmark_every, start_rv) = {
        let inner = state.lock();
        let bookmark_every = inner.config.bookmark_interval;
        let start_rv = inner.store.resource_version();
        if state.faults.take_expired_watch(&plural) {
            let rv = requested.unwrap_or(0);
            let gone = ApiError::gone(rv, inner.store.resource_version());
            drop(inner);
            return stream_once(&line("ERROR", &gone.to_status()));
        }
        if let Some(rv) = requested {
            match inner.store.subscribe_from(rv) {
                Ok((past, live)) => {
                    let initial: Vec<Bytes> = past.iter().filter_map(|c| render(c)).collect();
                    (initial, live, bookmark_every, start_rv)
                }
                Err(gone) => {
                    let e = ApiError::gone(rv, gone.oldest);
                    drop(inner);
                    return stream_once(&line("ERROR", &e.to_status()));
                }
            }
        } else {
            // No version: synthetic ADDED events for the current state, then live.
            let rv_now = inner.store.resource_version();
            let (_, live) = inner.store.subscribe_from(rv_now).expect("the current version is never compacted");
            let initial = inner
                .store
                .iter()
                .filter_map(|(k, o)| {
                    render(&Change { rv: 0, key: k.clone(), kind: EventType::Added, object: o.clone(), old: None })
                })
                .collect();
            (initial, live, bookmark_every, start_rv)
        }
    };

    let drops = state.faults.watch_drops();
    let bookmarks = bookmarks.then_some(bookmark_every);
    let gauge = OpenWatch::new(&state.open_watches);
    tokio::spawn(async move {
        let _gauge = gauge;
        pump(Pump { tx, initial, live, seen: start_rv, bookmarks, bookmark, timeout, drops }, render).await;
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx)) });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

/// One watch stream's state, handed to [`pump`].
struct Pump {
    tx: mpsc::Sender<Bytes>,
    initial: Vec<Bytes>,
    live: tokio::sync::broadcast::Receiver<Arc<Change>>,
    /// Every change up to this version has been sent or filtered out: the only version
    /// a bookmark may carry, or a client resuming from it could miss an event.
    seen: u64,
    bookmarks: Option<Duration>,
    /// The bookmark object (`kind`, `apiVersion`), without its `resourceVersion`.
    bookmark: Value,
    timeout: Duration,
    drops: tokio::sync::watch::Receiver<u64>,
}

/// Feed one watch: the replayed changes, then live ones, bookmarks, until the timeout,
/// a dropped-watches fault, or the client going away.
async fn pump(p: Pump, render: impl Fn(&Change) -> Option<Bytes>) {
    let Pump { tx, initial, mut live, mut seen, bookmarks, mut bookmark, timeout, mut drops } = p;
    for l in initial {
        if tx.send(l).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(bookmarks.unwrap_or(Duration::from_secs(3600)));
    ticker.tick().await;
    loop {
        tokio::select! {
            // In this order: once `drop_watches()` returns, no later change goes out on
            // a dropped stream.
            biased;
            () = &mut deadline => return,
            // The client went away: stop now (the open-watch gauge must not lag).
            () = tx.closed() => return,
            _ = drops.changed() => return,
            _ = ticker.tick(), if bookmarks.is_some() => {
                loop {
                    match live.try_recv() {
                        Ok(c) => {
                            seen = c.rv;
                            if let Some(l) = render(&c) && tx.send(l).await.is_err() { return; }
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(_)) => return expire(&tx).await,
                        Err(TryRecvError::Closed) => return,
                    }
                }
                bookmark["metadata"]["resourceVersion"] = json!(seen.to_string());
                let b = line("BOOKMARK", &bookmark);
                if tx.send(b).await.is_err() { return; }
            }
            msg = live.recv() => match msg {
                Ok(c) => {
                    seen = c.rv;
                    if let Some(l) = render(&c) && tx.send(l).await.is_err() { return; }
                }
                Err(RecvError::Lagged(_)) => return expire(&tx).await,
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Counts an open watch stream for as long as it lives.
struct OpenWatch(Arc<std::sync::atomic::AtomicUsize>);

impl OpenWatch {
    fn new(gauge: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        gauge.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(Arc::clone(gauge))
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A reader too slow for the broadcast buffer missed changes: end its watch with 410
/// so that the client re-lists, as kube-apiserver does when its cache moves on.
async fn expire(tx: &mpsc::Sender<Bytes>) {
    let e = ApiError::gone(0, 0);
    let _ = tx.send(line("ERROR", &e.to_status())).await;
}

fn stream_once(l: &Bytes) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], l.clone()).into_response()
}
