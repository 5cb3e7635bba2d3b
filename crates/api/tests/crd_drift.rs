//! The CRDs committed under `crds/` and their copies in `charts/regionstack/crds/` (where
//! Helm installs them from) must be exactly what the types generate today. When they are
//! not, the failure says which file of which directory differs and how to regenerate.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use regionstack_api::crd::{self, REGENERATE_COMMAND};
use serde::Deserialize;

/// File name → YAML the types generate, in the order of [`crd::all`].
fn generated() -> Vec<(&'static str, String)> {
    crd::all().iter().map(|(file, crd)| (*file, crd::to_yaml(crd))).collect()
}

/// Describe the first line where `committed` and `generated` differ.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    let mut line = 1;
    loop {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(c), Some(g)) if c == g => line += 1,
            (Some(c), Some(g)) => return format!("line {line}: committed {c:?}, generated {g:?}"),
            (Some(c), None) => return format!("line {line}: committed has extra line {c:?}"),
            (None, Some(g)) => return format!("line {line}: committed lacks line {g:?}"),
            // Same lines, so the difference is in line endings or a final newline.
            (None, None) => return format!("line {line}: line endings or trailing newline differ"),
        }
    }
}

/// Compare the generated CRDs with the files in `dir` (shown as `label`, e.g. `crds`);
/// `Err` carries a message naming every problem and the command that fixes it.
fn check_drift(dir: &Path, label: &str) -> Result<(), String> {
    let generated = generated();
    let mut problems = Vec::new();

    for (file, yaml) in &generated {
        let path = dir.join(file);
        match fs::read_to_string(&path) {
            Ok(committed) if committed == *yaml => {}
            Ok(committed) => {
                problems.push(format!("{label}/{file} is out of date ({})", first_difference(&committed, yaml)));
            }
            Err(err) => problems.push(format!("{label}/{file} is missing ({}: {err})", path.display())),
        }
    }

    let expected: BTreeSet<&str> = generated.iter().map(|(file, _)| *file).collect();
    let entries =
        fs::read_dir(dir).map_err(|err| format!("cannot list {}: {err}\nrun `{REGENERATE_COMMAND}`", dir.display()))?;
    let mut extra: Vec<String> = entries
        .map(|entry| entry.expect("readable directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.contains(name.as_str()))
        .collect();
    extra.sort();
    for name in extra {
        problems.push(format!(
            "{label}/{name} is not generated from any type in crates/api (delete it if the kind is gone)"
        ));
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the committed CRDs in {label}/ do not match crates/api:\n  - {}\nrun `{REGENERATE_COMMAND}`",
            problems.join("\n  - ")
        ))
    }
}

#[test]
fn committed_crds_match_the_types() {
    if let Err(message) = check_drift(&common::crds_dir(), "crds") {
        panic!("{message}");
    }
}

#[test]
fn the_charts_crds_match_the_types() {
    // Helm installs the chart's crds/, so they must be the same bytes as crds/.
    let dir = common::workspace_root().join("charts/regionstack/crds");
    if let Err(message) = check_drift(&dir, "charts/regionstack/crds") {
        panic!("{message}");
    }
}

#[test]
fn regenerate_command_is_the_xtask() {
    // The message developers read must name the real command.
    assert_eq!(REGENERATE_COMMAND, "cargo run -p xtask -- gen-crds");
}

#[test]
fn one_file_per_kind_with_the_generated_header() {
    let all = crd::all();
    let kinds: Vec<&str> = all.iter().map(|(_, crd)| crd.spec.names.kind.as_str()).collect();
    assert_eq!(kinds, ["Region", "PiiDatabase", "TelemetryReplica"]);
    for (file, crd) in &all {
        assert_eq!(*file, format!("{}.yaml", crd.spec.names.singular.as_deref().unwrap()));
        let yaml = crd::to_yaml(crd);
        let header = format!("# Generated from crates/api by `{REGENERATE_COMMAND}`. Do not edit.\n---\n");
        assert!(yaml.starts_with(&header), "{file} lacks the generated-file header");
        // Exactly one YAML document separator: each file is one document.
        assert_eq!(yaml.matches("\n---\n").count(), 1, "{file} must hold one YAML document");
    }
}

#[test]
fn all_yaml_is_the_concatenation_of_the_committed_files() {
    // What `regionstack crd` prints is what `kubectl apply -f crds/` installs.
    let concatenated: String = crd::all()
        .iter()
        .map(|(file, _)| {
            fs::read_to_string(common::crds_dir().join(file))
                .unwrap_or_else(|err| panic!("crds/{file}: {err}\nrun `{REGENERATE_COMMAND}`"))
        })
        .collect();
    assert!(
        crd::all_yaml() == concatenated,
        "crd::all_yaml() differs from the concatenation of crds/*.yaml ({})\nrun `{REGENERATE_COMMAND}`",
        first_difference(&concatenated, &crd::all_yaml())
    );
}

#[test]
fn all_yaml_parses_as_one_crd_document_per_kind() {
    let yaml = crd::all_yaml();
    let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&yaml)
        .map(|doc| serde_json::Value::deserialize(doc).expect("every document is valid YAML"))
        .collect();
    let names: Vec<&str> = docs.iter().map(|d| d["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["regions.regionstack.io", "piidatabases.regionstack.io", "telemetryreplicas.regionstack.io"]);
    for doc in &docs {
        assert_eq!(doc["kind"], "CustomResourceDefinition");
        assert_eq!(doc["apiVersion"], "apiextensions.k8s.io/v1");
    }
}

/// The drift check itself: a stale, a missing and an extra file each fail with the
/// regenerate command in the message.
#[test]
fn drift_is_reported_with_the_regenerate_command() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crd-drift-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).unwrap();
    for (file, yaml) in generated() {
        fs::write(scratch.join(file), yaml).unwrap();
    }
    assert_eq!(check_drift(&scratch, "crds"), Ok(()), "a fresh copy must pass");

    let instruction = "run `cargo run -p xtask -- gen-crds`";

    // Stale: a hand edit.
    let region = scratch.join("region.yaml");
    let original = fs::read_to_string(&region).unwrap();
    fs::write(&region, original.replace("shortNames:\n    - rsregion", "shortNames:\n    - rgn")).unwrap();
    let message = check_drift(&scratch, "crds").unwrap_err();
    assert!(message.contains("crds/region.yaml is out of date"), "{message}");
    assert!(message.contains(r#"committed "    - rgn", generated "    - rsregion""#), "{message}");
    assert!(message.ends_with(instruction), "{message}");
    fs::write(&region, &original).unwrap();

    // Missing.
    fs::remove_file(scratch.join("piidatabase.yaml")).unwrap();
    let message = check_drift(&scratch, "crds").unwrap_err();
    assert!(message.contains("crds/piidatabase.yaml is missing"), "{message}");
    assert!(message.ends_with(instruction), "{message}");

    // Extra (and still missing: every problem is listed).
    fs::write(scratch.join("oldkind.yaml"), "kind: CustomResourceDefinition\n").unwrap();
    let message = check_drift(&scratch, "crds").unwrap_err();
    assert!(message.contains("crds/piidatabase.yaml is missing"), "{message}");
    assert!(message.contains("crds/oldkind.yaml is not generated"), "{message}");
    assert!(message.ends_with(instruction), "{message}");

    // The chart's copy is reported under its own directory.
    let message = check_drift(&scratch, "charts/regionstack/crds").unwrap_err();
    assert!(message.contains("charts/regionstack/crds/piidatabase.yaml is missing"), "{message}");
    assert!(message.contains("the committed CRDs in charts/regionstack/crds/ do not match"), "{message}");
    assert!(message.ends_with(instruction), "{message}");

    fs::remove_dir_all(&scratch).unwrap();
}
