//! Step 2, pure: the CloudNativePG `Cluster` (postgresql.cnpg.io/v1) of a `managed`
//! PiiDatabase, and the mapping of CloudNativePG's superuser Secret onto a connection.
//!
//! The Cluster is pinned to the region: a required node affinity on
//! `topology.kubernetes.io/region` with the Region's `location.cloudRegion` (the value
//! cloud providers put on that node label), or its name when unset. Backups go only to
//! the declared object store (the policy has already refused one outside the region).
//! No `replica` section and no `externalClusters` are ever rendered, and server-side
//! apply removes them if an earlier version of ours had set them. The owner reference
//! (controller, blockOwnerDeletion) lets the garbage collector remove the Cluster with
//! the PiiDatabase.
//!
//! Object store credentials come from `backup.objectStore.credentialsSecretRef` with
//! CloudNativePG's documented keys: `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY` (`s3://`),
//! `gcsCredentials` (`gs://`), `AZURE_CONNECTION_STRING` (`https://`, Azure Blob).

use std::collections::BTreeMap;

use kube::api::{ApiResource, GroupVersionKind};
use kube::{Resource, ResourceExt};
use regionstack_api::PiiDatabase;
use regionstack_api::pii::{Backup, ManagedDatabase};
use serde_json::{Value, json};

/// The CloudNativePG API group.
pub(super) const CNPG_GROUP: &str = "postgresql.cnpg.io";
/// Its version.
pub(super) const CNPG_VERSION: &str = "v1";
/// `<group>/<version>`, for discovery.
pub(super) const CNPG_API_VERSION: &str = "postgresql.cnpg.io/v1";
/// The plural resource name served when CloudNativePG is installed.
pub(super) const CNPG_PLURAL: &str = "clusters";
/// The node label the Cluster's pods are pinned by.
pub(super) const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// The database created by the Cluster's bootstrap, which holds the personal data.
pub(super) const APP_DATABASE: &str = "app";

/// The `Cluster` kind as a dynamic API resource.
pub(super) fn cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(CNPG_GROUP, CNPG_VERSION, "Cluster"), CNPG_PLURAL)
}

/// Why a Cluster cannot be rendered (objects read from the API always have these).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the PiiDatabase has no metadata.{0}")]
pub struct Error(pub &'static str);

/// The desired `Cluster`, for server-side apply. `node_region` is the value of the
/// `topology.kubernetes.io/region` node label in the database's region.
pub(super) fn cluster(obj: &PiiDatabase, managed: &ManagedDatabase, node_region: &str) -> Result<Value, Error> {
    let name = obj.meta().name.as_deref().ok_or(Error("name"))?;
    let namespace = obj.meta().namespace.as_deref().ok_or(Error("namespace"))?;
    let uid = obj.meta().uid.as_deref().ok_or(Error("uid"))?;
    let mut spec = json!({
        "instances": managed.instances,
        "enableSuperuserAccess": true,
        "storage": { "size": managed.storage.size },
        "bootstrap": { "initdb": { "database": APP_DATABASE, "owner": APP_DATABASE } },
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{
                        "matchExpressions": [{ "key": REGION_LABEL, "operator": "In", "values": [node_region] }]
                    }]
                }
            }
        },
    });
    if let Some(class) = &managed.storage.storage_class {
        spec["storage"]["storageClass"] = json!(class);
    }
    if let Some(image) = &managed.image_name {
        spec["imageName"] = json!(image);
    }
    if let Some(backup) = &managed.backup {
        spec["backup"] = backup_section(backup);
    }
    Ok(json!({
        "apiVersion": CNPG_API_VERSION,
        "kind": "Cluster",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "regionstack",
                "app.kubernetes.io/part-of": "regionstack",
                "regionstack.io/region": obj.spec.region,
            },
            "ownerReferences": [{
                "apiVersion": PiiDatabase::api_version(&()),
                "kind": PiiDatabase::kind(&()),
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

fn backup_section(backup: &Backup) -> Value {
    let store = &backup.object_store;
    let secret = store.credentials_secret_ref.name.as_str();
    let key = |key: &str| json!({ "name": secret, "key": key });
    let mut barman = json!({ "destinationPath": store.destination_path });
    if let Some(url) = &store.endpoint_url {
        barman["endpointURL"] = json!(url);
    }
    let path = store.destination_path.as_str();
    if path.starts_with("gs://") {
        barman["googleCredentials"] = json!({ "applicationCredentials": key("gcsCredentials") });
    } else if path.starts_with("https://") || path.starts_with("http://") {
        barman["azureCredentials"] = json!({ "connectionString": key("AZURE_CONNECTION_STRING") });
    } else {
        barman["s3Credentials"] =
            json!({ "accessKeyId": key("ACCESS_KEY_ID"), "secretAccessKey": key("ACCESS_SECRET_KEY") });
    }
    let mut section = json!({ "barmanObjectStore": barman });
    if let Some(retention) = &backup.retention_policy {
        section["retentionPolicy"] = json!(retention);
    }
    section
}

/// The name of CloudNativePG's superuser Secret for the Cluster `name`.
pub(super) fn superuser_secret_name(name: &str) -> String {
    format!("{name}-superuser")
}

/// CloudNativePG's superuser Secret (keys `username`, `password`, and usually `host`,
/// `port`, `dbname`) as the keys of a regionstack connection Secret: `username` →
/// `user`; host defaults to the read-write Service `<name>-rw.<namespace>.svc`; the
/// superuser Secret's `dbname` is `*`, which means the bootstrap database
/// ([`APP_DATABASE`]); `sslmode` defaults to `require` (CloudNativePG serves TLS with
/// its own CA). Returns the first missing required key instead.
pub(super) fn cnpg_connection_data(
    obj: &PiiDatabase,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, &'static str> {
    let mut out = BTreeMap::new();
    out.insert("user".to_owned(), data.get("username").ok_or("username")?.clone());
    out.insert("password".to_owned(), data.get("password").ok_or("password")?.clone());
    let host =
        data.get("host").filter(|h| !h.is_empty()).cloned().unwrap_or_else(|| {
            format!("{}-rw.{}.svc", obj.name_any(), obj.namespace().unwrap_or_default()).into_bytes()
        });
    out.insert("host".to_owned(), host);
    if let Some(port) = data.get("port") {
        out.insert("port".to_owned(), port.clone());
    }
    let dbname = data.get("dbname").filter(|d| !d.is_empty() && d.as_slice() != b"*");
    out.insert("dbname".to_owned(), dbname.cloned().unwrap_or_else(|| APP_DATABASE.as_bytes().to_vec()));
    for key in ["sslmode", "ca.crt"] {
        if let Some(v) = data.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Ok(out)
}

/// Whether a Cluster object reports the condition `Ready=True`.
pub(super) fn cluster_ready(cluster: &Value) -> bool {
    cluster["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Names an in-region standby of the Cluster uses: each instance's name (the
/// `application_name` of its walsender) and its high-availability slot
/// (`_cnpg_<instance>` with `-` as `_`), from `status.instanceNames`.
pub(super) fn cluster_standbys(cluster: &Value) -> Vec<String> {
    let names = cluster["status"]["instanceNames"].as_array().into_iter().flatten().filter_map(Value::as_str);
    names.flat_map(|n| [n.to_owned(), format!("_cnpg_{}", n.replace('-', "_"))]).collect()
}

#[cfg(test)]
mod tests {
    use regionstack_api::Jurisdiction::Gdpr;
    use regionstack_api::fixtures::PiiDatabaseBuilder;

    use super::*;

    type Case<'a> = (&'a str, BTreeMap<String, Vec<u8>>, Result<[Option<&'a str>; 4], &'a str>);

    fn db(b: PiiDatabaseBuilder) -> PiiDatabase {
        let mut obj = b.compliance([Gdpr]).build();
        obj.metadata.uid = Some("uid-1".into());
        obj
    }

    #[test]
    fn cluster_rendering() {
        type Check = fn(&Value);
        let cases: Vec<(&str, PiiDatabase, Check)> = vec![
            (
                "pinned to the region, owned, superuser access, no replica",
                db(PiiDatabaseBuilder::new("c", "eu-west-1")),
                |v| {
                    let term = &v["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                        ["nodeSelectorTerms"][0]["matchExpressions"][0];
                    assert_eq!(term, &json!({"key": REGION_LABEL, "operator": "In", "values": ["aws-eu-1"]}));
                    let owner = &v["metadata"]["ownerReferences"][0];
                    assert_eq!(owner["kind"], "PiiDatabase");
                    assert_eq!(owner["apiVersion"], "regionstack.io/v1alpha1");
                    assert_eq!((owner["uid"].as_str(), owner["controller"].as_bool()), (Some("uid-1"), Some(true)));
                    assert_eq!(owner["blockOwnerDeletion"], true);
                    assert_eq!(v["metadata"]["labels"]["app.kubernetes.io/managed-by"], "regionstack");
                    assert_eq!(v["spec"]["enableSuperuserAccess"], true);
                    assert_eq!(v["spec"]["instances"], 3);
                    assert_eq!(v["spec"]["storage"], json!({"size": "10Gi"}));
                    for absent in ["replica", "externalClusters", "backup", "imageName"] {
                        assert!(v["spec"].get(absent).is_none(), "{absent}");
                    }
                },
            ),
            (
                "s3 backup with credentials and retention",
                db(PiiDatabaseBuilder::new("c", "eu-west-1").backup_in("eu-west-1")),
                |v| {
                    assert_eq!(
                        v["spec"]["backup"],
                        json!({
                            "barmanObjectStore": {
                                "destinationPath": "s3://pii-backups-eu-west-1/c",
                                "s3Credentials": {
                                    "accessKeyId": {"name": "backup-credentials", "key": "ACCESS_KEY_ID"},
                                    "secretAccessKey": {"name": "backup-credentials", "key": "ACCESS_SECRET_KEY"},
                                }
                            },
                            "retentionPolicy": "30d"
                        })
                    );
                },
            ),
            (
                "gcs backup, image, storage class, instances",
                db(PiiDatabaseBuilder::new("c", "eu-west-1").managed(1).backup_in("eu-west-1").edit(|s| {
                    let m = s.managed.as_mut().unwrap();
                    m.image_name = Some("ghcr.io/cloudnative-pg/postgresql:15".into());
                    m.storage.storage_class = Some("fast".into());
                    let store = &mut m.backup.as_mut().unwrap().object_store;
                    store.destination_path = "gs://bucket/c".into();
                    store.endpoint_url = Some("https://storage.example".into());
                })),
                |v| {
                    assert_eq!(v["spec"]["instances"], 1);
                    assert_eq!(v["spec"]["imageName"], "ghcr.io/cloudnative-pg/postgresql:15");
                    assert_eq!(v["spec"]["storage"]["storageClass"], "fast");
                    let barman = &v["spec"]["backup"]["barmanObjectStore"];
                    assert_eq!(barman["endpointURL"], "https://storage.example");
                    assert_eq!(barman["googleCredentials"]["applicationCredentials"]["key"], "gcsCredentials");
                    assert!(barman.get("s3Credentials").is_none());
                },
            ),
        ];
        for (name, obj, check) in cases {
            let managed = obj.spec.managed.clone().unwrap();
            let v = cluster(&obj, &managed, "aws-eu-1").unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (v["apiVersion"].as_str(), v["kind"].as_str()),
                (Some(CNPG_API_VERSION), Some("Cluster")),
                "{name}"
            );
            assert_eq!(
                (v["metadata"]["name"].as_str(), v["metadata"]["namespace"].as_str()),
                (Some("c"), Some("default"))
            );
            check(&v);
        }
    }

    #[test]
    fn rendering_needs_a_uid() {
        let mut obj = db(PiiDatabaseBuilder::new("c", "eu-west-1"));
        obj.metadata.uid = None;
        let managed = obj.spec.managed.clone().unwrap();
        assert_eq!(cluster(&obj, &managed, "eu-west-1"), Err(Error("uid")));
    }

    #[test]
    fn cnpg_secret_mapping() {
        let obj = db(PiiDatabaseBuilder::new("c", "eu-west-1"));
        let data = |pairs: &[(&str, &str)]| -> BTreeMap<String, Vec<u8>> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
        };
        let text = |m: &BTreeMap<String, Vec<u8>>, k: &str| m.get(k).map(|v| String::from_utf8(v.clone()).unwrap());
        let cases: Vec<Case<'_>> = vec![
            (
                "cnpg defaults",
                data(&[("username", "postgres"), ("password", "p"), ("dbname", "*")]),
                Ok([Some("postgres"), Some("c-rw.default.svc"), Some("app"), None]),
            ),
            (
                "explicit values",
                data(&[("username", "su"), ("password", "p"), ("host", "h"), ("port", "6543"), ("dbname", "pii")]),
                Ok([Some("su"), Some("h"), Some("pii"), Some("6543")]),
            ),
            ("no username", data(&[("password", "p")]), Err("username")),
            ("no password", data(&[("username", "u")]), Err("password")),
        ];
        for (name, input, expected) in cases {
            let got = cnpg_connection_data(&obj, &input)
                .map(|m| [text(&m, "user"), text(&m, "host"), text(&m, "dbname"), text(&m, "port")]);
            let expected = expected.map(|e| e.map(|o| o.map(str::to_owned)));
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn cluster_status_reading() {
        let ready =
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "instanceNames": ["c-1", "c-2"]}});
        assert!(cluster_ready(&ready));
        assert_eq!(cluster_standbys(&ready), ["c-1", "_cnpg_c_1", "c-2", "_cnpg_c_2"]);
        let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(!cluster_ready(&not_ready));
        assert!(!cluster_ready(&json!({})));
        assert!(cluster_standbys(&json!({})).is_empty());
    }
}
