//! The manifests the topology applies (by default the repository's `examples/`,
//! embedded at build time so that the demo binary runs from anywhere) and what the
//! topology reads from them to provide the secrets they refer to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize as _;
use serde_json::Value;

/// The seed topology's manifests, `examples/*.yaml` at build time: file name and text.
pub const SEED: [(&str, &str); 4] = [
    ("00-namespaces.yaml", include_str!("../../../../examples/00-namespaces.yaml")),
    ("regions.yaml", include_str!("../../../../examples/regions.yaml")),
    ("pii-databases.yaml", include_str!("../../../../examples/pii-databases.yaml")),
    ("telemetry-replicas.yaml", include_str!("../../../../examples/telemetry-replicas.yaml")),
];

/// The regions of the seed topology, as `examples/regions.yaml` declares them.
pub const SEED_REGIONS: [&str; 3] = ["eu-west-1", "eu-west-3", "ap-south-1"];

/// Where the manifests come from.
#[derive(Clone, Debug, Default)]
pub enum Manifests {
    /// [`SEED`]: the repository's `examples/` as built into the binary.
    #[default]
    Seed,
    /// The `*.yaml` / `*.yml` files directly in a directory (not recursive, like
    /// `kubectl apply -f DIR`), in file-name order.
    Dir(PathBuf),
}

impl Manifests {
    /// File name and text of every manifest file.
    pub fn files(&self) -> anyhow::Result<Vec<(String, String)>> {
        match self {
            Manifests::Seed => Ok(SEED.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned())).collect()),
            Manifests::Dir(dir) => read_dir(dir),
        }
    }
}

fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let yaml = path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml");
        if yaml && path.is_file() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            files.push((name, text));
        }
    }
    files.sort();
    Ok(files)
}

/// Every document of the files, as JSON (empty documents skipped).
pub fn documents(files: &[(String, String)]) -> anyhow::Result<Vec<Value>> {
    let mut docs = Vec::new();
    for (name, text) in files {
        for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize(doc).with_context(|| format!("{name}: document {index}"))?;
            if !value.is_null() {
                docs.push(value);
            }
        }
    }
    Ok(docs)
}

/// A Secret the manifests refer to, to be provided in one region's cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretNeed {
    /// A Region's telemetry admin connection (in that region's cluster).
    TelemetryAdmin {
        /// The region.
        region: String,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// An external PiiDatabase's connection (in its region's cluster).
    PiiAdmin {
        /// The region.
        region: String,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// A managed PiiDatabase's backup object-store credentials (a placeholder here).
    BackupCredentials {
        /// The region.
        region: String,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// A TelemetryReplica's replication login (the same in the source and every
    /// target cluster).
    Replication {
        /// The replica.
        replica: String,
        /// Namespace of the Secret (the replica's).
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// Source and target regions: the clusters that get the Secret.
        regions: BTreeSet<String>,
    },
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The Secrets the documents refer to.
pub fn secret_needs(docs: &[Value]) -> Vec<SecretNeed> {
    let mut needs = BTreeSet::new();
    for doc in docs {
        let name = text(doc, "/metadata/name").unwrap_or_default().to_owned();
        let namespace = text(doc, "/metadata/namespace").unwrap_or("default").to_owned();
        match text(doc, "/kind") {
            Some("Region") => {
                if let (Some(ns), Some(secret)) = (
                    text(doc, "/spec/telemetry/connectionSecretRef/namespace"),
                    text(doc, "/spec/telemetry/connectionSecretRef/name"),
                ) {
                    needs.insert(SecretNeed::TelemetryAdmin {
                        region: name,
                        namespace: ns.to_owned(),
                        name: secret.to_owned(),
                    });
                }
            }
            Some("PiiDatabase") => {
                let region = text(doc, "/spec/region").unwrap_or_default().to_owned();
                if let Some(secret) = text(doc, "/spec/external/connectionSecretRef/name") {
                    needs.insert(SecretNeed::PiiAdmin {
                        region: region.clone(),
                        namespace: namespace.clone(),
                        name: secret.to_owned(),
                    });
                }
                if let Some(secret) = text(doc, "/spec/managed/backup/objectStore/credentialsSecretRef/name") {
                    needs.insert(SecretNeed::BackupCredentials { region, namespace, name: secret.to_owned() });
                }
            }
            Some("TelemetryReplica") => {
                let Some(secret) = text(doc, "/spec/replicationCredentials/name") else { continue };
                let mut regions = BTreeSet::new();
                regions.extend(text(doc, "/spec/source/region").map(str::to_owned));
                for target in doc.pointer("/spec/targets").and_then(Value::as_array).into_iter().flatten() {
                    regions.extend(text(target, "/region").map(str::to_owned));
                }
                needs.insert(SecretNeed::Replication { replica: name, namespace, name: secret.to_owned(), regions });
            }
            _ => {}
        }
    }
    needs.into_iter().collect()
}

/// Names of the Regions among the documents that declare `spec.telemetry` (their
/// publisher endpoint is pointed at the local telemetry server).
pub fn regions_with_telemetry(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .filter(|doc| text(doc, "/kind") == Some("Region") && doc.pointer("/spec/telemetry").is_some())
        .filter_map(|doc| text(doc, "/metadata/name").map(str::to_owned))
        .collect()
}

/// The login name of a replica's replication Secret: `rs_repl_<replica>` with
/// characters other than ASCII letters and digits replaced by `_`, at most 63 bytes.
pub fn replication_login(replica: &str) -> String {
    let mut login: String = format!("rs_repl_{replica}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    login.truncate(63);
    login
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_needs_these_secrets() {
        let files = Manifests::Seed.files().unwrap();
        let docs = documents(&files).unwrap();
        assert_eq!(docs.len(), 2 + 3 + 2 + 2);
        let needs = secret_needs(&docs);
        let telemetry: Vec<_> = needs.iter().filter(|n| matches!(n, SecretNeed::TelemetryAdmin { .. })).collect();
        assert_eq!(telemetry.len(), 2, "{needs:#?}");
        assert!(needs.contains(&SecretNeed::PiiAdmin {
            region: "eu-west-3".into(),
            namespace: "customers".into(),
            name: "customers-eu-west-3-admin".into()
        }));
        assert!(needs.contains(&SecretNeed::Replication {
            replica: "device-metrics-eu-west-1".into(),
            namespace: "telemetry".into(),
            name: "device-metrics-eu-west-1-replication".into(),
            regions: ["eu-west-1".to_owned(), "eu-west-3".to_owned()].into(),
        }));
        assert!(needs.iter().any(|n| matches!(n, SecretNeed::BackupCredentials { name, .. } if name == "backup-s3")));
        assert_eq!(regions_with_telemetry(&docs), ["eu-west-1", "eu-west-3"]);
    }

    #[test]
    fn logins_are_plain_identifiers() {
        assert_eq!(replication_login("device-metrics-eu-west-1"), "rs_repl_device_metrics_eu_west_1");
        assert_eq!(replication_login(&"x".repeat(100)).len(), 63);
    }
}
