use serde_json::{Value, json};

use super::{CrdSchema, ErrorType, FieldError, invalid_message};

fn crd_schema(kind: &str) -> CrdSchema {
    let (_, crd) =
        regionstack_api::crd::all().into_iter().find(|(_, c)| c.spec.names.kind == kind).expect("known kind");
    let v = serde_json::to_value(&crd).expect("CRD serializes");
    CrdSchema::new(&v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).expect("schema compiles")
}

fn db() -> Value {
    json!({
        "apiVersion": "regionstack.io/v1alpha1", "kind": "PiiDatabase",
        "metadata": {"name": "db", "namespace": "default", "labels": {"a": "b"}},
        "spec": {"region": "eu-west-1", "compliance": ["GDPR"], "managed": {"storage": {"size": "10Gi"}}}
    })
}

fn replica() -> Value {
    json!({
        "apiVersion": "regionstack.io/v1alpha1", "kind": "TelemetryReplica", "metadata": {"name": "t"},
        "spec": {
            "replicationCredentials": {"name": "creds"},
            "source": {"region": "eu-west-1"},
            "tables": [{"name": "events", "columns": [
                {"name": "id", "class": "identifier", "transform": "hash"},
                {"name": "at", "class": "quasi", "transform": "truncateTime", "unit": "hour"}
            ]}],
            "targets": [{"region": "us-east-1"}]
        }
    })
}

/// Prunes, defaults and validates like a create (`old` = None) or update.
fn check(schema: &CrdSchema, mut obj: Value, old: Option<&Value>) -> Vec<FieldError> {
    schema.prune_and_default(&mut obj);
    schema.validate(&obj, old)
}

fn one(errs: &[FieldError]) -> &FieldError {
    assert_eq!(errs.len(), 1, "{errs:#?}");
    &errs[0]
}

fn has(errs: &[FieldError], field: &str, kind: ErrorType) -> bool {
    errs.iter().any(|e| e.field == field && e.kind == kind)
}

#[test]
fn valid_objects_pass() {
    assert_eq!(check(&crd_schema("PiiDatabase"), db(), None), vec![]);
    assert_eq!(check(&crd_schema("TelemetryReplica"), replica(), None), vec![]);
}

#[test]
fn defaults_are_applied_inside_existing_objects_only() {
    let s = crd_schema("PiiDatabase");
    let mut obj = db();
    assert!(s.prune_and_default(&mut obj).is_empty());
    assert_eq!(obj["spec"]["enforcement"], "Enforce");
    assert_eq!(obj["spec"]["managed"]["instances"], 3);
    assert!(obj.get("status").is_none(), "absent parents are not created");
    let mut obj = db();
    obj["status"] = json!({});
    obj["spec"]["enforcement"] = Value::Null;
    s.prune_and_default(&mut obj);
    assert_eq!(obj["status"]["conditions"], json!([]));
    assert_eq!(obj["spec"]["enforcement"], "Enforce", "a non-nullable null takes the default");

    let t = crd_schema("TelemetryReplica");
    let mut obj = replica();
    t.prune_and_default(&mut obj);
    assert_eq!(obj["spec"]["tables"][0]["schema"], "public");
    assert_eq!(obj["spec"]["source"]["database"], "telemetry");
}

#[test]
fn unknown_fields_are_pruned_but_metadata_kept() {
    let s = crd_schema("PiiDatabase");
    let mut obj = db();
    obj["spec"]["foo"] = json!(1);
    obj["spec"]["managed"]["storage"]["bar"] = json!("x");
    obj["extra"] = json!(true);
    let pruned = s.prune_and_default(&mut obj);
    assert_eq!(pruned.len(), 3);
    for p in ["spec.foo", "spec.managed.storage.bar", "extra"] {
        assert!(pruned.contains(&p.to_owned()), "{pruned:?}");
    }
    assert!(obj["spec"].get("foo").is_none() && obj.get("extra").is_none());
    assert_eq!(obj["metadata"]["labels"]["a"], "b");
    assert_eq!(obj["apiVersion"], "regionstack.io/v1alpha1");

    let t = crd_schema("TelemetryReplica");
    let mut obj = replica();
    obj["spec"]["tables"][0]["columns"][1]["x"] = json!(1);
    assert_eq!(t.prune_and_default(&mut obj), vec!["spec.tables[0].columns[1].x".to_owned()]);
}

#[test]
fn preserve_unknown_fields_keeps_them() {
    let s = CrdSchema::new(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                 "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "status": {"type": "object", "properties": {"x": {"type": "string"}}}
    }}))
    .unwrap();
    let mut obj = json!({"spec": {"free": {"deep": 1}, "known": {"a": "x", "b": 2}}, "status": {"y": 1}});
    let mut pruned = s.prune_and_default(&mut obj);
    pruned.sort();
    assert_eq!(pruned, vec!["spec.known.b", "status.y"]);
    assert_eq!(obj["spec"]["free"]["deep"], 1);
}

#[test]
fn required_enum_and_string_keywords() {
    let s = crd_schema("PiiDatabase");
    let mut obj = db();
    obj["spec"].as_object_mut().unwrap().remove("region");
    let errs = check(&s, obj, None);
    assert!(has(&errs, "spec.region", ErrorType::Required), "{errs:#?}");
    assert_eq!(errs[0].to_string(), "spec.region: Required value");
    assert!(errs.last().unwrap().detail.starts_with("some validation rules were not checked"));

    let mut obj = db();
    obj["spec"]["enforcement"] = json!("Sometimes");
    let errs = check(&s, obj, None);
    assert_eq!(
        errs[0].to_string(),
        r#"spec.enforcement: Unsupported value: "Sometimes": supported values: "Enforce", "Audit""#
    );
    assert_eq!(errs[0].kind.reason(), "FieldValueNotSupported");

    let mut obj = db();
    obj["spec"]["region"] = json!("x".repeat(64));
    assert!(has(&check(&s, obj, None), "spec.region", ErrorType::TooLong));

    let mut obj = db();
    obj["spec"]["region"] = json!("EU_West");
    let e = one(&check(&s, obj, None)).to_string();
    assert_eq!(
        e,
        r#"spec.region: Invalid value: "EU_West": spec.region in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"#
    );

    let mut obj = db();
    obj["spec"]["managed"]["storage"]["storageClass"] = Value::Null; // nullable: kept, valid
    obj["spec"]["managed"]["backup"] = json!({"objectStore": {"credentialsSecretRef": {"name": ""},
        "destinationPath": "ftp://x", "region": "eu-west-1"}});
    let errs = check(&s, obj, None);
    assert!(has(&errs, "spec.managed.backup.objectStore.credentialsSecretRef.name", ErrorType::Invalid));
    assert!(has(&errs, "spec.managed.backup.objectStore.destinationPath", ErrorType::Invalid));
    assert_eq!(errs.len(), 2, "{errs:#?}");
}

#[test]
fn length_counts_characters_not_bytes() {
    let s =
        CrdSchema::new(&json!({"type": "object", "properties": {"s": {"type": "string", "maxLength": 3}}})).unwrap();
    assert!(s.validate(&json!({"s": "äöü"}), None).is_empty());
    let e = s.validate(&json!({"s": "äöüß"}), None);
    assert_eq!(e[0].to_string(), "s: Too long: may not be longer than 3");
}

#[test]
fn numeric_and_array_keywords() {
    let s = crd_schema("PiiDatabase");
    let mut obj = db();
    obj["spec"]["managed"]["instances"] = json!(10);
    let e = one(&check(&s, obj, None)).to_string();
    assert_eq!(
        e,
        "spec.managed.instances: Invalid value: 10: spec.managed.instances in body should be less than or equal to 9"
    );

    let mut obj = db();
    obj["spec"]["managed"]["instances"] = json!("3");
    let errs = check(&s, obj, None);
    assert_eq!(
        errs[0].to_string(),
        r#"spec.managed.instances: Invalid value: "string": spec.managed.instances in body must be of type integer: "string""#
    );
    assert_eq!(errs[0].kind, ErrorType::TypeInvalid);

    let mut obj = db();
    obj["spec"]["compliance"] = json!([]);
    let e = one(&check(&s, obj, None)).to_string();
    assert_eq!(e, "spec.compliance: Invalid value: 0: spec.compliance in body should have at least 1 items");

    let mut obj = db();
    obj["spec"]["compliance"] = json!(["GDPR", "DPDP", "GDPR"]);
    let e = one(&check(&s, obj, None)).clone();
    assert_eq!(e.to_string(), r#"spec.compliance[2]: Duplicate value: "GDPR""#);

    let mut obj = db();
    obj["spec"]["managed"]["replicaClusters"] =
        json!((0..9).map(|i| json!({"name": format!("r{i}"), "region": "eu-west-1"})).collect::<Vec<_>>());
    let errs = check(&s, obj, None);
    assert_eq!(errs[0].to_string(), "spec.managed.replicaClusters: Too many: 9: must have at most 8 items");
}

#[test]
fn list_map_duplicates_and_cel_duplicate_rule() {
    let t = crd_schema("TelemetryReplica");
    let mut obj = replica();
    obj["spec"]["targets"] = json!([{"region": "us-east-1"}, {"region": "us-east-1", "destination": "x.y"}]);
    let errs = check(&t, obj, None);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(
        errs[0].to_string(),
        r#"spec.targets[1]: Duplicate value: map[string]interface {}{"region":"us-east-1"}"#
    );
    assert_eq!(
        errs[1].to_string(),
        r#"spec.targets: Invalid value: "array": a target region is listed more than once"#
    );
}

#[test]
fn exactly_one_of_managed_or_external() {
    let s = crd_schema("PiiDatabase");
    let mut obj = db();
    obj["spec"]["external"] = json!({"connectionSecretRef": {"name": "pg"}});
    let e = one(&check(&s, obj, None)).to_string();
    assert_eq!(e, r#"spec: Invalid value: "object": exactly one of managed or external must be set"#);
    let mut obj = db();
    obj["spec"].as_object_mut().unwrap().remove("managed");
    assert_eq!(one(&check(&s, obj, None)).kind, ErrorType::Invalid);
}

#[test]
fn region_is_immutable_only_on_update() {
    let s = crd_schema("PiiDatabase");
    let mut old = db();
    s.prune_and_default(&mut old);
    let mut moved = db();
    moved["spec"]["region"] = json!("eu-central-1");
    assert!(check(&s, moved.clone(), None).is_empty(), "no oldSelf on create");
    assert!(check(&s, db(), Some(&old)).is_empty());
    let errs = check(&s, moved, Some(&old));
    assert_eq!(one(&errs).to_string(), r#"spec.region: Invalid value: "string": region is immutable"#);
    assert_eq!(
        invalid_message("PiiDatabase", "regionstack.io", "db", &errs),
        r#"PiiDatabase.regionstack.io "db" is invalid: spec.region: Invalid value: "string": region is immutable"#
    );
}

#[test]
fn transform_parameter_rules_use_field_path() {
    let t = crd_schema("TelemetryReplica");
    let mut obj = replica();
    obj["spec"]["tables"][0]["columns"][1].as_object_mut().unwrap().remove("unit");
    let e = one(&check(&t, obj, None)).clone();
    assert_eq!(e.field, "spec.tables[0].columns[1].unit");
    assert_eq!(e.bad_value, Some(json!("object")));

    let mut obj = replica();
    obj["spec"]["tables"][0]["columns"][0]["ipv4Bits"] = json!(24);
    let e = one(&check(&t, obj, None)).to_string();
    assert_eq!(
        e,
        r#"spec.tables[0].columns[0]: Invalid value: "object": ipv4Bits and ipv6Bits are required with transform ipPrefix and allowed with no other"#
    );

    let mut obj = replica();
    obj["spec"]["tables"][0]["columns"][0] = json!({"name": "n", "class": "quasi", "transform": "round", "digits": -7});
    let errs = check(&t, obj, None);
    assert!(has(&errs, "spec.tables[0].columns[0].digits", ErrorType::Invalid), "{errs:#?}");
}

fn numbers() -> CrdSchema {
    CrdSchema::new(&json!({"type": "object", "properties": {"spec": {"type": "object",
    "minProperties": 1, "maxProperties": 5,
    "properties": {
        "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true},
        "count": {"type": "integer", "format": "int32"},
        "at": {"type": "string", "format": "date-time"},
        "port": {"x-kubernetes-int-or-string": true},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2}}
    }}}}))
    .unwrap()
}

#[test]
fn hand_made_number_format_and_map_schema() {
    let s = numbers();
    let ok = json!({"spec": {"ratio": 0.5, "count": 2.0, "at": "2024-02-29T10:00:00Z", "port": "http", "labels": {"a": "b"}}});
    assert_eq!(s.validate(&ok, None), vec![]);
    assert!(s.validate(&json!({"spec": {"port": 80, "count": -5}}), None).is_empty());

    let errs = s.validate(&json!({"spec": {"ratio": 1}}), None);
    assert_eq!(one(&errs).to_string(), "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1");
    let errs = s.validate(&json!({"spec": {"ratio": 0.0}}), None);
    assert_eq!(one(&errs).detail, "spec.ratio in body should be greater than 0");
    let errs = s.validate(&json!({"spec": {"count": 1.5}}), None);
    assert_eq!(
        errs[0].to_string(),
        r#"spec.count: Invalid value: "number": spec.count in body must be of type integer: "number""#
    );
    let errs = s.validate(&json!({"spec": {"count": 3_000_000_000_i64}}), None);
    assert!(has(&errs, "spec.count", ErrorType::TypeInvalid), "{errs:#?}");
    let errs = s.validate(&json!({"spec": {"at": "2023-02-29T10:00:00Z"}}), None);
    assert_eq!(
        errs[0].to_string(),
        r#"spec.at: Invalid value: "2023-02-29T10:00:00Z": spec.at in body must be of type date-time: "2023-02-29T10:00:00Z""#
    );
    let errs = s.validate(&json!({"spec": {"port": true}}), None);
    assert!(has(&errs, "spec.port", ErrorType::TypeInvalid));
    let errs = s.validate(&json!({"spec": {"labels": {"a": "long", "b": 1}}}), None);
    assert!(has(&errs, "spec.labels[a]", ErrorType::TooLong) && has(&errs, "spec.labels[b]", ErrorType::TypeInvalid));
    let errs = s.validate(&json!({"spec": {}}), None);
    assert_eq!(one(&errs).to_string(), "spec: Invalid value: 0: spec in body should have at least 1 properties");
    let big =
        json!({"spec": {"ratio": 0.5, "count": 1, "at": "2024-01-01T00:00:00Z", "port": 1, "labels": {}, "zz": 1}});
    assert_eq!(s.validate(&big, None)[0].to_string(), "spec: Too many: 6: must have at most 5 items");
    let errs = s.validate(&json!({"spec": null}), None);
    assert_eq!(errs[0].to_string(), r#"spec: Invalid value: "null": spec in body must be of type object: "null""#);
}

#[test]
fn cel_reasons_and_message_expressions() {
    let s = CrdSchema::new(&json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "x-kubernetes-validations": [
            {"rule": "self.a < 10", "messageExpression": "'a is ' + string(self.a)"},
            {"rule": "has(self.b)", "reason": "FieldValueRequired", "fieldPath": ".b", "message": "b needed"},
            {"rule": "self.a != 7", "reason": "FieldValueForbidden", "message": "not seven"}
        ]}},
        "x-kubernetes-validations": [{"rule": "has(self.spec)"}]
    }))
    .unwrap();
    let errs = s.validate(&json!({"spec": {"a": 12}}), None);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].to_string(), r#"spec: Invalid value: "object": a is 12"#);
    assert_eq!(errs[1].to_string(), "spec.b: Required value: b needed");
    let errs = s.validate(&json!({"spec": {"a": 7, "b": "x"}}), None);
    assert_eq!(one(&errs).to_string(), "spec: Forbidden: not seven");
    let errs = s.validate(&json!({}), None);
    assert_eq!(one(&errs).to_string(), r#"<nil>: Invalid value: "object": failed rule: has(self.spec)"#);
    assert!(CrdSchema::new(&json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.("}]})).is_err());
    assert!(CrdSchema::new(&json!({"type": "string", "pattern": "(?<=a)b"})).is_err());
}

#[test]
fn invalid_message_wording() {
    let errs = vec![
        FieldError::new("spec.a", ErrorType::Required, None, ""),
        FieldError::new("spec.b", ErrorType::NotSupported, Some(json!("x")), r#"supported values: "A", "B""#),
        FieldError::new("spec.a", ErrorType::Required, None, ""),
    ];
    assert_eq!(
        invalid_message("PiiDatabase", "regionstack.io", "db", &errs),
        r#"PiiDatabase.regionstack.io "db" is invalid: [spec.a: Required value, spec.b: Unsupported value: "x": supported values: "A", "B"]"#
    );
    assert_eq!(invalid_message("Pod", "", "p", &errs[..1]), r#"Pod "p" is invalid: spec.a: Required value"#);
    assert_eq!(ErrorType::TooMany.reason(), "FieldValueTooMany");
    assert_eq!(ErrorType::Duplicate.to_string(), "Duplicate value");
}

#[test]
fn crd_schema_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CrdSchema>();
}
