//! The generated documents are what the generators produce today (like `crds/`), and
//! the Argo CD snippet embeds the health checks byte for byte.

use std::path::Path;

use xtask::{GEN_DOCS_COMMAND, argocd, generated_docs, workspace_root};

#[test]
fn generated_docs_are_fresh() {
    let root = workspace_root();
    let mut stale = Vec::new();
    for (file, expected) in generated_docs(&root).unwrap() {
        match std::fs::read_to_string(root.join(&file)) {
            Ok(committed) if committed == expected => {}
            Ok(_) => stale.push(format!("{} is stale", file.display())),
            Err(e) => stale.push(format!("{} cannot be read: {e}", file.display())),
        }
    }
    assert!(stale.is_empty(), "{}; run `{GEN_DOCS_COMMAND}` and commit the result", stale.join("; "));
}

#[test]
fn the_argocd_snippet_embeds_each_script_exactly() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join(argocd::CUSTOMIZATIONS_PATH)).unwrap();
    let cm: serde_json::Value = serde_norway::from_str(&text).expect("the snippet is YAML");
    assert_eq!((cm["kind"].as_str(), cm["metadata"]["name"].as_str()), (Some("ConfigMap"), Some("argocd-cm")));
    let data = cm["data"].as_object().unwrap();
    assert_eq!(data.len(), argocd::SCRIPTS.len(), "one key per kind: {:?}", data.keys().collect::<Vec<_>>());
    for (kind, path) in argocd::SCRIPTS {
        let script = std::fs::read_to_string(root.join(path)).unwrap();
        let key = argocd::health_key(kind);
        assert_eq!(data[&key].as_str(), Some(script.as_str()), "{key} differs from {path}; run `{GEN_DOCS_COMMAND}`");
    }
}

#[test]
fn every_kind_has_a_health_check_and_a_reference_section() {
    let root = workspace_root();
    let reference = std::fs::read_to_string(root.join(xtask::crd_reference::PATH)).unwrap();
    let kinds: Vec<String> = regionstack_api::crd::all().into_iter().map(|(_, crd)| crd.spec.names.kind).collect();
    for kind in &kinds {
        assert!(argocd::SCRIPTS.iter().any(|(k, _)| k == kind), "no Argo CD health check for {kind}");
        assert!(reference.contains(&format!("\n## {kind}\n")), "no section for {kind} in the CRD reference");
    }
    // Spot checks that the reference carries the schema's details, not just names.
    for needle in [
        "| `.spec.region` | string | yes |",
        "pattern `^[A-Z]{2}$`",
        "one of `Enforce`, `Audit`",
        "default `Enforce`",
        "CEL `self == oldSelf`",
        "list type `map`, keyed by `name`",
        "| `RogueReplication` | A publication, subscription, slot or standby",
    ] {
        assert!(reference.contains(needle), "the CRD reference lacks {needle:?}");
    }
    assert!(Path::new(&root.join("docs/argocd/README.md")).exists(), "docs/argocd/README.md documents the mapping");
}
