//! Shared by the `kubectl_*` end-to-end tests: a started emulator, a kubeconfig and a
//! private discovery cache per test, and a `kubectl` wrapper whose assertion messages
//! carry the command and both outputs.
#![allow(dead_code)]

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kube_emulator::KubeEmulator;
use serde_json::Value;
use tempfile::TempDir;

/// Longest any single kubectl invocation may take before the test fails.
pub const KUBECTL_DEADLINE: Duration = Duration::from_secs(90);

/// The workspace root (`crds/`, `examples/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

pub fn crds_dir() -> String {
    workspace().join("crds").display().to_string()
}

pub fn example(name: &str) -> String {
    workspace().join("examples").join(name).display().to_string()
}

/// `kubectl` from `PATH`; a missing binary fails the test with instructions.
pub fn find_kubectl() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "kubectl is not on PATH. These end-to-end tests drive the real kubectl and are never skipped: \
             install kubectl (https://kubernetes.io/docs/tasks/tools/, e.g. `apt-get install kubectl`) \
             and re-run `cargo test -p regionstack-kube-emulator --test kubectl`."
        )
    })
}

/// One finished kubectl invocation.
pub struct Run {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`kubectl {}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

impl Run {
    /// Asserts a zero exit status.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "expected success: {self}");
        self
    }

    /// Asserts a non-zero exit status.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert!(!self.status.success(), "expected a failure: {self}");
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}: {self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self}");
        self
    }

    /// Stdout with every run of whitespace made one space (kubectl wraps `explain`).
    pub fn flat_stdout(&self) -> String {
        self.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Stdout lines split into whitespace-separated cells.
    pub fn rows(&self) -> Vec<Vec<&str>> {
        self.stdout.lines().map(|l| l.split_whitespace().collect()).filter(|r: &Vec<&str>| !r.is_empty()).collect()
    }

    /// The row whose first cell is `first`.
    #[track_caller]
    pub fn row(&self, first: &str) -> Vec<&str> {
        self.rows().into_iter().find(|r| r[0] == first).unwrap_or_else(|| panic!("no row {first:?}: {self}"))
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

/// The kubectl binary bound to one emulator's kubeconfig and a private cache directory.
#[derive(Clone, Debug)]
pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    pub cache_dir: PathBuf,
    pub scratch: PathBuf,
}

impl Kubectl {
    /// kubectl acting with `token` on `emulator` (an RBAC emulator's identities):
    /// kubeconfig, cache and scratch directory named `name` under `dir`.
    pub fn for_token(bin: &Path, emulator: &KubeEmulator, dir: &Path, name: &str, token: &str) -> Self {
        let kubeconfig = dir.join(name);
        emulator.write_kubeconfig_for(&kubeconfig, token).unwrap();
        let scratch = dir.join(format!("{name}-manifests"));
        std::fs::create_dir_all(&scratch).unwrap();
        Kubectl { bin: bin.to_owned(), kubeconfig, cache_dir: dir.join(format!("{name}-cache")), scratch }
    }

    /// Runs `kubectl <args>` to completion (or the deadline) and captures its output.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut child = Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut out = String::new();
                let _ = pipe.read_to_string(&mut out);
                out
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
        let began = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for kubectl") {
                break Some(status);
            }
            if began.elapsed() > KUBECTL_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = stdout.join().expect("stdout reader");
        let stderr = stderr.join().expect("stderr reader");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let Some(status) = status else {
            panic!(
                "`kubectl {}` still running after {KUBECTL_DEADLINE:?}, killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                args.join(" ")
            );
        };
        Run { args, status, stdout, stderr }
    }

    /// Runs and asserts success.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).ok()
    }

    /// Runs and asserts failure.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> Run {
        self.run(args).fails()
    }

    /// Writes a manifest into the test's scratch directory and returns its path.
    pub fn manifest(&self, name: &str, yaml: &str) -> String {
        let path = self.scratch.join(name);
        std::fs::write(&path, yaml).expect("writing a manifest");
        path.display().to_string()
    }

    /// `kubectl get … -o jsonpath=<template>`'s output.
    #[track_caller]
    pub fn jsonpath(&self, target: &[&str], template: &str) -> String {
        let output = format!("jsonpath={template}");
        let mut args = vec!["get"];
        args.extend_from_slice(target);
        args.extend(["-o", output.as_str()]);
        self.ok(&args).stdout
    }

    pub fn install_crds(&self) {
        let run = self.ok(&["apply", "-f", &crds_dir()]);
        for crd in ["piidatabases", "regions", "telemetryreplicas"] {
            run.stdout_has(&format!("customresourcedefinition.apiextensions.k8s.io/{crd}.regionstack.io created"));
        }
    }

    pub fn install_examples(&self) {
        for file in ["00-namespaces.yaml", "regions.yaml", "pii-databases.yaml", "telemetry-replicas.yaml"] {
            self.ok(&["apply", "-f", &example(file)]);
        }
    }

    /// Patches the Ready condition of a Region through the status subresource.
    #[track_caller]
    pub fn set_ready(&self, region: &str, status: &str) -> Run {
        let patch = format!(
            r#"{{"status":{{"conditions":[{{"type":"Ready","status":"{status}","reason":"Reconciled","message":"test","lastTransitionTime":"2025-01-01T00:00:00Z"}}]}}}}"#
        );
        self.ok(&["patch", &format!("region/{region}"), "--subresource", "status", "--type", "merge", "-p", &patch])
    }
}

/// An emulator and a kubectl pointed at it. Dropping it stops the emulator.
pub struct Cluster {
    pub kubectl: Kubectl,
    pub emulator: KubeEmulator,
    pub _dir: TempDir,
}

pub async fn cluster() -> Cluster {
    let bin = find_kubectl();
    let emulator = KubeEmulator::start().await.expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).expect("writing the kubeconfig");
    let cache_dir = dir.path().join("cache");
    let scratch = dir.path().join("manifests");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    Cluster { kubectl: Kubectl { bin, kubeconfig, cache_dir, scratch }, emulator, _dir: dir }
}

/// Block until no watch stream is open (the previous command's watch has closed).
pub fn await_no_watches(gauge: &std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while gauge.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        assert!(Instant::now() < deadline, "a watch stayed open for 30 s");
        std::thread::yield_now();
    }
}

/// Block until at least `n` watch streams are open on the emulator (a `kubectl wait`
/// started in another thread is watching), so the change it waits for comes after.
pub fn await_watches(gauge: &std::sync::Arc<std::sync::atomic::AtomicUsize>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while gauge.load(std::sync::atomic::Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "no watch opened within 30 s");
        std::thread::yield_now();
    }
}

pub const REGIONSTACK_KINDS: [&str; 3] = ["piidatabase", "region", "telemetryreplica"];
