//! Lists: label selectors (equality and set-based), field selectors and
//! `limit`/`continue` paging.

mod support_api;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{ListParams, PostParams};
use support_api::{Env, configmap, labeled, start, status};

/// `web-1` (app=web, tier=front), `web-2` (app=web, tier=back), `db` (app=db,
/// tier=back), `bare` (no labels), all in `default`.
async fn seed(env: &Env) {
    let cms = env.cms("default");
    for cm in [
        labeled("web-1", &[("app", "web"), ("tier", "front")]),
        labeled("web-2", &[("app", "web"), ("tier", "back")]),
        labeled("db", &[("app", "db"), ("tier", "back")]),
        configmap("bare", &[]),
    ] {
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
}

async fn names(env: &Env, params: &ListParams) -> Vec<String> {
    let list = env.cms("default").list(params).await.unwrap_or_else(|e| panic!("{params:?}: {e}"));
    let mut names: Vec<String> = list.items.iter().map(ResourceExt::name_any).collect();
    names.sort();
    names
}

#[tokio::test]
async fn equality_label_selectors() {
    let env = start().await;
    seed(&env).await;
    assert_eq!(names(&env, &ListParams::default().labels("app=web")).await, ["web-1", "web-2"]);
    assert_eq!(names(&env, &ListParams::default().labels("app==db")).await, ["db"]);
    assert_eq!(names(&env, &ListParams::default().labels("app!=web")).await, ["bare", "db"], "!= matches unlabelled");
    assert_eq!(names(&env, &ListParams::default().labels("app=web,tier=back")).await, ["web-2"]);
    assert!(names(&env, &ListParams::default().labels("app=nope")).await.is_empty());
}

#[tokio::test]
async fn set_based_label_selectors() {
    let env = start().await;
    seed(&env).await;
    let by = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(&env, &by("tier in (front, middle)")).await, ["web-1"]);
    assert_eq!(names(&env, &by("app in (web,db),tier notin (front)")).await, ["db", "web-2"]);
    assert_eq!(names(&env, &by("tier notin (back)")).await, ["bare", "web-1"], "notin matches unlabelled");
    assert_eq!(names(&env, &by("tier")).await, ["db", "web-1", "web-2"]);
    assert_eq!(names(&env, &by("!tier")).await, ["bare"]);
    let s = status(env.cms("default").list(&by("tier in front")).await);
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
}

#[tokio::test]
async fn field_selectors_on_name_and_namespace() {
    let env = start().await;
    seed(&env).await;
    env.namespace("other").await;
    env.cms("other").create(&PostParams::default(), &configmap("db", &[])).await.unwrap();
    assert_eq!(names(&env, &ListParams::default().fields("metadata.name=db")).await, ["db"]);
    assert_eq!(names(&env, &ListParams::default().fields("metadata.name!=db")).await, ["bare", "web-1", "web-2"]);

    let everywhere = env.all::<ConfigMap>();
    let named_db = everywhere.list(&ListParams::default().fields("metadata.name=db")).await.unwrap();
    let mut where_: Vec<String> = named_db.items.iter().filter_map(ResourceExt::namespace).collect();
    where_.sort();
    assert_eq!(where_, ["default", "other"]);
    let in_other = everywhere.list(&ListParams::default().fields("metadata.namespace=other")).await.unwrap();
    assert_eq!(in_other.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["db"]);
    let both = ListParams::default().fields("metadata.namespace=default,metadata.name=db").labels("app=db");
    assert_eq!(everywhere.list(&both).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn limit_and_continue_page_through_everything() {
    let env = start().await;
    env.namespace("paged").await;
    let cms = env.cms("paged");
    for i in 0..25 {
        let cm = labeled(&format!("cm-{i:02}"), &[("parity", if i % 2 == 0 { "even" } else { "odd" })]);
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut params = ListParams::default().limit(10);
    loop {
        let page = cms.list(&params).await.unwrap();
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = ListParams::default().limit(10).continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, [10, 10, 5]);
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(seen, want, "every object exactly once, in name order");

    // Paging composes with selectors: 13 even objects in pages of 5.
    let even = ListParams::default().labels("parity=even").limit(5);
    let first = cms.list(&even).await.unwrap();
    assert_eq!(first.items.len(), 5);
    let token = first.metadata.continue_.expect("more to come");
    let second = cms.list(&ListParams::default().labels("parity=even").limit(5).continue_token(&token)).await.unwrap();
    assert_eq!(second.items.first().map(ResourceExt::name_any).as_deref(), Some("cm-10"));

    // An exact last page has no continue token.
    let all = cms.list(&ListParams::default().limit(25)).await.unwrap();
    assert_eq!(all.items.len(), 25);
    assert!(all.metadata.continue_.is_none_or(|c| c.is_empty()));
    let s = status(cms.list(&ListParams::default().limit(5).continue_token("not-a-token")).await);
    assert_eq!(s.code, 400);
}
