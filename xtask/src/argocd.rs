//! The Argo CD `resource.customizations` snippet. The health checks themselves are
//! hand-written Lua under `docs/argocd/health/` (tested by `xtask/tests/argocd_health.rs`);
//! this module only embeds them, byte for byte, into a ConfigMap fragment so that the
//! snippet can never drift from the tested scripts.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Where the snippet is committed, relative to the workspace root.
pub const CUSTOMIZATIONS_PATH: &str = "docs/argocd/resource-customizations.yaml";

/// The health scripts, relative to the workspace root, with the kind each one checks.
pub const SCRIPTS: [(&str, &str); 3] = [
    ("Region", "docs/argocd/health/region.lua"),
    ("PiiDatabase", "docs/argocd/health/piidatabase.lua"),
    ("TelemetryReplica", "docs/argocd/health/telemetryreplica.lua"),
];

/// The `argocd-cm` key of a kind's health check (Argo CD's `group_Kind` form).
pub fn health_key(kind: &str) -> String {
    format!("resource.customizations.health.{}_{kind}", regionstack_api::GROUP)
}

/// The snippet: an `argocd-cm` ConfigMap whose `data` holds one health check per kind.
pub fn render(root: &Path) -> anyhow::Result<String> {
    let mut out = format!(
        "# Generated from docs/argocd/health/*.lua by `{}`. Do not edit.\n\
         #\n\
         # Argo CD health checks for the regionstack.io kinds (docs/argocd/README.md). Merge the\n\
         # `data` keys into the argocd-cm ConfigMap of the Argo CD installation that manages\n\
         # the regional clusters (with the argo-cd Helm chart: under `configs.cm`), e.g.\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file {CUSTOMIZATIONS_PATH}\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n\
         \x20 name: argocd-cm\n\
         \x20 namespace: argocd\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/name: argocd-cm\n\
         \x20   app.kubernetes.io/part-of: argocd\n\
         data:\n",
        crate::GEN_DOCS_COMMAND
    );
    for (kind, path) in SCRIPTS {
        let script =
            std::fs::read_to_string(root.join(path)).with_context(|| format!("reading the health check {path}"))?;
        anyhow::ensure!(
            script.ends_with('\n') && !script.ends_with("\n\n"),
            "{path} must end with exactly one newline"
        );
        anyhow::ensure!(
            !script.contains('\t') && script.lines().all(|l| l == l.trim_end()),
            "{path} must use spaces and have no trailing whitespace (it is embedded in a YAML block scalar)"
        );
        // `|` keeps the text verbatim: lines indented by 4, one final newline (clip).
        writeln!(out, "  {}: |", health_key(kind))?;
        for line in script.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(out)
}
