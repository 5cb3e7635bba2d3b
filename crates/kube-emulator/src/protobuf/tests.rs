//! Unit tests of the envelope and the table-driven decoder, on byte vectors built
//! here field by field (and one captured from kubectl 1.33 verbatim).

use serde_json::json;

use super::decode_object;
use super::wire::encode::{bytes, int, msg};

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = msg(|m| {
        bytes(m, 1, api_version.as_bytes());
        bytes(m, 2, kind.as_bytes());
    });
    let mut body = super::MAGIC.to_vec();
    bytes(&mut body, 1, &type_meta);
    bytes(&mut body, 2, raw);
    bytes(&mut body, 3, b"");
    bytes(&mut body, 4, b"");
    body
}

/// ObjectMeta as Go writes it: every non-pointer field, zero or not.
fn meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    msg(|m| {
        bytes(m, 1, name.as_bytes());
        for n in 2..=6 {
            bytes(m, n, if n == 3 { namespace.as_bytes() } else { b"" });
        }
        int(m, 7, 0);
        bytes(m, 8, b"");
        for (k, v) in labels {
            bytes(
                m,
                11,
                &msg(|e| {
                    bytes(e, 1, k.as_bytes());
                    bytes(e, 2, v.as_bytes());
                }),
            );
        }
    })
}

/// `kubectl create namespace foo` (kubectl v1.33.1), byte for byte.
const KUBECTL_NAMESPACE: &[u8] = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x1b\x0a\x13\x0a\x03foo\x12\x00\
\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";

#[test]
fn kubectls_namespace_decodes_to_its_json() {
    assert_eq!(
        decode_object(KUBECTL_NAMESPACE).unwrap(),
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "foo", "creationTimestamp": null}, "spec": {}, "status": {},
        })
    );
}

#[test]
fn secrets_keep_bytes_as_base64_and_pointers_keep_zero() {
    let raw = msg(|m| {
        bytes(m, 1, &meta("s", "team", &[("app", "x")]));
        for (k, v) in [("k", &b"v"[..]), ("bin", &[0, 255][..])] {
            bytes(
                m,
                2,
                &msg(|e| {
                    bytes(e, 1, k.as_bytes());
                    bytes(e, 2, v);
                }),
            );
        }
        bytes(m, 3, b"Opaque");
        int(m, 5, 0); // immutable: false, a *bool: kept.
    });
    assert_eq!(
        decode_object(&envelope("v1", "Secret", &raw)).unwrap(),
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "team", "labels": {"app": "x"}, "creationTimestamp": null},
            "data": {"k": "dg==", "bin": "AP8="},
            "type": "Opaque",
            "immutable": false,
        })
    );
}

#[test]
fn deployments_decode_int_or_string_quantities_times_and_repeated_fields() {
    let int_or_string = |ty: u64, i: u64, s: &str| {
        msg(|m| {
            int(m, 1, ty);
            int(m, 2, i);
            bytes(m, 3, s.as_bytes());
        })
    };
    let container = msg(|c| {
        bytes(c, 1, b"web");
        bytes(c, 2, b"nginx");
        bytes(c, 3, b"sleep");
        bytes(c, 3, b"1");
        bytes(c, 6, &msg(|p| int(p, 3, 80)));
        let quantity = msg(|q| bytes(q, 1, b"100m"));
        let limits = msg(|e| {
            bytes(e, 1, b"cpu");
            bytes(e, 2, &quantity);
        });
        bytes(c, 8, &msg(|r| bytes(r, 1, &limits)));
        int(c, 16, 0);
    });
    let spec = msg(|s| {
        int(s, 1, 0); // replicas: 0 is a *int32, kept.
        bytes(s, 3, &msg(|t| bytes(t, 2, &msg(|p| bytes(p, 2, &container)))));
        let rolling = msg(|r| {
            bytes(r, 1, &int_or_string(1, 0, "25%"));
            bytes(r, 2, &int_or_string(0, 2, ""));
        });
        bytes(
            s,
            4,
            &msg(|st| {
                bytes(st, 1, b"RollingUpdate");
                bytes(st, 2, &rolling);
            }),
        );
    });
    let condition = msg(|c| {
        bytes(c, 1, b"Available");
        bytes(c, 2, b"True");
        bytes(c, 7, &msg(|t| int(t, 1, 1_700_000_000)));
    });
    let raw = msg(|m| {
        bytes(m, 1, &meta("d", "team", &[]));
        bytes(m, 2, &spec);
        bytes(m, 3, &msg(|st| bytes(st, 6, &condition)));
    });
    assert_eq!(
        decode_object(&envelope("apps/v1", "Deployment", &raw)).unwrap(),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "team", "creationTimestamp": null},
            "spec": {
                "replicas": 0,
                "template": {"spec": {"containers": [{
                    "name": "web", "image": "nginx", "command": ["sleep", "1"],
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "100m"}},
                }]}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}},
            },
            "status": {"conditions": [{
                "type": "Available", "status": "True", "lastTransitionTime": "2023-11-14T22:13:20Z",
            }]},
        })
    );
}

#[test]
fn repeated_strings_keep_empty_elements_and_negative_ints_survive() {
    // apiGroups [""] is the core group: an empty element is data, not a zero value.
    let rule = msg(|r| {
        bytes(r, 1, b"get");
        bytes(r, 2, b"");
        bytes(r, 3, b"configmaps");
    });
    let raw = msg(|m| {
        bytes(m, 1, &meta("r", "team", &[]));
        bytes(m, 2, &rule);
    });
    assert_eq!(
        decode_object(&envelope("rbac.authorization.k8s.io/v1", "Role", &raw)).unwrap()["rules"],
        json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}])
    );
    let raw = msg(|m| bytes(m, 1, &msg(|o| int(o, 10, (-5i64).cast_unsigned()))));
    assert_eq!(
        decode_object(&envelope("v1", "ConfigMap", &raw)).unwrap()["metadata"],
        json!({"deletionGracePeriodSeconds": -5})
    );
}

#[test]
fn unknown_fields_and_kinds_are_refused_by_name() {
    // PodSpec field 1 (volumes) is not in the tables: 415 naming it, nothing dropped.
    let spec = msg(|s| bytes(s, 3, &msg(|t| bytes(t, 2, &msg(|p| bytes(p, 1, b"x"))))));
    let raw = msg(|m| bytes(m, 2, &spec));
    let e = decode_object(&envelope("apps/v1", "Deployment", &raw)).unwrap_err();
    assert_eq!((e.code, e.reason), (415, "UnsupportedMediaType"));
    assert!(e.message.contains("field number 1 of PodSpec (at Deployment spec.template.spec)"), "{}", e.message);
    assert!(e.message.contains("kubectl apply -f"), "{}", e.message);

    let e = decode_object(&envelope("batch/v1", "Job", b"")).unwrap_err();
    assert_eq!(e.code, 415);
    assert!(e.message.contains("not Job (batch/v1)") && e.message.contains("kubectl apply -f"), "{}", e.message);
}

#[test]
fn garbage_is_a_bad_request() {
    let mut truncated = KUBECTL_NAMESPACE.to_vec();
    truncated.truncate(20);
    let wrong_wire_type = envelope("v1", "Namespace", &msg(|m| int(m, 1, 7)));
    for body in [&b"not protobuf"[..], b"k8s\0\xff", &truncated, &wrong_wire_type] {
        let e = decode_object(body).unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"), "{body:?}: {}", e.message);
    }
}

#[test]
fn updates_carry_managed_fields_with_raw_json() {
    // `kubectl auth reconcile` PUTs back the object it read, managedFields included.
    let entry = msg(|e| {
        bytes(e, 1, b"kubectl-create");
        bytes(e, 2, b"Update");
        bytes(e, 3, b"v1");
        bytes(e, 4, &msg(|t| int(t, 1, 1_700_000_000)));
        bytes(e, 6, b"FieldsV1");
        bytes(e, 7, &msg(|r| bytes(r, 1, br#"{"f:data":{"f:a":{}}}"#)));
        bytes(e, 8, b"");
    });
    let raw = msg(|m| bytes(m, 1, &msg(|o| bytes(o, 17, &entry))));
    assert_eq!(
        decode_object(&envelope("v1", "ConfigMap", &raw)).unwrap()["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
            "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}},
        }])
    );
}
