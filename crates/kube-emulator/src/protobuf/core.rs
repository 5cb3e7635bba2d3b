//! Field tables of the core/v1 kinds `kubectl create` sends as protobuf
//! (`k8s.io/api/core/v1/generated.proto`): Namespace, ConfigMap, Secret,
//! ServiceAccount, Service, and the pod template a Deployment embeds. Pod fields
//! kubectl never writes (volumes, probes, affinity, security contexts…) are left out
//! on purpose: a body carrying them is refused by field number instead of guessed.

use super::decode::{Kind, Message, f};
use super::meta::{LABEL_SELECTOR, OBJECT_META};

const META: Kind = Kind::Msg(&OBJECT_META);

/// `Namespace`.
pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        f(1, "metadata", META),
        f(2, "spec", Kind::Msg(&NAMESPACE_SPEC)),
        f(3, "status", Kind::Msg(&NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message { name: "NamespaceSpec", fields: &[f(1, "finalizers", Kind::Str).rep()] };

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[f(1, "phase", Kind::Str), f(2, "conditions", Kind::Msg(&NAMESPACE_CONDITION)).rep()],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        f(1, "type", Kind::Str).keep(),
        f(2, "status", Kind::Str).keep(),
        f(4, "lastTransitionTime", Kind::Time).keep(),
        f(5, "reason", Kind::Str),
        f(6, "message", Kind::Str),
    ],
};

/// `ConfigMap`.
pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        f(1, "metadata", META),
        f(2, "data", Kind::MapStr),
        f(3, "binaryData", Kind::MapBytes),
        f(4, "immutable", Kind::Bool).keep(),
    ],
};

/// `Secret` (`data` values are bytes: base64 in JSON).
pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        f(1, "metadata", META),
        f(2, "data", Kind::MapBytes),
        f(3, "type", Kind::Str),
        f(4, "stringData", Kind::MapStr),
        f(5, "immutable", Kind::Bool).keep(),
    ],
};

/// `ServiceAccount`.
pub static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        f(1, "metadata", META),
        f(2, "secrets", Kind::Msg(&OBJECT_REFERENCE)).rep(),
        f(3, "imagePullSecrets", Kind::Msg(&LOCAL_OBJECT_REFERENCE)).rep(),
        f(4, "automountServiceAccountToken", Kind::Bool).keep(),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        f(1, "kind", Kind::Str),
        f(2, "namespace", Kind::Str),
        f(3, "name", Kind::Str),
        f(4, "uid", Kind::Str),
        f(5, "apiVersion", Kind::Str),
        f(6, "resourceVersion", Kind::Str),
        f(7, "fieldPath", Kind::Str),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message = Message { name: "LocalObjectReference", fields: &[f(1, "name", Kind::Str)] };

/// `Service`.
pub static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        f(1, "metadata", META),
        f(2, "spec", Kind::Msg(&SERVICE_SPEC)),
        f(3, "status", Kind::Msg(&SERVICE_STATUS)),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        f(1, "ports", Kind::Msg(&SERVICE_PORT)).rep(),
        f(2, "selector", Kind::MapStr),
        f(3, "clusterIP", Kind::Str),
        f(4, "type", Kind::Str),
        f(5, "externalIPs", Kind::Str).rep(),
        f(7, "sessionAffinity", Kind::Str),
        f(8, "loadBalancerIP", Kind::Str),
        f(9, "loadBalancerSourceRanges", Kind::Str).rep(),
        f(10, "externalName", Kind::Str),
        f(11, "externalTrafficPolicy", Kind::Str),
        f(12, "healthCheckNodePort", Kind::Int),
        f(13, "publishNotReadyAddresses", Kind::Bool),
        f(14, "sessionAffinityConfig", Kind::Msg(&SESSION_AFFINITY_CONFIG)),
        f(17, "ipFamilyPolicy", Kind::Str).keep(),
        f(18, "clusterIPs", Kind::Str).rep(),
        f(19, "ipFamilies", Kind::Str).rep(),
        f(20, "allocateLoadBalancerNodePorts", Kind::Bool).keep(),
        f(21, "loadBalancerClass", Kind::Str).keep(),
        f(22, "internalTrafficPolicy", Kind::Str).keep(),
    ],
};

static SESSION_AFFINITY_CONFIG: Message =
    Message { name: "SessionAffinityConfig", fields: &[f(1, "clientIP", Kind::Msg(&CLIENT_IP_CONFIG))] };

static CLIENT_IP_CONFIG: Message =
    Message { name: "ClientIPConfig", fields: &[f(1, "timeoutSeconds", Kind::Int).keep()] };

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        f(1, "name", Kind::Str),
        f(2, "protocol", Kind::Str),
        f(3, "port", Kind::Int).keep(),
        f(4, "targetPort", Kind::IntOrString),
        f(5, "nodePort", Kind::Int),
        f(6, "appProtocol", Kind::Str).keep(),
    ],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[
        f(1, "loadBalancer", Kind::Msg(&LOAD_BALANCER_STATUS)),
        f(2, "conditions", Kind::Msg(&super::meta::CONDITION)).rep(),
    ],
};

static LOAD_BALANCER_STATUS: Message =
    Message { name: "LoadBalancerStatus", fields: &[f(1, "ingress", Kind::Msg(&LOAD_BALANCER_INGRESS)).rep()] };

static LOAD_BALANCER_INGRESS: Message =
    Message { name: "LoadBalancerIngress", fields: &[f(1, "ip", Kind::Str), f(2, "hostname", Kind::Str)] };

/// `PodTemplateSpec`.
pub static POD_TEMPLATE_SPEC: Message =
    Message { name: "PodTemplateSpec", fields: &[f(1, "metadata", META), f(2, "spec", Kind::Msg(&POD_SPEC))] };

static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        f(2, "containers", Kind::Msg(&CONTAINER)).rep(),
        f(3, "restartPolicy", Kind::Str),
        f(4, "terminationGracePeriodSeconds", Kind::Int).keep(),
        f(5, "activeDeadlineSeconds", Kind::Int).keep(),
        f(6, "dnsPolicy", Kind::Str),
        f(7, "nodeSelector", Kind::MapStr),
        f(8, "serviceAccountName", Kind::Str),
        f(9, "serviceAccount", Kind::Str),
        f(10, "nodeName", Kind::Str),
        f(11, "hostNetwork", Kind::Bool),
        f(12, "hostPID", Kind::Bool),
        f(13, "hostIPC", Kind::Bool),
        f(15, "imagePullSecrets", Kind::Msg(&LOCAL_OBJECT_REFERENCE)).rep(),
        f(16, "hostname", Kind::Str),
        f(17, "subdomain", Kind::Str),
        f(19, "schedulerName", Kind::Str),
        f(20, "initContainers", Kind::Msg(&CONTAINER)).rep(),
        f(21, "automountServiceAccountToken", Kind::Bool).keep(),
        f(22, "tolerations", Kind::Msg(&TOLERATION)).rep(),
        f(24, "priorityClassName", Kind::Str),
        f(25, "priority", Kind::Int).keep(),
        f(27, "shareProcessNamespace", Kind::Bool).keep(),
        f(29, "runtimeClassName", Kind::Str).keep(),
        f(30, "enableServiceLinks", Kind::Bool).keep(),
        f(31, "preemptionPolicy", Kind::Str).keep(),
        f(32, "overhead", Kind::MapQuantity),
        f(35, "setHostnameAsFQDN", Kind::Bool).keep(),
        f(37, "hostUsers", Kind::Bool).keep(),
    ],
};

static TOLERATION: Message = Message {
    name: "Toleration",
    fields: &[
        f(1, "key", Kind::Str),
        f(2, "operator", Kind::Str),
        f(3, "value", Kind::Str),
        f(4, "effect", Kind::Str),
        f(5, "tolerationSeconds", Kind::Int).keep(),
    ],
};

static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        f(1, "name", Kind::Str).keep(),
        f(2, "image", Kind::Str),
        f(3, "command", Kind::Str).rep(),
        f(4, "args", Kind::Str).rep(),
        f(5, "workingDir", Kind::Str),
        f(6, "ports", Kind::Msg(&CONTAINER_PORT)).rep(),
        f(7, "env", Kind::Msg(&ENV_VAR)).rep(),
        f(8, "resources", Kind::Msg(&RESOURCE_REQUIREMENTS)),
        f(9, "volumeMounts", Kind::Msg(&VOLUME_MOUNT)).rep(),
        f(13, "terminationMessagePath", Kind::Str),
        f(14, "imagePullPolicy", Kind::Str),
        f(16, "stdin", Kind::Bool),
        f(17, "stdinOnce", Kind::Bool),
        f(18, "tty", Kind::Bool),
        f(20, "terminationMessagePolicy", Kind::Str),
        f(24, "restartPolicy", Kind::Str).keep(),
    ],
};

static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        f(1, "name", Kind::Str),
        f(2, "hostPort", Kind::Int),
        f(3, "containerPort", Kind::Int).keep(),
        f(4, "protocol", Kind::Str),
        f(5, "hostIP", Kind::Str),
    ],
};

static ENV_VAR: Message =
    Message { name: "EnvVar", fields: &[f(1, "name", Kind::Str).keep(), f(2, "value", Kind::Str)] };

static RESOURCE_REQUIREMENTS: Message = Message {
    name: "ResourceRequirements",
    fields: &[f(1, "limits", Kind::MapQuantity), f(2, "requests", Kind::MapQuantity)],
};

static VOLUME_MOUNT: Message = Message {
    name: "VolumeMount",
    fields: &[
        f(1, "name", Kind::Str).keep(),
        f(2, "readOnly", Kind::Bool),
        f(3, "mountPath", Kind::Str).keep(),
        f(4, "subPath", Kind::Str),
        f(5, "mountPropagation", Kind::Str).keep(),
        f(6, "subPathExpr", Kind::Str),
    ],
};

/// Selector type shared with apps and policy.
pub const SELECTOR: Kind = Kind::Msg(&LABEL_SELECTOR);
