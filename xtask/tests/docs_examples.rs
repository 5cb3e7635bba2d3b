//! The YAML examples of docs/install.md are valid YAML and the ApplicationSet example
//! keeps its promise: one Application per labelled cluster, each passing the cluster's
//! region label as the chart's required `region` value.

use serde::Deserialize as _;
use serde_json::Value;
use xtask::workspace_root;

/// Every document of every ```yaml block of a Markdown file.
fn yaml_documents(markdown: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```yaml") => block = Some(String::new()),
            (Some(text), "```") => {
                for doc in serde_norway::Deserializer::from_str(text) {
                    let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("invalid YAML example: {e}\n{text}"));
                    docs.push(value);
                }
                block = None;
            }
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(block.is_none(), "unterminated ```yaml block");
    docs
}

#[test]
fn the_application_set_passes_each_clusters_region_to_the_chart() {
    let install = std::fs::read_to_string(workspace_root().join("docs/install.md")).unwrap();
    let docs = yaml_documents(&install);
    let sets: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "ApplicationSet").collect();
    assert!(!sets.is_empty(), "docs/install.md has no ApplicationSet example");
    let operator = sets
        .iter()
        .find(|s| s["spec"]["template"]["spec"]["source"]["path"] == "charts/regionstack")
        .expect("an ApplicationSet installing charts/regionstack");
    let label = operator["spec"]["generators"][0]["clusters"]["selector"]["matchExpressions"][0]["key"]
        .as_str()
        .expect("a cluster generator selecting clusters by label");
    let region = operator["spec"]["template"]["spec"]["source"]["helm"]["valuesObject"]["region"]
        .as_str()
        .expect("helm.valuesObject.region");
    assert!(
        region.contains(&format!("index .metadata.labels \"{label}\"")),
        "region {region:?} is not taken from the generator's label {label}"
    );
    assert_eq!(operator["spec"]["goTemplate"], true, "`index` needs goTemplate: true");
    let name = operator["spec"]["template"]["metadata"]["name"].as_str().unwrap();
    assert!(name.contains(label), "Application names must differ per cluster: {name}");
    assert_eq!(operator["spec"]["template"]["spec"]["destination"]["server"], "{{ .server }}");
}

#[test]
fn relative_links_of_the_shipping_docs_resolve() {
    let root = workspace_root();
    for doc in ["docs/install.md", "docs/auditors.md", "docs/argocd/README.md", "docs/reference/crds.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        // Links outside code: drop every `...` span (and so every ``` block).
        let text: String = text.split('`').step_by(2).collect();
        let dir = root.join(doc).parent().unwrap().to_path_buf();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').expect("a closed link");
            let target = rest[..end].split('#').next().unwrap();
            if !(target.is_empty() || target.starts_with("http://") || target.starts_with("https://")) {
                assert!(dir.join(target).exists(), "{doc} links to {target}, which does not exist");
            }
        }
    }
}
