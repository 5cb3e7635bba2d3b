//! `cargo run -p xtask -- gen-crds`: writes the CRDs generated from `crates/api` to
//! `crds/` (one file per kind) and the same bytes to `charts/regionstack/crds/`, where
//! Helm installs them from. Never hand-edit those files; the drift test in
//! `crates/api/tests/crd_drift.rs` compares both directories with the types.
//!
//! `cargo run -p xtask -- gen-docs`: writes the generated documents (CRD reference,
//! Argo CD health customizations; see the library); `xtask/tests/gen_docs.rs` fails
//! when they are stale.

use std::path::PathBuf;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "gen-crds" => gen_crds(),
        "gen-docs" => gen_docs(),
        _ => bail!("usage: cargo run -p xtask -- gen-crds | gen-docs"),
    }
}

fn workspace_root() -> PathBuf {
    xtask::workspace_root()
}

fn gen_docs() -> anyhow::Result<()> {
    let root = workspace_root();
    for (file, content) in xtask::generated_docs(&root)? {
        let path = root.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Where the CRD files go, relative to the workspace root: the plain copy for
/// `kubectl apply -f crds/` and the chart's.
const CRD_DIRS: [&str; 2] = ["crds", "charts/regionstack/crds"];

fn gen_crds() -> anyhow::Result<()> {
    for dir in CRD_DIRS {
        let dir = workspace_root().join(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (file, crd) in regionstack_api::crd::all() {
            let path = dir.join(file);
            std::fs::write(&path, regionstack_api::crd::to_yaml(&crd))
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
