//! Watches: a chunked stream of `{"type","object"}` lines from a resourceVersion, with
//! bookmarks, timeouts, selectors, 410 Gone for compacted history, and fault
//! injection (dropped streams, forced expiry).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::errors::ApiError;
use crate::http::{AppState, Query, error_response};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Change, EventType};

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
    let matches = move |c: &Change| {
        c.key.resource == rt.key()
            && namespace.as_deref().is_none_or(|ns| c.key.namespace == ns)
            && labels.matches(&c.object)
            && fields.matches(&c.object)
    };

    // Start under the lock so nothing happens between the replay and the live feed.
    let (initial, mut live, bookmark_every) = {
        let inner = state.lock();
        let bookmark_every = inner.config.bookmark_interval;
        if state.faults.take_expired_watch() {
            let rv = requested.unwrap_or(0);
            let gone = ApiError::gone(rv, inner.store.resource_version());
            drop(inner);
            return stream_once(&line("ERROR", &gone.to_status()));
        }
        if let Some(rv) = requested {
            match inner.store.subscribe_from(rv) {
                Ok((past, live)) => {
                    let initial: Vec<Bytes> =
                        past.iter().filter(|c| matches(c)).map(|c| line(c.kind.as_str(), &c.object)).collect();
                    (initial, live, bookmark_every)
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
                .filter(|(k, o)| {
                    matches(&Change { rv: 0, key: (*k).clone(), kind: EventType::Added, object: (*o).clone() })
                })
                .map(|(_, o)| line("ADDED", o))
                .collect();
            (initial, live, bookmark_every)
        }
    };

    let mut drops = state.faults.watch_drops();
    let state_for_bookmark = Arc::clone(state);
    tokio::spawn(async move {
        for l in initial {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        loop {
            tokio::select! {
                () = &mut deadline => return,
                _ = drops.changed() => return,
                _ = ticker.tick(), if bookmarks => {
                    let rv = state_for_bookmark.lock().store.resource_version().to_string();
                    let b = line("BOOKMARK", &json!({"kind": "", "apiVersion": "", "metadata": {"resourceVersion": rv}}));
                    if tx.send(b).await.is_err() { return; }
                }
                msg = live.recv() => match msg {
                    Ok(c) if matches(&c) => {
                        if tx.send(line(c.kind.as_str(), &c.object)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        // Too slow a reader: end with 410 so the client re-lists.
                        let e = ApiError::gone(0, 0);
                        let _ = tx.send(line("ERROR", &e.to_status())).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx)) });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

fn stream_once(l: &Bytes) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], l.clone()).into_response()
}
