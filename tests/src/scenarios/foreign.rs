//! A PiiDatabase applied to the wrong cluster (DESIGN §3): `spec.region` is one
//! Active region, the manifest goes only to another Active region's cluster. That
//! cluster's operator reports `Ready=False, reason ForeignRegion` and creates nothing:
//! no finalizer, no CloudNativePG Cluster (managed), no guardrail in the database its
//! Secret names (external; a scratch database on that cluster's own PII server, the
//! one a mistaken operator would have touched).

use anyhow::{Context as _, ensure};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, ResourceExt};
use regionstack_api::{PiiDatabase, Region};
use serde_json::json;

use super::{TIMEOUT, events_about, wait_event};
use crate::kubectl::Kubectl;
use crate::scratch::{ScratchPii, labels};
use crate::{E2e, RegionCluster, db};

/// The scenario (see the module documentation).
pub async fn foreign_region(e2e: &E2e) -> anyhow::Result<()> {
    let (home, elsewhere) = e2e.two_active().await?;
    let scratch = ScratchPii::create(elsewhere, "foreign").await?;
    let external = format!("{}-ext", scratch.name);
    let managed = format!("{}-managed", scratch.name);
    let outcome = check(home, elsewhere, &scratch, &external, &managed).await;
    let cleaned = scratch.cleanup(&[&external, &managed]).await;
    outcome.and(cleaned)
}

async fn check(
    home: &RegionCluster,
    elsewhere: &RegionCluster,
    scratch: &ScratchPii,
    external: &str,
    managed: &str,
) -> anyhow::Result<()> {
    let region = Api::<Region>::all(elsewhere.client.clone()).get(&home.region).await?;
    let compliance: Vec<&str> = region.spec.jurisdictions.iter().map(|j| j.as_str()).collect();
    let kubectl = Kubectl::of(elsewhere)?;
    kubectl.apply(&scratch.manifest(external, &home.region, &compliance, "Enforce")).await?;
    let managed_manifest = json!({
        "apiVersion": regionstack_api::API_VERSION, "kind": "PiiDatabase",
        "metadata": {"name": managed, "namespace": "customers", "labels": labels()},
        "spec": {"region": home.region, "compliance": compliance, "enforcement": "Enforce",
                 "managed": {"instances": 1, "storage": {"size": "1Gi"}}},
    });
    kubectl.apply(&managed_manifest).await?;

    let api: Api<PiiDatabase> = Api::namespaced(elsewhere.client.clone(), "customers");
    for name in [external, managed] {
        kubectl.wait_condition("piidatabase", "customers", name, "Ready", ("False", "ForeignRegion"), TIMEOUT).await?;
        let db = api.get(name).await?;
        ensure!(
            db.finalizers().is_empty(),
            "[{}] {name}: finalizers {:?} on a foreign database",
            elsewhere.region,
            db.finalizers()
        );
        let status = db.status.context("no status")?;
        ensure!(status.endpoint.is_none(), "[{}] {name}: an endpoint {:?}", elsewhere.region, status.endpoint);
        wait_event(elsewhere, ("PiiDatabase", "customers", name), "Normal", "ForeignRegion").await?;
        let events = events_about(elsewhere, "PiiDatabase", "customers", name).await?;
        ensure!(
            events.iter().all(|(t, _, _)| t != "Warning"),
            "[{}] {name}: Warning Events for a foreign database: {events:?}",
            elsewhere.region
        );
    }
    // Not applied to its own region's cluster: nothing there either.
    let home_api: Api<PiiDatabase> = Api::namespaced(home.client.clone(), "customers");
    ensure!(home_api.get_opt(external).await?.is_none(), "{external} appeared in {}'s cluster", home.region);

    // Managed: no CloudNativePG Cluster (a cluster without CloudNativePG has none at all) and no superuser Secret.
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"), "clusters");
    let clusters: Api<DynamicObject> = Api::namespaced_with(elsewhere.client.clone(), "customers", &resource);
    match clusters.get_opt(managed).await {
        Ok(found) => ensure!(found.is_none(), "[{}] a CloudNativePG Cluster {managed} was created", elsewhere.region),
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(err) => return Err(err.into()),
    }
    let secrets: Api<Secret> = Api::namespaced(elsewhere.client.clone(), "customers");
    ensure!(
        secrets.get_opt(&format!("{managed}-superuser")).await?.is_none(),
        "a superuser Secret for {managed} exists"
    );

    // External: nothing installed in the database its Secret names.
    let (triggers, schema) = db::guardrails(&scratch.params).await?;
    ensure!(
        triggers.is_empty() && !schema,
        "[{}] guardrails installed for a foreign database in {}: event triggers {triggers:?}, schema regionstack: {schema}",
        elsewhere.region,
        scratch.params.dbname
    );
    ensure!(scratch.accounts().await? == 2, "the application rows changed");
    Ok(())
}
