//! Fault injection seen through the real client: failing requests (500, 429 with
//! `Retry-After`, 409), added latency, and a paused server that refuses connections.

mod support_watch;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use kube_emulator::KubeEmulator;
use support_watch::{client_without_retry, create_cm, eventually, within};

fn api_code(result: kube::Result<impl std::fmt::Debug>) -> u16 {
    match result {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// `Some` once a TCP connection to `addr` is refused. While the pause takes effect a
/// connection may still be accepted, or reset when the listener closes under it.
async fn refused(addr: std::net::SocketAddr) -> Option<()> {
    match tokio::net::TcpStream::connect(addr).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
        _ => None,
    }
}

#[tokio::test]
async fn fail_next_fails_exactly_the_matching_requests() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;

    emulator.faults().fail_next(2, Some("get"), Some("configmaps"), 500);
    let first = api.get("x").await;
    let Err(kube::Error::Api(status)) = &first else { panic!("{first:?}") };
    assert_eq!((status.code, status.reason.as_str()), (500, "InternalError"));
    // Other verbs and resources do not match and do not use up the rule.
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    assert_eq!(api_code(secrets.get("missing").await), 404);
    assert_eq!(api_code(api.get("x").await), 500);
    assert_eq!(api.get("x").await.unwrap().name_any(), "x");
    assert_eq!(api.get("x").await.unwrap().name_any(), "x");

    // Without a verb or resource, a rule matches anything.
    emulator.faults().fail_next(1, None, None, 503);
    let no_retry: Api<ConfigMap> = Api::namespaced(client_without_retry(&emulator), "default");
    assert_eq!(api_code(no_retry.list(&ListParams::default()).await), 503);
    assert!(no_retry.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn an_injected_429_carries_retry_after() {
    let emulator = KubeEmulator::start().await.unwrap();
    let client = client_without_retry(&emulator);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_cm(&api, "x", &[], "1").await;

    emulator.faults().fail_next(1, Some("get"), Some("configmaps"), 429);
    let request =
        http::Request::get("/api/v1/namespaces/default/configmaps/x").body(kube::client::Body::empty()).unwrap();
    let response = client.send(request).await.expect("a response");
    assert_eq!(response.status(), http::StatusCode::TOO_MANY_REQUESTS);
    let retry_after = response.headers().get(http::header::RETRY_AFTER).expect("a Retry-After header");
    let seconds: u64 = retry_after.to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!(seconds >= 1);
    let body = response.into_body().collect_bytes().await.unwrap();
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(status["code"], 429);
    assert_eq!(status["details"]["retryAfterSeconds"], seconds);

    // The rule is used up.
    assert_eq!(api.get("x").await.unwrap().name_any(), "x");
}

#[tokio::test]
async fn kubes_default_client_waits_out_an_injected_429() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;
    emulator.faults().fail_next(1, Some("get"), Some("configmaps"), 429);
    let began = Instant::now();
    assert_eq!(api.get("x").await.expect("retried after Retry-After").name_any(), "x");
    assert!(began.elapsed() >= Duration::from_millis(900), "the client honoured Retry-After: 1");
}

#[tokio::test]
async fn an_injected_409_is_a_conflict_and_the_retry_succeeds() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let mut cm = create_cm(&api, "x", &[], "1").await;
    cm.data.as_mut().unwrap().insert("value".into(), "2".into());

    emulator.faults().fail_next(1, Some("update"), Some("configmaps"), 409);
    let err = api.replace("x", &PostParams::default(), &cm).await.unwrap_err();
    let kube::Error::Api(status) = &err else { panic!("{err:?}") };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("x").await.unwrap().data.unwrap()["value"], "1", "the failed update changed nothing");

    let updated = api.replace("x", &PostParams::default(), &cm).await.expect("the retry succeeds");
    assert_eq!(updated.data.unwrap()["value"], "2");
}

#[tokio::test]
async fn set_latency_delays_requests() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;

    emulator.faults().set_latency(Duration::from_millis(200));
    assert_eq!(emulator.faults().latency(), Duration::from_millis(200));
    let began = Instant::now();
    api.get("x").await.unwrap();
    let slow = began.elapsed();
    assert!(slow >= Duration::from_millis(200), "took {slow:?}");

    emulator.faults().set_latency(Duration::ZERO);
    let began = Instant::now();
    api.get("x").await.unwrap();
    let fast = began.elapsed();
    assert!(fast < Duration::from_millis(200), "took {fast:?} without latency");
}

#[tokio::test]
async fn pause_refuses_connections_and_resume_serves_again_on_the_same_url() {
    let emulator = KubeEmulator::start().await.unwrap();
    let url = emulator.url();
    let client = emulator.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_cm(&api, "kept", &[], "1").await;
    let mut open_watch = api
        .watch(&WatchParams::default().disable_bookmarks(), &emulator.resource_version().to_string())
        .await
        .unwrap()
        .boxed();

    emulator.pause();
    // New connections are refused...
    let addr = emulator.addr();
    eventually("connections to be refused", || refused(addr)).await;
    // ...requests fail without an answer from the server...
    match api.get("kept").await {
        Err(kube::Error::Api(s)) => panic!("a paused server answered {s:?}"),
        Err(_) => {}
        Ok(_) => panic!("a paused server served a request"),
    }
    // ...and open watches are cut.
    if let Some(Ok(e)) = within("the open watch to be cut", open_watch.next()).await {
        panic!("a paused server sent {e:?}");
    }

    within("resume", emulator.resume()).await;
    assert_eq!(emulator.url(), url);
    // The same client (same URL) works again, and nothing was lost.
    assert_eq!(api.get("kept").await.expect("served after resume").data.unwrap()["value"], "1");
    create_cm(&api, "new", &[], "1").await;
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 2);
}

#[tokio::test]
async fn pause_can_be_repeated_and_resume_right_after_pause_returns() {
    let emulator = KubeEmulator::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;

    // Pause and resume with nothing in between: resume still returns, and the server
    // serves afterwards.
    emulator.pause();
    within("resume straight after pause", emulator.resume()).await;
    assert_eq!(api.get("x").await.unwrap().name_any(), "x");

    // Resuming a server that is not paused is harmless.
    within("resume while serving", emulator.resume()).await;
    assert_eq!(api.get("x").await.unwrap().name_any(), "x");

    for _ in 0..3 {
        emulator.pause();
        let addr = emulator.addr();
        eventually("connections to be refused", || refused(addr)).await;
        within("resume", emulator.resume()).await;
        assert_eq!(api.get("x").await.unwrap().name_any(), "x");
    }
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let emulator = KubeEmulator::start().await.unwrap();
    let addr = emulator.addr();
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    create_cm(&api, "x", &[], "1").await;
    within("shutdown", emulator.shutdown()).await;
    let err = tokio::net::TcpStream::connect(addr).await.expect_err("nothing listens after shutdown");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(api.get("x").await.is_err());
}
