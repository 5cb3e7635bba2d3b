//! Hand-written, deliberately partial schemas for the built-in kinds the emulator serves,
//! and the `meta.k8s.io/v1` definitions every document references. Parts that are not
//! modelled carry `x-kubernetes-preserve-unknown-fields: true` so that validation
//! against them never rejects a field kube-apiserver would accept.

use serde_json::{Value, json};

use super::OpenApiResource;

/// Component name of `ObjectMeta`.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Component name of `ListMeta`.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const OWNER_REFERENCE: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference";
const MANAGED_FIELDS_ENTRY: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry";
/// Component name of the `Patch` request body.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// Component name of `Status` (delete responses, errors).
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";

/// `#/components/schemas/<name>`.
pub fn schema_ref(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn time(description: &str) -> Value {
    json!({"type": "string", "format": "date-time", "description": description})
}

fn integer(description: &str) -> Value {
    json!({"type": "integer", "format": "int32", "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

fn string_map(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description})
}

fn strings(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "default": ""}, "description": description})
}

/// An object whose contents are accepted as-is (not modelled here).
fn open(description: &str) -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "description": description})
}

fn open_list(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "description": description})
}

fn object(description: &str, properties: Value) -> Value {
    let mut schema = json!({"type": "object", "description": description});
    schema["properties"] = properties;
    schema
}

/// `ObjectMeta`, `ListMeta` and friends: the supporting `meta.k8s.io/v1` components.
pub fn meta_components() -> Vec<(String, Value)> {
    let object_meta = object(
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        json!({
            "annotations": string_map("Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."),
            "creationTimestamp": time("CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only."),
            "deletionGracePeriodSeconds": json!({"type": "integer", "format": "int64", "description": "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."}),
            "deletionTimestamp": time("DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Populated by the system when a graceful deletion is requested. Read-only."),
            "finalizers": json!({"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge", "description": "Must be empty before the object is deleted from the registry."}),
            "generateName": string("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "generation": json!({"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."}),
            "labels": string_map("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "managedFields": json!({"type": "array", "items": {"allOf": [{"$ref": schema_ref(MANAGED_FIELDS_ENTRY)}], "default": {}}, "x-kubernetes-list-type": "atomic", "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."}),
            "name": string("Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated."),
            "namespace": string("Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the \"default\" namespace. Cannot be updated."),
            "ownerReferences": json!({"type": "array", "items": {"allOf": [{"$ref": schema_ref(OWNER_REFERENCE)}], "default": {}}, "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge", "description": "List of objects depended by this object."}),
            "resourceVersion": string("An opaque value that represents the internal version of this object. Populated by the system. Read-only."),
            "selfLink": string("Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
            "uid": string("UID is the unique in time and space value for this object. Populated by the system. Read-only."),
        }),
    );
    let list_meta = object(
        "ListMeta describes metadata that synthetic resources must have, including lists and various status objects.",
        json!({
            "continue": string("continue may be set if the user set a limit on the number of items returned."),
            "remainingItemCount": json!({"type": "integer", "format": "int64", "description": "The number of subsequent items in the list which are not included in this list response."}),
            "resourceVersion": string("String that identifies the server's internal version of this object."),
            "selfLink": string("Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
        }),
    );
    let mut owner = object(
        "OwnerReference contains enough information to let you identify an owning object.",
        json!({
            "apiVersion": string("API version of the referent."),
            "blockOwnerDeletion": boolean("If true, AND if the owner has the \"foregroundDeletion\" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed."),
            "controller": boolean("If true, this reference points to the managing controller."),
            "kind": string("Kind of the referent."),
            "name": string("Name of the referent."),
            "uid": string("UID of the referent."),
        }),
    );
    owner["required"] = json!(["apiVersion", "kind", "name", "uid"]);
    owner["x-kubernetes-map-type"] = json!("atomic");
    let managed = object(
        "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.",
        json!({
            "apiVersion": string("APIVersion defines the version of this resource that this field set applies to."),
            "fieldsType": string("FieldsType is the discriminator for the different fields format and version."),
            "fieldsV1": json!({"type": "object", "description": "FieldsV1 holds the first JSON version format as described in the \"FieldsV1\" type."}),
            "manager": string("Manager is an identifier of the workflow managing these fields."),
            "operation": string("Operation is the type of operation which lead to this ManagedFieldsEntry being created."),
            "subresource": string("Subresource is the name of the subresource used to update that object."),
            "time": time("Time is the timestamp of when the ManagedFields entry was added."),
        }),
    );
    let patch = json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."});
    let mut status = open("Status is a return value for calls that don't return other objects.");
    status["x-kubernetes-group-version-kind"] = json!([{"group": "", "kind": "Status", "version": "v1"}]);
    [
        (OBJECT_META, object_meta),
        (LIST_META, list_meta),
        (OWNER_REFERENCE, owner),
        (MANAGED_FIELDS_ENTRY, managed),
        (PATCH, patch),
        (STATUS, status),
    ]
    .into_iter()
    .map(|(name, schema)| (name.to_owned(), schema))
    .collect()
}

fn builtin(group: &str, version: &str, kind: &str, namespaced: bool, schema: Value) -> OpenApiResource {
    OpenApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
        schema,
        namespaced,
        custom: false,
    }
}

/// The built-in kinds the emulator serves, with minimal schemas (root `apiVersion`,
/// `kind` and `metadata` are added by [`super::group_version_document`]).
#[allow(clippy::too_many_lines, reason = "a table of schemas, one entry per kind")]
pub fn builtin_resources() -> Vec<OpenApiResource> {
    vec![
        builtin(
            "",
            "v1",
            "ConfigMap",
            true,
            object(
                "ConfigMap holds configuration data for pods to consume.",
                json!({
                    "binaryData": json!({"type": "object", "additionalProperties": {"type": "string", "format": "byte"}, "description": "BinaryData contains the binary data."}),
                    "data": string_map("Data contains the configuration data."),
                    "immutable": boolean("Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated."),
                }),
            ),
        ),
        builtin(
            "",
            "v1",
            "Secret",
            true,
            object(
                "Secret holds secret data of a certain type.",
                json!({
                    "data": json!({"type": "object", "additionalProperties": {"type": "string", "format": "byte"}, "description": "Data contains the secret data, base64 encoded."}),
                    "immutable": boolean("Immutable, if set to true, ensures that data stored in the Secret cannot be updated."),
                    "stringData": string_map("stringData allows specifying non-binary secret data in string form. It is a write-only input field."),
                    "type": string("Used to facilitate programmatic handling of secret data."),
                }),
            ),
        ),
        builtin(
            "",
            "v1",
            "Namespace",
            false,
            object(
                "Namespace provides a scope for Names.",
                json!({
                    "spec": object("NamespaceSpec describes the attributes on a Namespace.", json!({"finalizers": strings("Finalizers is an opaque list of values that must be empty to permanently remove object from storage.")})),
                    "status": open("Status describes the current status of a Namespace."),
                }),
            ),
        ),
        builtin(
            "",
            "v1",
            "Service",
            true,
            object(
                "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
                json!({"spec": open("Spec defines the behavior of a service."), "status": open("Most recently observed status of the service.")}),
            ),
        ),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            true,
            object(
                "ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets.",
                json!({
                    "automountServiceAccountToken": boolean("AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted."),
                    "imagePullSecrets": open_list("ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images."),
                    "secrets": open_list("Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
                }),
            ),
        ),
        builtin(
            "",
            "v1",
            "Event",
            true,
            object(
                "Event is a report of an event somewhere in the cluster.",
                json!({
                    "action": string("What action was taken/failed regarding to the Regarding object."),
                    "count": integer("The number of times this event has occurred."),
                    "eventTime": time("Time when this Event was first observed."),
                    "firstTimestamp": time("The time at which the event was first recorded."),
                    "involvedObject": open("The object that this event is about."),
                    "lastTimestamp": time("The time at which the most recent occurrence of this event was recorded."),
                    "message": string("A human-readable description of the status of this operation."),
                    "reason": string("This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                    "related": open("Optional secondary object for more complex actions."),
                    "reportingComponent": string("Name of the controller that emitted this Event."),
                    "reportingInstance": string("ID of the controller instance."),
                    "series": open("Data about the Event series this event represents or nil if it's a singleton Event."),
                    "source": open("The component reporting this event."),
                    "type": string("Type of this event (Normal, Warning)."),
                }),
            ),
        ),
        builtin(
            "apps",
            "v1",
            "Deployment",
            true,
            object(
                "Deployment enables declarative updates for Pods and ReplicaSets.",
                json!({"spec": open("Specification of the desired behavior of the Deployment."), "status": open("Most recently observed status of the Deployment.")}),
            ),
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            true,
            object(
                "Lease defines a lease concept.",
                json!({"spec": object("LeaseSpec is a specification of a Lease.", json!({
                    "acquireTime": time("acquireTime is a time when the current lease was acquired."),
                    "holderIdentity": string("holderIdentity contains the identity of the holder of a current lease."),
                    "leaseDurationSeconds": integer("leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it."),
                    "leaseTransitions": integer("leaseTransitions is the number of transitions of a lease between holders."),
                    "preferredHolder": string("PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up."),
                    "renewTime": time("renewTime is a time when the current holder of a lease has last updated the lease."),
                    "strategy": string("Strategy indicates the strategy for picking the leader for coordinated leader election."),
                }))}),
            ),
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            true,
            object(
                "NetworkPolicy describes what network traffic is allowed for a set of Pods.",
                json!({"spec": open("spec represents the specification of the desired behavior for this NetworkPolicy.")}),
            ),
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            false,
            object(
                "CustomResourceDefinition represents a resource that should be exposed on the API server.",
                json!({"spec": open("spec describes how the user wants the resources to appear."), "status": open("status indicates the actual state of the CustomResourceDefinition.")}),
            ),
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "Event",
            true,
            object(
                "Event is a report of an event somewhere in the cluster.",
                json!({
                    "action": string("action is what action was taken/failed regarding to the regarding object."),
                    "deprecatedCount": integer("deprecatedCount is the deprecated field assuring backward compatibility with core.v1 Event type."),
                    "deprecatedFirstTimestamp": time("deprecatedFirstTimestamp is the deprecated field assuring backward compatibility with core.v1 Event type."),
                    "deprecatedLastTimestamp": time("deprecatedLastTimestamp is the deprecated field assuring backward compatibility with core.v1 Event type."),
                    "deprecatedSource": open("deprecatedSource is the deprecated field assuring backward compatibility with core.v1 Event type."),
                    "eventTime": time("eventTime is the time when this Event was first observed."),
                    "note": string("note is a human-readable description of the status of this operation."),
                    "reason": string("reason is why the action was taken."),
                    "regarding": open("regarding contains the object this Event is about."),
                    "related": open("related is the optional secondary object for more complex actions."),
                    "reportingController": string("reportingController is the name of the controller that emitted this Event."),
                    "reportingInstance": string("reportingInstance is the ID of the controller instance."),
                    "series": open("series is data about the Event series this event represents or nil if it's a singleton Event."),
                    "type": string("type is the type of this event (Normal, Warning)."),
                }),
            ),
        ),
    ]
}
