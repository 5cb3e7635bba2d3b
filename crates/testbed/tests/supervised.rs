//! Process supervision of the topology's operators, exercised with a real
//! long-running server binary of the workspace (`kube-emulator`, which answers
//! `/readyz`): start, readiness, SIGKILL, restart with the log continued, SIGTERM,
//! early exit reported with the log, and reaping on drop.

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use testbed::topology::process::{ProcessSpec, Supervised, ensure_binary, free_loopback_addr, http_status};

fn emulator_binary() -> PathBuf {
    ensure_binary("kube-emulator", "regionstack-kube-emulator", None).expect("the kube-emulator binary")
}

fn spec(dir: &std::path::Path, args: &[&str]) -> ProcessSpec {
    let health_addr = free_loopback_addr().unwrap();
    let mut all: Vec<std::ffi::OsString> = vec!["--port".into(), health_addr.port().to_string().into()];
    all.extend(args.iter().map(Into::into));
    ProcessSpec {
        program: emulator_binary(),
        args: all,
        env: vec![("RUST_LOG".into(), "info".into())],
        log: dir.join("child.log"),
        health_addr,
        ready_path: "/readyz".into(),
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn start_kill_restart_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), &[]);
    let addr = spec.health_addr;

    let mut first = Supervised::spawn(spec.clone()).unwrap();
    first.wait_ready(deadline()).await.unwrap();
    assert_eq!(http_status(addr, "/readyz").await.unwrap(), 200);
    let pid = first.pid();
    assert!(testbed::process_alive(pid));
    let status = first.kill();
    assert_eq!(status.signal(), Some(9), "{status}");
    assert!(!testbed::process_alive(pid), "killed and reaped");
    assert!(http_status(addr, "/readyz").await.is_err(), "nothing listens after the kill");

    // Restarted on the same port; the log is continued, not truncated.
    let before = std::fs::metadata(&spec.log).unwrap().len();
    assert!(before > 0, "the first run wrote its URL to the log");
    let mut second = Supervised::spawn(spec.clone()).unwrap();
    second.wait_ready(deadline()).await.unwrap();
    assert_ne!(second.pid(), pid);
    assert!(second.exit_status().is_none());
    let status = second.terminate(Duration::from_secs(10));
    assert_eq!(status.signal(), Some(15), "kube-emulator has no SIGTERM handler: {status}");
    assert!(std::fs::metadata(&spec.log).unwrap().len() > before);
}

#[tokio::test]
async fn an_early_exit_is_reported_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Supervised::spawn(spec(dir.path(), &["--no-such-flag"])).unwrap();
    let err = child.wait_ready(deadline()).await.unwrap_err().to_string();
    assert!(err.contains("exited"), "{err}");
    assert!(err.contains("--no-such-flag"), "the log tail (clap's complaint) is in the error: {err}");
}

#[tokio::test]
async fn dropping_stops_and_reaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Supervised::spawn(spec(dir.path(), &[])).unwrap();
    child.wait_ready(deadline()).await.unwrap();
    let pid = child.pid();
    drop(child);
    assert!(!testbed::process_alive(pid));
}

#[test]
fn a_missing_binary_says_how_to_build_it() {
    let err =
        testbed::topology::locate_binary("no-such-binary", "no-such-package", Some("REGIONSTACK_TEST_NO_SUCH_VAR"))
            .unwrap_err()
            .to_string();
    assert!(err.contains("cargo build -p no-such-package"), "{err}");
    assert!(err.contains("REGIONSTACK_TEST_NO_SUCH_VAR"), "{err}");
}
