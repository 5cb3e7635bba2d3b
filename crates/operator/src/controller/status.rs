//! Status writes: server-side apply of the `status` subresource under
//! [`FIELD_MANAGER`](super::FIELD_MANAGER), and none at all when the computed status
//! equals the stored one (DESIGN §9: zero status writes when idle). Conditions keep
//! their `lastTransitionTime` through `set_condition`, so an unchanged world computes
//! a byte-identical status.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::FIELD_MANAGER;

/// Apply `desired` as the status of `obj` unless it equals `current`. Returns whether
/// a write was made.
pub async fn apply_status<K, S>(api: &Api<K>, obj: &K, current: Option<&S>, desired: &S) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    Ok(apply_status_object(api, obj, current, desired).await?.is_some())
}

/// [`apply_status`], returning the object as stored after the write (`None` when
/// nothing was written). Events about what the new status says should reference this
/// object: kube's event recorder folds Events with the same reference and reason into
/// one series that keeps the first note, and the new `resourceVersion` starts a new
/// one.
pub async fn apply_status_object<K, S>(
    api: &Api<K>,
    obj: &K,
    current: Option<&S>,
    desired: &S,
) -> Result<Option<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let desired_json = serde_json::to_value(desired).map_err(kube::Error::SerdeError)?;
    if let Some(current) = current
        && serde_json::to_value(current).map_err(kube::Error::SerdeError)? == desired_json
    {
        return Ok(None);
    }
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired_json,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(Some(api.patch_status(&obj.name_any(), &params, &Patch::Apply(&body)).await?))
}
