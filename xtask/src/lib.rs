//! The generators behind `cargo run -p xtask -- <task>`, as a library so that tests
//! can compare the committed files with what the generators produce today.
//!
//! - [`crd_reference`]: `docs/reference/crds.md`, the API reference rendered from the
//!   CRD schemas (every field, type, description, enum, default and validation rule).
//! - [`argocd`]: `docs/argocd/resource-customizations.yaml`, the `argocd-cm` snippet
//!   embedding the hand-written health checks of `docs/argocd/health/*.lua`.

pub mod argocd;
pub mod crd_reference;

use std::path::{Path, PathBuf};

/// The command that regenerates every generated document; staleness tests name it.
pub const GEN_DOCS_COMMAND: &str = "cargo run -p xtask -- gen-docs";

/// The workspace root (xtask lives directly under it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Every generated document: path relative to the workspace root, and its content.
pub fn generated_docs(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    Ok(vec![
        (PathBuf::from(crd_reference::PATH), crd_reference::render(&regionstack_api::crd::all())?),
        (PathBuf::from(argocd::CUSTOMIZATIONS_PATH), argocd::render(root)?),
    ])
}
