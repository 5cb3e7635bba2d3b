//! Real `kubectl --kubeconfig <region's kubeconfig>`: the scenarios apply, patch, get
//! and delete the way a platform engineer does, and keep the kube client for precise
//! assertions. Manifests go to `kubectl apply -f -` on stdin (JSON is YAML), so
//! Secret values never appear on a command line or in an error message.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::AsyncWriteExt as _;

use crate::RegionCluster;

/// Environment variable naming the kubectl binary (default: `/usr/local/bin/kubectl`
/// when present, else `kubectl` on the `PATH`).
pub const KUBECTL_ENV: &str = "REGIONSTACK_KUBECTL";

/// How long one kubectl invocation may take (a `delete` waits for finalizers).
const TIMEOUT: Duration = Duration::from_secs(150);

/// kubectl bound to one region's kubeconfig.
#[derive(Clone, Debug)]
pub struct Kubectl {
    region: String,
    kubeconfig: PathBuf,
    binary: PathBuf,
}

/// The kubectl binary, or an error saying how to get one.
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(KUBECTL_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let default = PathBuf::from("/usr/local/bin/kubectl");
    if default.is_file() {
        return Ok(default);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join("kubectl")).find(|p| p.is_file()));
    on_path.flatten().context(
        "kubectl not found (neither /usr/local/bin/kubectl nor on the PATH): install it, e.g. with ./scripts/install-deps, or set REGIONSTACK_KUBECTL",
    )
}

impl Kubectl {
    /// kubectl for `cluster` (which must have been reached through a kubeconfig file).
    pub fn of(cluster: &RegionCluster) -> anyhow::Result<Self> {
        let kubeconfig =
            cluster.kubeconfig.clone().with_context(|| format!("cluster {} has no kubeconfig file", cluster.region))?;
        Ok(Self { region: cluster.region.clone(), kubeconfig, binary: binary()? })
    }

    /// `kubectl --kubeconfig <file> <args>` with `stdin`; its stdout, or an error with
    /// the arguments, the exit status and stderr.
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let shown = format!("[{}] kubectl {}", self.region, args.join(" "));
        let mut child = tokio::process::Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).await?;
        }
        let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
            .await
            .with_context(|| format!("{shown}: no exit within {} s", TIMEOUT.as_secs()))??;
        if !output.status.success() {
            bail!("{shown}: {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `kubectl apply -f -` of one object.
    pub async fn apply(&self, object: &serde_json::Value) -> anyhow::Result<String> {
        self.run(&["apply", "-f", "-"], Some(&object.to_string())).await
    }

    /// `kubectl delete <kind> <name> -n <namespace> --wait`: returns once the object
    /// is gone (finalizers done); a missing object is not an error.
    pub async fn delete(&self, kind: &str, namespace: &str, name: &str) -> anyhow::Result<String> {
        self.run(&["delete", kind, name, "-n", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s"], None)
            .await
    }

    /// `kubectl patch <kind> <name> -n <namespace> --type merge -p <patch>`.
    pub async fn patch(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let patch = patch.to_string();
        self.run(&["patch", kind, name, "-n", namespace, "--type", "merge", "-p", &patch], None).await.map(drop)
    }

    /// `kubectl get <kind> <name> -n <namespace> -o jsonpath=<template>`.
    pub async fn jsonpath(&self, kind: &str, namespace: &str, name: &str, template: &str) -> anyhow::Result<String> {
        let output = format!("jsonpath={template}");
        self.run(&["get", kind, name, "-n", namespace, "-o", &output], None).await
    }

    /// What `kubectl get` says about the `Ready`-like condition `condition` of an
    /// object: `(status, reason, observedGeneration == generation)`.
    pub async fn condition(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        condition: &str,
    ) -> anyhow::Result<(String, String, bool)> {
        let template = format!(
            "{{.status.conditions[?(@.type==\"{condition}\")].status}}|{{.status.conditions[?(@.type==\"{condition}\")].reason}}|{{.status.observedGeneration}}|{{.metadata.generation}}"
        );
        let text = self.jsonpath(kind, namespace, name, &template).await?;
        let parts: Vec<&str> = text.split('|').collect();
        let [status, reason, observed, generation] = parts[..] else { bail!("unexpected jsonpath output {text:?}") };
        Ok((status.to_owned(), reason.to_owned(), !observed.is_empty() && observed == generation))
    }

    /// Polls [`Kubectl::condition`] until it is `status`/`reason` at the object's
    /// current generation; the error says what was seen last.
    pub async fn wait_condition(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        condition: &str,
        (status, reason): (&str, &str),
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = self.condition(kind, namespace, name, condition).await;
            if let Ok((s, r, current)) = &seen
                && s == status
                && r == reason
                && *current
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "[{}] {kind} {namespace}/{name}: {condition} not {status}/{reason} at its generation within {} s; last seen {seen:?}",
                    self.region,
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
