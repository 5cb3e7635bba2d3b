//! The Dockerfile's invariants that could rot silently, since no Docker engine runs
//! where the tests do: the package and binary it builds exist, the build is
//! `--locked` and without the `demo` feature, the builder's Rust is not older than the
//! workspace's `rust-version`, the runtime runs as a non-root user, and the binary it
//! builds links no OpenSSL (`cargo tree`, offline).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The Dockerfile's instructions: comments dropped, `\` continuations joined.
fn instructions() -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("Dockerfile")).expect("Dockerfile at the repository root");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// The instructions of each stage, in order (the global `ARG`s before the first
/// `FROM` form stage 0's preamble and are returned separately).
fn stages() -> (Vec<String>, Vec<Vec<String>>) {
    let mut preamble = Vec::new();
    let mut stages: Vec<Vec<String>> = Vec::new();
    for i in instructions() {
        if i.starts_with("FROM ") {
            stages.push(vec![i]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(i);
        } else {
            preamble.push(i);
        }
    }
    (preamble, stages)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace());
    cmd
}

fn metadata() -> serde_json::Value {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline", "--locked"])
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `1.89` or `1.89.0` → (1, 89).
fn minor_version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or_else(|_| panic!("not a version: {v}")));
    (parts.next().unwrap(), parts.next().unwrap_or_else(|| panic!("not a major.minor version: {v}")))
}

/// The `cargo build` step of the builder stage, split into words.
fn cargo_build() -> Vec<String> {
    let (_, stages) = stages();
    let run = stages[0]
        .iter()
        .find(|i| i.starts_with("RUN ") && i.contains("cargo build"))
        .expect("the first stage runs `cargo build`");
    let words: Vec<String> = run.split_whitespace().map(str::to_owned).collect();
    let start = words.iter().position(|w| w == "cargo").unwrap();
    let end = words[start..].iter().position(|w| w == "&&").map_or(words.len(), |e| start + e);
    words[start..end].to_vec()
}

#[test]
fn builds_an_existing_package_and_binary_locked_without_demo() {
    let build = cargo_build();
    for flag in ["--locked", "--release", "--no-default-features"] {
        assert!(build.contains(&flag.to_owned()), "`{}` lacks {flag}", build.join(" "));
    }
    let package = &build[build.iter().position(|w| w == "-p").expect("cargo build -p <package>") + 1];
    let meta = metadata();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package.as_str())
        .unwrap_or_else(|| panic!("the Dockerfile builds package {package:?}, which is not in the workspace"));
    let bins: Vec<&str> = pkg["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let default_features = pkg["features"]["default"].as_array().map_or(0, Vec::len);
    assert!(default_features > 0, "package {package} has no default features: is --no-default-features still needed?");

    // The binary copied out of the builder and run as the ENTRYPOINT is one the
    // package builds.
    let (_, stages) = stages();
    let install = stages[0].iter().find(|i| i.contains("target/release/")).expect("the builder copies the binary");
    let binary = install.split("target/release/").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(bins.contains(&binary), "the Dockerfile copies binary {binary:?}; package {package} builds {bins:?}");
    let runtime = stages.last().unwrap();
    assert!(
        runtime.iter().any(|i| i.starts_with("COPY --from=builder") && i.ends_with(&format!(" /{binary}"))),
        "the runtime stage does not copy /{binary}: {runtime:#?}"
    );
    assert!(
        runtime.iter().any(|i| i == &format!("ENTRYPOINT [\"/{binary}\"]")),
        "ENTRYPOINT is not [\"/{binary}\"]: {runtime:#?}"
    );
    assert!(runtime.iter().any(|i| i == "CMD [\"run\"]"), "CMD is not [\"run\"]");
}

#[test]
fn the_build_context_has_the_workspace_and_not_the_target_directory() {
    let ignore = std::fs::read_to_string(workspace().join(".dockerignore")).expect(".dockerignore at the root");
    let patterns: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for needed in ["target/", ".git/"] {
        assert!(patterns.contains(&needed), ".dockerignore lacks {needed} (the context would carry it)");
    }
    // `cargo build --locked` needs Cargo.lock and every workspace member's manifest.
    let meta = metadata();
    let root = meta["workspace_root"].as_str().unwrap();
    let mut needed = vec!["Cargo.lock".to_owned(), "Cargo.toml".to_owned()];
    for pkg in meta["packages"].as_array().unwrap() {
        let manifest = pkg["manifest_path"].as_str().unwrap();
        needed.push(manifest.strip_prefix(root).unwrap().trim_start_matches('/').to_owned());
    }
    for path in &needed {
        let first = path.split('/').next().unwrap();
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == first || p.trim_end_matches('/') == path),
            ".dockerignore excludes {path}, which the build needs"
        );
    }
}

#[test]
fn builder_rust_is_not_older_than_the_workspace_rust_version() {
    let (preamble, stages) = stages();
    let arg = preamble
        .iter()
        .find_map(|i| i.strip_prefix("ARG RUST_VERSION="))
        .expect("a global `ARG RUST_VERSION=<version>`");
    assert!(
        stages[0][0].starts_with("FROM rust:${RUST_VERSION}-"),
        "builder is not rust:${{RUST_VERSION}}: {}",
        stages[0][0]
    );
    let meta = metadata();
    let package = meta["packages"].as_array().unwrap().iter().find(|p| p["name"] == "regionstack").unwrap();
    let msrv = package["rust_version"].as_str().expect("the workspace declares rust-version");
    assert!(
        minor_version(arg) >= minor_version(msrv),
        "the Dockerfile builds with Rust {arg}, older than the workspace rust-version {msrv}"
    );
}

#[test]
fn runtime_is_distroless_and_non_root() {
    let (_, stages) = stages();
    assert!(stages.len() >= 2, "a multi-stage build");
    let runtime = stages.last().unwrap();
    assert!(runtime[0].starts_with("FROM gcr.io/distroless/"), "runtime base: {}", runtime[0]);
    assert!(runtime[0].ends_with(":nonroot"), "runtime base is not a :nonroot variant: {}", runtime[0]);
    let user = runtime.iter().rev().find_map(|i| i.strip_prefix("USER ")).expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    // The chart's securityContext (runAsNonRoot, runAsUser 65532) needs a numeric UID:
    // kubelet cannot verify a user name is not root.
    assert_eq!(uid, "65532", "USER must be the numeric non-root UID 65532, is {user}");
    assert!(
        !runtime.iter().any(|i| i.starts_with("RUN ")),
        "the distroless runtime has no shell; a RUN step there cannot work"
    );
    for label in ["title", "source", "licenses", "version"] {
        let key = format!("org.opencontainers.image.{label}=");
        assert!(runtime.iter().any(|i| i.starts_with("LABEL") && i.contains(&key)), "missing label {key}");
    }
}

#[test]
fn the_image_binary_links_no_openssl() {
    let out = cargo()
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "regionstack",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    // Positive controls: the listing is the real graph of the image's binary.
    assert!(crates.contains(&"kube-client"), "cargo tree lists no kube-client:\n{tree}");
    assert!(crates.contains(&"rustls"), "the binary does not use rustls:\n{tree}");
    assert!(!crates.contains(&"regionstack-testbed"), "--no-default-features still links the demo's testbed");
    for forbidden in ["openssl-sys", "openssl", "native-tls", "hyper-tls", "tokio-native-tls", "postgres-openssl"] {
        assert!(!crates.contains(&forbidden), "the image's binary depends on {forbidden}");
    }
}
