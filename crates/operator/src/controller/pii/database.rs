//! Step 3b, database side: guardrails, audit and repair (`regionstack_sql::pii`).
//!
//! - `Enforce`: install the guardrails (idempotent: no DDL when in place), audit,
//!   repair. Findings that were repaired are reported as Events and metrics, not as
//!   `violations[]`: they are no longer true. What could not be repaired (a failed
//!   statement, a `pg_hba.conf` line) stays a violation, with what was tried.
//! - `Audit`: report only. Guardrails are not expected in this mode, so their absence
//!   is not a finding, and guardrails left by an earlier `Enforce` are removed: in
//!   Audit mode replication DDL is reported, not refused. Nothing else is changed.

use std::collections::BTreeMap;

use regionstack_api::ReasonCode;
use regionstack_api::pii::Enforcement;
use regionstack_sql::SqlError;
use regionstack_sql::pii::{self, Action, ActionKind, Finding, Mode, Outcome, PiiContext, Target as FindingTarget};

use super::connect::Target;
use crate::controller::ErrorCategory;

/// A finding that remains after this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Violation {
    pub code: ReasonCode,
    pub object: String,
    pub detail: String,
}

/// A finding that was repaired (or whose repair was attempted).
#[derive(Clone, Debug)]
pub(super) struct Repair {
    pub code: ReasonCode,
    /// What was found.
    pub found: String,
    /// What was done.
    pub action: Action,
}

/// The result of one pass over the database.
#[derive(Clone, Debug)]
pub(super) struct Audited {
    /// `host:port/dbname`.
    pub endpoint: String,
    /// The enforcement mode the pass ran in.
    pub mode: Enforcement,
    /// Findings still true after the pass, in the audit's order.
    pub violations: Vec<Violation>,
    /// Repairs made (Enforce); successful and failed.
    pub repairs: Vec<Repair>,
    /// Guardrail objects created by a first installation (not drift).
    pub installed: Vec<Action>,
    /// Guardrail objects removed (Audit mode after Enforce).
    pub removed: Vec<Action>,
}

impl Audited {
    /// Remaining violations by code, for the findings gauges.
    pub fn counts(&self) -> BTreeMap<ReasonCode, i64> {
        let mut counts = BTreeMap::new();
        for v in &self.violations {
            *counts.entry(v.code).or_insert(0) += 1;
        }
        counts
    }
}

/// Database errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached or refused the login or TLS.
    #[error("{0}")]
    Unreachable(#[source] SqlError),
    /// A statement failed, or the session is unsuitable (not a superuser).
    #[error("{0}")]
    Database(#[source] SqlError),
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Connect { .. } | SqlError::Tls(_) => Error::Unreachable(e),
            SqlError::Query { .. } | SqlError::Invalid(_) => Error::Database(e),
        }
    }
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Unreachable(_) => ReasonCode::DatabaseUnreachable.as_str(),
            Error::Database(_) => "DatabaseError",
        }
    }
    fn is_transient(&self) -> bool {
        true
    }
}

/// `host:port/dbname` of a connection: what status shows (never a user or password).
pub(super) fn endpoint(target: &Target) -> String {
    format!("{}:{}/{}", target.params.host, target.params.port, target.params.dbname)
}

/// One pass: connect, converge the guardrails for `mode`, audit, repair (Enforce).
/// `fresh`: missing guardrails are a first installation (the object has not been
/// Ready at its current generation), not drift.
pub(super) async fn converge(target: &Target, region: &str, mode: Enforcement, fresh: bool) -> Result<Audited, Error> {
    let client = regionstack_sql::session::session(&target.params).await?;
    let ctx = PiiContext {
        database: target.params.dbname.clone(),
        region: region.to_owned(),
        in_region_standbys: target.standbys.clone(),
    };
    let mut out = Audited {
        endpoint: endpoint(target),
        mode,
        violations: Vec::new(),
        repairs: Vec::new(),
        installed: Vec::new(),
        removed: Vec::new(),
    };
    match mode {
        Enforcement::Audit => {
            out.removed = pii::remove_guardrails(&client, &ctx).await?;
            let findings = pii::audit(&client, &ctx).await?;
            out.violations = findings
                .into_iter()
                .filter(|f| f.code != ReasonCode::GuardrailMissing)
                .map(|f| Violation { code: f.code, object: f.object, detail: f.detail })
                .collect();
        }
        Enforcement::Enforce => {
            let installed = pii::install_guardrails(&client, &ctx).await?;
            if fresh {
                out.installed = installed;
            } else {
                out.repairs.extend(installed.into_iter().map(|action| Repair {
                    code: ReasonCode::GuardrailMissing,
                    found: action.detail.trim_end_matches(": repaired").to_owned(),
                    action,
                }));
            }
            let findings = pii::audit(&client, &ctx).await?;
            let actions = pii::repair(&client, &ctx, Mode::Enforce, &findings).await?;
            let (repairs, violations) = pair(&findings, &actions);
            out.repairs.extend(repairs);
            out.violations = violations;
        }
    }
    Ok(out)
}

/// Match each finding with the repair action on the same object. A finding whose
/// action succeeded is a repair; any other stays a violation, its detail extended
/// with what was tried. Guardrail findings are repaired together by one
/// installation, whose actions name the objects it changed.
fn pair(findings: &[Finding], actions: &[Action]) -> (Vec<Repair>, Vec<Violation>) {
    let mut repairs = Vec::new();
    let mut violations = Vec::new();
    let guardrails_failed = actions.iter().any(|a| {
        a.outcome == Outcome::Failed
            && matches!(
                a.kind,
                ActionKind::InstallSchema
                    | ActionKind::InstallFunction
                    | ActionKind::InstallEventTrigger
                    | ActionKind::EnableEventTrigger
            )
    });
    for f in findings {
        let action = actions.iter().find(|a| a.object == f.object);
        match action {
            Some(a) => {
                repairs.push(Repair { code: f.code, found: f.detail.clone(), action: a.clone() });
                if a.outcome != Outcome::Done {
                    violations.push(Violation {
                        code: f.code,
                        object: f.object.clone(),
                        detail: format!("{}; {}", f.detail, a.detail),
                    });
                }
            }
            None if matches!(f.target, FindingTarget::Guardrail(_)) && !guardrails_failed => {}
            None => violations.push(Violation { code: f.code, object: f.object.clone(), detail: f.detail.clone() }),
        }
    }
    // Skipped actions (pg_hba.conf) change nothing: they are violations, not repairs.
    repairs.retain(|r| r.action.outcome != Outcome::Skipped);
    (repairs, violations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: ReasonCode, object: &str, target: FindingTarget) -> Finding {
        Finding { code, object: object.into(), detail: format!("{object} found"), target }
    }

    fn action(kind: ActionKind, object: &str, outcome: Outcome) -> Action {
        Action { kind, object: object.into(), detail: format!("{object} {outcome:?}"), outcome }
    }

    #[test]
    fn pairing_of_findings_and_repairs() {
        let findings = vec![
            finding(
                ReasonCode::GuardrailMissing,
                "event-trigger/g",
                FindingTarget::Guardrail("event-trigger/g".into()),
            ),
            finding(ReasonCode::RogueReplication, "slot/rogue", FindingTarget::Slot("rogue".into())),
            finding(ReasonCode::RogueReplication, "publication/leak", FindingTarget::Publication("leak".into())),
            finding(ReasonCode::RogueReplication, "hba/line 3", FindingTarget::HbaLine(3)),
        ];
        let actions = vec![
            action(ActionKind::EnableEventTrigger, "event-trigger/g", Outcome::Done),
            action(ActionKind::DropSlot, "slot/rogue", Outcome::Done),
            action(ActionKind::DropPublication, "publication/leak", Outcome::Failed),
            action(ActionKind::ReportOnly, "hba/line 3", Outcome::Skipped),
        ];
        let (repairs, violations) = pair(&findings, &actions);
        let repaired: Vec<(&str, Outcome)> =
            repairs.iter().map(|r| (r.action.object.as_str(), r.action.outcome)).collect();
        assert_eq!(
            repaired,
            [("event-trigger/g", Outcome::Done), ("slot/rogue", Outcome::Done), ("publication/leak", Outcome::Failed)]
        );
        let left: Vec<(&str, &str)> = violations.iter().map(|v| (v.object.as_str(), v.detail.as_str())).collect();
        assert_eq!(
            left,
            [
                ("publication/leak", "publication/leak found; publication/leak Failed"),
                ("hba/line 3", "hba/line 3 found; hba/line 3 Skipped")
            ]
        );
    }

    #[test]
    fn guardrail_findings_without_their_own_action() {
        let findings = vec![finding(
            ReasonCode::GuardrailMissing,
            "schema/regionstack",
            FindingTarget::Guardrail("schema/regionstack".into()),
        )];
        let ok = vec![action(ActionKind::InstallEventTrigger, "event-trigger/x", Outcome::Done)];
        assert!(pair(&findings, &ok).1.is_empty());
        let failed = vec![action(ActionKind::InstallEventTrigger, "event-trigger/x", Outcome::Failed)];
        assert_eq!(pair(&findings, &failed).1.len(), 1);
    }
}
