//! `kube_runtime::watcher` against the emulator: the Init/InitApply/InitDone list
//! phase, live Apply/Delete events, and recovery from dropped and expired watches.

mod support_watch;

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as make_watcher};
use kube_emulator::KubeEmulator;
use serde_json::json;
use support_watch::{QuickBackoff, create_cm, next};

type Events = BoxStream<'static, Result<Event<ConfigMap>, watcher::Error>>;

fn start(api: &Api<ConfigMap>, config: watcher::Config) -> Events {
    make_watcher(api.clone(), config).backoff(QuickBackoff).boxed()
}

async fn next_ok(events: &mut Events) -> Event<ConfigMap> {
    match next("a watcher event", events).await {
        Ok(e) => e,
        Err(e) => panic!("unexpected watcher error: {e}"),
    }
}

/// A compact description: `("Apply", name)`, `("Init", "")`...
fn describe(e: &Event<ConfigMap>) -> (&'static str, String) {
    match e {
        Event::Init => ("Init", String::new()),
        Event::InitApply(o) => ("InitApply", o.name_any()),
        Event::InitDone => ("InitDone", String::new()),
        Event::Apply(o) => ("Apply", o.name_any()),
        Event::Delete(o) => ("Delete", o.name_any()),
    }
}

/// Consume the list phase; returns the listed names in order.
async fn initial_list(events: &mut Events) -> Vec<String> {
    assert_eq!(describe(&next_ok(events).await).0, "Init");
    let mut names = Vec::new();
    loop {
        match next_ok(events).await {
            Event::InitApply(o) => names.push(o.name_any()),
            Event::InitDone => return names,
            other => panic!("unexpected {:?} during the list phase", describe(&other)),
        }
    }
}

/// What a watcher's consumer knows: name → `data.value`, rebuilt on every re-list.
#[derive(Default)]
struct Cache {
    objects: BTreeMap<String, String>,
    buffer: Option<BTreeMap<String, String>>,
    inits: usize,
    gone_errors: usize,
}

impl Cache {
    fn value(o: &ConfigMap) -> String {
        o.data.as_ref().and_then(|d| d.get("value")).cloned().unwrap_or_default()
    }

    fn feed(&mut self, e: Result<Event<ConfigMap>, watcher::Error>) {
        match e {
            Ok(Event::Init) => {
                self.inits += 1;
                self.buffer = Some(BTreeMap::new());
            }
            Ok(Event::InitApply(o)) => {
                self.buffer.as_mut().expect("InitApply after Init").insert(o.name_any(), Self::value(&o));
            }
            Ok(Event::InitDone) => self.objects = self.buffer.take().expect("InitDone after Init"),
            Ok(Event::Apply(o)) => {
                assert!(self.buffer.is_none(), "Apply during the list phase");
                self.objects.insert(o.name_any(), Self::value(&o));
            }
            Ok(Event::Delete(o)) => {
                self.objects.remove(&o.name_any());
            }
            Err(watcher::Error::WatchError(status)) if status.code == 410 => self.gone_errors += 1,
            Err(e) => panic!("unexpected watcher error: {e}"),
        }
    }

    /// Feed events until the cache holds exactly `want` (and no list is in progress).
    async fn converge(&mut self, events: &mut Events, want: &[(&str, &str)]) {
        let want: BTreeMap<String, String> = want.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        support_watch::within("the watcher's cache to converge", async {
            while self.buffer.is_some() || self.objects != want {
                let e = events.next().await.expect("the watcher stream never ends");
                self.feed(e);
            }
        })
        .await;
    }
}

fn set_value(value: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"data": {"value": value}}))
}

#[tokio::test]
async fn a_watcher_lists_then_follows_applies_and_deletes() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "a", &[], "1").await;
    create_cm(&api, "b", &[], "1").await;

    let mut events = start(&api, watcher::Config::default());
    let mut listed = initial_list(&mut events).await;
    listed.sort();
    assert_eq!(listed, ["a", "b"]);

    create_cm(&api, "c", &[], "1").await;
    api.patch("c", &PatchParams::default(), &set_value("2")).await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();

    let Event::Apply(c) = next_ok(&mut events).await else { panic!("Apply for the creation") };
    assert_eq!((c.name_any().as_str(), Cache::value(&c).as_str()), ("c", "1"));
    let Event::Apply(c) = next_ok(&mut events).await else { panic!("Apply for the patch") };
    assert_eq!((c.name_any().as_str(), Cache::value(&c).as_str()), ("c", "2"));
    assert_eq!(describe(&next_ok(&mut events).await), ("Delete", "a".to_owned()));
}

#[tokio::test]
async fn a_watcher_pages_through_a_large_initial_list() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    for i in 0..25 {
        create_cm(&api, &format!("cm-{i:02}"), &[], "1").await;
    }
    let mut events = start(&api, watcher::Config::default().page_size(4));
    let listed = initial_list(&mut events).await;
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(listed, want, "seven pages of four, in order, nothing twice");
    create_cm(&api, "late", &[], "1").await;
    assert_eq!(describe(&next_ok(&mut events).await), ("Apply", "late".to_owned()));
}

#[tokio::test]
async fn after_dropped_watches_a_watcher_re_watches_without_re_listing() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let mut events = start(&api, watcher::Config::default());
    assert!(initial_list(&mut events).await.is_empty());
    create_cm(&api, "first", &[], "1").await;
    // Seeing a live event proves the watch is open.
    assert_eq!(describe(&next_ok(&mut events).await), ("Apply", "first".to_owned()));

    // Make the re-watch visible: its first attempt fails.
    emulator.faults().fail_next(1, Some("watch"), Some("configmaps"), 500);
    emulator.faults().drop_watches();
    create_cm(&api, "during", &[], "1").await;
    match next("the failed re-watch", &mut events).await {
        Err(watcher::Error::WatchStartFailed(kube::Error::Api(s))) => assert_eq!(s.code, 500),
        other => panic!("expected the injected 500 on re-watch, got {other:?}"),
    }
    // The retry resumes from the last version seen: the change made while the watch
    // was down arrives as an Apply, with no new Init.
    assert_eq!(describe(&next_ok(&mut events).await), ("Apply", "during".to_owned()));
    create_cm(&api, "after", &[], "1").await;
    api.delete("first", &DeleteParams::default()).await.unwrap();
    assert_eq!(describe(&next_ok(&mut events).await), ("Apply", "after".to_owned()));
    assert_eq!(describe(&next_ok(&mut events).await), ("Delete", "first".to_owned()));
}

#[tokio::test]
async fn after_an_expired_watch_a_watcher_re_lists_and_converges() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "a", &[], "1").await;
    create_cm(&api, "b", &[], "1").await;
    let mut events = start(&api, watcher::Config::default());
    let mut cache = Cache::default();
    cache.converge(&mut events, &[("a", "1"), ("b", "1")]).await;
    create_cm(&api, "c", &[], "1").await;
    cache.converge(&mut events, &[("a", "1"), ("b", "1"), ("c", "1")]).await;
    assert_eq!(cache.inits, 1);

    emulator.faults().expire_next_watch();
    emulator.faults().drop_watches();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    api.patch("b", &PatchParams::default(), &set_value("2")).await.unwrap();
    create_cm(&api, "d", &[], "1").await;

    cache.converge(&mut events, &[("b", "2"), ("c", "1"), ("d", "1")]).await;
    assert_eq!(cache.gone_errors, 1, "the re-watch was answered with 410");
    assert_eq!(cache.inits, 2, "the 410 made the watcher re-list");

    // And it keeps following changes after the re-list.
    api.delete("c", &DeleteParams::default()).await.unwrap();
    cache.converge(&mut events, &[("b", "2"), ("d", "1")]).await;
    assert_eq!(cache.inits, 2);
}

#[tokio::test]
async fn after_compaction_a_resuming_watcher_gets_410_and_re_lists() {
    let emulator = KubeEmulator::start().await.unwrap();
    let client = emulator.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_cm(&api, "a", &[], "1").await;
    // Without bookmarks the watcher's version is that of the last ConfigMap event.
    let mut events = start(&api, watcher::Config::default().disable_bookmarks());
    let mut cache = Cache::default();
    cache.converge(&mut events, &[("a", "1")]).await;
    create_cm(&api, "b", &[], "1").await;
    cache.converge(&mut events, &[("a", "1"), ("b", "1")]).await;

    // Another resource moves the global version on; compaction then puts the
    // watcher's version out of the history kept, and the dropped watch must resume
    // from it.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "default");
    secrets
        .create(&kube::api::PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap())
        .await
        .unwrap();
    emulator.compact();
    emulator.faults().drop_watches();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    api.patch("a", &PatchParams::default(), &set_value("2")).await.unwrap();

    cache.converge(&mut events, &[("a", "2")]).await;
    assert_eq!((cache.gone_errors, cache.inits), (1, 2), "one 410, then one re-list");
    create_cm(&api, "c", &[], "1").await;
    cache.converge(&mut events, &[("a", "2"), ("c", "1")]).await;
}

#[tokio::test]
async fn a_watcher_with_a_label_selector_forgets_objects_relabelled_out_of_it() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "web-1", &[("app", "web")], "1").await;
    create_cm(&api, "db-1", &[("app", "db")], "1").await;
    let mut events = start(&api, watcher::Config::default().labels("app=web"));
    let mut cache = Cache::default();
    cache.converge(&mut events, &[("web-1", "1")]).await;

    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    api.patch("web-1", &PatchParams::default(), &relabel("db")).await.unwrap();
    cache.converge(&mut events, &[]).await;
    api.patch("db-1", &PatchParams::default(), &relabel("web")).await.unwrap();
    cache.converge(&mut events, &[("db-1", "1")]).await;
    assert_eq!(cache.inits, 1, "handled by the watch, without a re-list");
}
