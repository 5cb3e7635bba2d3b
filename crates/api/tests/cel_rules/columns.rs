//! The ColumnRule parameters: each transform takes only its own parameters, in the
//! schema's ranges, and the CEL rules, the schema and `ColumnRule::resolve()` agree on
//! every combination. Also the enums and list bounds the schema states without CEL.

#[allow(clippy::wildcard_imports)] // the harness of the parent module
use super::*;

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
    for transform in TransformKind::ALL {
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
    let transforms: Vec<&str> = TransformKind::ALL.iter().map(|t| t.as_str()).collect();
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
