//! Identifiers: every name that comes from a spec is validated (by the policy crate's
//! rules) and quoted; every name regionstack generates fits PostgreSQL's 63-byte limit,
//! with a hash suffix when the readable form would not.

use sha2::{Digest, Sha256};

pub use regionstack_policy::identifier::MAX_IDENTIFIER_BYTES;
pub use regionstack_policy::row_filter::{quote_ident, quote_literal};

use crate::error::SqlError;

/// Validate a spec-supplied identifier (see `regionstack_policy::identifier`).
pub fn checked(what: &str, name: &str) -> Result<String, SqlError> {
    regionstack_policy::identifier::validate_identifier(what, name).map_err(SqlError::Invalid)?;
    Ok(quote_ident(name))
}

/// `schema.table`, both parts validated and quoted.
pub fn qualified(schema: &str, table: &str) -> Result<String, SqlError> {
    Ok(format!("{}.{}", checked("schema", schema)?, checked("table", table)?))
}

/// A generated name: `prefix_part1_part2…`, lower-cased, with every character outside
/// `[a-z0-9_]` replaced by `_`. When that exceeds 63 bytes it is cut and suffixed with
/// `_` and 8 hex digits of the SHA-256 of the full readable form, so two long names that
/// share a prefix stay distinct.
pub fn generated(prefix: &str, parts: &[&str]) -> String {
    let mut full = prefix.to_owned();
    for p in parts {
        full.push('_');
        full.push_str(p);
    }
    let readable: String =
        full.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if readable.len() <= MAX_IDENTIFIER_BYTES && readable == full {
        return readable;
    }
    // Sanitizing can make distinct names equal ("a-b" and "a_b"): hash the original.
    let digest = hex::encode(&Sha256::digest(full.as_bytes())[..4]);
    let keep = MAX_IDENTIFIER_BYTES - 1 - digest.len();
    let cut: String = readable.chars().take(keep).collect();
    format!("{cut}_{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_fit_and_stay_distinct() {
        assert_eq!(generated("rs", &["pub", "device_metrics"]), "rs_pub_device_metrics");
        let long_a = generated("rs_export", &["telemetry", &"a".repeat(60), "x"]);
        let long_b = generated("rs_export", &["telemetry", &"a".repeat(60), "y"]);
        assert!(long_a.len() <= 63 && long_b.len() <= 63);
        assert_ne!(long_a, long_b);
        assert_ne!(generated("rs", &["a-b"]), generated("rs", &["a_b"]));
        assert!(generated("rs", &["Ünïcode table"]).is_ascii());
    }

    #[test]
    fn checked_quotes_and_refuses() {
        assert_eq!(checked("table", "we\"ird").unwrap(), "\"we\"\"ird\"");
        assert!(checked("table", &"x".repeat(64)).is_err());
        assert!(checked("column", "").is_err());
        assert_eq!(qualified("public", "t").unwrap(), "\"public\".\"t\"");
    }
}
