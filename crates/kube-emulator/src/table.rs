//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Cells follow kube-apiserver's CRD table convertor
//! (`apiextensions-apiserver/pkg/registry/customresource/tableconvertor`):
//!
//! * only the **first** JSONPath match is printed (kube-apiserver takes `results[0][0]`,
//!   so `.spec.targets[*].region` shows the first target only);
//! * `string` columns print strings as-is, numbers and booleans as text, arrays and
//!   objects as compact JSON;
//! * `integer`, `number` and `boolean` columns keep JSON values of the matching type,
//!   anything else becomes `null`;
//! * `date` columns are rendered **on the server** as a human-readable age (`5m`, `3d2h`),
//!   `<invalid>` when the string is not RFC 3339 — kubectl prints cells verbatim;
//! * no match → `null` (kubectl shows `<none>`).
//!
//! Built-in kinds use hand-written columns modelled on kube-apiserver's printers; the
//! computed ones (empty `json_path`) are rendered per column name (see [`builtin_columns`]).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub use crate::jsonpath::jsonpath;

/// One `TableColumnDefinition` plus the JSONPath it is rendered from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Header text (`Name`, `Ready`, …).
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// OpenAPI format (`name` for the Name column, usually empty).
    pub format: String,
    /// Human-readable description of the column.
    pub description: String,
    /// 0 = shown by default, >0 = only with `-o wide`.
    pub priority: i32,
    /// JSONPath evaluated against the object; empty for computed built-in columns.
    pub json_path: String,
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn column(name: &str, type_: &str, json_path: &str, description: &str) -> Column {
    Column {
        name: name.to_owned(),
        type_: type_.to_owned(),
        format: String::new(),
        description: description.to_owned(),
        priority: 0,
        json_path: json_path.to_owned(),
    }
}

fn name_column() -> Column {
    Column { format: "name".to_owned(), ..column("Name", "string", ".metadata.name", NAME_DESCRIPTION) }
}

fn age_column() -> Column {
    column("Age", "date", ".metadata.creationTimestamp", AGE_DESCRIPTION)
}

/// Columns for a CRD version: `Name` first, then its `additionalPrinterColumns`, or
/// `Age` alone when the version declares none (kube-apiserver's rule).
pub fn crd_columns(additional_printer_columns: &Value) -> Vec<Column> {
    let declared = additional_printer_columns.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut columns = vec![name_column()];
    if declared.is_empty() {
        columns.push(age_column());
        return columns;
    }
    let text = |c: &Value, key: &str| c.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    for c in declared {
        let json_path = text(c, "jsonPath");
        let description = Some(text(c, "description"))
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("Custom resource definition column (in JSONPath format): {json_path}"));
        columns.push(Column {
            name: text(c, "name"),
            type_: text(c, "type"),
            format: text(c, "format"),
            description,
            priority: c.get("priority").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
            json_path,
        });
    }
    columns
}

/// Columns for a built-in kind, modelled on kube-apiserver's printers. Unknown kinds
/// get `Name, Age`.
pub fn builtin_columns(kind: &str) -> Vec<Column> {
    let s = |name: &str, path: &str, desc: &str| column(name, "string", path, desc);
    let mut columns = vec![name_column()];
    match kind {
        "Namespace" => columns.push(s("Status", ".status.phase", "The status of the namespace")),
        "Secret" => columns
            .extend([s("Type", ".type", "The type of the secret"), s("Data", "", "The number of entries in data")]),
        "ConfigMap" => columns.push(s("Data", "", "The number of entries in data and binaryData")),
        "Deployment" => {
            columns.extend([
                s("Ready", "", "Number of the pod with ready state"),
                s("Up-to-date", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                s("Available", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            ]);
            columns.push(age_column());
            columns.push(Column { priority: 1, ..s("Selector", "", "Label selector for pods.") });
            return columns;
        }
        "Service" => {
            columns.extend([
                s("Type", ".spec.type", "Type determines how the Service is exposed."),
                s("Cluster-IP", "", "ClusterIP is the IP address of the service."),
                s("External-IP", "", "The external IPs of the service."),
                s("Port(s)", "", "The list of ports that are exposed by this service."),
            ]);
            columns.push(age_column());
            columns.push(Column {
                priority: 1,
                ..s("Selector", "", "Route service traffic to pods with label keys and values matching this selector.")
            });
            return columns;
        }
        "Event" => {
            return vec![
                s("Last Seen", "", "The time at which the most recent occurrence of this event was recorded."),
                s("Type", ".type", "Type of this event (Normal, Warning)."),
                s(
                    "Reason",
                    ".reason",
                    "Short, machine understandable string that gives the reason for the transition into the object's current status.",
                ),
                s("Object", "", "The object that this event is about."),
                s("Message", "", "A human-readable description of the status of this operation."),
                Column { priority: 1, ..name_column() },
            ];
        }
        "Lease" => columns.push(s("Holder", ".spec.holderIdentity", "The holder of the lease.")),
        _ => {}
    }
    columns.push(age_column());
    columns
}

/// Builds the `Table` for `objects` rendered with `columns`, ages measured from now.
///
/// `include_object` is the `includeObject` parameter: `None` (row `object` is `null`),
/// `Object` (the full object) or anything else, meaning `Metadata` (the default): a
/// `meta.k8s.io/v1` `PartialObjectMetadata` holding the object's `metadata`.
pub fn table(
    columns: &[Column],
    objects: &[Value],
    include_object: &str,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    table_at(columns, objects, include_object, resource_version, continue_token, Timestamp::now())
}

/// [`table`] with an explicit clock, for tests.
pub fn table_at(
    columns: &[Column],
    objects: &[Value],
    include_object: &str,
    resource_version: &str,
    continue_token: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".into(), token.into());
    }
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = columns.iter().map(|c| cell(c, obj, now)).collect();
            let object = match include_object {
                "None" => Value::Null,
                "Object" => obj.clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// Renders one cell.
pub fn cell(column: &Column, obj: &Value, now: Timestamp) -> Value {
    if column.json_path.is_empty() {
        return computed_cell(&column.name, obj, now);
    }
    let Some(value) = jsonpath(obj, &column.json_path).ok().and_then(|v| v.into_iter().next()) else {
        return Value::Null;
    };
    match (column.type_.as_str(), value) {
        ("string", Value::String(s)) => Value::String(s),
        ("string", v @ (Value::Array(_) | Value::Object(_) | Value::Number(_) | Value::Bool(_))) => {
            Value::String(v.to_string())
        }
        ("integer", Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().map(truncate)).map_or(Value::Null, Value::from)
        }
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(b),
        ("date", Value::String(s)) => Value::String(age(&s, now)),
        _ => Value::Null,
    }
}

/// Go's `int64(f)` for the float values of `integer` columns.
#[allow(clippy::cast_possible_truncation)]
fn truncate(f: f64) -> i64 {
    f as i64
}

/// Age of an RFC 3339 timestamp as kube-apiserver prints it, `<invalid>` if unparsable.
pub fn age(rfc3339: &str, now: Timestamp) -> String {
    match rfc3339.parse::<Timestamp>() {
        Ok(t) => human_duration(now.as_second() - t.as_second()),
        Err(_) => "<invalid>".to_owned(),
    }
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, in whole seconds.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{days}d") } else { format!("{days}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 { format!("{years}y") } else { format!("{years}y{d}d") };
    }
    format!("{years}y")
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

fn len_at(obj: &Value, pointer: &str) -> usize {
    obj.pointer(pointer).and_then(Value::as_object).map_or(0, Map::len)
}

fn strings_at(obj: &Value, pointer: &str) -> Vec<String> {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn or_none(parts: &[String], empty: &str) -> Value {
    Value::String(if parts.is_empty() { empty.to_owned() } else { parts.join(",") })
}

/// Cells of built-in columns that are not a plain JSONPath.
fn computed_cell(name: &str, obj: &Value, now: Timestamp) -> Value {
    match name {
        "Data" => Value::from(len_at(obj, "/data") + len_at(obj, "/binaryData")),
        "Ready" => {
            let ready = int_at(obj, "/status/readyReplicas").unwrap_or(0);
            let desired = int_at(obj, "/spec/replicas").unwrap_or(1);
            Value::String(format!("{ready}/{desired}"))
        }
        "Up-to-date" => Value::from(int_at(obj, "/status/updatedReplicas").unwrap_or(0)),
        "Available" => Value::from(int_at(obj, "/status/availableReplicas").unwrap_or(0)),
        "Selector" => {
            let selector = obj.pointer("/spec/selector/matchLabels").or_else(|| obj.pointer("/spec/selector"));
            let pairs: Vec<String> = selector
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect())
                .unwrap_or_default();
            or_none(&pairs, "<none>")
        }
        "Cluster-IP" => Value::String(
            strings_at(obj, "/spec/clusterIPs")
                .into_iter()
                .next()
                .or_else(|| str_at(obj, "/spec/clusterIP").map(str::to_owned))
                .unwrap_or_else(|| "<none>".to_owned()),
        ),
        "External-IP" => service_external_ip(obj),
        "Port(s)" => {
            let ports: Vec<String> = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
                                Some(node) => format!("{port}:{node}/{protocol}"),
                                None => format!("{port}/{protocol}"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            or_none(&ports, "<none>")
        }
        "Last Seen" => ["/series/lastObservedTime", "/lastTimestamp", "/eventTime", "/deprecatedLastTimestamp"]
            .iter()
            .find_map(|p| str_at(obj, p))
            .map_or_else(|| "<unknown>".into(), |t| Value::String(age(t, now))),
        "Object" => {
            let target = obj.get("involvedObject").or_else(|| obj.get("regarding"));
            let field = |k: &str| target.and_then(|t| t.get(k)).and_then(Value::as_str).unwrap_or_default();
            Value::String(format!("{}/{}", field("kind").to_lowercase(), field("name")))
        }
        "Message" => Value::String(str_at(obj, "/message").or_else(|| str_at(obj, "/note")).unwrap_or_default().into()),
        _ => Value::Null,
    }
}

fn service_external_ip(obj: &Value) -> Value {
    let external = strings_at(obj, "/spec/externalIPs");
    match str_at(obj, "/spec/type").unwrap_or("ClusterIP") {
        "LoadBalancer" => {
            let mut all: Vec<String> = obj
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.get("ip").or_else(|| i.get("hostname")).and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            all.extend(external);
            or_none(&all, "<pending>")
        }
        "ExternalName" => Value::String(str_at(obj, "/spec/externalName").unwrap_or_default().to_owned()),
        _ => or_none(&external, "<none>"),
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use regionstack_api::fixtures::seed_topology;
    use serde_json::{Value, json};

    use super::{Column, age, builtin_columns, crd_columns, human_duration, table, table_at};

    const NOW: &str = "2025-01-10T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn crd_printer_columns(kind: &str) -> Value {
        let (_, crd) = regionstack_api::crd::all()
            .into_iter()
            .find(|(_, crd)| crd.spec.names.kind == kind)
            .unwrap_or_else(|| panic!("no CRD for {kind}"));
        let crd = serde_json::to_value(crd).unwrap();
        crd["spec"]["versions"][0]["additionalPrinterColumns"].clone()
    }

    fn names(columns: &[Column]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn with_status(mut obj: Value, status: Value) -> Value {
        obj["status"] = status;
        obj["metadata"]["creationTimestamp"] = json!("2025-01-10T11:55:00Z");
        obj["metadata"]["resourceVersion"] = json!("7");
        obj
    }

    fn ready(status: &str) -> Value {
        json!({"conditions": [
            {"type": "ResidencyCompliant", "status": "True", "reason": "Compliant"},
            {"type": "Ready", "status": status, "reason": "Reconciled"}
        ], "local": true})
    }

    #[test]
    fn region_table_from_the_crd_columns() {
        let columns = crd_columns(&crd_printer_columns("Region"));
        assert_eq!(names(&columns), ["Name", "Country", "Lifecycle", "Jurisdictions", "Local", "Ready", "Age"]);
        assert_eq!(columns[0].format, "name");
        assert_eq!(columns[4].priority, 1);
        let seed = seed_topology();
        let objects: Vec<Value> =
            seed.regions.iter().map(|r| with_status(serde_json::to_value(r).unwrap(), ready("True"))).collect();
        let t = table_at(&columns, &objects, "Metadata", "42", None, now());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "42"}));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 7);
        assert_eq!(
            t["columnDefinitions"][4],
            json!({"name": "Local", "type": "boolean", "format": "", "priority": 1,
                   "description": "Custom resource definition column (in JSONPath format): .status.local"})
        );
        let row = &t["rows"][1];
        assert_eq!(row["cells"], json!(["eu-west-3", "FR", "Active", r#"["GDPR","FDPA"]"#, true, "True", "5m"]));
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(row["object"]["metadata"]["name"], "eu-west-3");
        assert!(row["object"].get("spec").is_none());
    }

    #[test]
    fn pii_and_replica_columns_use_filters_and_wildcards() {
        let seed = seed_topology();
        let columns = crd_columns(&crd_printer_columns("PiiDatabase"));
        assert_eq!(names(&columns), ["Name", "Region", "Mode", "Compliant", "Ready", "Reason", "Age"]);
        let db = with_status(serde_json::to_value(&seed.pii_databases[0]).unwrap(), ready("False"));
        let t = table_at(&columns, &[db], "None", "", Some("tok"), now());
        assert_eq!(t["metadata"], json!({"continue": "tok"}));
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "customers-eu-west-1");
        assert_eq!(cells[1], "eu-west-1");
        assert_eq!(cells[3], "True");
        assert_eq!(cells[4], "False");
        assert_eq!(cells[5], "Reconciled");
        assert_eq!(t["rows"][0]["object"], Value::Null);

        let columns = crd_columns(&crd_printer_columns("TelemetryReplica"));
        let mut replica = serde_json::to_value(&seed.replicas[0]).unwrap();
        replica["spec"]["targets"] = json!([{"region": "eu-west-3"}, {"region": "ap-south-1"}]);
        let t = table_at(&columns, std::slice::from_ref(&replica), "Object", "", None, now());
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "eu-west-1");
        // kube-apiserver prints only the first match of a printer column.
        assert_eq!(cells[2], "eu-west-3");
        // No status yet: missing values are null, and so is a missing creationTimestamp.
        assert_eq!(cells[columns.len() - 1], Value::Null);
        assert_eq!(t["rows"][0]["object"], replica);
    }

    #[test]
    fn crd_without_columns_gets_name_and_age() {
        for none in [json!(null), json!([])] {
            let columns = crd_columns(&none);
            assert_eq!(names(&columns), ["Name", "Age"]);
            assert_eq!(columns[1].type_, "date");
        }
        let columns = crd_columns(&json!([
            {"name": "N", "type": "integer", "jsonPath": ".n"},
            {"name": "F", "type": "number", "jsonPath": ".n", "description": "d"},
            {"name": "B", "type": "boolean", "jsonPath": ".n"},
            {"name": "O", "type": "string", "jsonPath": ".o"},
            {"name": "D", "type": "date", "jsonPath": ".d"},
        ]));
        assert_eq!(names(&columns), ["Name", "N", "F", "B", "O", "D"]);
        assert_eq!(columns[2].description, "d");
        let obj = json!({"metadata": {"name": "x"}, "n": 3, "o": {"a": 1}, "d": "yesterday"});
        let t = table_at(&columns, &[obj], "", "", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["x", 3, 3.0, null, r#"{"a":1}"#, "<invalid>"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn builtin_tables() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "creationTimestamp": "2025-01-08T12:00:00Z"},
                        "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        let t = table_at(&builtin_columns("ConfigMap"), &[cm], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["c", 3, "2d"]));

        let secret = json!({"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(names(&builtin_columns("Secret")), ["Name", "Type", "Data", "Age"]);
        let t = table_at(&builtin_columns("Secret"), &[secret], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["s", "Opaque", 1, null]));

        let ns = json!({"kind": "Namespace", "metadata": {"name": "default"}, "status": {"phase": "Active"}});
        let t = table_at(&builtin_columns("Namespace"), &[ns], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["default", "Active", null]));

        let deploy = json!({"kind": "Deployment", "metadata": {"name": "op"}, "spec": {"replicas": 2,
            "selector": {"matchLabels": {"app": "op"}}}, "status": {"readyReplicas": 1, "updatedReplicas": 2}});
        let columns = builtin_columns("Deployment");
        assert_eq!(names(&columns), ["Name", "Ready", "Up-to-date", "Available", "Age", "Selector"]);
        let t = table_at(&columns, &[deploy], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["op", "1/2", 2, 0, null, "app=op"]));

        let svc = json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "NodePort",
            "clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
        let t = table_at(&builtin_columns("Service"), &[svc], "Metadata", "1", None, now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "NodePort", "10.0.0.1", "<none>", "80:30080/TCP,53/UDP", null, "<none>"])
        );

        let event = json!({"kind": "Event", "metadata": {"name": "e1"}, "type": "Warning", "reason": "Denied",
            "involvedObject": {"kind": "PiiDatabase", "name": "db"}, "message": "no",
            "lastTimestamp": "2025-01-10T11:59:30Z"});
        let columns = builtin_columns("Event");
        assert_eq!(names(&columns), ["Last Seen", "Type", "Reason", "Object", "Message", "Name"]);
        let t = table_at(&columns, &[event], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["30s", "Warning", "Denied", "piidatabase/db", "no", "e1"]));

        let lease = json!({"kind": "Lease", "metadata": {"name": "l"}, "spec": {"holderIdentity": "pod-a"}});
        let t = table_at(&builtin_columns("Lease"), &[lease], "Metadata", "1", None, now());
        assert_eq!(t["rows"][0]["cells"], json!(["l", "pod-a", null]));

        assert_eq!(names(&builtin_columns("ServiceAccount")), ["Name", "Age"]);
    }

    #[test]
    fn empty_table_and_real_clock() {
        let t = table(&builtin_columns("Namespace"), &[], "Metadata", "", None);
        assert_eq!(t["rows"], json!([]));
        assert_eq!(t["metadata"], json!({}));
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    }

    #[test]
    fn human_durations_match_apimachinery() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 300, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 86400, "8d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 3 * 86400, "2y3d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
        assert_eq!(age("2025-01-10T11:00:00Z", now()), "60m");
        assert_eq!(age("not a time", now()), "<invalid>");
    }
}
