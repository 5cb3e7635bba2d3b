//! metav1-style status conditions and the one rule that keeps them quiet: a condition
//! whose status did not change keeps its `lastTransitionTime`, so an unchanged world
//! produces byte-identical status and the operator writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Status of a condition, as in `metav1.ConditionStatus`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell yet.
    Unknown,
}

/// One aspect of a resource's current state, shaped like `metav1.Condition`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition, e.g. `Ready` or `ResidencyCompliant`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// A stable, machine-readable reason in PascalCase (see the reason codes of the
    /// regionstack API).
    pub reason: String,
    /// A human-readable explanation. Never contains a secret.
    pub message: String,
    /// When the condition last changed status.
    pub last_transition_time: Time,
    /// The `metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// A new condition stamped with `now`; [`set_condition`] decides whether that
    /// timestamp survives.
    pub fn new(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        observed_generation: Option<i64>,
        now: Time,
    ) -> Self {
        Self {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
            last_transition_time: now,
            observed_generation,
        }
    }
}

/// Insert or replace the condition of `new.type_`, keeping the previous
/// `lastTransitionTime` when the status did not change.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    if let Some(old) = conditions.iter_mut().find(|c| c.type_ == new.type_) {
        if old.status == new.status {
            new.last_transition_time = old.last_transition_time.clone();
        }
        *old = new;
    } else {
        conditions.push(new);
    }
}

/// The condition of the given type, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn unchanged_status_keeps_transition_time() {
        let mut conds = vec![];
        set_condition(
            &mut conds,
            Condition::new("Ready", ConditionStatus::False, "UnknownRegion", "a", Some(1), at(10)),
        );
        set_condition(
            &mut conds,
            Condition::new("Ready", ConditionStatus::False, "RegionNotActive", "b", Some(2), at(20)),
        );
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].last_transition_time, at(10));
        assert_eq!(conds[0].reason, "RegionNotActive");
        assert_eq!(conds[0].observed_generation, Some(2));
    }

    #[test]
    fn changed_status_moves_transition_time() {
        let mut conds = vec![];
        set_condition(
            &mut conds,
            Condition::new("Ready", ConditionStatus::False, "UnknownRegion", "a", Some(1), at(10)),
        );
        set_condition(&mut conds, Condition::new("Ready", ConditionStatus::True, "Ready", "ok", Some(1), at(30)));
        assert_eq!(conds[0].last_transition_time, at(30));
        set_condition(
            &mut conds,
            Condition::new("ResidencyCompliant", ConditionStatus::True, "Compliant", "ok", Some(1), at(40)),
        );
        assert_eq!(conds.len(), 2);
        assert_eq!(find_condition(&conds, "ResidencyCompliant").unwrap().last_transition_time, at(40));
    }
}
