//! Column rules and data classes (DESIGN §5): which transforms each column class may
//! use, and what an exported table therefore carries.

use regionstack_api::ReasonCode;
use regionstack_api::telemetry::{ColumnClass, ColumnRule, DataClass, Transform, TransformKind};

/// What one column rule means for residency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnOutcome {
    /// Not exported.
    Dropped,
    /// Exported in a form that identifies no one on its own.
    Anonymized,
    /// Exported as an HMAC: pseudonymous.
    Hashed,
    /// An identifier or quasi-identifier exported raw: refused.
    RawPersonal,
    /// The transform is not valid for the class, or its parameters are wrong.
    Invalid,
}

/// Decide the outcome of a resolved transform for a column class.
///
/// - identifier: `drop` or `hash` only; `keep` exports personal data; generalizing
///   transforms do not make a direct identifier safe (a prefix of an e-mail address is
///   still an e-mail address), so they are not a valid rule for the class.
/// - quasi: `drop`, `hash` or a generalizing transform; `keep` exports personal data,
///   and so does an `ipPrefix` that keeps all 32 (IPv4) or 128 (IPv6) bits.
/// - none: anything; `hash` still makes the table pseudonymous by the letter of §5.
pub fn outcome(class: ColumnClass, transform: Transform) -> ColumnOutcome {
    match (class, transform) {
        (_, Transform::Drop) => ColumnOutcome::Dropped,
        (_, Transform::Hash) => ColumnOutcome::Hashed,
        (ColumnClass::Identifier | ColumnClass::Quasi, Transform::Keep) => ColumnOutcome::RawPersonal,
        // A full-length prefix is the whole address: as raw as `keep`.
        (ColumnClass::Quasi, Transform::IpPrefix { v4, v6 }) if v4 >= 32 || v6 >= 128 => ColumnOutcome::RawPersonal,
        (ColumnClass::Identifier, _) => ColumnOutcome::Invalid,
        (ColumnClass::Quasi | ColumnClass::None, _) => ColumnOutcome::Anonymized,
    }
}

/// The finding for one column rule, if any, with its resolved transform when valid.
pub fn check_column(rule: &ColumnRule) -> (Option<Transform>, ColumnOutcome, Option<(ReasonCode, String)>) {
    let transform = match rule.resolve() {
        Ok(t) => t,
        Err(why) => {
            // Fail closed: a malformed rule still declares what it would export. A raw
            // identifier stays personal data and a hash stays pseudonymous, so neither
            // the codes nor the data class understate what the rule asks for.
            return match rule.transform {
                TransformKind::Keep if outcome(rule.class, Transform::Keep) == ColumnOutcome::RawPersonal => (
                    None,
                    ColumnOutcome::RawPersonal,
                    Some((
                        ReasonCode::PersonalDataExported,
                        format!(
                            "column {:?} is class {} and would be exported raw (transform keep); {why}",
                            rule.name,
                            rule.class.as_str()
                        ),
                    )),
                ),
                TransformKind::Hash => (
                    None,
                    ColumnOutcome::Hashed,
                    Some((ReasonCode::UnclassifiedColumn, format!("column {:?}: {why}", rule.name))),
                ),
                _ => (
                    None,
                    ColumnOutcome::Invalid,
                    Some((ReasonCode::UnclassifiedColumn, format!("column {:?}: {why}", rule.name))),
                ),
            };
        }
    };
    let out = outcome(rule.class, transform);
    let finding = match out {
        ColumnOutcome::RawPersonal => Some((
            ReasonCode::PersonalDataExported,
            format!(
                "column {:?} is class {} and would be exported raw (transform {}{}); use drop, hash{}",
                rule.name,
                rule.class.as_str(),
                rule.transform.as_str(),
                if rule.transform == TransformKind::Keep { "" } else { " keeping every bit" },
                if rule.class == ColumnClass::Quasi { " or a generalizing transform" } else { "" }
            ),
        )),
        ColumnOutcome::Invalid => Some((
            ReasonCode::UnclassifiedColumn,
            format!(
                "column {:?}: transform {} is not a valid rule for class {} (identifiers may only be dropped or hashed)",
                rule.name,
                rule.transform.as_str(),
                rule.class.as_str()
            ),
        )),
        _ => None,
    };
    (Some(transform), out, finding)
}

/// Data class of a table from its column outcomes: personal if anything raw and
/// personal is exported, pseudonymous if anything is hashed, otherwise anonymous.
pub fn table_class(outcomes: impl IntoIterator<Item = ColumnOutcome>) -> DataClass {
    let mut class = DataClass::Anonymous;
    for o in outcomes {
        match o {
            ColumnOutcome::RawPersonal => return DataClass::Personal,
            ColumnOutcome::Hashed => class = DataClass::Pseudonymous,
            _ => {}
        }
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;
    use regionstack_api::telemetry::TimeUnit;

    /// Every class × transform combination, as a table.
    #[test]
    fn class_transform_table() {
        use ColumnClass::{Identifier as I, None as N, Quasi as Q};
        use ColumnOutcome::{Anonymized as A, Dropped as D, Hashed as H, Invalid as X, RawPersonal as P};
        let transforms = [
            Transform::Drop,
            Transform::Keep,
            Transform::Hash,
            Transform::TruncateTime(TimeUnit::Hour),
            Transform::IpPrefix { v4: 24, v6: 48 },
            Transform::Round(2),
            Transform::Prefix(3),
        ];
        let expected = [(I, [D, P, H, X, X, X, X]), (Q, [D, P, H, A, A, A, A]), (N, [D, A, H, A, A, A, A])];
        for (class, row) in expected {
            for (t, want) in transforms.iter().zip(row) {
                assert_eq!(outcome(class, *t), want, "{class:?} × {t:?}");
            }
        }
    }

    #[test]
    fn table_class_takes_the_worst() {
        use ColumnOutcome::*;
        assert_eq!(table_class([Dropped, Anonymized]), DataClass::Anonymous);
        assert_eq!(table_class([Dropped, Hashed, Anonymized]), DataClass::Pseudonymous);
        assert_eq!(table_class([Hashed, RawPersonal]), DataClass::Personal);
        assert_eq!(table_class([]), DataClass::Anonymous);
    }
}
