//! Field tables of the apps/v1, policy/v1, rbac.authorization.k8s.io/v1 and
//! authorization.k8s.io/v1 kinds (`k8s.io/api/{apps,policy,rbac,authorization}/v1/
//! generated.proto`), and the index from (apiVersion, kind) to a top-level table:
//! only kinds the emulator serves are listed.

use super::core::{CONFIG_MAP, NAMESPACE, POD_TEMPLATE_SPEC, SECRET, SELECTOR, SERVICE, SERVICE_ACCOUNT};
use super::decode::{Kind, Message, f};
use super::meta::{CONDITION, LABEL_SELECTOR, OBJECT_META};

const META: Kind = Kind::Msg(&OBJECT_META);

/// The top-level message of each kind that may arrive as protobuf.
pub fn table(api_version: &str, kind: &str) -> Option<&'static Message> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Secret") => &SECRET,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Service") => &SERVICE,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("policy/v1", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => &BINDING,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &SELF_SUBJECT_ACCESS_REVIEW,
        _ => return None,
    })
}

/// `Deployment`.
pub static DEPLOYMENT: Message = Message {
    name: "Deployment",
    fields: &[
        f(1, "metadata", META),
        f(2, "spec", Kind::Msg(&DEPLOYMENT_SPEC)),
        f(3, "status", Kind::Msg(&DEPLOYMENT_STATUS)),
    ],
};

static DEPLOYMENT_SPEC: Message = Message {
    name: "DeploymentSpec",
    fields: &[
        f(1, "replicas", Kind::Int).keep(),
        f(2, "selector", SELECTOR),
        f(3, "template", Kind::Msg(&POD_TEMPLATE_SPEC)),
        f(4, "strategy", Kind::Msg(&DEPLOYMENT_STRATEGY)),
        f(5, "minReadySeconds", Kind::Int),
        f(6, "revisionHistoryLimit", Kind::Int).keep(),
        f(7, "paused", Kind::Bool),
        f(9, "progressDeadlineSeconds", Kind::Int).keep(),
    ],
};

static DEPLOYMENT_STRATEGY: Message = Message {
    name: "DeploymentStrategy",
    fields: &[f(1, "type", Kind::Str), f(2, "rollingUpdate", Kind::Msg(&ROLLING_UPDATE_DEPLOYMENT))],
};

static ROLLING_UPDATE_DEPLOYMENT: Message = Message {
    name: "RollingUpdateDeployment",
    fields: &[f(1, "maxUnavailable", Kind::IntOrString), f(2, "maxSurge", Kind::IntOrString)],
};

static DEPLOYMENT_STATUS: Message = Message {
    name: "DeploymentStatus",
    fields: &[
        f(1, "observedGeneration", Kind::Int),
        f(2, "replicas", Kind::Int),
        f(3, "updatedReplicas", Kind::Int),
        f(4, "availableReplicas", Kind::Int),
        f(5, "unavailableReplicas", Kind::Int),
        f(6, "conditions", Kind::Msg(&DEPLOYMENT_CONDITION)).rep(),
        f(7, "readyReplicas", Kind::Int),
        f(8, "collisionCount", Kind::Int).keep(),
        f(9, "terminatingReplicas", Kind::Int).keep(),
    ],
};

static DEPLOYMENT_CONDITION: Message = Message {
    name: "DeploymentCondition",
    fields: &[
        f(1, "type", Kind::Str).keep(),
        f(2, "status", Kind::Str).keep(),
        f(4, "reason", Kind::Str),
        f(5, "message", Kind::Str),
        f(6, "lastUpdateTime", Kind::Time).keep(),
        f(7, "lastTransitionTime", Kind::Time).keep(),
    ],
};

/// `PodDisruptionBudget` (policy/v1).
pub static POD_DISRUPTION_BUDGET: Message = Message {
    name: "PodDisruptionBudget",
    fields: &[f(1, "metadata", META), f(2, "spec", Kind::Msg(&PDB_SPEC)), f(3, "status", Kind::Msg(&PDB_STATUS))],
};

static PDB_SPEC: Message = Message {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        f(1, "minAvailable", Kind::IntOrString),
        f(2, "selector", SELECTOR),
        f(3, "maxUnavailable", Kind::IntOrString),
        f(4, "unhealthyPodEvictionPolicy", Kind::Str).keep(),
    ],
};

static PDB_STATUS: Message = Message {
    name: "PodDisruptionBudgetStatus",
    fields: &[
        f(1, "observedGeneration", Kind::Int),
        f(3, "disruptionsAllowed", Kind::Int).keep(),
        f(4, "currentHealthy", Kind::Int).keep(),
        f(5, "desiredHealthy", Kind::Int).keep(),
        f(6, "expectedPods", Kind::Int).keep(),
        f(7, "conditions", Kind::Msg(&CONDITION)).rep(),
    ],
};

/// `Role`.
pub static ROLE: Message =
    Message { name: "Role", fields: &[f(1, "metadata", META), f(2, "rules", Kind::Msg(&POLICY_RULE)).rep()] };

/// `ClusterRole`.
pub static CLUSTER_ROLE: Message = Message {
    name: "ClusterRole",
    fields: &[
        f(1, "metadata", META),
        f(2, "rules", Kind::Msg(&POLICY_RULE)).rep(),
        f(3, "aggregationRule", Kind::Msg(&AGGREGATION_RULE)),
    ],
};

static POLICY_RULE: Message = Message {
    name: "PolicyRule",
    fields: &[
        f(1, "verbs", Kind::Str).rep(),
        f(2, "apiGroups", Kind::Str).rep(),
        f(3, "resources", Kind::Str).rep(),
        f(4, "resourceNames", Kind::Str).rep(),
        f(5, "nonResourceURLs", Kind::Str).rep(),
    ],
};

static AGGREGATION_RULE: Message =
    Message { name: "AggregationRule", fields: &[f(1, "clusterRoleSelectors", Kind::Msg(&LABEL_SELECTOR)).rep()] };

/// `RoleBinding` and `ClusterRoleBinding` (the same fields).
pub static BINDING: Message = Message {
    name: "RoleBinding",
    fields: &[
        f(1, "metadata", META),
        f(2, "subjects", Kind::Msg(&SUBJECT)).rep(),
        f(3, "roleRef", Kind::Msg(&ROLE_REF)),
    ],
};

static SUBJECT: Message = Message {
    name: "Subject",
    fields: &[
        f(1, "kind", Kind::Str).keep(),
        f(2, "apiGroup", Kind::Str),
        f(3, "name", Kind::Str).keep(),
        f(4, "namespace", Kind::Str),
    ],
};

static ROLE_REF: Message = Message {
    name: "RoleRef",
    fields: &[f(1, "apiGroup", Kind::Str).keep(), f(2, "kind", Kind::Str).keep(), f(3, "name", Kind::Str).keep()],
};

/// `SelfSubjectAccessReview` (`kubectl auth can-i`).
pub static SELF_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SelfSubjectAccessReview",
    fields: &[
        f(1, "metadata", META),
        f(2, "spec", Kind::Msg(&SSAR_SPEC)),
        f(3, "status", Kind::Msg(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};

static SSAR_SPEC: Message = Message {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        f(1, "resourceAttributes", Kind::Msg(&RESOURCE_ATTRIBUTES)),
        f(2, "nonResourceAttributes", Kind::Msg(&NON_RESOURCE_ATTRIBUTES)),
    ],
};

static RESOURCE_ATTRIBUTES: Message = Message {
    name: "ResourceAttributes",
    fields: &[
        f(1, "namespace", Kind::Str),
        f(2, "verb", Kind::Str),
        f(3, "group", Kind::Str),
        f(4, "version", Kind::Str),
        f(5, "resource", Kind::Str),
        f(6, "subresource", Kind::Str),
        f(7, "name", Kind::Str),
    ],
};

static NON_RESOURCE_ATTRIBUTES: Message =
    Message { name: "NonResourceAttributes", fields: &[f(1, "path", Kind::Str), f(2, "verb", Kind::Str)] };

static SUBJECT_ACCESS_REVIEW_STATUS: Message = Message {
    name: "SubjectAccessReviewStatus",
    fields: &[
        f(1, "allowed", Kind::Bool).keep(),
        f(2, "reason", Kind::Str),
        f(3, "evaluationError", Kind::Str),
        f(4, "denied", Kind::Bool),
    ],
};
