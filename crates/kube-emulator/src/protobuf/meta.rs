//! Field tables of the apimachinery messages the built-in kinds embed
//! (`k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`): `ObjectMeta`,
//! `OwnerReference`, `ManagedFieldsEntry`, `LabelSelector`, `Condition`. Updates
//! (`kubectl auth reconcile` PUTs the object it read) carry `managedFields`.

use super::decode::{Kind, Message, f};

/// `metav1.ObjectMeta`.
pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        f(1, "name", Kind::Str),
        f(2, "generateName", Kind::Str),
        f(3, "namespace", Kind::Str),
        f(4, "selfLink", Kind::Str),
        f(5, "uid", Kind::Str),
        f(6, "resourceVersion", Kind::Str),
        f(7, "generation", Kind::Int),
        f(8, "creationTimestamp", Kind::Time).keep(),
        f(9, "deletionTimestamp", Kind::Time),
        f(10, "deletionGracePeriodSeconds", Kind::Int).keep(),
        f(11, "labels", Kind::MapStr),
        f(12, "annotations", Kind::MapStr),
        f(13, "ownerReferences", Kind::Msg(&OWNER_REFERENCE)).rep(),
        f(14, "finalizers", Kind::Str).rep(),
        f(17, "managedFields", Kind::Msg(&MANAGED_FIELDS_ENTRY)).rep(),
    ],
};

/// `metav1.ManagedFieldsEntry`.
pub static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        f(1, "manager", Kind::Str),
        f(2, "operation", Kind::Str),
        f(3, "apiVersion", Kind::Str),
        f(4, "time", Kind::Time),
        f(6, "fieldsType", Kind::Str),
        f(7, "fieldsV1", Kind::FieldsV1),
        f(8, "subresource", Kind::Str),
    ],
};

/// `metav1.OwnerReference`.
pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        f(1, "kind", Kind::Str).keep(),
        f(3, "name", Kind::Str).keep(),
        f(4, "uid", Kind::Str).keep(),
        f(5, "apiVersion", Kind::Str).keep(),
        f(6, "controller", Kind::Bool).keep(),
        f(7, "blockOwnerDeletion", Kind::Bool).keep(),
    ],
};

/// `metav1.LabelSelector`.
pub static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        f(1, "matchLabels", Kind::MapStr),
        f(2, "matchExpressions", Kind::Msg(&LABEL_SELECTOR_REQUIREMENT)).rep(),
    ],
};

/// `metav1.LabelSelectorRequirement`.
pub static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[f(1, "key", Kind::Str).keep(), f(2, "operator", Kind::Str).keep(), f(3, "values", Kind::Str).rep()],
};

/// `metav1.Condition`.
pub static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        f(1, "type", Kind::Str).keep(),
        f(2, "status", Kind::Str).keep(),
        f(3, "observedGeneration", Kind::Int),
        f(4, "lastTransitionTime", Kind::Time).keep(),
        f(5, "reason", Kind::Str).keep(),
        f(6, "message", Kind::Str).keep(),
    ],
};
