//! `cargo run -p xtask -- gen-crds`: writes the CRDs generated from `crates/api` to
//! `crds/` (one file per kind). Never hand-edit those files; the drift test in
//! `crates/api/tests/crd_drift.rs` compares them with the types.

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

fn gen_crds() -> anyhow::Result<()> {
    let dir = workspace_root().join("crds");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, crd) in regionstack_api::crd::all() {
        let path = dir.join(file);
        std::fs::write(&path, regionstack_api::crd::to_yaml(&crd))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
