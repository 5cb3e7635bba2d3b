//! `regionstack check`: evaluate manifests with the same policy the operator uses and
//! report violations in a form CI pipelines can gate on.

use std::fmt::Write as _;
use std::path::PathBuf;

use regionstack_policy::{Catalogue, Verdict, World, evaluate_world};
use serde::Serialize;

use crate::manifests::{self, InputError, Manifests};

/// One violation, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Kind of the object.
    pub kind: &'static str,
    /// Namespace, when the manifest gives one (never for Regions).
    pub namespace: Option<String>,
    /// Name of the object.
    pub name: String,
    /// Stable reason code.
    pub code: &'static str,
    /// Explanation.
    pub message: String,
}

/// What a check run found.
#[derive(Debug)]
pub enum Outcome {
    /// Every manifest was read; the verdicts (empty list = compliant).
    Checked {
        /// Violations in input order.
        violations: Vec<Violation>,
        /// Objects judged.
        objects: usize,
        /// Files read.
        files: usize,
    },
    /// The input could not be read or parsed; nothing was judged.
    InputErrors(Vec<InputError>),
}

impl Outcome {
    /// 0 compliant, 1 violations, 2 unreadable or invalid input.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Checked { violations, .. } if violations.is_empty() => 0,
            Outcome::Checked { .. } => 1,
            Outcome::InputErrors(_) => 2,
        }
    }
}

/// Load and judge the manifests under `paths`.
pub fn run(paths: &[PathBuf], catalogue: &Catalogue) -> Outcome {
    match manifests::load(paths) {
        Ok(m) => judge(&m, catalogue),
        Err(errors) => Outcome::InputErrors(errors),
    }
}

/// Judge already loaded manifests.
pub fn judge(m: &Manifests, catalogue: &Catalogue) -> Outcome {
    let world = World { regions: &m.regions, pii_databases: &m.pii_databases, replicas: &m.replicas };
    let violations = evaluate_world(world, catalogue).into_iter().flat_map(violations_of).collect();
    Outcome::Checked { violations, objects: m.len(), files: m.files }
}

fn violations_of(v: Verdict) -> impl Iterator<Item = Violation> {
    let Verdict { kind, namespace, name, findings } = v;
    findings.into_iter().map(move |f| Violation {
        kind: kind.as_str(),
        namespace: namespace.clone(),
        name: name.clone(),
        code: f.code.as_str(),
        message: f.message,
    })
}

/// Text output: one line per violation or input error, then a summary line.
pub fn render_text(outcome: &Outcome) -> String {
    let mut out = String::new();
    match outcome {
        Outcome::Checked { violations, objects, files } => {
            for v in violations {
                let object = match &v.namespace {
                    Some(ns) => format!("{ns}/{}", v.name),
                    None => v.name.clone(),
                };
                let _ = writeln!(out, "{} {object}: {}: {}", v.kind, v.code, v.message);
            }
            if violations.is_empty() {
                let _ = writeln!(out, "compliant: {objects} regionstack objects in {files} files");
            } else {
                let mut affected: Vec<_> = violations.iter().map(|v| (v.kind, &v.namespace, &v.name)).collect();
                affected.dedup();
                let _ = writeln!(
                    out,
                    "{} in {} of {objects} regionstack objects ({files} files)",
                    plural(violations.len(), "violation"),
                    affected.len()
                );
            }
        }
        Outcome::InputErrors(errors) => {
            for e in errors {
                let _ = writeln!(out, "error: {e}");
            }
            let _ = writeln!(out, "{}; nothing was checked", plural(errors.len(), "input error"));
        }
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// JSON output: `{"violations":[...]}`; input errors as `{"errors":[{"file","document","message"}]}`.
pub fn render_json(outcome: &Outcome) -> String {
    let value = match outcome {
        Outcome::Checked { violations, .. } => serde_json::json!({ "violations": violations }),
        Outcome::InputErrors(errors) => serde_json::json!({
            "errors": errors.iter().map(|e| serde_json::json!({
                "file": e.file.display().to_string(),
                "document": e.document,
                "message": e.message,
            })).collect::<Vec<_>>()
        }),
    };
    format!("{value}\n")
}
