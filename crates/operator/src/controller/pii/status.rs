//! Step 4, pure: the desired status from what the other steps observed. The write
//! itself is [`crate::controller::status::apply_status`], skipped when nothing changed.
//!
//! Nothing time-dependent enters the status unless something else changed:
//! conditions keep `lastTransitionTime` through `set_condition`, a violation keeps
//! `firstSeen` while the same (code, object) is found, and `lastAuditTime` is stamped
//! only when an audit's outcome changed the status (see the module documentation of
//! [`super`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use regionstack_api::condition::{find_condition, set_condition};
use regionstack_api::pii::{Enforcement, Violation};
use regionstack_api::{Condition, ConditionStatus, PiiDatabase, PiiDatabaseStatus, ReasonCode};

use super::database::Audited;
use super::validate;

/// Condition type: the database is provisioned, guarded (Enforce) and audited.
pub(super) const READY: &str = "Ready";
/// Condition type: the spec and the database comply with the residency rules.
pub(super) const RESIDENCY_COMPLIANT: &str = "ResidencyCompliant";
/// Reason of `Ready=True`.
pub(super) const RECONCILED: &str = "Reconciled";
/// Reason of `ResidencyCompliant=True`.
pub(super) const COMPLIANT: &str = "Compliant";
/// Reason of `Ready=False` while the CloudNativePG Cluster starts.
pub(super) const PROVISIONING: &str = "Provisioning";
/// Reason of `ResidencyCompliant=Unknown` before the first audit.
pub(super) const NOT_AUDITED: &str = "NotAudited";

/// What the reconcile found, as far as status is concerned.
#[derive(Debug)]
pub(super) enum Observed<'a> {
    /// The policy refused the spec.
    Invalid(&'a validate::Error),
    /// Another region's operator serves this database.
    Foreign {
        /// The database's region.
        region: &'a str,
        /// This operator's region.
        own: &'a str,
    },
    /// CloudNativePG is not installed.
    ProvisionerMissing,
    /// Waiting for the Cluster (the message says what for).
    Provisioning(&'a str),
    /// A step failed: `category` is the Ready reason.
    Failed {
        /// Bounded error category.
        category: &'static str,
        /// The error, which never holds a secret.
        message: String,
    },
    /// The database was reached, guarded and audited.
    Audited(&'a Audited),
}

/// `(status, reason, message)` of one condition.
type Verdict = (ConditionStatus, &'static str, String);

/// The status `obj` should have after observing `observed` at `now`.
pub(super) fn desired(obj: &PiiDatabase, observed: &Observed<'_>, now: &Time) -> PiiDatabaseStatus {
    let current = obj.status.clone().unwrap_or_default();
    let generation = obj.meta().generation;
    let mut next = current.clone();
    next.observed_generation = generation;
    let audited_before = find_condition(&current.conditions, RESIDENCY_COMPLIANT).is_some();
    let (ready, compliant) = verdicts(obj, observed, audited_before);
    for (type_, verdict) in [(READY, Some(ready)), (RESIDENCY_COMPLIANT, compliant)] {
        if let Some((status, reason, message)) = verdict {
            set_condition(
                &mut next.conditions,
                Condition::new(type_, status, reason, message, generation, now.clone()),
            );
        }
    }
    match observed {
        Observed::Foreign { .. } => {
            next.violations.clear();
            next.endpoint = None;
            next.last_audit_time = None;
        }
        Observed::Audited(a) => {
            next.violations = a
                .violations
                .iter()
                .map(|v| Violation {
                    code: v.code,
                    object: v.object.clone(),
                    detail: v.detail.clone(),
                    first_seen: current
                        .violations
                        .iter()
                        .find(|old| old.code == v.code && old.object == v.object)
                        .map_or_else(|| now.clone(), |old| old.first_seen.clone()),
                })
                .collect();
            next.endpoint = Some(a.endpoint.clone());
            if next != current || next.last_audit_time.is_none() {
                next.last_audit_time = Some(now.clone());
            }
        }
        _ => {}
    }
    next
}

/// The `Ready` verdict, and the `ResidencyCompliant` one when it changes: before the
/// first audit the residency of the data itself is not known (`Unknown`); after one,
/// the last verdict stands while the database cannot be reached.
fn verdicts(obj: &PiiDatabase, observed: &Observed<'_>, audited_before: bool) -> (Verdict, Option<Verdict>) {
    use ConditionStatus::{False, True, Unknown};
    let not_audited =
        || (!audited_before).then(|| (Unknown, NOT_AUDITED, "the database has not been audited yet".into()));
    match observed {
        Observed::Invalid(e) => {
            let code = e.code().as_str();
            ((False, code, format!("nothing is provisioned: {e}")), Some((False, code, e.to_string())))
        }
        Observed::Foreign { region, own } => (
            (
                False,
                ReasonCode::ForeignRegion.as_str(),
                format!("served by the operator of region {region}; the operator of {own} creates nothing for it"),
            ),
            Some((
                True,
                COMPLIANT,
                format!("the spec complies with the residency policy; the database is audited in {region}"),
            )),
        ),
        Observed::ProvisionerMissing => (
            (
                False,
                ReasonCode::ProvisionerMissing.as_str(),
                "CloudNativePG is not installed: the API server does not serve clusters.postgresql.cnpg.io/v1".into(),
            ),
            not_audited(),
        ),
        Observed::Provisioning(m) => ((False, PROVISIONING, (*m).to_owned()), not_audited()),
        Observed::Failed { category, message } => ((False, category, message.clone()), not_audited()),
        Observed::Audited(a) => {
            let ready = match a.mode {
                Enforcement::Enforce => "guardrails in place; audited, violations are repaired",
                Enforcement::Audit => "audited; violations are reported, not repaired (Audit mode)",
            };
            let compliant = match a.violations.first() {
                None => {
                    (True, COMPLIANT, format!("nothing replicates this database out of region {}", obj.spec.region))
                }
                Some(first) => (
                    False,
                    first.code.as_str(),
                    format!(
                        "{} violation(s), listed in status.violations; first: {} {}",
                        a.violations.len(),
                        first.code,
                        first.object
                    ),
                ),
            };
            ((True, RECONCILED, ready.to_owned()), Some(compliant))
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;
    use regionstack_api::Jurisdiction::Gdpr;
    use regionstack_api::fixtures::PiiDatabaseBuilder;
    use regionstack_policy::Finding;

    use super::super::database::Violation as Found;
    use super::*;

    type Case<'a> = (&'a str, Observed<'a>, Vec<(&'a str, ConditionStatus, &'a str)>);

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn db(status: Option<PiiDatabaseStatus>) -> PiiDatabase {
        let mut obj = PiiDatabaseBuilder::new("c", "eu-west-1").compliance([Gdpr]).external("conn").build();
        obj.metadata.generation = Some(2);
        obj.status = status;
        obj
    }

    fn audited(mode: Enforcement, violations: &[(&str, &str)]) -> Audited {
        Audited {
            endpoint: "db:5432/app".into(),
            mode,
            violations: violations
                .iter()
                .map(|(o, d)| Found { code: ReasonCode::RogueReplication, object: (*o).into(), detail: (*d).into() })
                .collect(),
            repairs: vec![],
            installed: vec![],
            removed: vec![],
        }
    }

    fn reasons(s: &PiiDatabaseStatus) -> Vec<(&str, ConditionStatus, &str)> {
        s.conditions.iter().map(|c| (c.type_.as_str(), c.status, c.reason.as_str())).collect()
    }

    #[test]
    fn conditions_per_observation() {
        use ConditionStatus::{False, True, Unknown};
        let invalid = validate::Error {
            findings: vec![Finding { code: ReasonCode::UnknownRegion, message: "region \"x\" is unknown".into() }],
        };
        let clean = audited(Enforcement::Enforce, &[]);
        let dirty = audited(Enforcement::Audit, &[("slot/x", "logical slot")]);
        let cases: Vec<Case<'_>> = vec![
            (
                "invalid",
                Observed::Invalid(&invalid),
                vec![("Ready", False, "UnknownRegion"), ("ResidencyCompliant", False, "UnknownRegion")],
            ),
            (
                "foreign",
                Observed::Foreign { region: "eu-west-3", own: "eu-west-1" },
                vec![("Ready", False, "ForeignRegion"), ("ResidencyCompliant", True, "Compliant")],
            ),
            (
                "no provisioner",
                Observed::ProvisionerMissing,
                vec![("Ready", False, "ProvisionerMissing"), ("ResidencyCompliant", Unknown, "NotAudited")],
            ),
            (
                "provisioning",
                Observed::Provisioning("wait"),
                vec![("Ready", False, "Provisioning"), ("ResidencyCompliant", Unknown, "NotAudited")],
            ),
            (
                "secret missing",
                Observed::Failed { category: "SecretMissing", message: "secret \"conn\" not found".into() },
                vec![("Ready", False, "SecretMissing"), ("ResidencyCompliant", Unknown, "NotAudited")],
            ),
            (
                "clean audit",
                Observed::Audited(&clean),
                vec![("Ready", True, "Reconciled"), ("ResidencyCompliant", True, "Compliant")],
            ),
            (
                "violations",
                Observed::Audited(&dirty),
                vec![("Ready", True, "Reconciled"), ("ResidencyCompliant", False, "RogueReplication")],
            ),
        ];
        for (name, observed, expected) in cases {
            let s = desired(&db(None), &observed, &at(100));
            assert_eq!(reasons(&s), expected, "{name}");
            assert_eq!(s.observed_generation, Some(2), "{name}");
            assert!(s.conditions.iter().all(|c| c.observed_generation == Some(2)), "{name}");
        }
    }

    #[test]
    fn an_unchanged_world_computes_an_identical_status() {
        let a = audited(Enforcement::Enforce, &[("hba/line 3", "pg_hba.conf allows replication")]);
        let first = desired(&db(None), &Observed::Audited(&a), &at(100));
        assert_eq!(first.last_audit_time, Some(at(100)));
        assert_eq!(first.violations[0].first_seen, at(100));
        let again = desired(&db(Some(first.clone())), &Observed::Audited(&a), &at(200));
        assert_eq!(again, first, "no timestamp moves when nothing changed");
    }

    #[test]
    fn first_seen_is_kept_and_last_audit_time_moves_on_change() {
        let one = audited(Enforcement::Audit, &[("slot/a", "inactive")]);
        let s1 = desired(&db(None), &Observed::Audited(&one), &at(100));
        let two = audited(Enforcement::Audit, &[("slot/a", "inactive"), ("publication/p", "FOR ALL TABLES")]);
        let s2 = desired(&db(Some(s1)), &Observed::Audited(&two), &at(200));
        let seen: Vec<(&str, Time)> = s2.violations.iter().map(|v| (v.object.as_str(), v.first_seen.clone())).collect();
        assert_eq!(seen, [("slot/a", at(100)), ("publication/p", at(200))]);
        assert_eq!(s2.last_audit_time, Some(at(200)));
        // ResidencyCompliant stayed False: its transition time is kept.
        let rc = find_condition(&s2.conditions, RESIDENCY_COMPLIANT).unwrap();
        assert_eq!(rc.last_transition_time, at(100));
        // Repaired: back to compliant; the violation list empties.
        let s3 = desired(&db(Some(s2)), &Observed::Audited(&audited(Enforcement::Audit, &[])), &at(300));
        assert!(s3.violations.is_empty());
        assert_eq!(find_condition(&s3.conditions, RESIDENCY_COMPLIANT).unwrap().last_transition_time, at(300));
    }

    #[test]
    fn failures_keep_the_last_verdict_and_the_audit_record() {
        let a = audited(Enforcement::Enforce, &[]);
        let ok = desired(&db(None), &Observed::Audited(&a), &at(100));
        let failed = Observed::Failed { category: "DatabaseUnreachable", message: "cannot connect".into() };
        let s = desired(&db(Some(ok.clone())), &failed, &at(200));
        assert_eq!(find_condition(&s.conditions, READY).unwrap().reason, "DatabaseUnreachable");
        assert_eq!(
            find_condition(&s.conditions, RESIDENCY_COMPLIANT),
            find_condition(&ok.conditions, RESIDENCY_COMPLIANT)
        );
        assert_eq!((s.endpoint, s.last_audit_time), (ok.endpoint, ok.last_audit_time));
    }
}
