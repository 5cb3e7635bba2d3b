//! `cargo run -p xtask -- gen-crds`: writes the CRDs generated from `crates/api` to
//! `crds/` (one file per kind) and the same bytes to `charts/regionstack/crds/`, where
//! Helm installs them from. Never hand-edit those files; the drift test in
//! `crates/api/tests/crd_drift.rs` compares both directories with the types.

use std::path::PathBuf;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "gen-crds" => gen_crds(),
        _ => bail!("usage: cargo run -p xtask -- gen-crds"),
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
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
