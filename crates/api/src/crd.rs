//! The generated CustomResourceDefinitions, rendered to the YAML committed under
//! `crds/` (and copied into the Helm chart). Generation is pure so that a test can
//! compare the committed files with what the types produce today.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{PiiDatabase, Region, TelemetryReplica};

/// The command that regenerates `crds/`; drift tests tell developers to run it.
pub const REGENERATE_COMMAND: &str = "cargo run -p xtask -- gen-crds";

/// Every CRD with the file name it is committed under.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("region.yaml", Region::crd()),
        ("piidatabase.yaml", PiiDatabase::crd()),
        ("telemetryreplica.yaml", TelemetryReplica::crd()),
    ]
}

/// One CRD as a YAML document with a generated-file header.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_norway::to_string(crd).expect("a CRD always serializes to YAML");
    format!("# Generated from crates/api by `{REGENERATE_COMMAND}`. Do not edit.\n---\n{body}")
}

/// All CRDs as one multi-document YAML stream (what `regionstack crd` prints).
pub fn all_yaml() -> String {
    all().iter().map(|(_, crd)| to_yaml(crd)).collect()
}
