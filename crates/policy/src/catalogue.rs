//! The jurisdiction catalogue: for each data-protection regime, where pseudonymous
//! (personal) data may be transferred without a declared legal basis.
//!
//! Anonymous data is outside every regime here (GDPR recital 26) and is not looked up.
//! Country lists are ISO 3166-1 alpha-2 codes. The lists reflect the legal sources
//! named in the comments as of the date given there; a change in law is a change to
//! this file, reviewed like code.

use std::collections::BTreeSet;

use regionstack_api::Jurisdiction;
use regionstack_api::telemetry::TransferBasis;

/// Member states of the European Economic Area: the 27 EU member states (Treaty on
/// European Union, as of the 2013 accession of Croatia) plus Iceland, Liechtenstein and
/// Norway (Agreement on the European Economic Area, OJ L 1, 3.1.1994). GDPR applies
/// throughout the EEA (EEA Joint Committee Decision 154/2018, 6 July 2018), so
/// transfers within it are not transfers to a third country.
const EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", // EU-27
    "IS", "LI", "NO", // EEA EFTA states
];

/// Countries and territories with an EU adequacy decision under GDPR Art. 45 (or one
/// kept in force by Art. 45(9)), as listed by the European Commission, reviewed
/// 2026-11-01:
/// - AD Andorra: Decision 2010/625/EU (19 Oct 2010)
/// - AR Argentina: Decision 2003/490/EC (30 Jun 2003)
/// - CA Canada: Decision 2002/2/EC (20 Dec 2001), commercial organisations under PIPEDA
/// - CH Switzerland: Decision 2000/518/EC (26 Jul 2000)
/// - FO Faroe Islands: Decision 2010/146/EU (5 Mar 2010)
/// - GB United Kingdom: Implementing Decision (EU) 2021/1772 (28 Jun 2021), renewed 2025
/// - GG Guernsey: Decision 2003/821/EC (21 Nov 2003)
/// - IL Israel: Decision 2011/61/EU (31 Jan 2011)
/// - IM Isle of Man: Decision 2004/411/EC (28 Apr 2004)
/// - JE Jersey: Decision 2008/393/EC (8 May 2008)
/// - JP Japan: Implementing Decision (EU) 2019/419 (23 Jan 2019)
/// - KR Republic of Korea: Implementing Decision (EU) 2022/254 (17 Dec 2021)
/// - NZ New Zealand: Decision 2013/65/EU (19 Dec 2012)
/// - UY Uruguay: Decision 2012/484/EU (21 Aug 2012)
///
/// Deliberately absent: the United States. Implementing Decision (EU) 2023/1795
/// (10 Jul 2023) covers only organisations certified under the EU-US Data Privacy
/// Framework, which the operator cannot verify; declare `DataPrivacyFramework` as the
/// transfer basis instead.
const EU_ADEQUACY: &[&str] = &["AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "UY"];

/// Why a transfer is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Within the European Economic Area.
    Eea,
    /// To a country with an EU adequacy decision.
    Adequacy,
    /// The regime restricts no transfer to this country.
    Unrestricted,
    /// A legal basis declared in the TelemetryReplica.
    Declared(TransferBasis),
}

impl Basis {
    /// The name shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Eea => "EEA",
            Basis::Adequacy => "Adequacy",
            Basis::Unrestricted => "Unrestricted",
            Basis::Declared(b) => b.as_str(),
        }
    }
}

/// The outcome of one regime's transfer rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferDecision {
    /// Allowed, and on which basis.
    Allowed(Basis),
    /// Refused, with an explanation naming the rule.
    Refused(String),
}

/// The catalogue of regimes with its one configurable part: the countries to which the
/// Government of India restricts transfers under DPDP.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    dpdp_restricted: BTreeSet<String>,
}

impl Catalogue {
    /// The catalogue with an empty DPDP restricted list (no country has been notified
    /// under section 16 as of 2026-11-01).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the countries notified under DPDP section 16(1).
    #[must_use]
    pub fn with_dpdp_restricted<I: IntoIterator<Item = S>, S: Into<String>>(mut self, countries: I) -> Self {
        self.dpdp_restricted = countries.into_iter().map(Into::into).collect();
        self
    }

    /// Country scope of a regime, where it is territorial: FDPA is French law.
    pub fn scope(regime: Jurisdiction) -> Option<&'static [&'static str]> {
        match regime {
            Jurisdiction::Gdpr => Some(EEA),
            Jurisdiction::Fdpa => Some(&["FR"]),
            Jurisdiction::Dpdp => Some(&["IN"]),
        }
    }

    /// May pseudonymous data under `regime` go to `country` given the declared basis?
    pub fn transfer(&self, regime: Jurisdiction, country: &str, declared: Option<TransferBasis>) -> TransferDecision {
        match regime {
            // GDPR Chapter V (Regulation (EU) 2016/679, 27 Apr 2016, Arts. 44-49).
            // FDPA: Loi n° 78-17 du 6 janvier 1978 (as amended by Ordonnance
            // n° 2018-1125 of 12 Dec 2018), whose transfer rules are GDPR's.
            Jurisdiction::Gdpr | Jurisdiction::Fdpa => {
                if EEA.contains(&country) {
                    TransferDecision::Allowed(Basis::Eea)
                } else if EU_ADEQUACY.contains(&country) {
                    TransferDecision::Allowed(Basis::Adequacy)
                } else if let Some(basis) = declared {
                    TransferDecision::Allowed(Basis::Declared(basis))
                } else {
                    TransferDecision::Refused(format!(
                        "{regime} allows pseudonymous data to leave the EEA only for a country with an EU adequacy \
                         decision or with a declared transferBasis (GDPR Arts. 45-46); {country} has none"
                    ))
                }
            }
            // DPDP: Digital Personal Data Protection Act, 2023 (No. 22 of 2023,
            // 11 Aug 2023), section 16: transfers are allowed except to countries the
            // Central Government restricts by notification.
            Jurisdiction::Dpdp => {
                if self.dpdp_restricted.contains(country) {
                    TransferDecision::Refused(format!(
                        "DPDP section 16 restricts transfers of personal data to {country} (notified by the Government of India)"
                    ))
                } else {
                    TransferDecision::Allowed(Basis::Unrestricted)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdpr_and_fdpa_follow_eea_adequacy_then_declared_basis() {
        let cat = Catalogue::new();
        for regime in [Jurisdiction::Gdpr, Jurisdiction::Fdpa] {
            assert_eq!(cat.transfer(regime, "FR", None), TransferDecision::Allowed(Basis::Eea));
            assert_eq!(cat.transfer(regime, "NO", None), TransferDecision::Allowed(Basis::Eea));
            assert_eq!(cat.transfer(regime, "JP", None), TransferDecision::Allowed(Basis::Adequacy));
            assert!(matches!(cat.transfer(regime, "IN", None), TransferDecision::Refused(_)));
            assert!(matches!(cat.transfer(regime, "US", None), TransferDecision::Refused(_)));
            assert_eq!(
                cat.transfer(regime, "IN", Some(TransferBasis::StandardContractualClauses)),
                TransferDecision::Allowed(Basis::Declared(TransferBasis::StandardContractualClauses))
            );
        }
    }

    #[test]
    fn dpdp_allows_all_but_restricted_countries() {
        let open = Catalogue::new();
        assert_eq!(open.transfer(Jurisdiction::Dpdp, "IE", None), TransferDecision::Allowed(Basis::Unrestricted));
        let restricted = Catalogue::new().with_dpdp_restricted(["XX"]);
        assert!(matches!(restricted.transfer(Jurisdiction::Dpdp, "XX", None), TransferDecision::Refused(_)));
        // A declared basis does not override a DPDP restriction.
        assert!(matches!(
            restricted.transfer(Jurisdiction::Dpdp, "XX", Some(TransferBasis::StandardContractualClauses)),
            TransferDecision::Refused(_)
        ));
    }

    #[test]
    fn country_lists_are_well_formed() {
        for c in EEA.iter().chain(EU_ADEQUACY) {
            assert!(c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()), "{c}");
        }
        assert_eq!(EEA.len(), 30);
        assert!(EEA.iter().all(|c| !EU_ADEQUACY.contains(c)));
    }
}
