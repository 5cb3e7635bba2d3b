//! The real `regionstack run` binary: its help, and a process that starts against a
//! kubeconfig, logs JSON, serves `/ready`, and exits 0 on SIGTERM after releasing its
//! Lease.

mod support_runtime;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;
use regionstack_api::Region;
use regionstack_api::fixtures::RegionBuilder;
use support_runtime::{DEADLINE, Env, eventually, http_get};

fn regionstack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_regionstack"))
}

#[test]
fn run_help_lists_the_flags() {
    let out = regionstack().args(["run", "--help"]).output().expect("run regionstack");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--region",
        "--kubeconfig",
        "--health-addr",
        "--log-format",
        "--audit-interval",
        "--resync-interval",
        "--lease-namespace",
        "--instance",
        "--dpdp-restricted",
        "REGIONSTACK_REGION",
        "POD_NAMESPACE",
        "POD_NAME",
    ] {
        assert!(help.contains(flag), "`run --help` does not mention {flag}:\n{help}");
    }
    assert!(!help.contains("--lease-duration"), "test-only flags stay hidden:\n{help}");
    let out = regionstack().args(["run"]).env_remove("REGIONSTACK_REGION").output().expect("run regionstack");
    assert_eq!(out.status.code(), Some(2), "--region is required");
}

/// Kills the child if the test fails before it exited.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_ready_and_exits_zero_on_sigterm() {
    let env = Env::start().await;
    let child = regionstack()
        .args(["run", "--region", "eu-west-1", "--health-addr", "127.0.0.1:0", "--instance", "binary"])
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .env("POD_NAMESPACE", support_runtime::LEASE_NAMESPACE)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn regionstack run");
    let mut child = Guard(child);

    // Every stderr line is a JSON object; the first announces the bound address.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.0.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    let addr: SocketAddr = loop {
        let line = lines.recv_timeout(DEADLINE.saturating_sub(started.elapsed())).expect("a log line with the address");
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        seen.push(line);
        if let Some(addr) = entry["addr"].as_str() {
            break addr.parse().expect("a socket address");
        }
    };
    eventually("/ready is 200", || async { (http_get(addr, "/ready").await?.0 == 200).then_some(()) }).await;
    eventually("the binary leads", || async { (env.lease_holder("eu-west-1").await? == "binary").then_some(()) }).await;
    let regions: Api<Region> = Api::all(env.client.clone());
    regions.create(&PostParams::default(), &RegionBuilder::new("eu-west-1").build()).await.unwrap();
    eventually("the Region reconciled", || async { regions.get("eu-west-1").await.ok()?.status?.local }).await;

    let pid = child.0.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
    assert!(kill.success());
    let status = eventually("the process exits", || {
        let status = child.0.try_wait().expect("try_wait");
        std::future::ready(status)
    })
    .await;
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    assert_eq!(env.lease_holder("eu-west-1").await, None, "the Lease was released");
    // The reader thread ends at end of file; a few lines may still be in flight.
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("released the Lease")), "{rest:#?}");
    for line in &rest {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not a JSON log line: {line}");
    }
    // The reconcile's lines carry its span: kind, object and the operator's region.
    let reconcile_line = rest.iter().chain(&seen).find_map(|l| {
        let entry: serde_json::Value = serde_json::from_str(l).ok()?;
        (entry["span"]["name"] == "reconcile").then_some(entry)
    });
    let span = &reconcile_line.unwrap_or_else(|| panic!("no reconcile log line:\n{}", seen.join("\n")))["span"];
    assert_eq!(
        (&span["kind"], &span["object"], &span["region"]),
        (&"Region".into(), &"eu-west-1".into(), &"eu-west-1".into())
    );
}
