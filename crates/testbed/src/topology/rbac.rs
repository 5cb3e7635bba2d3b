//! RBAC for the operators of a topology run under the emulator's authorization
//! ([`super::TopologyOptions::operator_rbac`]): the Helm chart's rendered RBAC, the
//! same objects `helm install` creates in a real cluster, and a helper that takes one
//! permission away, for tests showing a missing permission fails visibly.

use anyhow::Context as _;
use chart::{Chart, Release, Values};
use serde_json::Value;

use super::SYSTEM_NAMESPACE;

/// The release name the topology renders the chart under (the ServiceAccount and the
/// roles are named after it).
pub const RELEASE: &str = "regionstack";

/// The chart's RBAC objects for the operator of `region`: release [`RELEASE`] in
/// `regionstack-system` (where the operators keep their Lease), `--set region=<region>`.
/// ServiceAccount, ClusterRole, Role and their bindings; the Role's Lease rule names
/// the region's Lease, so each region gets its own rendering.
pub fn chart_rbac(region: &str) -> anyhow::Result<Vec<Value>> {
    let chart = Chart::regionstack().context("loading charts/regionstack")?;
    let rendered = chart
        .render(&Release::new(RELEASE, SYSTEM_NAMESPACE), &Values::new().set("region", region))
        .with_context(|| format!("rendering charts/regionstack for region {region}"))?;
    Ok(rendered.rbac_objects().into_iter().map(|m| m.object.clone()).collect())
}

/// `objects` with `verb` on `resource` (e.g. `piidatabases/status`) of `api_group`
/// removed from every rule of every Role and ClusterRole (rules left without verbs
/// or resources are dropped). Fails when nothing granted it.
pub fn without_permission(
    mut objects: Vec<Value>,
    api_group: &str,
    resource: &str,
    verb: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut removed = false;
    for role in objects.iter_mut().filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole") {
        let Some(rules) = role.get_mut("rules").and_then(Value::as_array_mut) else { continue };
        let mut split = Vec::new();
        for rule in rules.drain(..) {
            let has = |key: &str, v: &str| rule[key].as_array().is_some_and(|a| a.iter().any(|x| x == v));
            if !(has("apiGroups", api_group) && has("resources", resource) && has("verbs", verb)) {
                split.push(rule);
                continue;
            }
            removed = true;
            // The rule without the verb, and the rule's other resources with it.
            let mut without_verb = rule.clone();
            without_verb["verbs"].as_array_mut().context("verbs")?.retain(|v| v != verb);
            without_verb["resources"] = serde_json::json!([resource]);
            let mut others = rule.clone();
            others["resources"].as_array_mut().context("resources")?.retain(|r| r != resource);
            for r in [without_verb, others] {
                if r["verbs"].as_array().is_some_and(|a| !a.is_empty())
                    && r["resources"].as_array().is_some_and(|a| !a.is_empty())
                {
                    split.push(r);
                }
            }
        }
        *rules = split;
    }
    anyhow::ensure!(removed, "no rule grants {verb} on {resource} in API group {api_group:?}");
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(objects: &[Value]) -> Vec<String> {
        kube_emulator::granted_permissions(objects)
            .iter()
            .map(|p| format!("{} {} {}", p.api_group, p.resource, p.verb))
            .collect()
    }

    #[test]
    fn the_chart_renders_one_service_account_and_binds_its_roles() {
        let objects = chart_rbac("eu-west-1").unwrap();
        assert_eq!(objects.iter().filter(|o| o["kind"] == "ServiceAccount").count(), 1);
        let granted = grants(&objects);
        for g in ["regionstack.io piidatabases/status patch", "coordination.k8s.io leases update", " secrets get"] {
            assert!(granted.contains(&g.to_owned()), "{g} not in {granted:?}");
        }
    }

    #[test]
    fn without_permission_takes_exactly_one_grant_away() {
        let objects = chart_rbac("eu-west-1").unwrap();
        let before = grants(&objects);
        let after =
            grants(&without_permission(objects.clone(), "regionstack.io", "piidatabases/status", "patch").unwrap());
        let removed: Vec<_> = before.iter().filter(|g| !after.contains(g)).collect();
        assert_eq!(removed, ["regionstack.io piidatabases/status patch"]);
        assert!(after.iter().all(|g| before.contains(g)), "nothing is added");
        let err = without_permission(objects, "regionstack.io", "regions", "delete").unwrap_err();
        assert!(err.to_string().contains("no rule grants delete on regions"), "{err}");
    }
}
