//! Step 1, pure: the residency policy's verdict on the spec (DESIGN §5) and whose
//! database this is (DESIGN §3). No I/O: the Regions come from the context's store.

use regionstack_api::{PiiDatabase, ReasonCode};
use regionstack_policy::{Finding, RegionIndex, evaluate_pii};

use crate::controller::ErrorCategory;

/// Who acts on a valid PiiDatabase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// `spec.region` is this operator's region: provision, guard and audit it.
    Local,
    /// Another region's operator serves it; this one creates nothing.
    Foreign {
        /// The region whose operator serves it.
        region: String,
    },
}

/// The spec breaks a residency rule: nothing is provisioned until it changes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.findings))]
pub struct Error {
    /// Every finding of the policy, in its order; never empty.
    pub findings: Vec<Finding>,
}

fn summary(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("{}: {}", f.code, f.message)).collect::<Vec<_>>().join("; ")
}

impl Error {
    /// The reason code shown in conditions: the first finding's.
    pub fn code(&self) -> ReasonCode {
        self.findings.first().map_or(ReasonCode::InvalidSpec, |f| f.code)
    }
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        self.code().as_str()
    }
    fn is_transient(&self) -> bool {
        false
    }
}

/// The policy verdict first (an unknown or inactive region is reported as such even
/// when it is not this operator's), then the placement.
pub(super) fn validate(obj: &PiiDatabase, regions: &RegionIndex<'_>, own_region: &str) -> Result<Placement, Error> {
    let findings = evaluate_pii(&obj.spec, regions);
    if !findings.is_empty() {
        return Err(Error { findings });
    }
    if obj.spec.region == own_region {
        Ok(Placement::Local)
    } else {
        Ok(Placement::Foreign { region: obj.spec.region.clone() })
    }
}

#[cfg(test)]
mod tests {
    use regionstack_api::Jurisdiction::{Dpdp, Fdpa, Gdpr};
    use regionstack_api::Region;
    use regionstack_api::fixtures::{PiiDatabaseBuilder, RegionBuilder};
    use regionstack_api::region::Lifecycle;

    use super::*;

    type Case<'a> = (&'a str, PiiDatabase, Result<Placement, Vec<ReasonCode>>);

    fn regions() -> Vec<Region> {
        vec![
            RegionBuilder::new("eu-west-1").jurisdictions([Gdpr]).build(),
            RegionBuilder::new("eu-west-3").country("FR").jurisdictions([Gdpr, Fdpa]).build(),
            RegionBuilder::new("ap-south-1").country("IN").jurisdictions([Dpdp]).lifecycle(Lifecycle::Planned).build(),
        ]
    }

    #[test]
    fn verdict_then_placement() {
        let regions = regions();
        let index = RegionIndex::from_regions(&regions);
        let db = |region: &str| PiiDatabaseBuilder::new("customers", region).compliance([Gdpr]);
        let cases: Vec<Case<'_>> = vec![
            ("own region", db("eu-west-1").external("conn").build(), Ok(Placement::Local)),
            ("managed, backup at home", db("eu-west-1").backup_in("eu-west-1").build(), Ok(Placement::Local)),
            ("another region", db("eu-west-3").build(), Ok(Placement::Foreign { region: "eu-west-3".into() })),
            ("unknown region", db("mars-1").build(), Err(vec![ReasonCode::UnknownRegion])),
            (
                "planned region, even when foreign",
                PiiDatabaseBuilder::new("c", "ap-south-1").compliance([Dpdp]).build(),
                Err(vec![ReasonCode::RegionNotActive]),
            ),
            (
                "regime not provided",
                db("eu-west-1").compliance([Gdpr, Fdpa]).build(),
                Err(vec![ReasonCode::JurisdictionNotProvided]),
            ),
            ("backup abroad", db("eu-west-1").backup_in("eu-west-3").build(), Err(vec![ReasonCode::BackupOutOfRegion])),
            (
                "replica abroad",
                db("eu-west-1").replica_cluster("dr", "eu-west-3").build(),
                Err(vec![ReasonCode::CrossRegionReplica]),
            ),
            (
                "several findings keep their order",
                db("eu-west-1").compliance([]).backup_in("eu-west-3").build(),
                Err(vec![ReasonCode::InvalidSpec, ReasonCode::BackupOutOfRegion]),
            ),
        ];
        for (name, obj, expected) in cases {
            let got = validate(&obj, &index, "eu-west-1").map_err(|e| e.findings.iter().map(|f| f.code).collect());
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn errors_are_not_transient_and_categorised_by_first_code() {
        let regions = regions();
        let index = RegionIndex::from_regions(&regions);
        let obj = PiiDatabaseBuilder::new("c", "mars-1").compliance([Gdpr]).build();
        let err = validate(&obj, &index, "eu-west-1").unwrap_err();
        assert_eq!(err.category(), "UnknownRegion");
        assert!(!err.is_transient());
        assert!(err.to_string().starts_with("UnknownRegion: "), "{err}");
    }
}
