//! A stand-in for CloudNativePG, which cannot run here (it runs PostgreSQL in pods,
//! and the emulated clusters run nothing).
//!
//! A `managed` PiiDatabase makes the operator render a CloudNativePG `Cluster`
//! (`postgresql.cnpg.io/v1`). In a real cluster CloudNativePG would start the
//! instances, create the database, write the `<name>-superuser` Secret and report
//! `Ready`. Here the topology installs a minimal Cluster CRD (no schema beyond
//! preserve-unknown-fields, status subresource) and runs this in-process watcher per
//! region, which answers every Cluster with that region's PII PostgreSQL server:
//! - creates the database `spec.bootstrap.initdb.database` (CloudNativePG's default:
//!   `app`) on the region's PII server;
//! - writes Secret `<name>-superuser` (type `kubernetes.io/basic-auth`, owned by the
//!   Cluster) with CloudNativePG's keys: `username` (not `user`), `password`, `host`
//!   (`127.0.0.1` instead of the `<name>-rw` Service), `port`, `dbname`,
//!   `sslmode=disable`, `uri`; only when `spec.enableSuperuserAccess` is true, as
//!   CloudNativePG does;
//! - sets `status.instances`, `status.readyInstances`, `status.phase` and the
//!   condition `Ready=True`.
//!
//! Everything else CloudNativePG does (instances, failover, backups to
//! `barmanObjectStore`, node affinity) is not modelled: the PII database of a managed
//! PiiDatabase is a plain database on the region's one PII server, shared by every
//! managed Cluster of that region.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use futures::StreamExt as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

use crate::PgServer;

/// The stand-in's field manager.
pub const FIELD_MANAGER: &str = "cnpg-standin";

/// CloudNativePG's API group.
pub const GROUP: &str = "postgresql.cnpg.io";

/// The database CloudNativePG's `initdb` bootstrap creates when none is named.
pub const DEFAULT_DATABASE: &str = "app";

/// `postgresql.cnpg.io/v1` `Cluster` as a dynamic resource.
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", "Cluster"), "clusters")
}

/// A minimal `clusters.postgresql.cnpg.io` CRD: namespaced, `v1`, status
/// subresource, spec and status kept as sent (no schema), printer columns like
/// CloudNativePG's.
pub fn crd() -> CustomResourceDefinition {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("clusters.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Cluster", "listKind": "ClusterList", "plural": "clusters", "singular": "cluster"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    {"name": "Instances", "type": "integer", "jsonPath": ".status.instances"},
                    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyInstances"},
                    {"name": "Status", "type": "string", "jsonPath": ".status.phase"}
                ],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": open, "status": open}}}
            }]
        }
    }))
    .expect("a valid CRD")
}

/// Watches Clusters in every namespace of `client`'s cluster and answers them with
/// `server` until the task is aborted. Failures are logged and retried with the
/// watcher's backoff.
pub async fn run(client: Client, server: Arc<PgServer>) {
    let clusters: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource());
    let mut events = watcher(clusters, watcher::Config::default()).default_backoff().applied_objects().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(cluster) => {
                if let Err(err) = answer(&client, &server, &cluster).await {
                    tracing::warn!(cluster = %cluster.name_any(), err = format!("{err:#}"), "CNPG stand-in failed");
                }
            }
            Err(err) => tracing::debug!(%err, "CNPG stand-in watch error (retrying)"),
        }
    }
}

/// Makes `cluster` real on `server`: database, superuser Secret, Ready status.
/// Idempotent: nothing is written when everything is in place.
pub async fn answer(client: &Client, server: &Arc<PgServer>, cluster: &DynamicObject) -> anyhow::Result<()> {
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let name = cluster.name_any();
    let namespace = cluster.namespace().context("a Cluster is namespaced")?;
    let spec = cluster.data.get("spec").cloned().unwrap_or(Value::Null);
    let database =
        spec.pointer("/bootstrap/initdb/database").and_then(Value::as_str).unwrap_or(DEFAULT_DATABASE).to_owned();
    {
        let (server, database) = (Arc::clone(server), database.clone());
        tokio::task::spawn_blocking(move || ensure_database(&server, &database)).await??;
    }

    if spec.get("enableSuperuserAccess").and_then(Value::as_bool) == Some(true) {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let secret = superuser_secret(cluster, server, &database)?;
        secrets
            .patch(&format!("{name}-superuser"), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&secret))
            .await
            .context("writing the superuser Secret")?;
    }

    let instances = spec.get("instances").and_then(Value::as_i64).unwrap_or(1);
    let status = cluster.data.get("status");
    let ready = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .is_some_and(|conds| conds.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    let counted = status.and_then(|s| s.get("readyInstances")).and_then(Value::as_i64) == Some(instances);
    if !(ready && counted) {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &api_resource());
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let patch = json!({
            "apiVersion": format!("{GROUP}/v1"),
            "kind": "Cluster",
            "status": {
                "instances": instances,
                "readyInstances": instances,
                "phase": "Cluster in healthy state",
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "ClusterIsReady",
                    "message": "Cluster is Ready (regionstack demo stand-in for CloudNativePG)",
                    "lastTransitionTime": now,
                }],
            }
        });
        api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
            .await
            .context("writing the Cluster status")?;
        tracing::info!(cluster = %name, namespace, database, "CNPG stand-in: Cluster ready");
    }
    Ok(())
}

fn ensure_database(server: &PgServer, database: &str) -> anyhow::Result<()> {
    let literal = database.replace('\'', "''");
    let exists = server.psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{literal}'"))?;
    if exists.trim() == "0" {
        server.create_database(database)?;
    }
    Ok(())
}

fn superuser_secret(cluster: &DynamicObject, server: &PgServer, database: &str) -> anyhow::Result<Secret> {
    let name = cluster.name_any();
    let owner = OwnerReference {
        api_version: format!("{GROUP}/v1"),
        kind: "Cluster".into(),
        name: name.clone(),
        uid: cluster.uid().context("a stored Cluster has a uid")?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let port = server.port().to_string();
    let uri = format!(
        "postgresql://{}:{}@{}:{port}/{database}?sslmode=disable",
        server.superuser(),
        server.password(),
        server.host()
    );
    let data: BTreeMap<String, ByteString> = [
        ("username", server.superuser()),
        ("password", server.password()),
        ("host", server.host()),
        ("port", port.as_str()),
        ("dbname", database),
        ("sslmode", "disable"),
        ("uri", uri.as_str()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), ByteString(value.as_bytes().to_vec())))
    .collect();
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(format!("{name}-superuser")),
            namespace: cluster.namespace(),
            labels: Some([("cnpg.io/cluster".to_owned(), name)].into()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/basic-auth".into()),
        data: Some(data),
        ..Secret::default()
    })
}
