//! RBAC for the operators of a topology run under the emulator's authorization
//! ([`super::TopologyOptions::operator_rbac`]): the hand-written fixture of what the
//! operator needs (until the chart's rendered RBAC replaces it), and a helper that
//! takes one permission away, for tests showing a missing permission fails visibly.

use anyhow::Context as _;
use serde_json::Value;

/// `crates/testbed/fixtures/operator-rbac.yaml`: ServiceAccount
/// `regionstack-system/regionstack`, ClusterRole and Role with their bindings.
pub const OPERATOR_RBAC_YAML: &str = include_str!("../../fixtures/operator-rbac.yaml");

/// The fixture's objects.
pub fn operator_rbac() -> anyhow::Result<Vec<Value>> {
    super::manifests::documents(&[("operator-rbac.yaml".to_owned(), OPERATOR_RBAC_YAML.to_owned())])
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
