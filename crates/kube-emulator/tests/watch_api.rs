//! `Api::watch` against the emulator: replay from a resourceVersion, synthetic ADDED
//! events, bookmarks, `timeoutSeconds`, selectors, 410 Gone and namespace scoping.

mod support_watch;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube_emulator::{Config, KubeEmulator};
use serde_json::json;
use support_watch::{create_cm, create_namespace, next, rv_of, within};

type Events = BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

async fn watch(api: &Api<ConfigMap>, wp: &WatchParams, rv: &str) -> Events {
    api.watch(wp, rv).await.expect("the watch starts").boxed()
}

/// The next event, which must not be an error.
async fn next_event(events: &mut Events) -> WatchEvent<ConfigMap> {
    next("a watch event", events).await.expect("a decodable watch event")
}

/// A compact description of an event: `("ADDED", name, resourceVersion)`.
fn describe(e: &WatchEvent<ConfigMap>) -> (&'static str, String, u64) {
    match e {
        WatchEvent::Added(o) => ("ADDED", o.name_any(), rv_of(o)),
        WatchEvent::Modified(o) => ("MODIFIED", o.name_any(), rv_of(o)),
        WatchEvent::Deleted(o) => ("DELETED", o.name_any(), rv_of(o)),
        WatchEvent::Bookmark(b) => ("BOOKMARK", String::new(), b.metadata.resource_version.parse().unwrap()),
        WatchEvent::Error(s) => panic!("unexpected ERROR event: {s:?}"),
    }
}

/// The next `n` events, described.
async fn take(events: &mut Events, n: usize) -> Vec<(&'static str, String, u64)> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(describe(&next_event(events).await));
    }
    out
}

fn data_patch(value: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"data": {"value": value}}))
}

#[tokio::test]
async fn a_watch_from_a_version_replays_later_changes_in_order_then_goes_live() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let before = create_cm(&api, "before", &[], "0").await;
    let from = rv_of(&before);

    let a = create_cm(&api, "a", &[], "1").await;
    let a2 = api.patch("a", &PatchParams::default(), &data_patch("2")).await.unwrap();
    let b = create_cm(&api, "b", &[], "1").await;
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let deleted_at = emulator.resource_version();

    let mut events = watch(&api, &WatchParams::default().disable_bookmarks(), &from.to_string()).await;
    let replayed = take(&mut events, 4).await;
    assert_eq!(
        replayed,
        vec![
            ("ADDED", "a".to_owned(), rv_of(&a)),
            ("MODIFIED", "a".to_owned(), rv_of(&a2)),
            ("ADDED", "b".to_owned(), rv_of(&b)),
            ("DELETED", "a".to_owned(), deleted_at),
        ],
        "`before` itself (at the requested version) is not replayed"
    );

    // The replay is followed by live changes, without gaps or duplicates.
    let c = create_cm(&api, "c", &[], "1").await;
    api.patch("b", &PatchParams::default(), &data_patch("2")).await.unwrap();
    let live = take(&mut events, 2).await;
    assert_eq!(live[0], ("ADDED", "c".to_owned(), rv_of(&c)));
    assert_eq!((live[1].0, live[1].1.as_str()), ("MODIFIED", "b"));
    assert_eq!(live[1].2, emulator.resource_version());

    let versions: Vec<u64> = replayed.iter().chain(&live).map(|e| e.2).collect();
    support_watch::assert_increasing(&versions);
}

#[tokio::test]
async fn deleted_events_carry_the_last_state_and_modified_events_the_new_state() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let from = emulator.resource_version().to_string();
    let mut events = watch(&api, &WatchParams::default().disable_bookmarks(), &from).await;

    create_cm(&api, "x", &[("app", "web")], "1").await;
    api.patch("x", &PatchParams::default(), &data_patch("2")).await.unwrap();
    api.delete("x", &DeleteParams::default()).await.unwrap();

    let WatchEvent::Added(added) = next_event(&mut events).await else { panic!("ADDED first") };
    assert_eq!(added.data.as_ref().unwrap()["value"], "1");
    let WatchEvent::Modified(modified) = next_event(&mut events).await else { panic!("MODIFIED second") };
    assert_eq!(modified.data.as_ref().unwrap()["value"], "2");
    let WatchEvent::Deleted(deleted) = next_event(&mut events).await else { panic!("DELETED third") };
    assert_eq!(deleted.data.as_ref().unwrap()["value"], "2");
    assert_eq!(deleted.labels().get("app").map(String::as_str), Some("web"));
    assert_eq!(deleted.uid(), added.uid());
    assert!(rv_of(&deleted) > rv_of(&modified));
}

#[tokio::test]
async fn a_watch_without_a_version_starts_with_synthetic_added_events() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    for name in ["one", "two", "three"] {
        create_cm(&api, name, &[], "1").await;
    }
    api.patch("two", &PatchParams::default(), &data_patch("2")).await.unwrap();
    api.delete("three", &DeleteParams::default()).await.unwrap();
    let two = api.get("two").await.unwrap();

    // kube-apiserver treats "0" ("any version") and no version alike for watches:
    // the current state first, as ADDED, then changes.
    let mut existing = BTreeSet::from(["one".to_owned(), "two".to_owned()]);
    for rv in ["0", ""] {
        let mut events = watch(&api, &WatchParams::default().disable_bookmarks(), rv).await;
        let initial = take(&mut events, existing.len()).await;
        let names: BTreeSet<String> = initial.iter().map(|e| e.1.clone()).collect();
        assert_eq!(names, existing, "version {rv:?}: only existing objects");
        assert!(initial.iter().all(|e| e.0 == "ADDED"), "version {rv:?}: {initial:?}");
        let synthetic_two = initial.iter().find(|e| e.1 == "two").unwrap();
        assert_eq!(synthetic_two.2, rv_of(&two), "the synthetic event carries the object's current version");

        let four = create_cm(&api, &format!("four{}", rv.len()), &[], "1").await;
        assert_eq!(take(&mut events, 1).await, vec![("ADDED", four.name_any(), rv_of(&four))]);
        existing.insert(four.name_any());
    }
}

#[tokio::test]
async fn bookmarks_are_sent_only_when_asked_for_and_carry_the_current_version() {
    let config = Config { bookmark_interval: Duration::from_millis(50), ..Config::default() };
    let emulator = KubeEmulator::start_with(config, 0).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let from = emulator.resource_version().to_string();
    let mut with = watch(&api, &WatchParams::default(), &from).await;
    let mut without = watch(&api, &WatchParams::default().disable_bookmarks(), &from).await;

    // Nothing changes: bookmarks keep coming, each with the current version.
    for _ in 0..3 {
        let e = next_event(&mut with).await;
        let WatchEvent::Bookmark(b) = &e else { panic!("expected a bookmark, got {e:?}") };
        assert_eq!(b.metadata.resource_version, from);
    }

    let created = create_cm(&api, "x", &[], "1").await;
    // The watch without bookmarks has been open for at least three intervals and its
    // first event is the change itself.
    assert_eq!(take(&mut without, 1).await, vec![("ADDED", "x".to_owned(), rv_of(&created))]);

    // The watch with bookmarks sees the change, then bookmarks at its version.
    let mut saw_change = false;
    let mut bookmarks_after = 0;
    while bookmarks_after < 2 {
        match describe(&next_event(&mut with).await) {
            ("ADDED", name, rv) => {
                assert_eq!((name.as_str(), rv), ("x", rv_of(&created)));
                saw_change = true;
            }
            ("BOOKMARK", _, rv) if saw_change => {
                assert_eq!(rv, rv_of(&created), "a bookmark after the change carries its version");
                bookmarks_after += 1;
            }
            ("BOOKMARK", _, rv) => assert!(rv <= rv_of(&created), "a bookmark may not run ahead of events"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn bookmarks_never_run_ahead_of_unsent_events() {
    // A client that resumes from a bookmark's version must not miss any change, so
    // under a stream of writes every bookmark must be at or below the last event seen.
    let config = Config { bookmark_interval: Duration::from_millis(5), ..Config::default() };
    let emulator = KubeEmulator::start_with(config, 0).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let from = emulator.resource_version().to_string();
    let mut events = watch(&api, &WatchParams::default(), &from).await;

    let writer = {
        let api = api.clone();
        support_watch::AbortOnDrop(tokio::spawn(async move {
            for i in 0..100 {
                create_cm(&api, &format!("cm-{i}"), &[], "1").await;
            }
        }))
    };
    let mut last_event = 0;
    let mut added = 0;
    while added < 100 {
        match describe(&next_event(&mut events).await) {
            ("ADDED", _, rv) => {
                assert!(rv > last_event);
                last_event = rv;
                added += 1;
            }
            ("BOOKMARK", _, rv) => {
                assert!(
                    rv <= last_event.max(from.parse().unwrap()),
                    "bookmark {rv} is ahead of the last event {last_event}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(writer);
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;
    let began = Instant::now();
    let mut events = watch(&api, &WatchParams::default().disable_bookmarks().timeout(1), "0").await;
    assert_eq!(take(&mut events, 1).await[0].0, "ADDED");
    assert!(within("the end of the stream", events.next()).await.is_none(), "the stream ends, without an error");
    let elapsed = began.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "ended after {elapsed:?}, before timeoutSeconds=1");
}

#[tokio::test]
async fn label_selectors_filter_watch_events() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "old-web", &[("app", "web")], "1").await;
    create_cm(&api, "old-db", &[("app", "db")], "1").await;
    let from = emulator.resource_version().to_string();
    let wp = WatchParams::default().disable_bookmarks().labels("app=web");

    // From no version: only matching objects, as synthetic ADDED.
    let mut all = watch(&api, &wp, "0").await;
    assert_eq!(take(&mut all, 1).await[0].1, "old-web");
    // From a version: only matching changes.
    let mut events = watch(&api, &wp, &from).await;
    create_cm(&api, "db", &[("app", "db")], "1").await;
    create_cm(&api, "plain", &[], "1").await;
    let web = create_cm(&api, "web", &[("app", "web")], "1").await;
    api.patch("db", &PatchParams::default(), &data_patch("2")).await.unwrap();
    api.delete("db", &DeleteParams::default()).await.unwrap();
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let deleted_at = emulator.resource_version();
    assert_eq!(
        take(&mut events, 2).await,
        vec![("ADDED", "web".to_owned(), rv_of(&web)), ("DELETED", "web".to_owned(), deleted_at)]
    );
    assert_eq!(take(&mut all, 2).await.iter().map(|e| e.0).collect::<Vec<_>>(), ["ADDED", "DELETED"]);

    // Set-based selectors work as well.
    let mut set_based = watch(&api, &WatchParams::default().disable_bookmarks().labels("app in (db,cache)"), "0").await;
    assert_eq!(take(&mut set_based, 1).await[0].1, "old-db");
}

#[tokio::test]
async fn objects_moving_in_and_out_of_a_label_selector_are_added_and_deleted() {
    // kube-apiserver tells a filtered watch that an object left the selection with a
    // DELETED event (carrying the new state), and that one entered it with ADDED, so a
    // watcher's cache does not keep objects that no longer match.
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[("app", "web")], "1").await;
    let from = emulator.resource_version().to_string();
    let mut events = watch(&api, &WatchParams::default().disable_bookmarks().labels("app=web"), &from).await;

    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    let out = api.patch("x", &PatchParams::default(), &relabel("db")).await.unwrap();
    api.patch("x", &PatchParams::default(), &data_patch("ignored")).await.unwrap();
    let back = api.patch("x", &PatchParams::default(), &relabel("web")).await.unwrap();
    let changed = api.patch("x", &PatchParams::default(), &data_patch("seen")).await.unwrap();

    let WatchEvent::Deleted(left) = next_event(&mut events).await else { panic!("DELETED when leaving") };
    assert_eq!(left.labels()["app"], "web", "the DELETED event carries the last state that matched");
    assert_eq!(rv_of(&left), rv_of(&out), "at the version of the change");
    let got = take(&mut events, 2).await;
    assert_eq!(got, vec![("ADDED", "x".to_owned(), rv_of(&back)), ("MODIFIED", "x".to_owned(), rv_of(&changed)),]);
}

#[tokio::test]
async fn field_selectors_filter_watch_events() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let from = emulator.resource_version().to_string();
    let mut events = watch(&api, &WatchParams::default().disable_bookmarks().fields("metadata.name=b"), &from).await;
    let mut not_b = watch(&api, &WatchParams::default().disable_bookmarks().fields("metadata.name!=b"), &from).await;
    create_cm(&api, "a", &[], "1").await;
    let b = create_cm(&api, "b", &[], "1").await;
    create_cm(&api, "c", &[], "1").await;
    let b2 = api.patch("b", &PatchParams::default(), &data_patch("2")).await.unwrap();
    assert_eq!(
        take(&mut events, 2).await,
        vec![("ADDED", "b".to_owned(), rv_of(&b)), ("MODIFIED", "b".to_owned(), rv_of(&b2))]
    );
    let others: Vec<String> = take(&mut not_b, 2).await.into_iter().map(|e| e.1).collect();
    assert_eq!(others, ["a", "c"]);
}

async fn expect_gone(events: &mut Events) {
    match next("the 410 ERROR event", events).await {
        Ok(WatchEvent::Error(status)) => {
            assert_eq!(status.code, 410, "{status:?}");
            assert_eq!(status.reason, "Expired", "{status:?}");
        }
        other => panic!("expected an ERROR event with 410, got {other:?}"),
    }
    assert!(within("the end of the stream", events.next()).await.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn a_version_older_than_the_history_kept_is_gone() {
    let config = Config { history_limit: 3, ..Config::default() };
    let emulator = KubeEmulator::start_with(config, 0).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let first = create_cm(&api, "first", &[], "1").await;
    let mut versions = vec![rv_of(&first)];
    for i in 0..5 {
        versions.push(rv_of(&create_cm(&api, &format!("cm-{i}"), &[], "1").await));
    }
    let wp = WatchParams::default().disable_bookmarks();
    expect_gone(&mut watch(&api, &wp, &versions[0].to_string()).await).await;

    // The last three changes are kept, so a watch from the version just before them
    // replays them.
    let mut recent = watch(&api, &wp, &versions[2].to_string()).await;
    let replayed: Vec<u64> = take(&mut recent, 3).await.into_iter().map(|e| e.2).collect();
    assert_eq!(replayed, versions[3..]);
}

#[tokio::test]
async fn compact_makes_every_earlier_version_gone_but_not_the_current_one() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let a = create_cm(&api, "a", &[], "1").await;
    create_cm(&api, "b", &[], "1").await;
    let wp = WatchParams::default().disable_bookmarks();

    // A watch already open keeps going through the compaction.
    let mut open = watch(&api, &wp, &rv_of(&a).to_string()).await;
    assert_eq!(take(&mut open, 1).await[0].1, "b");

    emulator.compact();
    expect_gone(&mut watch(&api, &wp, &rv_of(&a).to_string()).await).await;

    let now = emulator.resource_version().to_string();
    let mut current = watch(&api, &wp, &now).await;
    let c = create_cm(&api, "c", &[], "1").await;
    assert_eq!(take(&mut current, 1).await, vec![("ADDED", "c".to_owned(), rv_of(&c))]);
    assert_eq!(take(&mut open, 1).await, vec![("ADDED", "c".to_owned(), rv_of(&c))]);

    // A watch without a version lists the current state instead of replaying history.
    let mut fresh = watch(&api, &wp, "0").await;
    let names: BTreeSet<String> = take(&mut fresh, 3).await.into_iter().map(|e| e.1).collect();
    assert_eq!(names, BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()]));
}

#[tokio::test]
async fn a_namespaced_watch_sees_only_its_namespace() {
    let emulator = KubeEmulator::start().await.unwrap();
    let client = emulator.client();
    create_namespace(&client, "team-a").await;
    create_namespace(&client, "team-b").await;
    let a: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let b: Api<ConfigMap> = Api::namespaced(client.clone(), "team-b");
    let all: Api<ConfigMap> = Api::all(client.clone());
    create_cm(&b, "existing-b", &[], "1").await;
    create_cm(&a, "existing-a", &[], "1").await;
    let wp = WatchParams::default().disable_bookmarks();

    let mut in_a_initial = watch(&a, &wp, "0").await;
    let mut in_a = watch(&a, &wp, &emulator.resource_version().to_string()).await;
    let mut everywhere = watch(&all, &wp, &emulator.resource_version().to_string()).await;
    create_cm(&b, "in-b", &[], "1").await;
    create_cm(&a, "in-a", &[], "1").await;
    b.delete("existing-b", &DeleteParams::default()).await.unwrap();
    a.delete("existing-a", &DeleteParams::default()).await.unwrap();

    let ev = next_event(&mut in_a_initial).await;
    let WatchEvent::Added(first) = &ev else { panic!("{ev:?}") };
    assert_eq!((first.name_any().as_str(), first.namespace().as_deref()), ("existing-a", Some("team-a")));
    assert_eq!(
        take(&mut in_a_initial, 2).await.iter().map(|e| (e.0, e.1.as_str())).collect::<Vec<_>>(),
        [("ADDED", "in-a"), ("DELETED", "existing-a")]
    );
    assert_eq!(
        take(&mut in_a, 2).await.iter().map(|e| (e.0, e.1.as_str())).collect::<Vec<_>>(),
        [("ADDED", "in-a"), ("DELETED", "existing-a")]
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        let e = next_event(&mut everywhere).await;
        let (WatchEvent::Added(o) | WatchEvent::Deleted(o)) = &e else { panic!("{e:?}") };
        seen.push((describe(&e).0, o.namespace().unwrap(), o.name_any()));
    }
    assert_eq!(
        seen,
        [
            ("ADDED", "team-b".to_owned(), "in-b".to_owned()),
            ("ADDED", "team-a".to_owned(), "in-a".to_owned()),
            ("DELETED", "team-b".to_owned(), "existing-b".to_owned()),
            ("DELETED", "team-a".to_owned(), "existing-a".to_owned()),
        ]
    );
    // Namespaces themselves are cluster-scoped: a watch on them sees the new ones.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let names: BTreeSet<String> =
        namespaces.list(&kube::api::ListParams::default()).await.unwrap().iter().map(ResourceExt::name_any).collect();
    assert!(names.contains("team-a") && names.contains("team-b"));
}

#[tokio::test]
async fn drop_watches_ends_open_streams_and_expire_next_watch_answers_one_410() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let wp = WatchParams::default().disable_bookmarks();
    let from = emulator.resource_version().to_string();
    let mut first = watch(&api, &wp, &from).await;
    let mut second = watch(&api, &wp, "0").await;
    let x = create_cm(&api, "x", &[], "1").await;
    assert_eq!(take(&mut first, 1).await[0].1, "x");
    assert_eq!(take(&mut second, 1).await[0].1, "x");

    emulator.faults().drop_watches();
    assert!(within("the dropped stream to end", first.next()).await.is_none());
    assert!(within("the dropped stream to end", second.next()).await.is_none());

    // Re-watching from the last version seen misses nothing written in between.
    create_cm(&api, "y", &[], "1").await;
    let mut resumed = watch(&api, &wp, &rv_of(&x).to_string()).await;
    assert_eq!(take(&mut resumed, 1).await[0].1, "y");

    // The forced expiry applies to exactly one watch, even one that is perfectly current.
    emulator.faults().expire_next_watch();
    expect_gone(&mut watch(&api, &wp, &emulator.resource_version().to_string()).await).await;
    let mut after = watch(&api, &wp, &emulator.resource_version().to_string()).await;
    let z = create_cm(&api, "z", &[], "1").await;
    assert_eq!(take(&mut after, 1).await, vec![("ADDED", "z".to_owned(), rv_of(&z))]);
    // `resumed` was opened before the drop switch moved again and is still live.
    assert_eq!(take(&mut resumed, 1).await[0].1, "z");
}

#[tokio::test]
async fn expire_next_watch_of_hits_only_that_resource() {
    let emulator = KubeEmulator::start().await.unwrap();
    let client = emulator.client();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "default");
    let wp = WatchParams::default().disable_bookmarks();
    emulator.faults().expire_next_watch_of("secrets");
    // A ConfigMap watch is not the one aimed at: it stays live.
    let mut live = watch(&maps, &wp, &emulator.resource_version().to_string()).await;
    let x = create_cm(&maps, "x", &[], "1").await;
    assert_eq!(take(&mut live, 1).await, vec![("ADDED", "x".to_owned(), rv_of(&x))]);
    // The next Secret watch gets the 410, once.
    let rv = emulator.resource_version().to_string();
    let mut gone = secrets.watch(&wp, &rv).await.unwrap().boxed();
    let first = within("the 410", gone.next()).await.expect("an event").expect("a decodable event");
    assert!(matches!(&first, WatchEvent::Error(e) if e.code == 410), "{first:?}");
    let mut fine = secrets.watch(&wp.clone().timeout(1), &rv).await.unwrap().boxed();
    assert!(within("a clean end", fine.next()).await.is_none(), "only one watch is expired");
}

#[tokio::test]
async fn watch_event_objects_decode_as_typed_config_maps() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "typed", &[("k", "v")], "hello").await;
    let events: Vec<WatchEvent<ConfigMap>> = api
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), "0")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let [WatchEvent::Added(cm)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(cm.data.as_ref().unwrap()["value"], "hello");
    assert_eq!(cm.namespace().as_deref(), Some("default"));
    assert!(cm.uid().is_some() && cm.creation_timestamp().is_some());
}
