//! A renderer for `charts/regionstack`, for tests and the e2e suite: no helm binary can
//! be installed where regionstack is built, so this does what `helm template` does for
//! this chart, as faithfully as practical.
//!
//! What it does, in Helm's order:
//! 1. loads `Chart.yaml`, `values.yaml`, `values.schema.json`, `templates/` and `crds/`;
//! 2. merges user values onto values.yaml (`-f` files, `--set`, `--set-string`,
//!    `--set-json`, in the order given; maps merge deeply, `null` deletes a key);
//! 3. validates the merged values against values.schema.json (draft-07, the
//!    `jsonschema` crate), naming each offending value;
//! 4. renders every template not starting with `_` with the Go-template engine `gtmpl`
//!    and the context `.Values`, `.Release` (Name, Namespace, Service, IsInstall,
//!    IsUpgrade, Revision), `.Chart` (Name, Version, AppVersion, Description, Type,
//!    KubeVersion), `.Capabilities.KubeVersion` (Version, Major, Minor) and
//!    `.Template` (Name, BasePath), plus the functions in [`FUNCS`];
//!    `NOTES.txt` is rendered separately ([`Rendered::notes`]);
//! 5. blanks `<no value>` as Helm does, splits the output into YAML documents, drops
//!    empty ones, parses each, and sorts them in Helm's install order (by kind).
//!
//! What it does NOT cover compared with `helm template`:
//! - Sprig beyond the functions listed in [`FUNCS`]; Helm's `tpl`, `lookup`,
//!   `toToml`, `fromYaml`, `.Files`, `.Capabilities.APIVersions.Has` (a method), and
//!   `.Subcharts`. A chart using them fails to parse (unknown function) or to execute.
//! - Chart.yaml's `kubeVersion` constraint is not checked; `.Capabilities` is a fixed
//!   Kubernetes 1.31 without `APIVersions`.
//! - Subcharts, dependencies, library charts, `global` propagation, `--post-renderer`,
//!   hooks (`helm.sh/hook` annotations are rendered like any document), `--api-versions`,
//!   `--kube-version`, `--show-only`, `--validate`.
//! - Go-template details that gtmpl treats differently: `break`/`continue`, number
//!   truthiness of floats (`0.0` is true), printing of maps and arrays
//!   (`{{ .Values.someMap }}` is not Go's `map[...]`), `missingkey` options.
//! - `toYaml` uses serde_norway, so strings may be quoted differently from
//!   sigs.k8s.io/yaml (same data, different bytes); `quote` escapes like JSON rather
//!   than Go's `%q` for control and non-printable characters.
//! - `--set` ([`Values::set_arg`]) follows Helm's strvals for comma-separated
//!   assignments, `{a,b}` lists, `name[i]` indexes and `\` escapes, but not its rarer
//!   forms (`--set-file`, `--set-literal`, list-of-maps literals); list-index gaps fill
//!   with `null`.
//! - Kubernetes validation of the output (`helm install --dry-run` asks the API
//!   server). Tests apply the output to the emulator with `kubectl apply
//!   --dry-run=server` and for real, but the emulator stores built-in kinds without
//!   schema validation, so they also decode every object strictly into its k8s-openapi
//!   type (tests/render.rs).

mod funcs;
mod rendered;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gtmpl::Context;
use serde_json::{Value as Json, json};

pub use funcs::FUNCS;
use rendered::{INSTALL_ORDER, split_documents};
pub use rendered::{Manifest, Rendered};

/// Why a chart cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chart file is missing or unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A chart file or a values document is not valid YAML/JSON.
    #[error("{0}")]
    Parse(String),
    /// User values are malformed (a bad `--set` path).
    #[error("{0}")]
    Values(String),
    /// The merged values do not satisfy values.schema.json; one line per violation,
    /// each naming the value.
    #[error("values don't meet the specifications of the schema(s) in the following chart(s):\n{0}")]
    Schema(String),
    /// A template failed to parse or execute (`required`, an unknown function, a nil
    /// field).
    #[error("template: {template}: {message}")]
    Template {
        /// The template file, e.g. `regionstack/templates/deployment.yaml`.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// A rendered document is not valid YAML.
    #[error("YAML parse error on {template}: {message}")]
    Yaml {
        /// The template file.
        template: String,
        /// The parser's message.
        message: String,
    },
}

/// A loaded chart.
#[derive(Clone, Debug)]
pub struct Chart {
    dir: PathBuf,
    metadata: Json,
    defaults: Json,
    schema: Option<Json>,
    /// (path relative to the chart's parent, e.g. `regionstack/templates/x.yaml`, text).
    templates: Vec<(String, String)>,
    crds: Vec<(String, String)>,
}

/// The release being rendered (`.Release`).
#[derive(Clone, Debug)]
pub struct Release {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
}

impl Release {
    /// A release `name` installed into `namespace`.
    pub fn new(name: &str, namespace: &str) -> Self {
        Self { name: name.to_owned(), namespace: namespace.to_owned() }
    }
}

/// User values, accumulated into one map like Helm's `-f`/`--set` flags: a values file
/// merges deeply into it, a `--set` assigns one path inside it (so `a[0]=x` then
/// `a[1]=y` build one list). Applied in call order (Helm applies all `-f` first, then
/// `--set-json`, `--set`, `--set-string`).
#[derive(Clone, Debug)]
pub struct Values {
    user: Json,
    errors: Vec<String>,
}

impl Default for Values {
    fn default() -> Self {
        Self { user: json!({}), errors: Vec::new() }
    }
}

impl Values {
    /// No user values.
    pub fn new() -> Self {
        Self::default()
    }

    /// `--set path=value` (typed like Helm: booleans, integers, `null`, else a string).
    #[must_use]
    pub fn set(self, path: &str, value: &str) -> Self {
        self.set_json(path, values::typed_scalar(value))
    }

    /// One whole `--set` argument, as on Helm's command line: comma-separated
    /// assignments and `{a,b}` lists, e.g. `region=eu-west-1,operator.dpdpRestricted={CN,PK}`.
    #[must_use]
    pub fn set_arg(mut self, arg: &str) -> Self {
        match values::parse_set(arg, false) {
            Ok(assignments) => {
                for (path, value) in assignments {
                    self = self.set_json(&path, value);
                }
            }
            Err(e) => self.errors.push(e.to_string()),
        }
        self
    }

    /// `--set-string path=value`.
    #[must_use]
    pub fn set_string(self, path: &str, value: &str) -> Self {
        self.set_json(path, Json::String(value.to_owned()))
    }

    /// `--set-json path=<json>`.
    #[must_use]
    pub fn set_json(mut self, path: &str, value: Json) -> Self {
        if let Err(e) = values::set_path(&mut self.user, path, value) {
            self.errors.push(e.to_string());
        }
        self
    }

    /// `-f file.yaml`, given as its text.
    #[must_use]
    pub fn yaml(mut self, text: &str) -> Self {
        match serde_norway::from_str::<Json>(text) {
            Ok(Json::Null) => {}
            Ok(layer @ Json::Object(_)) => values::merge(&mut self.user, &layer),
            Ok(_) => self.errors.push("a values file must be a YAML map".to_owned()),
            Err(e) => self.errors.push(format!("values file: {e}")),
        }
        self
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(Error::Io { path: dir.to_owned(), source }),
    };
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

impl Chart {
    /// The workspace's `charts/regionstack`.
    pub fn regionstack() -> Result<Self, Error> {
        Self::load(&Self::regionstack_dir())
    }

    /// Where `charts/regionstack` is.
    pub fn regionstack_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/regionstack")
    }

    /// Load the chart in `dir`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let yaml = |path: &Path| -> Result<Json, Error> {
            serde_norway::from_str(&read(path)?).map_err(|e| Error::Parse(format!("{}: {e}", path.display())))
        };
        let metadata = yaml(&dir.join("Chart.yaml"))?;
        let name = metadata["name"].as_str().ok_or_else(|| Error::Parse("Chart.yaml has no name".into()))?.to_owned();
        let mut defaults = yaml(&dir.join("values.yaml"))?;
        if defaults.is_null() {
            defaults = json!({});
        }
        let schema_path = dir.join("values.schema.json");
        let schema = if schema_path.exists() {
            Some(
                serde_json::from_str(&read(&schema_path)?)
                    .map_err(|e| Error::Parse(format!("{}: {e}", schema_path.display())))?,
            )
        } else {
            None
        };
        let mut templates = Vec::new();
        for path in sorted_files(&dir.join("templates"))? {
            templates.push((format!("{name}/templates/{}", file_name(&path)), read(&path)?));
        }
        let mut crds = Vec::new();
        for path in sorted_files(&dir.join("crds"))? {
            crds.push((file_name(&path), read(&path)?));
        }
        Ok(Self { dir: dir.to_owned(), metadata, defaults, schema, templates, crds })
    }

    /// Render without checking values.schema.json, like `helm template
    /// --skip-schema-validation` (what the templates' own `required` checks are for).
    #[must_use]
    pub fn skip_schema_validation(mut self) -> Self {
        self.schema = None;
        self
    }

    /// The chart's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `Chart.yaml`'s `name`.
    pub fn name(&self) -> &str {
        self.metadata["name"].as_str().unwrap_or_default()
    }

    /// `Chart.yaml` as loaded.
    pub fn metadata(&self) -> &Json {
        &self.metadata
    }

    /// values.yaml as loaded.
    pub fn defaults(&self) -> &Json {
        &self.defaults
    }

    /// values.yaml merged with `user`, checked against values.schema.json.
    pub fn values(&self, user: &Values) -> Result<Json, Error> {
        if let Some(first) = user.errors.first() {
            return Err(Error::Values(first.clone()));
        }
        let mut merged = self.defaults.clone();
        values::merge(&mut merged, &user.user);
        if let Some(schema) = &self.schema {
            let validator = jsonschema::draft7::new(schema)
                .map_err(|e| Error::Parse(format!("{}/values.schema.json: {e}", self.name())))?;
            let problems: Vec<String> = validator
                .iter_errors(&merged)
                .map(|e| {
                    let path = e.instance_path().as_str().trim_start_matches('/').replace('/', ".");
                    let at = if path.is_empty() { "(root)".to_owned() } else { path };
                    format!("- {at}: {e}")
                })
                .collect();
            if !problems.is_empty() {
                return Err(Error::Schema(format!("{}:\n{}", self.name(), problems.join("\n"))));
            }
        }
        Ok(merged)
    }

    /// The top-level template context.
    fn context(&self, release: &Release, values: &Json) -> BTreeMap<&'static str, Json> {
        let m = &self.metadata;
        let field = |k: &str| m.get(k).cloned().unwrap_or(Json::String(String::new()));
        BTreeMap::from([
            ("Values", values.clone()),
            (
                "Release",
                json!({
                    "Name": release.name, "Namespace": release.namespace, "Service": "Helm",
                    "IsInstall": true, "IsUpgrade": false, "Revision": 1,
                }),
            ),
            (
                "Chart",
                json!({
                    "Name": field("name"), "Version": field("version"), "AppVersion": field("appVersion"),
                    "Description": field("description"), "Type": field("type"),
                    "KubeVersion": field("kubeVersion"), "ApiVersion": field("apiVersion"),
                }),
            ),
            ("Capabilities", json!({"KubeVersion": {"Version": "v1.31.0", "Major": "1", "Minor": "31"}})),
            ("Template", json!({"BasePath": format!("{}/templates", self.name())})),
        ])
    }

    /// Execute one template file.
    fn execute(&self, name: &str, text: &str, top: &BTreeMap<&str, Json>) -> Result<String, Error> {
        let mut ctx = top.clone();
        ctx.insert("Template", json!({"Name": name, "BasePath": format!("{}/templates", self.name())}));
        let fail = |message: String| Error::Template { template: name.to_owned(), message };
        funcs::with_sources(self.templates.clone(), || {
            let mut tmpl = funcs::template_set(name).map_err(fail)?;
            tmpl.parse(text.to_owned()).map_err(|e| fail(e.to_string()))?;
            let out = tmpl.render(&Context::from(funcs::context(&ctx))).map_err(|e| fail(e.to_string()))?;
            Ok(out.replace("<no value>", ""))
        })
    }

    /// Render the chart for `release` with `user` values.
    pub fn render(&self, release: &Release, user: &Values) -> Result<Rendered, Error> {
        let values = self.values(user)?;
        let top = self.context(release, &values);
        let mut manifests = Vec::new();
        let mut notes = String::new();
        for (name, text) in &self.templates {
            let base = name.rsplit('/').next().unwrap_or_default();
            if base.starts_with('_') {
                continue;
            }
            let out = self.execute(name, text, &top)?;
            if base == "NOTES.txt" {
                notes = out;
                continue;
            }
            manifests.extend(split_documents(name, &out)?);
        }
        let rank = |kind: &str| INSTALL_ORDER.iter().position(|k| *k == kind).unwrap_or(INSTALL_ORDER.len());
        // Stable: within a kind, the order of the template files (Helm sorts by name
        // within a kind; file order matches for one object per file).
        manifests.sort_by_key(|m| rank(m.kind()));
        Ok(Rendered { manifests, crds: self.crds.clone(), notes, values })
    }
}

/// Render one template `text` (which may `define` templates for `include`) with `data`
/// as `.`, with the same functions and `<no value>` handling as a chart render: for
/// testing the functions, and for one-off snippets.
pub fn render_str(text: &str, data: &Json) -> Result<String, Error> {
    let name = "<string>";
    let fail = |message: String| Error::Template { template: name.to_owned(), message };
    funcs::with_sources(vec![(name.to_owned(), text.to_owned())], || {
        let mut tmpl = funcs::template_set(name).map_err(fail)?;
        if !text.contains("define") {
            tmpl.parse(text.to_owned()).map_err(|e| fail(e.to_string()))?;
        }
        let out = tmpl.render(&Context::from(values::to_gtmpl(data))).map_err(|e| fail(e.to_string()))?;
        Ok(out.replace("<no value>", ""))
    })
}
