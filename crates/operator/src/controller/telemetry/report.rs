//! Step 4, pure: the status this operator's side reports, computed from the object,
//! the validation and what the apply step observed. `status::apply_status` writes it
//! only when it differs from the stored one.
//!
//! **Quiet status (DESIGN §9: zero writes when idle).** Nothing in it changes unless
//! the world does: conditions keep `lastTransitionTime` through `set_condition`;
//! pruning results stay in logs; and lag, which moves with every WAL record, is
//! reported in `targets[].lagBytes` as a *bucket*: 0 below [`LAG_FLOOR`] (1 MiB,
//! caught up for practical purposes), otherwise the largest power of two not above
//! the lag (a lower bound that changes only when the lag doubles or halves). The
//! exact value is the `regionstack_replication_lag_bytes` metric.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use regionstack_api::condition::{ConditionStatus, set_condition};
use regionstack_api::telemetry::{ReplicaSide, TargetStatus, TelemetryReplicaStatus};
use regionstack_api::{Condition, ReasonCode, TelemetryReplica};
use regionstack_sql::telemetry::Names;
use regionstack_sql::telemetry::import::ImportHealth;

use super::apply::{SourceReport, TargetReport};
use super::build::replica_id;
use super::validate::{Validated, findings_message, foreign_message};

/// Condition type: this side is built and working.
pub const READY: &str = "Ready";
/// Condition type: the replica and what was found in the databases obey the rules.
pub const COMPLIANT: &str = "ResidencyCompliant";
/// Reason of `Ready=True`.
pub const RECONCILED: &str = "Reconciled";
/// Reason of `ResidencyCompliant=True`.
pub const COMPLIANT_REASON: &str = "Compliant";
/// Reason of `Ready=False` just after the import was created.
pub const PROVISIONING: &str = "Provisioning";
/// Reason of `Ready=False`: the import's subscription has no apply worker.
pub const WORKER_DOWN: &str = "WorkerDown";
/// Reason of `Ready=False`: the import's subscription is disabled.
pub const SUBSCRIPTION_DISABLED: &str = "SubscriptionDisabled";
/// Reason of `Ready=False`: the import's slot on the source was lost (degraded; a
/// re-sync is needed, retrying does not help).
pub const SLOT_LOST: &str = "SlotLost";
/// Lag below this is reported as 0 in status.
pub const LAG_FLOOR: i64 = 1 << 20;

/// The status value of `lagBytes` for a lag of `bytes` (see the module doc).
pub fn lag_bucket(bytes: i64) -> i64 {
    if bytes < LAG_FLOOR { 0 } else { 1 << (63 - bytes.leading_zeros()) }
}

/// What happened in this reconcile, as far as status is concerned.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// Not this operator's replica.
    NotInvolved,
    /// Refused by policy; nothing is built here.
    Refused {
        /// Condition reason.
        code: ReasonCode,
        /// Every finding.
        message: &'a str,
    },
    /// A step failed; the error policy retries.
    Failed {
        /// Error category (condition reason).
        category: &'static str,
        /// The error (never a secret).
        message: String,
    },
    /// The export is built.
    Source(&'a SourceReport),
    /// The import is built.
    Target(&'a TargetReport),
}

type Cond = (ConditionStatus, String, String);

fn cond(status: ConditionStatus, reason: &str, message: impl Into<String>) -> Cond {
    (status, reason.to_owned(), message.into())
}

fn verdict_compliance(v: &Validated) -> Cond {
    if let Some(first) = v.verdict.findings.first() {
        return cond(ConditionStatus::False, first.code.as_str(), findings_message(&v.verdict));
    }
    let targets: Vec<String> = v
        .verdict
        .targets
        .iter()
        .map(|t| format!("{} ({})", t.region, t.basis.as_deref().unwrap_or("no basis")))
        .collect();
    cond(
        ConditionStatus::True,
        COMPLIANT_REASON,
        format!("{} data to {}", v.verdict.data_class.as_str(), targets.join(", ")),
    )
}

fn listed(findings: &[regionstack_sql::telemetry::audit::Finding]) -> String {
    findings.iter().map(|f| format!("{}: {}", f.object, f.detail)).collect::<Vec<_>>().join("; ")
}

/// `Ready` of a target side, from the import's health.
fn target_ready(obj: &TelemetryReplica, report: &TargetReport) -> Cond {
    let import = &report.import;
    let sub = &import.subscription;
    let action = import.action.clone().unwrap_or_default();
    match import.health {
        ImportHealth::Streaming => cond(
            ConditionStatus::True,
            RECONCILED,
            format!("subscription {sub} streams from source region {}", obj.spec.source.region),
        ),
        ImportHealth::WorkerDown | ImportHealth::Missing if !report.actions.is_empty() => {
            cond(ConditionStatus::False, PROVISIONING, format!("subscription {sub} created; its worker starts"))
        }
        ImportHealth::WorkerDown | ImportHealth::Missing => cond(
            ConditionStatus::False,
            WORKER_DOWN,
            format!(
                "subscription {sub} has no running apply worker (starting, or failing and retrying: see the server \
                 log); {} errors counted",
                import.error_count
            ),
        ),
        ImportHealth::Disabled => {
            cond(ConditionStatus::False, SUBSCRIPTION_DISABLED, format!("subscription {sub} is disabled: {action}"))
        }
        ImportHealth::SlotLost => {
            cond(ConditionStatus::False, SLOT_LOST, format!("the slot of subscription {sub} was lost: {action}"))
        }
    }
}

/// The desired status. `own_region` is the operator's region; `now` stamps conditions
/// that change status.
pub fn desired(
    obj: &TelemetryReplica,
    v: &Validated,
    outcome: &Outcome<'_>,
    own_region: &str,
    now: &Time,
) -> TelemetryReplicaStatus {
    let current = obj.status.clone().unwrap_or_default();
    let generation = obj.metadata.generation;
    let names = Names::new(&replica_id(obj));
    let mut status = TelemetryReplicaStatus {
        observed_generation: generation,
        conditions: Vec::new(),
        side: Some(v.side),
        data_class: v.verdict.allowed().then_some(v.verdict.data_class),
        publication: None,
        targets: v
            .verdict
            .targets
            .iter()
            .map(|t| TargetStatus {
                region: t.region.clone(),
                permitted: t.permitted,
                transfer_basis: t.basis.clone(),
                subscription: None,
                lag_bytes: None,
            })
            .collect(),
    };
    let (ready, compliant) = match outcome {
        Outcome::NotInvolved => (
            cond(ConditionStatus::False, "ForeignRegion", foreign_message(&obj.spec, own_region)),
            verdict_compliance(v),
        ),
        Outcome::Refused { code, message } => {
            let c = cond(ConditionStatus::False, code.as_str(), *message);
            (c.clone(), c)
        }
        Outcome::Failed { category, message } => {
            // What was observed last stays until it is observed again.
            status.publication.clone_from(&current.publication);
            for t in &mut status.targets {
                if let Some(old) = current.targets.iter().find(|o| o.region == t.region) {
                    t.subscription.clone_from(&old.subscription);
                    t.lag_bytes = old.lag_bytes;
                }
            }
            let compliant = regionstack_api::condition::find_condition(&current.conditions, COMPLIANT)
                .map_or_else(|| verdict_compliance(v), |c| (c.status, c.reason.clone(), c.message.clone()));
            (cond(ConditionStatus::False, category, message.clone()), compliant)
        }
        Outcome::Source(report) => {
            status.publication = Some(names.hop2());
            let targets: Vec<&str> = status.targets.iter().filter(|t| t.permitted).map(|t| t.region.as_str()).collect();
            let mut message = format!("export built: publication {} for {}", names.hop2(), targets.join(", "));
            if !report.drift.is_empty() {
                let _ = write!(message, "; source schema drift, not exported: {}", listed(&report.drift));
            }
            let compliant = if report.findings.is_empty() {
                verdict_compliance(v)
            } else {
                cond(ConditionStatus::False, ReasonCode::RogueReplication.as_str(), listed(&report.findings))
            };
            (cond(ConditionStatus::True, RECONCILED, message), compliant)
        }
        Outcome::Target(report) => {
            status.publication = Some(names.hop2());
            if let Some(t) = status.targets.iter_mut().find(|t| t.region == own_region) {
                t.subscription = Some(report.import.subscription.clone());
                t.lag_bytes = report.import.lag_bytes.map(lag_bucket);
            }
            (target_ready(obj, report), verdict_compliance(v))
        }
    };
    if v.side == ReplicaSide::NotInvolved {
        status.publication = None;
    }
    let mut conditions = current.conditions;
    for (type_, (s, reason, message)) in [(READY, ready), (COMPLIANT, compliant)] {
        set_condition(&mut conditions, Condition::new(type_, s, &reason, message, generation, now.clone()));
    }
    status.conditions = conditions;
    status
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
