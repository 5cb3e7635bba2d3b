//! The CEL rules (`x-kubernetes-validations`) of the generated CRDs, evaluated
//! client-side with kube-cel's `Validator` against the generated `openAPIV3Schema`:
//! every rule accepts a valid object and rejects the violating one, with the message
//! and field path the API server would report. The structural constraints the API
//! server checks without CEL (enums, ranges, list sizes) are asserted on the schema,
//! and `ColumnRule::resolve()` — the offline check — must agree with both.

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

// ---------------------------------------------------------------------------------
// ColumnRule parameters

/// A TelemetryReplica whose only column is `column`.
fn replica_with_column(column: &Value) -> Value {
    let mut replica = yaml_to_json(REPLICA_MINIMAL);
    replica["spec"]["tables"][0]["columns"] = json!([column]);
    replica
}

/// A `quasi` column named `c` with this transform and parameters.
fn column(transform: &str, params: &[(&str, Value)]) -> Value {
    let mut c = json!({"name": "c", "class": "quasi", "transform": transform});
    for (name, value) in params {
        c[*name] = value.clone();
    }
    c
}

const AT: &str = "spec.tables[0].columns[0]";

/// CEL verdict on a single column: the failing messages, sorted.
fn column_cel_messages(column: &Value) -> Vec<String> {
    let mut messages: Vec<String> =
        cel_errors("TelemetryReplica", &replica_with_column(column), None).into_iter().map(|e| e.message).collect();
    messages.sort();
    messages
}

/// The offline verdict on the same column.
fn column_resolves(column: &Value) -> bool {
    let rule: ColumnRule = serde_json::from_value(column.clone()).expect("column deserializes into ColumnRule");
    rule.resolve().is_ok()
}

fn assert_column_accepted(column: &Value) {
    assert_accepted("TelemetryReplica", &replica_with_column(column), None);
    let rule: ColumnRule = serde_json::from_value(column.clone()).unwrap();
    assert!(rule.resolve().is_ok(), "resolve() rejects {column} that CEL accepts: {:?}", rule.resolve());
}

fn assert_column_rejected(column: &Value, message: &str, field_path: &str) {
    assert_rejected("TelemetryReplica", &replica_with_column(column), None, message, field_path);
    assert!(!column_resolves(column), "resolve() accepts {column} that CEL rejects");
}

#[test]
fn unit_only_with_truncate_time() {
    let unit = ("unit", json!("hour"));
    assert_column_accepted(&column("truncateTime", std::slice::from_ref(&unit)));
    assert_column_rejected(&column("truncateTime", &[]), UNIT, &format!("{AT}.unit"));
    assert_column_rejected(&column("hash", std::slice::from_ref(&unit)), UNIT, &format!("{AT}.unit"));
    assert_column_rejected(&column("keep", &[unit]), UNIT, &format!("{AT}.unit"));
}

#[test]
fn ip_bits_only_with_ip_prefix() {
    let v4 = ("ipv4Bits", json!(24));
    let v6 = ("ipv6Bits", json!(48));
    // The rule has no fieldPath, so the API server reports it on the column itself.
    assert_column_accepted(&column("ipPrefix", &[v4.clone(), v6.clone()]));
    assert_column_rejected(&column("ipPrefix", &[]), IP_BITS, AT);
    assert_column_rejected(&column("ipPrefix", std::slice::from_ref(&v4)), IP_BITS, AT);
    assert_column_rejected(&column("ipPrefix", std::slice::from_ref(&v6)), IP_BITS, AT);
    assert_column_rejected(&column("drop", std::slice::from_ref(&v4)), IP_BITS, AT);
    assert_column_rejected(&column("drop", std::slice::from_ref(&v6)), IP_BITS, AT);
    assert_column_rejected(&column("hash", &[v4, v6]), IP_BITS, AT);
}

#[test]
fn digits_only_with_round() {
    let digits = ("digits", json!(-2));
    assert_column_accepted(&column("round", std::slice::from_ref(&digits)));
    // Zero digits is a value, not an absence.
    assert_column_accepted(&column("round", &[("digits", json!(0))]));
    assert_column_rejected(&column("round", &[]), DIGITS, &format!("{AT}.digits"));
    assert_column_rejected(&column("keep", &[digits]), DIGITS, &format!("{AT}.digits"));
}

#[test]
fn characters_only_with_prefix() {
    let characters = ("characters", json!(3));
    assert_column_accepted(&column("prefix", std::slice::from_ref(&characters)));
    assert_column_rejected(&column("prefix", &[]), CHARACTERS, &format!("{AT}.characters"));
    assert_column_rejected(
        &column("truncateTime", &[("unit", json!("day")), characters]),
        CHARACTERS,
        &format!("{AT}.characters"),
    );
}

#[test]
fn rules_apply_to_every_column_of_every_table() {
    // A broken column deep in the second table is found at its own path.
    let mut replica = yaml_to_json(REPLICA_FULL);
    let mut second = replica["spec"]["tables"][0].clone();
    second["name"] = json!("clicks");
    second["columns"][3] = column("ipPrefix", &[("ipv4Bits", json!(24))]);
    replica["spec"]["tables"].as_array_mut().unwrap().push(second);
    assert_rejected("TelemetryReplica", &replica, None, IP_BITS, "spec.tables[1].columns[3]");
}

const PARAMETERS: [&str; 5] = ["unit", "ipv4Bits", "ipv6Bits", "digits", "characters"];

fn parameter_value(name: &str) -> Value {
    match name {
        "unit" => json!("minute"),
        "ipv4Bits" => json!(16),
        "ipv6Bits" => json!(64),
        "digits" => json!(2),
        "characters" => json!(5),
        _ => unreachable!(),
    }
}

/// The parameters a transform requires (and the only ones it allows).
fn parameters_of(transform: TransformKind) -> &'static [&'static str] {
    match transform {
        TransformKind::Drop | TransformKind::Keep | TransformKind::Hash => &[],
        TransformKind::TruncateTime => &["unit"],
        TransformKind::IpPrefix => &["ipv4Bits", "ipv6Bits"],
        TransformKind::Round => &["digits"],
        TransformKind::Prefix => &["characters"],
    }
}

const ALL_TRANSFORMS: [TransformKind; 7] = [
    TransformKind::Drop,
    TransformKind::Keep,
    TransformKind::Hash,
    TransformKind::TruncateTime,
    TransformKind::IpPrefix,
    TransformKind::Round,
    TransformKind::Prefix,
];

/// Every transform with every subset of the five parameters (7 × 32 columns): CEL
/// rejects exactly the rules whose parameters do not fit, and `resolve()` accepts
/// exactly the columns CEL accepts.
#[test]
fn cel_and_resolve_agree_on_every_parameter_combination() {
    let families: [(&str, &[&str], TransformKind); 4] = [
        (UNIT, &["unit"], TransformKind::TruncateTime),
        (IP_BITS, &["ipv4Bits", "ipv6Bits"], TransformKind::IpPrefix),
        (DIGITS, &["digits"], TransformKind::Round),
        (CHARACTERS, &["characters"], TransformKind::Prefix),
    ];
    let mut cases = 0;
    let mut accepted = 0;
    for transform in ALL_TRANSFORMS {
        for mask in 0u32..(1 << PARAMETERS.len()) {
            let given: Vec<&str> =
                PARAMETERS.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| *p).collect();
            let params: Vec<(&str, Value)> = given.iter().map(|p| (*p, parameter_value(p))).collect();
            let col = column(transform.as_str(), &params);

            // Each rule fails when its transform lacks one of its parameters, or another
            // transform has any of them.
            let mut expected: Vec<String> = families
                .iter()
                .filter(|(_, names, owner)| {
                    let present = names.iter().filter(|n| given.contains(n)).count();
                    if transform == *owner { present != names.len() } else { present != 0 }
                })
                .map(|(message, _, _)| (*message).to_owned())
                .collect();
            expected.sort();

            let cel = column_cel_messages(&col);
            assert_eq!(cel, expected, "CEL verdict on {col}");
            let exact = {
                let mut want: Vec<&str> = parameters_of(transform).to_vec();
                let mut have = given.clone();
                want.sort_unstable();
                have.sort_unstable();
                want == have
            };
            assert_eq!(cel.is_empty(), exact, "CEL on {col}");
            assert_eq!(column_resolves(&col), cel.is_empty(), "resolve() and CEL disagree on {col}");
            cases += 1;
            accepted += usize::from(exact);
        }
    }
    assert_eq!((cases, accepted), (7 * 32, 7));
}

// ---------------------------------------------------------------------------------
// Structural constraints (enforced by the API server's schema validation, not CEL)

fn int(node: &Value, key: &str) -> Option<i64> {
    node.get(key).and_then(Value::as_f64).map(|f| {
        assert!(f.fract() == 0.0, "{key} {f} is not a whole number");
        #[allow(clippy::cast_possible_truncation)]
        let n = f as i64;
        n
    })
}

fn enum_of(node: &Value) -> Vec<&str> {
    node["enum"].as_array().unwrap_or_else(|| panic!("no enum in {node}")).iter().map(|v| v.as_str().unwrap()).collect()
}

#[test]
fn column_parameter_ranges_are_in_the_schema() {
    let schema = schema_of("TelemetryReplica");
    let expected = [("ipv4Bits", 0, 32), ("ipv6Bits", 0, 128), ("digits", -6, 10), ("characters", 1, 255)];
    for (name, min, max) in expected {
        let field = node(&schema, &format!("{COLUMN}.{name}"));
        assert_eq!(field["type"], "integer", "{name}");
        assert_eq!((int(field, "minimum"), int(field, "maximum")), (Some(min), Some(max)), "{name} range");
        assert!(field.get("exclusiveMinimum").is_none() && field.get("exclusiveMaximum").is_none(), "{name}");
    }
}

/// The offline check applies the same ranges as the schema: at each bound and one
/// past it, `resolve()` accepts exactly what the API server's schema accepts.
#[test]
fn resolve_applies_the_schema_ranges() {
    let schema = schema_of("TelemetryReplica");
    let range = |name: &str| {
        let field = node(&schema, &format!("{COLUMN}.{name}"));
        (int(field, "minimum").unwrap(), int(field, "maximum").unwrap())
    };
    let check = |transform: &str, name: &str, build: &dyn Fn(i64) -> Vec<(&'static str, Value)>| {
        let (min, max) = range(name);
        for v in [min - 1, min, max, max + 1] {
            let col = column(transform, &build(v));
            let schema_ok = (min..=max).contains(&v);
            assert_eq!(column_resolves(&col), schema_ok, "{name}={v}: resolve() disagrees with the schema range");
            // CEL only checks presence, so it accepts every value; the range is the
            // schema's job.
            assert!(column_cel_messages(&col).is_empty(), "{col}");
        }
    };
    check("ipPrefix", "ipv4Bits", &|v| vec![("ipv4Bits", json!(v)), ("ipv6Bits", json!(64))]);
    check("ipPrefix", "ipv6Bits", &|v| vec![("ipv4Bits", json!(24)), ("ipv6Bits", json!(v))]);
    check("round", "digits", &|v| vec![("digits", json!(v))]);
    check("prefix", "characters", &|v| vec![("characters", json!(v))]);
}

#[test]
fn column_enums_match_the_types() {
    let schema = schema_of("TelemetryReplica");
    let transforms: Vec<&str> = ALL_TRANSFORMS.iter().map(|t| t.as_str()).collect();
    assert_eq!(enum_of(node(&schema, &format!("{COLUMN}.transform"))), transforms);
    let classes: Vec<&str> =
        [ColumnClass::Identifier, ColumnClass::Quasi, ColumnClass::None].iter().map(|c| c.as_str()).collect();
    assert_eq!(enum_of(node(&schema, &format!("{COLUMN}.class"))), classes);
    let units: Vec<&str> =
        [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month, TimeUnit::Year]
            .iter()
            .map(|u| u.as_str())
            .collect();
    assert_eq!(enum_of(node(&schema, &format!("{COLUMN}.unit"))), units);
    let required: Vec<&str> =
        node(&schema, COLUMN)["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, ["class", "name", "transform"]);
}

#[test]
fn region_lifecycle_and_jurisdiction_enums() {
    let schema = schema_of("Region");
    let lifecycle = node(&schema, "spec.lifecycle");
    assert_eq!(enum_of(lifecycle), ["Planned", "Active", "Draining"]);
    let from_type: Vec<&str> =
        [Lifecycle::Planned, Lifecycle::Active, Lifecycle::Draining].iter().map(|l| l.as_str()).collect();
    assert_eq!(enum_of(lifecycle), from_type);
    assert!(lifecycle.get("default").is_none(), "lifecycle must be chosen explicitly");

    let catalogue: Vec<&str> = Jurisdiction::ALL.iter().map(|j| j.as_str()).collect();
    let jurisdictions = node(&schema, "spec.jurisdictions");
    assert_eq!(enum_of(&jurisdictions["items"]), catalogue);
    assert_eq!(int(jurisdictions, "minItems"), Some(1));
    assert_eq!(jurisdictions["x-kubernetes-list-type"], "set");
    assert_eq!(node(&schema, "spec.location.country")["pattern"], "^[A-Z]{2}$");
}

#[test]
fn pii_database_enforcement_and_instances() {
    let schema = schema_of("PiiDatabase");
    let enforcement = node(&schema, "spec.enforcement");
    assert_eq!(enum_of(enforcement), ["Enforce", "Audit"]);
    assert_eq!(enforcement["default"], "Enforce");
    let instances = node(&schema, "spec.managed.instances");
    assert_eq!((int(instances, "minimum"), int(instances, "maximum")), (Some(1), Some(9)));
    assert_eq!(instances["default"], 3);
    let compliance = node(&schema, "spec.compliance");
    assert_eq!(int(compliance, "minItems"), Some(1));
    assert_eq!(enum_of(&compliance["items"]), Jurisdiction::ALL.iter().map(|j| j.as_str()).collect::<Vec<_>>());
    let required: Vec<&str> =
        node(&schema, "spec")["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, ["compliance", "region"]);
}

#[test]
fn telemetry_replica_list_bounds() {
    let schema = schema_of("TelemetryReplica");
    let targets = node(&schema, "spec.targets");
    assert_eq!((int(targets, "minItems"), int(targets, "maxItems")), (Some(1), Some(16)));
    assert_eq!(targets["x-kubernetes-list-type"], "map");
    assert_eq!(targets["x-kubernetes-list-map-keys"], json!(["region"]));
    let tables = node(&schema, "spec.tables");
    assert_eq!((int(tables, "minItems"), int(tables, "maxItems")), (Some(1), Some(64)));
    let columns = node(&schema, "spec.tables[].columns");
    assert_eq!((int(columns, "minItems"), int(columns, "maxItems")), (Some(1), Some(256)));
    assert_eq!(node(&schema, "spec.source.database")["default"], "telemetry");
    assert_eq!(node(&schema, "spec.tables[].schema")["default"], "public");
}

/// kube-cel applies schema defaults before evaluating rules, as the API server does:
/// a column's defaults cannot satisfy a rule by accident, and the defaulted object is
/// what the rules see.
#[test]
fn defaults_are_applied_before_rules() {
    let schema = schema_of("PiiDatabase");
    let defaulted = kube::core::cel::apply_defaults(&schema, &yaml_to_json(PII_MINIMAL));
    assert_eq!(defaulted["spec"]["enforcement"], "Enforce");
    assert_eq!(defaulted["spec"]["managed"]["instances"], 3);
}
