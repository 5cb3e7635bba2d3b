//! Step 1, pure: the policy verdict (DESIGN §5) and which side of the replica this
//! operator serves (DESIGN §3). Nothing here reads a Secret or a database.
//!
//! The decision fails closed (DESIGN I3): any finding refuses the whole replica on
//! every side, even when some targets would be permitted on their own. A replica is
//! one declaration of intent; building part of it would make its status lie about
//! what crosses which border.

use regionstack_api::telemetry::{ReplicaSide, TelemetryReplicaSpec};
use regionstack_api::{ReasonCode, Region};
use regionstack_policy::{Catalogue, RegionIndex, ReplicaVerdict, evaluate_replica};

/// What this operator does with a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Neither the source nor a target is this operator's region: nothing is built,
    /// no finalizer, `Ready=False ForeignRegion`.
    NotInvolved,
    /// The policy refused the replica: nothing is built on any side (and what an
    /// older spec built here is torn down).
    Refused {
        /// The first finding's code: the condition reason and Event reason.
        code: ReasonCode,
        /// Every finding, for the condition message.
        message: String,
    },
    /// Build the boundary export for these permitted targets.
    Export {
        /// Permitted target regions, in spec order.
        targets: Vec<String>,
    },
    /// Build this region's import.
    Import,
}

/// The outcome of validation.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The side this operator serves.
    pub side: ReplicaSide,
    /// The policy verdict (also shown by non-involved operators).
    pub verdict: ReplicaVerdict,
    /// What to do.
    pub decision: Decision,
}

/// The side an operator of `region` serves: the source when it is the source region
/// (also when it is listed as a target too, which the policy refuses as
/// `SelfReplication`), a target when it is among the targets, else neither.
pub fn side(spec: &TelemetryReplicaSpec, region: &str) -> ReplicaSide {
    if spec.source.region == region {
        ReplicaSide::Source
    } else if spec.targets.iter().any(|t| t.region == region) {
        ReplicaSide::Target
    } else {
        ReplicaSide::NotInvolved
    }
}

/// All findings of a verdict as one message (`CODE: message; ...`).
pub fn findings_message(verdict: &ReplicaVerdict) -> String {
    verdict.findings.iter().map(|f| format!("{}: {}", f.code, f.message)).collect::<Vec<_>>().join("; ")
}

/// Validate `spec` for the operator of `region`.
pub fn validate(spec: &TelemetryReplicaSpec, regions: &[Region], catalogue: &Catalogue, region: &str) -> Validated {
    let verdict = evaluate_replica(spec, &RegionIndex::from_regions(regions), catalogue);
    let side = side(spec, region);
    let decision = decide(side, &verdict, region);
    Validated { side, verdict, decision }
}

fn decide(side: ReplicaSide, verdict: &ReplicaVerdict, region: &str) -> Decision {
    if side == ReplicaSide::NotInvolved {
        return Decision::NotInvolved;
    }
    if let Some(first) = verdict.findings.first() {
        return Decision::Refused { code: first.code, message: findings_message(verdict) };
    }
    let permitted: Vec<String> = verdict.targets.iter().filter(|t| t.permitted).map(|t| t.region.clone()).collect();
    match side {
        ReplicaSide::Source if permitted.is_empty() => Decision::Refused {
            code: ReasonCode::TransferNotPermitted,
            message: "no target region is permitted".to_owned(),
        },
        ReplicaSide::Source => Decision::Export { targets: permitted },
        // A verdict without findings permits every target; this guards the invariant
        // rather than trusting it.
        _ if !permitted.iter().any(|t| t == region) => Decision::Refused {
            code: ReasonCode::TransferNotPermitted,
            message: format!("the transfer to {region:?} is not permitted"),
        },
        _ => Decision::Import,
    }
}

/// The message of a `ForeignRegion` condition: which operators serve the replica.
pub fn foreign_message(spec: &TelemetryReplicaSpec, region: &str) -> String {
    let targets: Vec<&str> = spec.targets.iter().map(|t| t.region.as_str()).collect();
    format!(
        "not served in region {region:?}: the operators of source region {:?} and target region(s) {} serve it",
        spec.source.region,
        targets.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use regionstack_api::Jurisdiction;
    use regionstack_api::fixtures::{
        RegionBuilder, TelemetryReplicaBuilder, anonymous_telemetry_table, device_telemetry_table, identifier,
    };
    use regionstack_api::region::Lifecycle;

    use super::*;

    fn regions() -> Vec<Region> {
        vec![
            RegionBuilder::new("eu-west-1").country("IE").build(),
            RegionBuilder::new("eu-west-3")
                .country("FR")
                .jurisdictions([Jurisdiction::Gdpr, Jurisdiction::Fdpa])
                .build(),
            RegionBuilder::new("us-east-1").country("US").build(),
            RegionBuilder::new("ap-south-1").country("IN").lifecycle(Lifecycle::Planned).build(),
        ]
    }

    fn replica() -> TelemetryReplicaBuilder {
        TelemetryReplicaBuilder::new("metrics", "eu-west-1").target("eu-west-3").table(device_telemetry_table())
    }

    #[test]
    fn side_table() {
        let spec = replica().target("us-east-1").build().spec;
        for (region, want) in [
            ("eu-west-1", ReplicaSide::Source),
            ("eu-west-3", ReplicaSide::Target),
            ("us-east-1", ReplicaSide::Target),
            ("ap-south-1", ReplicaSide::NotInvolved),
            ("", ReplicaSide::NotInvolved),
        ] {
            assert_eq!(side(&spec, region), want, "{region}");
        }
        // Source and target at once is the source side (refused as SelfReplication).
        let selfish = replica().target("eu-west-1").build().spec;
        assert_eq!(side(&selfish, "eu-west-1"), ReplicaSide::Source);
    }

    type Check = Box<dyn Fn(&Decision) -> bool>;

    #[test]
    fn decision_table() {
        let refused = |code| move |d: &Decision| matches!(d, Decision::Refused { code: c, .. } if *c == code);
        let export = |want: &'static [&'static str]| move |d: &Decision| matches!(d, Decision::Export { targets } if targets == want);
        let cases: Vec<(&str, TelemetryReplicaBuilder, &str, Check)> = vec![
            ("compliant, source", replica(), "eu-west-1", Box::new(export(&["eu-west-3"]))),
            ("compliant, target", replica(), "eu-west-3", Box::new(|d| *d == Decision::Import)),
            ("compliant, elsewhere", replica(), "us-east-1", Box::new(|d| *d == Decision::NotInvolved)),
            (
                "refused, elsewhere: still not involved",
                replica().table(
                    anonymous_telemetry_table().edit_column("email", regionstack_api::fixtures::ColumnBuilder::keep),
                ),
                "us-east-1",
                Box::new(|d| *d == Decision::NotInvolved),
            ),
            (
                "raw identifier refused on the source",
                replica().edit(|s| s.tables[0].columns.push(identifier("phone").keep().build())),
                "eu-west-1",
                Box::new(refused(ReasonCode::PersonalDataExported)),
            ),
            (
                "raw identifier refused on the target",
                replica().edit(|s| s.tables[0].columns.push(identifier("phone").keep().build())),
                "eu-west-3",
                Box::new(refused(ReasonCode::PersonalDataExported)),
            ),
            (
                "pseudonymous to the US without basis: whole replica refused",
                replica().target("us-east-1"),
                "eu-west-3",
                Box::new(refused(ReasonCode::TransferNotPermitted)),
            ),
            (
                "anonymous to the US is fine",
                TelemetryReplicaBuilder::new("m", "eu-west-1").target("us-east-1").table(anonymous_telemetry_table()),
                "eu-west-1",
                Box::new(export(&["us-east-1"])),
            ),
            (
                "planned target",
                replica().target("ap-south-1"),
                "eu-west-1",
                Box::new(refused(ReasonCode::RegionNotActive)),
            ),
            ("unknown target", replica().target("mars-1"), "eu-west-1", Box::new(refused(ReasonCode::UnknownRegion))),
            (
                "self replication",
                replica().target("eu-west-1"),
                "eu-west-1",
                Box::new(refused(ReasonCode::SelfReplication)),
            ),
            (
                "duplicate table",
                replica().table(device_telemetry_table()),
                "eu-west-3",
                Box::new(refused(ReasonCode::DuplicateTable)),
            ),
            (
                "invalid row filter",
                replica().edit(|s| s.tables[0].row_filter = Some("pg_sleep(1) IS NULL".into())),
                "eu-west-1",
                Box::new(refused(ReasonCode::InvalidRowFilter)),
            ),
            (
                "invalid identifier",
                replica().edit(|s| s.tables[0].name = "x".repeat(64)),
                "eu-west-1",
                Box::new(refused(ReasonCode::InvalidIdentifier)),
            ),
        ];
        let regions = regions();
        for (what, builder, region, check) in cases {
            let v = validate(&builder.build().spec, &regions, &Catalogue::new(), region);
            assert!(check(&v.decision), "{what}: {:?}", v.decision);
        }
    }

    #[test]
    fn refusal_message_lists_every_finding_and_foreign_names_servers() {
        let spec = replica()
            .target("ap-south-1")
            .edit(|s| s.tables[0].columns.push(identifier("phone").keep().build()))
            .build()
            .spec;
        let v = validate(&spec, &regions(), &Catalogue::new(), "eu-west-1");
        let Decision::Refused { message, .. } = v.decision else { panic!("{:?}", v.decision) };
        assert!(message.contains("PersonalDataExported") && message.contains("RegionNotActive"), "{message}");
        let m = foreign_message(&spec, "us-east-1");
        assert!(m.contains("eu-west-1") && m.contains("eu-west-3, ap-south-1"), "{m}");
    }
}
