//! `regionstack check` and `regionstack crd` as a pipeline sees them: the real binary,
//! real files, exit codes and output formats.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use regionstack_api::ReasonCode;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn regionstack(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regionstack")).args(args).current_dir(cwd).output().expect("run regionstack")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn codes(out: &Output) -> BTreeSet<String> {
    json(out)["violations"].as_array().unwrap().iter().map(|v| v["code"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn seed_topology_is_compliant() {
    let out = regionstack(&["check", "examples/"], &workspace());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("compliant: 7 regionstack objects"), "{text}");
}

#[test]
fn every_invalid_example_reports_exactly_its_code_and_all_codes_are_covered() {
    let dir = workspace().join("examples/invalid");
    let mut covered = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect: Code` line", file.display()))
            .trim()
            .to_owned();
        let out = regionstack(&["check", "--output", "json", file.to_str().unwrap()], &workspace());
        assert_eq!(out.status.code(), Some(1), "{}: {}", file.display(), String::from_utf8_lossy(&out.stdout));
        assert_eq!(codes(&out), BTreeSet::from([expect.clone()]), "{}", file.display());
        covered.insert(expect);
    }
    let offline: BTreeSet<String> =
        ReasonCode::ALL.iter().filter(|c| c.offline_decidable()).map(|c| c.as_str().to_owned()).collect();
    assert_eq!(covered, offline, "examples/invalid must hold one file per offline-decidable reason code");
}

#[test]
fn json_output_has_the_documented_shape() {
    let out = regionstack(&["check", "-o", "json", "examples/invalid/personal-data-exported.yaml"], &workspace());
    let v = json(&out);
    let obj = v["violations"][0].as_object().unwrap();
    let keys: BTreeSet<_> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["kind", "namespace", "name", "code", "message"]));
    assert_eq!(obj["kind"], "TelemetryReplica");
    assert_eq!(obj["namespace"], "telemetry");
    assert_eq!(obj["name"], "raw-user");
    assert!(obj["message"].as_str().unwrap().contains("user_id"));
}

#[test]
fn text_output_is_one_line_per_violation_then_a_summary() {
    let out = regionstack(&["check", "examples/invalid/transfer-not-permitted.yaml"], &workspace());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[..2].iter().all(|l| l.starts_with("TelemetryReplica telemetry/to-india: TransferNotPermitted: ")),
        "{text}"
    );
    assert_eq!(lines[2], "2 violations in 1 of 5 regionstack objects (1 files)");
}

#[test]
fn malformed_yaml_exits_2_naming_file_and_document() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: [unclosed\n").unwrap();
    let out = regionstack(&["check", file.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("{}: document 1: malformed YAML", file.display())), "{err}");

    let json_out = regionstack(&["check", "-o", "json", file.to_str().unwrap()], dir.path());
    assert_eq!(json_out.status.code(), Some(2));
    assert_eq!(json(&json_out)["errors"][0]["document"], 1);
}

#[test]
fn invalid_objects_and_missing_paths_exit_2_with_the_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replica.yaml");
    std::fs::write(
        &file,
        "apiVersion: regionstack.io/v1alpha1\nkind: TelemetryReplica\nmetadata: {name: x, namespace: t}\nspec:\n  source: {region: a}\n  targets: [{region: b}]\n  replicationCredentials: {name: r}\n  tables:\n  - name: m\n    columns:\n    - {name: c, class: none, transform: scramble}\n",
    )
    .unwrap();
    let out = regionstack(&["check", file.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "document 0: invalid TelemetryReplica: spec.tables[0].columns[0].transform: unknown variant `scramble`"
        ),
        "{err}"
    );

    let missing = regionstack(&["check", "does/not/exist.yaml"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does/not/exist.yaml: cannot read"));

    let other_version = dir.path().join("v2.yaml");
    std::fs::write(&other_version, "apiVersion: regionstack.io/v2\nkind: Region\nmetadata: {name: r}\n").unwrap();
    let out = regionstack(&["check", other_version.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn directories_recurse_skip_ignored_entries_other_kinds_and_flatten_lists() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(root.join("skipped")).unwrap();
    std::fs::copy(workspace().join("examples/regions.yaml"), root.join("a/regions.yaml")).unwrap();
    // A kubectl List holding a PiiDatabase, deep in the tree, next to other kinds.
    std::fs::write(
        root.join("a/b/list.yml"),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: regionstack.io/v1alpha1\n  kind: PiiDatabase\n  metadata: {name: db, namespace: x}\n  spec: {region: eu-west-1, compliance: [GDPR], external: {connectionSecretRef: {name: s}}}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cm}\n",
    )
    .unwrap();
    std::fs::write(root.join("a/b/notes.txt"), "not a manifest: [").unwrap();
    std::fs::copy(workspace().join("examples/invalid/unknown-region.yaml"), root.join("skipped/bad.yaml")).unwrap();
    std::fs::write(root.join(".regionstackignore"), "# counter-examples\nskipped/\n").unwrap();
    let out = regionstack(&["check", root.to_str().unwrap()], root);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("compliant: 4 regionstack objects in 2 files"));

    // Named explicitly, an ignored file is checked.
    let out = regionstack(&["check", root.to_str().unwrap(), root.join("skipped/bad.yaml").to_str().unwrap()], root);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the bad file redefines the Regions: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is already defined in"));
}

#[test]
fn crd_prints_the_committed_crds() {
    let out = regionstack(&["crd"], &workspace());
    assert!(out.status.success());
    let mut expected = String::new();
    for file in ["region.yaml", "piidatabase.yaml", "telemetryreplica.yaml"] {
        expected.push_str(&std::fs::read_to_string(workspace().join("crds").join(file)).unwrap());
    }
    // Not assert_eq!: a diff of three CRDs drowns the one line that matters.
    assert!(
        String::from_utf8(out.stdout).unwrap() == expected,
        "crds/ is stale: run `{}`",
        regionstack_api::crd::REGENERATE_COMMAND
    );
}
