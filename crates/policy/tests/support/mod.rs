//! The region world shared by the policy test suites: the seed topology of DESIGN §1
//! plus the regions the seed lacks to exercise every transfer rule.

#![allow(dead_code)] // each test crate uses its own part of this module

use regionstack_api::fixtures::{AP_SOUTH_1, EU_WEST_1, EU_WEST_3, RegionBuilder, seed_topology};
use regionstack_api::region::Lifecycle;
use regionstack_api::{Jurisdiction, ReasonCode, Region};
use regionstack_policy::Finding;

/// India (Hyderabad), DPDP, `Active`: the India of the seed once a region runs there.
pub const AP_SOUTH_2: &str = "ap-south-2";
/// Sweden, GDPR, `Draining`.
pub const EU_NORTH_1: &str = "eu-north-1";
/// Japan, `Active`: an EU adequacy country. No regime of the catalogue is in force there.
pub const AP_NORTHEAST_1: &str = "ap-northeast-1";
/// United States, `Active`: no adequacy decision. No regime of the catalogue is in force
/// there.
pub const US_EAST_1: &str = "us-east-1";
/// A region no Region object declares.
pub const UNKNOWN: &str = "mars-1";

/// Every region name of [`world`], in order, then one unknown name.
pub const NAMES: [&str; 8] =
    [EU_WEST_1, EU_WEST_3, AP_SOUTH_1, AP_SOUTH_2, EU_NORTH_1, AP_NORTHEAST_1, US_EAST_1, UNKNOWN];

/// The Active regions of [`world`].
pub const ACTIVE: [&str; 5] = [EU_WEST_1, EU_WEST_3, AP_SOUTH_2, AP_NORTHEAST_1, US_EAST_1];

/// The seed regions plus ap-south-2 (IN, DPDP, Active), eu-north-1 (SE, GDPR,
/// Draining), ap-northeast-1 (JP, Active) and us-east-1 (US, Active).
pub fn world() -> Vec<Region> {
    let mut regions = seed_topology().regions;
    regions.extend([
        RegionBuilder::new(AP_SOUTH_2).country("IN").jurisdictions([Jurisdiction::Dpdp]).build(),
        RegionBuilder::new(EU_NORTH_1)
            .country("SE")
            .jurisdictions([Jurisdiction::Gdpr])
            .lifecycle(Lifecycle::Draining)
            .build(),
        RegionBuilder::new(AP_NORTHEAST_1).country("JP").jurisdictions([]).build(),
        RegionBuilder::new(US_EAST_1).country("US").jurisdictions([]).build(),
    ]);
    regions
}

/// The codes of `findings`, sorted: compared whole, so a test states exactly which
/// codes (and how many of each) a verdict carries.
pub fn codes(findings: &[Finding]) -> Vec<ReasonCode> {
    let mut codes: Vec<_> = findings.iter().map(|f| f.code).collect();
    codes.sort();
    codes
}

/// `expected`, sorted like [`codes`].
pub fn sorted(expected: &[ReasonCode]) -> Vec<ReasonCode> {
    let mut codes = expected.to_vec();
    codes.sort();
    codes
}
