//! A small `kube_runtime::Controller` over a test CRD, run against the emulator: it
//! writes status with server-side apply and manages a finalizer, and must converge
//! through dropped watches, a forced 410, deletions and a paused server.

mod support_watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use kube_emulator::KubeEmulator;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use support_watch::{AbortOnDrop, QuickBackoff, eventually, within};

/// A widget of some size; the controller reports the size it has seen in the status.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[kube(group = "test.regionstack.io", version = "v1", kind = "Widget", namespaced, status = "WidgetStatus")]
pub struct WidgetSpec {
    /// How big.
    pub size: i32,
}

/// What the controller observed.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    /// `spec.size` as last reconciled.
    pub observed_size: Option<i32>,
}

const FINALIZER: &str = "widgets.test.regionstack.io/cleanup";
const MANAGER: &str = "widget-controller";

/// Shared with the reconciler: what it has cleaned up.
struct Ctx {
    client: kube::Client,
    cleaned_up: Mutex<BTreeSet<String>>,
}

async fn reconcile(widget: Arc<Widget>, ctx: Arc<Ctx>) -> Result<Action, finalizer::Error<kube::Error>> {
    let api: Api<Widget> = Api::namespaced(ctx.client.clone(), &widget.namespace().expect("namespaced"));
    finalizer(&api, FINALIZER, widget, |event| async {
        match event {
            Finalizer::Apply(w) => {
                let size = w.spec.size;
                if w.status.as_ref().and_then(|s| s.observed_size) != Some(size) {
                    let status = json!({
                        "apiVersion": "test.regionstack.io/v1",
                        "kind": "Widget",
                        "status": {"observedSize": size},
                    });
                    api.patch_status(&w.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(status))
                        .await?;
                }
                Ok(Action::await_change())
            }
            Finalizer::Cleanup(w) => {
                ctx.cleaned_up.lock().unwrap().insert(w.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_: Arc<Widget>, _: &finalizer::Error<kube::Error>, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

/// An emulator with the Widget CRD and a running controller, aborted when dropped
/// (the controller first: fields drop in declaration order).
struct Setup {
    _controller: AbortOnDrop<()>,
    ctx: Arc<Ctx>,
    api: Api<Widget>,
    emulator: KubeEmulator,
}

async fn setup() -> Setup {
    let emulator = KubeEmulator::start().await.unwrap();
    let client = emulator.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd()).await.expect("the Widget CRD is accepted");
    let ctx = Arc::new(Ctx { client: client.clone(), cleaned_up: Mutex::default() });
    let controller = Controller::new(Api::<Widget>::all(client.clone()), watcher::Config::default())
        .trigger_backoff(QuickBackoff)
        .run(reconcile, error_policy, ctx.clone())
        // Reconcile errors are printed, to explain a test that does not converge.
        .for_each(|r| async move {
            if let Err(e) = r {
                eprintln!("controller: {e:?}");
            }
        });
    Setup { _controller: AbortOnDrop(tokio::spawn(controller)), ctx, api: Api::namespaced(client, "default"), emulator }
}

fn widget(name: &str, size: i32) -> Widget {
    Widget::new(name, WidgetSpec { size })
}

async fn create_widgets(api: &Api<Widget>, names: impl IntoIterator<Item = (String, i32)>) {
    for (name, size) in names {
        api.create(&PostParams::default(), &widget(&name, size)).await.expect("create a widget");
    }
}

fn twenty() -> Vec<(String, i32)> {
    (0..20).map(|i| (format!("widget-{i:02}"), i)).collect()
}

async fn resize(api: &Api<Widget>, name: &str, size: i32) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"size": size}}))).await.unwrap();
}

/// Wait until exactly `want` (name → size) exist, each reconciled: status matches the
/// spec, and the finalizer is in place.
async fn converged(api: &Api<Widget>, want: &BTreeMap<String, i32>) {
    eventually("the controller to converge", || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        let got: BTreeMap<String, i32> = list
            .iter()
            .filter(|w| {
                w.status.as_ref().and_then(|s| s.observed_size) == Some(w.spec.size)
                    && w.finalizers().iter().any(|f| f == FINALIZER)
                    && w.meta().deletion_timestamp.is_none()
            })
            .map(|w| (w.name_any(), w.spec.size))
            .collect();
        (got == *want && list.items.len() == want.len()).then_some(())
    })
    .await;
}

/// Proof that nothing is left of a one-shot watch fault: a fresh watch starts cleanly.
async fn watch_faults_used_up(api: &Api<Widget>) {
    let mut events = api.watch(&WatchParams::default().disable_bookmarks().timeout(1), "0").await.unwrap().boxed();
    match within("a first watch event", events.next()).await {
        Some(Ok(kube::api::WatchEvent::Added(_))) => {}
        other => panic!("a fresh watch should start with ADDED, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_converges_twenty_widgets_and_follows_spec_changes() {
    let s = setup().await;
    create_widgets(&s.api, twenty()).await;
    let mut want: BTreeMap<String, i32> = twenty().into_iter().collect();
    converged(&s.api, &want).await;

    // The status was written by server-side apply under the controller's name.
    let w = s.api.get("widget-07").await.unwrap();
    let managers: Vec<(String, Option<String>)> =
        w.managed_fields().iter().map(|m| (m.manager.clone().unwrap_or_default(), m.subresource.clone())).collect();
    assert!(managers.contains(&(MANAGER.to_owned(), Some("status".to_owned()))), "managedFields: {managers:?}");

    for (name, size) in &mut want {
        *size += 100;
        resize(&s.api, name, *size).await;
    }
    converged(&s.api, &want).await;
    assert!(s.ctx.cleaned_up.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_converges_again_after_its_watches_are_dropped() {
    let s = setup().await;
    create_widgets(&s.api, twenty()).await;
    let mut want: BTreeMap<String, i32> = twenty().into_iter().collect();
    converged(&s.api, &want).await;

    // The controller's re-watch first fails, then succeeds.
    s.emulator.faults().fail_next(1, Some("watch"), Some("widgets"), 500);
    s.emulator.faults().drop_watches();
    for (name, size) in want.iter_mut().step_by(2) {
        *size *= 10;
        resize(&s.api, name, *size).await;
    }
    create_widgets(&s.api, [("late".to_owned(), 5)]).await;
    want.insert("late".to_owned(), 5);
    converged(&s.api, &want).await;
    watch_faults_used_up(&s.api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_converges_after_a_forced_410() {
    let s = setup().await;
    create_widgets(&s.api, twenty()).await;
    let mut want: BTreeMap<String, i32> = twenty().into_iter().collect();
    converged(&s.api, &want).await;

    s.emulator.faults().expire_next_watch();
    s.emulator.faults().drop_watches();
    for (name, size) in want.iter_mut().take(10) {
        *size = -*size - 1;
        resize(&s.api, name, *size).await;
    }
    create_widgets(&s.api, [("after-410".to_owned(), 1)]).await;
    want.insert("after-410".to_owned(), 1);
    converged(&s.api, &want).await;
    // The forced 410 went to the controller's re-watch, which then re-listed.
    watch_faults_used_up(&s.api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_widgets_runs_the_finalizer_cleanup_and_they_disappear() {
    let s = setup().await;
    create_widgets(&s.api, twenty()).await;
    let mut want: BTreeMap<String, i32> = twenty().into_iter().collect();
    converged(&s.api, &want).await;

    let doomed: Vec<String> = want.keys().skip(3).step_by(4).cloned().collect();
    for name in &doomed {
        let answer = s.api.delete(name, &DeleteParams::default()).await.unwrap();
        // The finalizer holds the object: the answer is the object, being deleted.
        let held = answer.left().expect("the object, not a Status: the finalizer holds it");
        assert!(held.meta().deletion_timestamp.is_some());
        assert!(held.finalizers().iter().any(|f| f == FINALIZER));
        want.remove(name);
    }
    eventually("the deleted widgets to disappear", || async {
        let mut gone = 0;
        for name in &doomed {
            match s.api.get_opt(name).await {
                Ok(None) => gone += 1,
                Ok(Some(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        (gone == doomed.len()).then_some(())
    })
    .await;
    let cleaned: Vec<String> = s.ctx.cleaned_up.lock().unwrap().iter().cloned().collect();
    assert_eq!(cleaned, doomed, "cleanup ran for exactly the deleted widgets");
    converged(&s.api, &want).await;

    // A widget created again under a deleted name is a new object, reconciled afresh.
    create_widgets(&s.api, [(doomed[0].clone(), 42)]).await;
    want.insert(doomed[0].clone(), 42);
    converged(&s.api, &want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_survives_a_paused_server() {
    let s = setup().await;
    create_widgets(&s.api, twenty()).await;
    let mut want: BTreeMap<String, i32> = twenty().into_iter().collect();
    converged(&s.api, &want).await;

    s.emulator.pause();
    let addr = s.emulator.addr();
    eventually("connections to be refused", || async {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        }
    })
    .await;
    assert!(s.api.get("widget-00").await.is_err());
    within("resume", s.emulator.resume()).await;

    for (name, size) in want.iter_mut().skip(1).step_by(3) {
        *size += 1000;
        resize(&s.api, name, *size).await;
    }
    s.api.delete("widget-00", &DeleteParams::default()).await.unwrap();
    want.remove("widget-00");
    create_widgets(&s.api, [("after-resume".to_owned(), 7)]).await;
    want.insert("after-resume".to_owned(), 7);
    converged(&s.api, &want).await;
    eventually("the cleanup of widget-00", || async {
        s.ctx.cleaned_up.lock().unwrap().contains("widget-00").then_some(())
    })
    .await;
    assert_eq!(s.api.get_opt("widget-00").await.unwrap().map(|w| w.name_any()), None);
}
