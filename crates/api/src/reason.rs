//! The stable reason codes of DESIGN §4.
//!
//! These strings are a contract: they appear in status conditions, Events, metrics,
//! `regionstack check` output and tests. Codes may be added; none may be renamed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! reason_codes {
    ($($(#[doc = $doc:expr])* $name:ident),+ $(,)?) => {
        /// Why a resource is not compliant, not ready, or not this operator's to act on.
        #[derive(
            Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
        )]
        pub enum ReasonCode {
            $($(#[doc = $doc])* $name,)+
        }

        impl ReasonCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name),+];

            /// The stable `PascalCase` string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$name => stringify!($name),)+
                }
            }
        }

        impl std::str::FromStr for ReasonCode {
            type Err = UnknownReasonCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($name) => Ok(ReasonCode::$name),)+
                    _ => Err(UnknownReasonCode(s.to_owned())),
                }
            }
        }
    };
}

reason_codes! {
    /// A referenced Region does not exist.
    UnknownRegion,
    /// A referenced Region is `Planned` or `Draining` where an `Active` one is required.
    RegionNotActive,
    /// The resource belongs to another region; this operator creates nothing for it.
    ForeignRegion,
    /// A PiiDatabase claims a regime that its Region does not provide.
    JurisdictionNotProvided,
    /// A PiiDatabase would be replicated (replica cluster, standby) outside its region.
    CrossRegionReplica,
    /// A PiiDatabase's backups would be written outside its region.
    BackupOutOfRegion,
    /// An exported column has no valid rule for its data class.
    UnclassifiedColumn,
    /// An identifier or quasi-identifier column would be exported raw.
    PersonalDataExported,
    /// Pseudonymous data would go to a country its source regimes do not allow.
    TransferNotPermitted,
    /// A row filter is not a single, side-effect-free boolean expression over declared columns.
    InvalidRowFilter,
    /// A schema, table or column name is not a valid PostgreSQL identifier.
    InvalidIdentifier,
    /// A TelemetryReplica targets its own source region.
    SelfReplication,
    /// The same source table is listed twice in one TelemetryReplica.
    DuplicateTable,
    /// A publication, subscription, slot or standby was found where none may exist.
    RogueReplication,
    /// A residency guardrail is missing from a database.
    GuardrailMissing,
    /// The database could not be reached.
    DatabaseUnreachable,
    /// The provisioner (CloudNativePG) is not installed in the cluster.
    ProvisionerMissing,
    /// The spec breaks a structural rule the API server's schema also enforces (for
    /// example both `managed` and `external` set); seen by offline checks of manifests
    /// that never reached an API server.
    InvalidSpec,
}

impl ReasonCode {
    /// True for codes that `regionstack check` can decide from manifests alone.
    pub fn offline_decidable(self) -> bool {
        !matches!(
            self,
            ReasonCode::ForeignRegion
                | ReasonCode::RogueReplication
                | ReasonCode::GuardrailMissing
                | ReasonCode::DatabaseUnreachable
                | ReasonCode::ProvisionerMissing
        )
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the reason codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason code {0:?}")]
pub struct UnknownReasonCode(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_match_serde() {
        for code in ReasonCode::ALL {
            assert_eq!(code.as_str().parse::<ReasonCode>().unwrap(), *code);
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().to_owned()));
        }
        assert!("rogueReplication".parse::<ReasonCode>().is_err());
    }

    #[test]
    fn design_codes_are_all_present_with_stable_spelling() {
        // DESIGN §4: the list is a contract; a rename must fail this test.
        let design = [
            "UnknownRegion",
            "RegionNotActive",
            "ForeignRegion",
            "JurisdictionNotProvided",
            "CrossRegionReplica",
            "BackupOutOfRegion",
            "UnclassifiedColumn",
            "PersonalDataExported",
            "TransferNotPermitted",
            "InvalidRowFilter",
            "InvalidIdentifier",
            "SelfReplication",
            "DuplicateTable",
            "RogueReplication",
            "GuardrailMissing",
            "DatabaseUnreachable",
            "ProvisionerMissing",
        ];
        for name in design {
            assert!(name.parse::<ReasonCode>().is_ok(), "missing reason code {name}");
        }
    }
}
