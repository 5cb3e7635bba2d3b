use serde_json::{Value, json};

use super::*;

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const AV: &str = "regionstack.io/v1alpha1";

fn replica_types() -> ListTypes {
    let crd = regionstack_api::crd::all()
        .into_iter()
        .map(|(_, crd)| serde_json::to_value(crd).unwrap())
        .find(|c| c["spec"]["names"]["kind"] == "TelemetryReplica")
        .unwrap();
    ListTypes::from_schema(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
}

#[allow(clippy::needless_pass_by_value)]
fn obj(spec: Value) -> Value {
    json!({"apiVersion": AV, "kind": "TelemetryReplica", "metadata": {"name": "r", "namespace": "ns"}, "spec": spec})
}

fn entry<'a>(object: &'a Value, manager: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager} in {object}"))
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|es| es.iter().map(|e| e["manager"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn create_then_reapply_is_a_no_op_and_entries_have_kube_shape() {
    let types = replica_types();
    let config = obj(json!({"region": "eu", "targets": [{"region": "us"}]}));
    let created = apply(None, &config, "alice", false, &types, T0, None).unwrap();
    assert_eq!(created["spec"], config["spec"]);
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{
            "manager": "alice", "operation": "Apply", "apiVersion": AV, "time": T0, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:region": {}, "f:targets": {"k:{\"region\":\"us\"}": {".": {}, "f:region": {}}}}},
        }])
    );
    let again = apply(Some(&created), &config, "alice", false, &types, T1, None).unwrap();
    assert_eq!(again, created);
}

#[test]
fn two_managers_own_different_fields() {
    let types = replica_types();
    let live = apply(None, &obj(json!({"region": "eu"})), "alice", false, &types, T0, None).unwrap();
    let live = apply(Some(&live), &obj(json!({"dataClass": "Aggregate"})), "bob", false, &types, T1, None).unwrap();
    assert_eq!(live["spec"], json!({"region": "eu", "dataClass": "Aggregate"}));
    assert_eq!(entry(&live, "alice")["fieldsV1"], json!({"f:spec": {"f:region": {}}}));
    assert_eq!(entry(&live, "bob")["fieldsV1"], json!({"f:spec": {"f:dataClass": {}}}));
    // Same value is shared ownership, not a conflict.
    let live = apply(Some(&live), &obj(json!({"region": "eu"})), "bob", false, &types, T1, None).unwrap();
    assert_eq!(entry(&live, "bob")["fieldsV1"], json!({"f:spec": {"f:region": {}}}));
    assert_eq!(live["spec"], json!({"region": "eu"}), "bob dropped dataClass, which only he owned");
    assert_eq!(entry(&live, "alice")["fieldsV1"], json!({"f:spec": {"f:region": {}}}));
}

#[test]
fn conflicting_value_conflicts_and_force_moves_ownership() {
    let types = replica_types();
    let live = apply(None, &obj(json!({"region": "eu", "x": 1})), "alice", false, &types, T0, None).unwrap();
    let conflicts = apply(Some(&live), &obj(json!({"region": "us"})), "bob", false, &types, T1, None).unwrap_err();
    assert_eq!(
        conflicts,
        vec![Conflict {
            manager: "alice".into(),
            field: ".spec.region".into(),
            operation: "Apply".into(),
            subresource: None
        }]
    );
    assert_eq!(conflict_message(&conflicts, AV), "Apply failed with 1 conflict: conflict with \"alice\": .spec.region");
    let forced = apply(Some(&live), &obj(json!({"region": "us"})), "bob", true, &types, T1, None).unwrap();
    assert_eq!(forced["spec"], json!({"region": "us", "x": 1}));
    assert_eq!(entry(&forced, "alice")["fieldsV1"], json!({"f:spec": {"f:x": {}}}));
    assert_eq!(entry(&forced, "bob")["fieldsV1"], json!({"f:spec": {"f:region": {}}}));
    // Alice dropping region no longer removes it: bob owns it.
    let after = apply(Some(&forced), &obj(json!({"x": 1})), "alice", false, &types, T1, None).unwrap();
    assert_eq!(after["spec"]["region"], "us");
}

#[test]
fn dropped_field_is_removed_unless_co_owned() {
    let types = replica_types();
    let live = apply(None, &obj(json!({"a": 1, "b": 2})), "alice", false, &types, T0, None).unwrap();
    let live = apply(Some(&live), &obj(json!({"b": 2})), "bob", false, &types, T0, None).unwrap();
    let bare = json!({"apiVersion": AV, "kind": "TelemetryReplica", "metadata": {"name": "r"}});
    let live = apply(Some(&live), &bare, "alice", false, &types, T1, None).unwrap();
    assert_eq!(live["spec"], json!({"b": 2}));
    assert_eq!(managers(&live), vec!["bob"], "alice's emptied entry is dropped");
}

#[test]
fn list_map_elements_owned_by_different_managers() {
    let types = replica_types();
    let live =
        apply(None, &obj(json!({"targets": [{"region": "eu", "w": 1}]})), "alice", false, &types, T0, None).unwrap();
    let live = apply(Some(&live), &obj(json!({"targets": [{"region": "us", "w": 2}]})), "bob", false, &types, T0, None)
        .unwrap();
    assert_eq!(live["spec"]["targets"], json!([{"region": "eu", "w": 1}, {"region": "us", "w": 2}]));
    let conflicts =
        apply(Some(&live), &obj(json!({"targets": [{"region": "us", "w": 3}]})), "alice", false, &types, T1, None)
            .unwrap_err();
    assert_eq!(conflicts[0].field, ".spec.targets[region=\"us\"].w");
    // Bob drops his element; alice's stays.
    let live = apply(Some(&live), &obj(json!({})), "bob", false, &types, T1, None).unwrap();
    assert_eq!(live["spec"]["targets"], json!([{"region": "eu", "w": 1}]));

    // Status conditions by type, through the status subresource: separate entries.
    let status = |conditions: Value| json!({"apiVersion": AV, "kind": "TelemetryReplica", "metadata": {"name": "r"}, "status": {"conditions": conditions}});
    let live = apply(
        Some(&live),
        &status(json!([{"type": "Ready", "status": "True"}])),
        "alice",
        false,
        &types,
        T1,
        Some("status"),
    )
    .unwrap();
    let live = apply(
        Some(&live),
        &status(json!([{"type": "Synced", "status": "False"}])),
        "op",
        false,
        &types,
        T1,
        Some("status"),
    )
    .unwrap();
    assert_eq!(live["status"]["conditions"].as_array().unwrap().len(), 2);
    let alice: Vec<&Value> =
        live["metadata"]["managedFields"].as_array().unwrap().iter().filter(|e| e["manager"] == "alice").collect();
    assert_eq!(alice.len(), 2);
    assert_eq!(alice[1]["subresource"], "status");
    assert!(alice[0].get("subresource").is_none());
    assert_eq!(
        alice[1]["fieldsV1"],
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
    );
}

#[test]
fn set_lists_are_owned_per_value() {
    let types = ListTypes::new().with_list(&["spec", "jurisdictions"], ListKind::Set);
    let live = apply(None, &obj(json!({"jurisdictions": ["GDPR"]})), "alice", false, &types, T0, None).unwrap();
    let live =
        apply(Some(&live), &obj(json!({"jurisdictions": ["DPDP", "GDPR"]})), "bob", false, &types, T0, None).unwrap();
    assert_eq!(live["spec"]["jurisdictions"], json!(["GDPR", "DPDP"]));
    assert_eq!(
        entry(&live, "bob")["fieldsV1"],
        json!({"f:spec": {"f:jurisdictions": {"v:\"DPDP\"": {}, "v:\"GDPR\"": {}}}})
    );
    let live = apply(Some(&live), &obj(json!({"jurisdictions": ["GDPR"]})), "bob", false, &types, T1, None).unwrap();
    assert_eq!(live["spec"]["jurisdictions"], json!(["GDPR"]));
}

#[test]
fn update_records_ownership_and_steals_from_appliers() {
    let types = replica_types();
    let live = apply(None, &obj(json!({"region": "eu", "x": 1})), "alice", false, &types, T0, None).unwrap();
    let mut updated = live.clone();
    updated["spec"]["region"] = json!("us");
    updated["spec"]["y"] = json!(true);
    record_update(Some(&live), &mut updated, "kubectl-edit", &types, T1, None);
    assert_eq!(
        *entry(&updated, "kubectl-edit"),
        json!({"manager": "kubectl-edit", "operation": "Update", "apiVersion": AV, "time": T1,
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:region": {}, "f:y": {}}}})
    );
    assert_eq!(entry(&updated, "alice")["fieldsV1"], json!({"f:spec": {"f:x": {}}}));
    let conflicts =
        apply(Some(&updated), &obj(json!({"region": "eu", "x": 1})), "alice", false, &types, T1, None).unwrap_err();
    assert_eq!(
        conflict_message(&conflicts, AV),
        format!("Apply failed with 1 conflict: conflict with \"kubectl-edit\" using {AV}: .spec.region")
    );
    // Create through record_update owns everything but identity fields.
    let mut created = obj(json!({"region": "eu"}));
    created["metadata"]["labels"] = json!({"app": "x"});
    record_update(None, &mut created, "creator", &types, T0, None);
    assert_eq!(
        entry(&created, "creator")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:region": {}}})
    );
    // An unchanged write adds no entry.
    let mut same = created.clone();
    record_update(Some(&created), &mut same, "other", &types, T1, None);
    assert_eq!(managers(&same), vec!["creator"]);
}

#[test]
fn untracked_objects_belong_to_before_first_apply_and_messages_group() {
    let types = replica_types();
    let live = obj(json!({"region": "eu", "x": 1}));
    let conflicts =
        apply(Some(&live), &obj(json!({"region": "us", "x": 2})), "alice", false, &types, T0, None).unwrap_err();
    assert_eq!(
        conflict_message(&conflicts, AV),
        format!(
            "Apply failed with 2 conflicts: conflicts with \"before-first-apply\" using {AV}:\n- .spec.region\n- .spec.x"
        )
    );
}

#[test]
fn builtin_deployment_containers_merge_by_name() {
    let types = ListTypes::builtin("Deployment");
    let deploy = |containers: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    };
    let live = apply(
        None,
        &deploy(json!([{"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]}])),
        "helm",
        false,
        &types,
        T0,
        None,
    )
    .unwrap();
    let live = apply(Some(&live), &deploy(json!([{"name": "proxy", "image": "p:1"}])), "mesh", false, &types, T1, None)
        .unwrap();
    let names: Vec<&Value> =
        live["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert_eq!(names, vec!["web", "proxy"]);
    assert_eq!(
        entry(&live, "helm")["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"],
        json!({"k:{\"containerPort\":80}": {".": {}, "f:containerPort": {}}})
    );
    let conflicts =
        apply(Some(&live), &deploy(json!([{"name": "web", "image": "web:2"}])), "mesh", false, &types, T1, None)
            .unwrap_err();
    assert_eq!(conflicts[0].field, ".spec.template.spec.containers[name=\"web\"].image");
}
