//! Small value types shared by several resources: jurisdictions and references to
//! Secrets.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A data-protection regime from regionstack's built-in catalogue.
///
/// The catalogue (legal sources, transfer rules) lives in the policy crate; adding a
/// regime means adding a variant here and an entry there.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Jurisdiction {
    /// EU General Data Protection Regulation (Regulation (EU) 2016/679).
    #[serde(rename = "GDPR")]
    Gdpr,
    /// French data protection act (Loi n° 78-17 "Informatique et Libertés").
    #[serde(rename = "FDPA")]
    Fdpa,
    /// India's Digital Personal Data Protection Act, 2023.
    #[serde(rename = "DPDP")]
    Dpdp,
}

impl Jurisdiction {
    /// Every regime of the catalogue, in a stable order.
    pub const ALL: [Jurisdiction; 3] = [Jurisdiction::Gdpr, Jurisdiction::Fdpa, Jurisdiction::Dpdp];

    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Gdpr => "GDPR",
            Jurisdiction::Fdpa => "FDPA",
            Jurisdiction::Dpdp => "DPDP",
        }
    }
}

impl std::fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to a Secret in a given namespace (used by cluster-scoped resources).
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Namespace of the Secret, in this region's cluster.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A reference to a Secret in the namespace of the referring resource.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the Secret, in the namespace of the referring resource.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}
