//! Reading Kubernetes manifests from files and directories into typed regionstack
//! objects. Used by `regionstack check`; other kinds are skipped, `kind: List` is
//! flattened, and every error names the file and the document's index (0-based, as
//! `kubectl` counts documents in a stream).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regionstack_api::{API_VERSION, GROUP, PiiDatabase, Region, TelemetryReplica};
use serde::Deserialize;
use serde_json::Value;

/// The regionstack objects found in a set of manifests.
#[derive(Debug, Default)]
pub struct Manifests {
    /// Regions.
    pub regions: Vec<Region>,
    /// PiiDatabases.
    pub pii_databases: Vec<PiiDatabase>,
    /// TelemetryReplicas.
    pub replicas: Vec<TelemetryReplica>,
    /// Number of files read.
    pub files: usize,
}

impl Manifests {
    /// Number of regionstack objects.
    pub fn len(&self) -> usize {
        self.regions.len() + self.pii_databases.len() + self.replicas.len()
    }

    /// True when no regionstack object was found.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A problem with the input: unreadable file, malformed YAML, invalid object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file concerned.
    pub file: PathBuf,
    /// Index of the YAML document in the file, when the problem is inside one.
    pub document: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.document {
            Some(i) => write!(f, "{}: document {i}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The name of the file that lists directory entries `check` skips.
pub const IGNORE_FILE: &str = ".regionstackignore";

/// Expand paths into the manifest files to read, in a stable order. Directories are
/// walked recursively for `.yaml`, `.yml` and `.json` files; explicitly named files are
/// always read whatever their extension.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| InputError {
            file: path.clone(),
            document: None,
            message: format!("cannot read: {e}"),
        })?;
        if meta.is_file() {
            files.push(path.clone());
            continue;
        }
        let mut ignored: Vec<PathBuf> = Vec::new();
        let walker = walkdir::WalkDir::new(path).sort_by_file_name().into_iter();
        let mut it = walker;
        while let Some(entry) = it.next() {
            let entry = entry.map_err(|e| InputError {
                file: e.path().map_or_else(|| path.clone(), Path::to_path_buf),
                document: None,
                message: format!("cannot read: {e}"),
            })?;
            let p = entry.path();
            if ignored.iter().any(|i| p.starts_with(i)) {
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            if entry.file_type().is_dir() {
                ignored.extend(read_ignore_file(p)?);
                continue;
            }
            let is_manifest =
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            if entry.file_type().is_file() && is_manifest {
                files.push(p.to_path_buf());
            }
        }
    }
    Ok(files)
}

fn read_ignore_file(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let file = dir.join(IGNORE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| dir.join(l.trim_end_matches('/')))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(InputError { file, document: None, message: format!("cannot read: {e}") }),
    }
}

/// Read every file; returns the objects or every input error found.
pub fn load(paths: &[PathBuf]) -> Result<Manifests, Vec<InputError>> {
    let files = collect_files(paths).map_err(|e| vec![e])?;
    let mut out = Manifests { files: files.len(), ..Manifests::default() };
    let mut errors = Vec::new();
    // (kind, namespace, name) -> where it was first defined, to refuse redefinitions.
    let mut seen: BTreeMap<(String, Option<String>, String), (PathBuf, usize)> = BTreeMap::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(InputError { file: file.clone(), document: None, message: format!("cannot read: {e}") });
                continue;
            }
        };
        for (index, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let err = |message: String| InputError { file: file.clone(), document: Some(index), message };
            let value = match Value::deserialize(doc) {
                Ok(v) => v,
                Err(e) => {
                    // After a syntax error the stream cannot be resynchronised.
                    errors.push(err(format!("malformed YAML: {e}")));
                    break;
                }
            };
            let items = match value {
                Value::Null => continue,
                Value::Object(ref map)
                    if map.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) =>
                {
                    map.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
                }
                Value::Object(_) => vec![value],
                _ => {
                    errors.push(err("a manifest must be a mapping with apiVersion and kind".to_owned()));
                    continue;
                }
            };
            for item in items {
                if let Err(message) = add_object(item, &mut out, &mut seen, file, index) {
                    errors.push(err(message));
                }
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn typed<T: serde::de::DeserializeOwned>(kind: &str, value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("invalid {kind}: {}", e.inner())
        } else {
            format!("invalid {kind}: {path}: {}", e.inner())
        }
    })
}

fn add_object(
    value: Value,
    out: &mut Manifests,
    seen: &mut BTreeMap<(String, Option<String>, String), (PathBuf, usize)>,
    file: &Path,
    index: usize,
) -> Result<(), String> {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    if api_version.is_empty() || kind.is_empty() {
        return Err("a manifest must have apiVersion and kind".to_owned());
    }
    if api_version.split('/').next() != Some(GROUP) {
        return Ok(()); // another API group: not ours to judge
    }
    if api_version != API_VERSION {
        return Err(format!("{api_version} is not served by this version of regionstack (expected {API_VERSION})"));
    }
    let meta = value.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default().to_owned();
    if name.is_empty() {
        return Err(format!("{kind} has no metadata.name"));
    }
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).map(str::to_owned);
    let key = (kind.clone(), namespace.clone(), name.clone());
    if let Some((first_file, first_index)) = seen.get(&key) {
        return Err(format!(
            "{kind} {} is already defined in {} document {first_index}",
            namespace.map_or(name.clone(), |ns| format!("{ns}/{name}")),
            first_file.display()
        ));
    }
    match kind.as_str() {
        "Region" => out.regions.push(typed(&kind, value)?),
        "PiiDatabase" => out.pii_databases.push(typed(&kind, value)?),
        "TelemetryReplica" => out.replicas.push(typed(&kind, value)?),
        other => return Err(format!("{other} is not a kind of {GROUP}")),
    }
    seen.insert(key, (file.to_path_buf(), index));
    Ok(())
}
