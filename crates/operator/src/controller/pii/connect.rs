//! Step 3a, API side: from the spec to a database connection. `external` reads the
//! connection Secret; `managed` checks that CloudNativePG is served, applies the
//! rendered `Cluster`, waits for it to be Ready and reads its superuser Secret.
//!
//! Secrets are read here and turned into [`ConnParams`] at once; errors and messages
//! name the Secret and its keys, never a value.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, ResourceExt};
use regionstack_api::PiiDatabase;
use regionstack_sql::ConnParams;

use super::build;
use crate::controller::{Context, ErrorCategory, FIELD_MANAGER};

/// Where the database is, once it can be reached.
#[derive(Clone, Debug)]
pub(super) struct Target {
    /// Superuser connection to the PII database.
    pub params: ConnParams,
    /// Names of in-region standbys (CloudNativePG instances and their slots).
    pub standbys: Vec<String>,
}

/// How far the database is from being reachable.
#[derive(Clone, Debug)]
pub(super) enum Reach {
    /// Connect with these parameters.
    Ready(Target),
    /// CloudNativePG is not installed: nothing can be provisioned.
    ProvisionerMissing,
    /// The Cluster exists but is not Ready yet: a message, and how long ago the
    /// Cluster was created (zero when unknown).
    Provisioning(String, std::time::Duration),
}

/// Errors reaching the database through the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection Secret, or one of its keys, does not exist.
    #[error("secret {secret:?} {}", .key.as_ref().map_or_else(|| "not found".to_owned(), |k| format!("has no key {k:?}")))]
    SecretMissing {
        /// Secret name (in the PiiDatabase's namespace).
        secret: String,
        /// The missing key, or `None` when the Secret itself is missing.
        key: Option<String>,
    },
    /// A key of the connection Secret holds an unusable value.
    #[error("secret {secret:?}: {reason}")]
    SecretInvalid {
        /// Secret name.
        secret: String,
        /// What is wrong; names keys, never values.
        reason: String,
    },
    /// The Cluster could not be rendered.
    #[error(transparent)]
    Build(#[from] build::Error),
    /// The API server refused or failed a request.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::SecretMissing { .. } => "SecretMissing",
            Error::SecretInvalid { .. } => "SecretInvalid",
            Error::Build(_) => "InvalidSpec",
            Error::Kube(_) => "KubeApi",
        }
    }
    fn is_transient(&self) -> bool {
        // A Secret may be created or fixed later without any change to the PiiDatabase.
        !matches!(self, Error::Build(_))
    }
}

/// Find (and for `managed`, provision) the database of `obj`.
pub(super) async fn reach(obj: &PiiDatabase, ctx: &Context) -> Result<Reach, Error> {
    let namespace = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Some(external) = &obj.spec.external {
        let name = &external.connection_secret_ref.name;
        let data = read_secret(&secrets, name).await?;
        for key in ["host", "user", "password", "dbname"] {
            if !data.contains_key(key) {
                return Err(Error::SecretMissing { secret: name.clone(), key: Some(key.to_owned()) });
            }
        }
        let params = params_from(name, &data)?;
        return Ok(Reach::Ready(Target { params, standbys: Vec::new() }));
    }
    let Some(managed) = &obj.spec.managed else {
        // The CRD's CEL rule and the policy both refuse this; keep the match total.
        return Err(Error::Build(build::Error("spec.managed")));
    };
    if !cnpg_served(ctx).await? {
        return Ok(Reach::ProvisionerMissing);
    }
    let node_region = ctx
        .region(&obj.spec.region)
        .and_then(|r| r.spec.location.cloud_region.clone())
        .unwrap_or_else(|| obj.spec.region.clone());
    let desired = build::cluster(obj, managed, &node_region)?;
    let clusters: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &build::cluster_resource());
    let applied =
        clusters.patch(&obj.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired)).await?;
    let live = serde_json::to_value(&applied).map_err(kube::Error::SerdeError)?;
    if !build::cluster_ready(&live) {
        let created = applied.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let age = created
            .and_then(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t).try_into().ok())
            .unwrap_or_default();
        let message = format!("waiting for CloudNativePG Cluster {:?} to report Ready", obj.name_any());
        return Ok(Reach::Provisioning(message, age));
    }
    let name = build::superuser_secret_name(&obj.name_any());
    let data = read_secret(&secrets, &name).await?;
    let mapped = build::cnpg_connection_data(obj, &data)
        .map_err(|key| Error::SecretMissing { secret: name.clone(), key: Some(key.to_owned()) })?;
    let params = params_from(&name, &mapped)?;
    Ok(Reach::Ready(Target { params, standbys: build::cluster_standbys(&live) }))
}

/// The connection of an existing database, for teardown: nothing is applied and
/// CloudNativePG's readiness is not awaited. `Err(SecretMissing)` when the Secret or
/// one of its keys is gone (then nothing is reachable).
pub(super) async fn existing(obj: &PiiDatabase, ctx: &Context) -> Result<ConnParams, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    if let Some(external) = &obj.spec.external {
        let name = &external.connection_secret_ref.name;
        return params_from(name, &read_secret(&secrets, name).await?);
    }
    let name = build::superuser_secret_name(&obj.name_any());
    let data = read_secret(&secrets, &name).await?;
    let mapped = build::cnpg_connection_data(obj, &data)
        .map_err(|key| Error::SecretMissing { secret: name.clone(), key: Some(key.to_owned()) })?;
    params_from(&name, &mapped)
}

/// Whether the API server serves `clusters.postgresql.cnpg.io/v1` (discovery, so no
/// permission on CustomResourceDefinitions is needed).
async fn cnpg_served(ctx: &Context) -> Result<bool, kube::Error> {
    match ctx.client.list_api_group_resources(build::CNPG_API_VERSION).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == build::CNPG_PLURAL)),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The data of the Secret `name`, or `SecretMissing`.
async fn read_secret(api: &Api<Secret>, name: &str) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let secret = api.get_opt(name).await?.ok_or_else(|| Error::SecretMissing { secret: name.to_owned(), key: None })?;
    let mut data: BTreeMap<String, Vec<u8>> =
        secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
    // `stringData` is write-only on a real API server; accept it where it is stored.
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.entry(k).or_insert_with(|| v.into_bytes());
    }
    Ok(data)
}

fn params_from(secret: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<ConnParams, Error> {
    ConnParams::from_secret_data(data)
        .map_err(|e| Error::SecretInvalid { secret: secret.to_owned(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_errors_name_keys_only() {
        let e = Error::SecretMissing { secret: "conn".into(), key: Some("password".into()) };
        assert_eq!(e.to_string(), r#"secret "conn" has no key "password""#);
        assert_eq!((e.category(), e.is_transient()), ("SecretMissing", true));
        let e = Error::SecretMissing { secret: "conn".into(), key: None };
        assert_eq!(e.to_string(), r#"secret "conn" not found"#);
        let data: BTreeMap<String, Vec<u8>> =
            [("host", "h"), ("user", "u"), ("password", "hunter2"), ("dbname", "d"), ("port", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
                .collect();
        let e = params_from("conn", &data).unwrap_err();
        assert_eq!(e.category(), "SecretInvalid");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
