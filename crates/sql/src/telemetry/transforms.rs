//! Column transforms rendered as SQL expressions over `NEW.<column>` (the staging
//! row inside the BEFORE INSERT trigger of the boundary database).
//!
//! Every expression is NULL-preserving and never raises on a value of the declared
//! type: an error inside the trigger would stop the hop-1 apply worker. Transforms
//! that need a particular type (`truncateTime`, `ipPrefix`, `round`) are refused at
//! render time for other types, before any SQL runs.

use regionstack_api::telemetry::Transform;

use crate::error::SqlError;
use crate::ident::quote_ident;

/// The pseudonymization function installed in the boundary database.
pub const PSEUDONYMIZE_FN: &str = "regionstack.pseudonymize";

/// The trigger-function variable holding the HMAC key while a row is transformed.
pub const KEY_VAR: &str = "hmac_key";

/// A source column as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceColumn {
    /// Column name.
    pub name: String,
    /// `format_type(atttypid, atttypmod)`, e.g. `timestamp with time zone`.
    pub type_sql: String,
    /// `pg_type.typname` of the column's type, e.g. `timestamptz`.
    pub type_name: String,
    /// `pg_type.typcategory` (`N` numeric, `S` string, `D` date/time, `I` network…).
    pub category: char,
}

/// One output column of an export table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedColumn {
    /// Column name (the source column's name).
    pub name: String,
    /// SQL type of the export column.
    pub type_sql: String,
    /// Expression over `NEW.<column>` computing the exported value.
    pub expr: String,
}

/// Render `transform` of `column`; `None` for `drop` (the column is not exported).
pub fn render(column: &SourceColumn, transform: Transform) -> Result<Option<RenderedColumn>, SqlError> {
    let value = format!("NEW.{}", quote_ident(&column.name));
    let refuse = |what: &str| {
        Err(SqlError::Invalid(format!(
            "column {:?} has type {}: transform {what} needs {}",
            column.name,
            column.type_sql,
            match what {
                "truncateTime" => "a date or timestamp",
                "ipPrefix" => "an inet or cidr",
                _ => "a number",
            }
        )))
    };
    let (type_sql, expr) = match transform {
        Transform::Drop => return Ok(None),
        Transform::Keep => (column.type_sql.clone(), value),
        // Inline HMAC over the key the trigger function read once (see
        // `boundary::function_body`): calling `pseudonymize()` per row re-plans its SQL
        // body on every call, which made hop 1 several times slower.
        Transform::Hash => (
            "text".to_owned(),
            format!(
                "pg_catalog.encode(regionstack.hmac(pg_catalog.convert_to(CAST({value} AS text), 'UTF8'), {KEY_VAR}, 'sha256'), 'hex')"
            ),
        ),
        Transform::TruncateTime(unit) => {
            let unit = unit.as_str();
            match column.type_name.as_str() {
                // The three-argument form truncates in UTC, independent of the apply
                // worker's TimeZone setting.
                "timestamptz" => (column.type_sql.clone(), format!("pg_catalog.date_trunc('{unit}', {value}, 'UTC')")),
                "timestamp" | "date" => (
                    column.type_sql.clone(),
                    format!("CAST(pg_catalog.date_trunc('{unit}', CAST({value} AS timestamp)) AS {})", column.type_sql),
                ),
                _ => return refuse("truncateTime"),
            }
        }
        Transform::IpPrefix { v4, v6 } => {
            if !matches!(column.type_name.as_str(), "inet" | "cidr") {
                return refuse("ipPrefix");
            }
            let ip = format!("CAST({value} AS inet)");
            (
                column.type_sql.clone(),
                format!(
                    "CAST(pg_catalog.network(pg_catalog.set_masklen({ip}, CASE pg_catalog.family({ip}) WHEN 4 THEN {v4} ELSE {v6} END)) AS {})",
                    column.type_sql
                ),
            )
        }
        Transform::Round(digits) => {
            if column.category != 'N' {
                return refuse("round");
            }
            (
                column.type_sql.clone(),
                format!("CAST(pg_catalog.round(CAST({value} AS numeric), {digits}) AS {})", column.type_sql),
            )
        }
        // `left` counts characters, not bytes: multibyte text is never cut mid-character.
        Transform::Prefix(n) => ("text".to_owned(), format!("pg_catalog.left(CAST({value} AS text), {n})")),
    };
    Ok(Some(RenderedColumn { name: column.name.clone(), type_sql, expr }))
}

#[cfg(test)]
mod tests {
    use regionstack_api::telemetry::TimeUnit;

    use super::*;

    fn col(name: &str, type_sql: &str, type_name: &str, category: char) -> SourceColumn {
        SourceColumn { name: name.into(), type_sql: type_sql.into(), type_name: type_name.into(), category }
    }

    #[test]
    fn renders_quoted_and_typed() {
        let c = col("we\"ird", "text", "text", 'S');
        let r = render(&c, Transform::Hash).unwrap().unwrap();
        assert_eq!(
            r.expr,
            "pg_catalog.encode(regionstack.hmac(pg_catalog.convert_to(CAST(NEW.\"we\"\"ird\" AS text), 'UTF8'), hmac_key, 'sha256'), 'hex')"
        );
        assert!(render(&c, Transform::Drop).unwrap().is_none());
        assert!(render(&c, Transform::Round(1)).is_err());
        assert!(render(&c, Transform::TruncateTime(TimeUnit::Day)).is_err());
        assert!(render(&c, Transform::IpPrefix { v4: 24, v6: 48 }).is_err());
        let ts = col("ts", "timestamp with time zone", "timestamptz", 'D');
        let r = render(&ts, Transform::TruncateTime(TimeUnit::Minute)).unwrap().unwrap();
        assert!(r.expr.contains("'UTC'"), "{}", r.expr);
    }
}
