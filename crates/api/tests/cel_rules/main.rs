//! The CEL rules (`x-kubernetes-validations`) of the generated CRDs, evaluated
//! client-side with kube-cel's `Validator` against the generated `openAPIV3Schema`:
//! every rule accepts a valid object and rejects the violating one, with the message
//! and field path the API server would report. The structural constraints the API
//! server checks without CEL (enums, ranges, list sizes) are asserted on the schema,
//! and `ColumnRule::resolve()` — the offline check — must agree with both.

mod columns;
#[path = "../common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::collections::HashMap;

use common::{PII_EXTERNAL, PII_MINIMAL, REPLICA_FULL, REPLICA_MINIMAL, node, schema_of, yaml_to_json};
use kube::core::cel::{
    CompiledSchema, ErrorKind, ScopeContext, ValidationError, Validator, WarningKind, analyze_rule, compile_schema,
};
use regionstack_api::telemetry::TimeUnit;
use regionstack_api::{ColumnClass, ColumnRule, Jurisdiction, Lifecycle, TransformKind};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// Harness

/// Validate `object` (and `old` for an update) against the CEL rules of `kind`.
/// Returns every failure; any failure that is not a plain `false` verdict (a rule
/// that does not compile, errors at runtime or uses something kube-cel lacks) fails
/// the test, so a rejection can never come from a broken rule.
fn cel_errors(kind: &str, object: &Value, old: Option<&Value>) -> Vec<ValidationError> {
    thread_local! {
        // Generating the schemas and compiling their rules dominates the run time of
        // the parameter matrix; do it once per kind and test thread.
        static COMPILED: RefCell<HashMap<String, CompiledSchema>> = RefCell::new(HashMap::new());
        static VALIDATOR: Validator = Validator::new();
    }
    let verdict = COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let schema = compiled.entry(kind.to_owned()).or_insert_with(|| compile_schema(&schema_of(kind)));
        VALIDATOR.with(|validator| validator.validate_compiled(schema, object, old))
    });
    match verdict {
        Ok(()) => Vec::new(),
        Err(errors) => {
            for e in &errors {
                assert_eq!(
                    e.kind,
                    ErrorKind::ValidationFailure,
                    "{kind}: rule {:?} could not be evaluated: {e}",
                    e.rule
                );
            }
            errors.into_vec()
        }
    }
}

fn assert_accepted(kind: &str, object: &Value, old: Option<&Value>) {
    let errors = cel_errors(kind, object, old);
    assert!(errors.is_empty(), "{kind}: expected acceptance, got {errors:#?}");
}

/// Assert exactly one failure, with this message at this field path.
fn assert_rejected(kind: &str, object: &Value, old: Option<&Value>, message: &str, field_path: &str) {
    let errors = cel_errors(kind, object, old);
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.message.as_str(), e.field_path.as_str())).collect();
    assert_eq!(got, [(message, field_path)], "{kind}: unexpected verdict");
}

/// Every `x-kubernetes-validations` entry below `schema`: (schema path, rule, message).
fn rules(schema: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    if let Some(validations) = schema.get("x-kubernetes-validations").and_then(Value::as_array) {
        for v in validations {
            out.push((
                path.to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
                v["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            rules(child, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        rules(items, &format!("{path}[]"), out);
    }
}

const EXACTLY_ONE: &str = "exactly one of managed or external must be set";
const IMMUTABLE: &str = "region is immutable";
const DUPLICATE_TARGET: &str = "a target region is listed more than once";
const UNIT: &str = "unit is required with transform truncateTime and allowed with no other";
const IP_BITS: &str = "ipv4Bits and ipv6Bits are required with transform ipPrefix and allowed with no other";
const DIGITS: &str = "digits is required with transform round and allowed with no other";
const CHARACTERS: &str = "characters is required with transform prefix and allowed with no other";

const COLUMN: &str = "spec.tables[].columns[]";

/// The complete inventory of CEL rules. A rule added to the types without a test here
/// fails `every_cel_rule_is_known_and_tested`.
fn expected_rules() -> Vec<(String, &'static str, &'static str)> {
    vec![
        ("PiiDatabase.spec".into(), "has(self.managed) != has(self.external)", EXACTLY_ONE),
        ("PiiDatabase.spec.region".into(), "self == oldSelf", IMMUTABLE),
        (
            "TelemetryReplica.spec.targets".into(),
            "self.all(t, self.exists_one(u, u.region == t.region))",
            DUPLICATE_TARGET,
        ),
        (
            format!("TelemetryReplica.{COLUMN}"),
            "self.transform == 'truncateTime' ? has(self.unit) : !has(self.unit)",
            UNIT,
        ),
        (
            format!("TelemetryReplica.{COLUMN}"),
            "self.transform == 'ipPrefix' ? (has(self.ipv4Bits) && has(self.ipv6Bits)) : !(has(self.ipv4Bits) || has(self.ipv6Bits))",
            IP_BITS,
        ),
        (
            format!("TelemetryReplica.{COLUMN}"),
            "self.transform == 'round' ? has(self.digits) : !has(self.digits)",
            DIGITS,
        ),
        (
            format!("TelemetryReplica.{COLUMN}"),
            "self.transform == 'prefix' ? has(self.characters) : !has(self.characters)",
            CHARACTERS,
        ),
    ]
}

// ---------------------------------------------------------------------------------
// Inventory, compilation, static analysis

#[test]
fn every_cel_rule_is_known_and_tested() {
    let mut found = Vec::new();
    for kind in ["Region", "PiiDatabase", "TelemetryReplica"] {
        rules(&schema_of(kind), kind, &mut found);
    }
    let mut expected: Vec<(String, String, String)> =
        expected_rules().into_iter().map(|(p, r, m)| (p, r.to_owned(), m.to_owned())).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "the CEL rules of the CRDs changed: update the tests in cel_rules.rs");
}

/// Variables bound by the comprehension macros of a rule (`self.all(t, ...)` binds `t`).
fn comprehension_variables(rule: &str) -> Vec<String> {
    let mut vars = Vec::new();
    for mac in ["all(", "exists(", "exists_one(", "map(", "filter("] {
        for (i, _) in rule.match_indices(mac) {
            if rule[..i].ends_with('.') {
                let rest = &rule[i + mac.len()..];
                if let Some(var) = rest.split(',').next() {
                    vars.push(var.trim().to_owned());
                }
            }
        }
    }
    vars
}

/// Every rule compiles with kube-cel, uses only `self`/`oldSelf` (and its own
/// comprehension variables), and has bounded cost: the lists and strings it iterates
/// have `maxItems`/`maxLength`.
///
/// kube-cel's scope check reports the variables of comprehension macros as
/// out-of-scope (it looks at every identifier of the expression), so those are
/// filtered out here; any other identifier is still reported.
#[test]
fn every_rule_compiles_and_passes_static_analysis() {
    fn check(compiled: &CompiledSchema, schema: &Value, path: &str, problems: &mut Vec<String>) {
        for error in compiled.compilation_errors() {
            problems.push(format!("{path}: {error:?}"));
        }
        if let Some(validations) = schema.get("x-kubernetes-validations").and_then(Value::as_array) {
            for v in validations {
                let rule = v["rule"].as_str().unwrap();
                let bound = comprehension_variables(rule);
                for warning in analyze_rule(rule, compiled, ScopeContext::CrdValidation) {
                    let is_bound_variable = warning.kind == WarningKind::WrongScope
                        && bound.iter().any(|var| warning.message.starts_with(&format!("variable '{var}' ")));
                    if !is_bound_variable {
                        problems.push(format!("{path}: {rule}: {:?} {}", warning.kind, warning.message));
                    }
                }
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, child) in properties {
                check(&compiled.properties[name], child, &format!("{path}.{name}"), problems);
            }
        }
        if let (Some(items), Some(compiled_items)) = (schema.get("items"), compiled.items.as_deref()) {
            check(compiled_items, items, &format!("{path}[]"), problems);
        }
    }
    let mut problems = Vec::new();
    for kind in ["Region", "PiiDatabase", "TelemetryReplica"] {
        let schema = schema_of(kind);
        check(&compile_schema(&schema), &schema, kind, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn scope_filter_keeps_foreign_variables() {
    // The filter above only forgives a rule's own comprehension variables.
    assert_eq!(comprehension_variables("self.all(t, self.exists_one(u, u.region == t.region))"), ["t", "u"]);
    let warnings = kube::core::cel::check_rule_scope("self.all(t, object.x == t)", ScopeContext::CrdValidation);
    assert!(warnings.iter().any(|w| w.message.starts_with("variable 'object' ")), "{warnings:?}");
}

#[test]
fn sample_manifests_pass_every_rule() {
    assert_accepted("Region", &yaml_to_json(common::REGION_FULL), None);
    assert_accepted("Region", &yaml_to_json(common::REGION_MINIMAL), None);
    assert_accepted("PiiDatabase", &yaml_to_json(common::PII_FULL), None);
    assert_accepted("PiiDatabase", &yaml_to_json(PII_MINIMAL), None);
    assert_accepted("PiiDatabase", &yaml_to_json(PII_EXTERNAL), None);
    assert_accepted("TelemetryReplica", &yaml_to_json(REPLICA_FULL), None);
    assert_accepted("TelemetryReplica", &yaml_to_json(REPLICA_MINIMAL), None);
}

/// The tests evaluate a schema compiled once per kind; the one-shot
/// `Validator::validate` on the raw `openAPIV3Schema` gives the same verdicts.
#[test]
fn one_shot_and_compiled_validation_agree() {
    let mut both = yaml_to_json(PII_MINIMAL);
    both["spec"]["external"] = json!({"connectionSecretRef": {"name": "db"}});
    let mut moved = yaml_to_json(PII_MINIMAL);
    moved["spec"]["region"] = json!("eu-central-1");
    let old = yaml_to_json(PII_MINIMAL);
    let cases: [(&str, Value, Option<&Value>); 4] = [
        ("PiiDatabase", both, None),
        ("PiiDatabase", moved, Some(&old)),
        ("TelemetryReplica", replica_with_targets(&["a", "a"]), None),
        ("TelemetryReplica", yaml_to_json(REPLICA_FULL), None),
    ];
    for (kind, object, old) in cases {
        let one_shot = Validator::new()
            .validate(&schema_of(kind), &object, old)
            .err()
            .map(kube::core::cel::ValidationErrors::into_vec)
            .unwrap_or_default();
        assert_eq!(one_shot, cel_errors(kind, &object, old), "{kind}: {object}");
    }
}

// ---------------------------------------------------------------------------------
// PiiDatabase

#[test]
fn pii_database_accepts_managed_or_external() {
    assert_accepted("PiiDatabase", &yaml_to_json(PII_MINIMAL), None);
    assert_accepted("PiiDatabase", &yaml_to_json(PII_EXTERNAL), None);
}

#[test]
fn pii_database_rejects_both_managed_and_external() {
    let mut both = yaml_to_json(PII_MINIMAL);
    both["spec"]["external"] = json!({"connectionSecretRef": {"name": "db"}});
    assert_rejected("PiiDatabase", &both, None, EXACTLY_ONE, "spec");
}

#[test]
fn pii_database_rejects_neither_managed_nor_external() {
    let mut neither = yaml_to_json(PII_MINIMAL);
    neither["spec"].as_object_mut().unwrap().remove("managed");
    assert_rejected("PiiDatabase", &neither, None, EXACTLY_ONE, "spec");
}

#[test]
fn pii_database_region_is_immutable() {
    let old = yaml_to_json(PII_MINIMAL);

    // Unchanged region, other fields edited: accepted.
    let mut same = old.clone();
    same["spec"]["enforcement"] = json!("Audit");
    same["spec"]["managed"]["instances"] = json!(5);
    assert_accepted("PiiDatabase", &same, Some(&old));

    // Changed region: rejected at spec.region.
    let mut moved = old.clone();
    moved["spec"]["region"] = json!("eu-central-1");
    assert_rejected("PiiDatabase", &moved, Some(&old), IMMUTABLE, "spec.region");

    // A transition rule does not apply on create.
    assert_accepted("PiiDatabase", &moved, None);
}

#[test]
fn pii_database_update_reports_every_broken_rule() {
    let old = yaml_to_json(PII_MINIMAL);
    let mut bad = old.clone();
    bad["spec"]["region"] = json!("eu-central-1");
    bad["spec"].as_object_mut().unwrap().remove("managed");
    let errors = cel_errors("PiiDatabase", &bad, Some(&old));
    let mut got: Vec<(&str, &str)> = errors.iter().map(|e| (e.message.as_str(), e.field_path.as_str())).collect();
    got.sort_unstable();
    assert_eq!(got, [(EXACTLY_ONE, "spec"), (IMMUTABLE, "spec.region")]);
}

// ---------------------------------------------------------------------------------
// TelemetryReplica targets

fn replica_with_targets(regions: &[&str]) -> Value {
    let mut replica = yaml_to_json(REPLICA_MINIMAL);
    replica["spec"]["targets"] = regions.iter().map(|r| json!({"region": r})).collect();
    replica
}

#[test]
fn telemetry_replica_accepts_distinct_targets() {
    assert_accepted("TelemetryReplica", &replica_with_targets(&["us-east-1"]), None);
    assert_accepted("TelemetryReplica", &replica_with_targets(&["us-east-1", "ap-south-1", "eu-central-1"]), None);
}

#[test]
fn telemetry_replica_rejects_duplicate_target_regions() {
    assert_rejected(
        "TelemetryReplica",
        &replica_with_targets(&["us-east-1", "us-east-1"]),
        None,
        DUPLICATE_TARGET,
        "spec.targets",
    );
    assert_rejected(
        "TelemetryReplica",
        &replica_with_targets(&["us-east-1", "ap-south-1", "us-east-1"]),
        None,
        DUPLICATE_TARGET,
        "spec.targets",
    );
    // Same region, different destinations: still the same region twice.
    let mut replica = replica_with_targets(&["us-east-1", "us-east-1"]);
    replica["spec"]["targets"][1]["destination"] = json!("analytics.other");
    assert_rejected("TelemetryReplica", &replica, None, DUPLICATE_TARGET, "spec.targets");
}
