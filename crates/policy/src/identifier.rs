//! What regionstack accepts as a PostgreSQL identifier coming from a spec.
//!
//! Every identifier is quoted when rendered, so PostgreSQL itself would accept any
//! non-empty string without NUL of at most 63 bytes (NAMEDATALEN - 1; longer names are
//! silently truncated, which would make two spec names collide). regionstack is a
//! little stricter: control characters are refused because they make audit output and
//! logs unreadable, and system or regionstack-owned schemas cannot be exported from.

/// PostgreSQL's identifier length limit in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Schemas a TelemetryReplica may never read from: the system catalogs and the schemas
/// regionstack itself owns.
const RESERVED_SCHEMAS: &[&str] =
    &["pg_catalog", "information_schema", "pg_toast", "regionstack", "regionstack_import"];

/// Check one identifier. `what` names it in the error ("column", "table"…).
pub fn validate_identifier(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "{what} name {name:?} is {} bytes; PostgreSQL identifiers are at most {MAX_IDENTIFIER_BYTES} bytes",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("{what} name {name:?} contains the control character {c:?}"));
    }
    Ok(())
}

/// Check a schema name a table is exported from.
pub fn validate_source_schema(name: &str) -> Result<(), String> {
    validate_identifier("schema", name)?;
    if RESERVED_SCHEMAS.contains(&name) || name.starts_with("pg_temp") || name.starts_with("pg_toast_temp") {
        return Err(format!("schema {name:?} is a system or regionstack schema and cannot be exported"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_quoting_makes_valid() {
        for ok in
            ["device_metrics", "Mixed Case", "ünïcödé", "a\"quote", "x".repeat(63).as_str(), "é".repeat(31).as_str()]
        {
            assert!(validate_identifier("table", ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert!(validate_identifier("table", "").is_err());
        assert!(validate_identifier("table", &"x".repeat(64)).is_err());
        // 32 two-byte characters are 64 bytes: too long although only 32 characters.
        assert!(validate_identifier("table", &"é".repeat(32)).is_err());
        assert!(validate_identifier("table", "a\0b").is_err());
        assert!(validate_identifier("table", "line\nbreak").is_err());
    }

    #[test]
    fn refuses_system_schemas() {
        for bad in ["pg_catalog", "information_schema", "pg_toast", "regionstack", "regionstack_import", "pg_temp_3"] {
            assert!(validate_source_schema(bad).is_err(), "{bad}");
        }
        assert!(validate_source_schema("public").is_ok());
    }
}
