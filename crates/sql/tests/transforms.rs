//! Transforms evaluated by a real PostgreSQL on edge values: NULLs, IPv6, negative
//! numbers, multibyte text, time zones.

use regionstack_api::telemetry::{TimeUnit, Transform};
use regionstack_sql::telemetry::transforms::{SourceColumn, render};

fn col(type_sql: &str, type_name: &str, category: char) -> SourceColumn {
    SourceColumn { name: "v".into(), type_sql: type_sql.into(), type_name: type_name.into(), category }
}

/// Evaluate the rendered expression with `new.v = CAST(<literal> AS <type>)` and
/// return psql's text output (empty for NULL).
fn eval(server: &testbed::PgServer, c: &SourceColumn, t: Transform, literal: &str) -> String {
    let r = render(c, t).unwrap().unwrap();
    let sql = format!(
        "SET TimeZone = 'America/New_York'; SELECT CAST(({}) AS text) FROM (SELECT CAST({literal} AS {}) AS v) AS new",
        r.expr, c.type_sql
    );
    server.psql("postgres", &sql).unwrap()
}

#[test]
fn transforms_on_edge_values() {
    let server = testbed::PgServer::start().unwrap();
    let cases: &[(SourceColumn, Transform, &str, &str)] = &[
        // truncateTime: UTC, whatever the session's time zone.
        (
            col("timestamp with time zone", "timestamptz", 'D'),
            Transform::TruncateTime(TimeUnit::Hour),
            "'2024-03-10 06:59:59.999+00'",
            "2024-03-10 01:00:00-05",
        ),
        (
            col("timestamp with time zone", "timestamptz", 'D'),
            Transform::TruncateTime(TimeUnit::Day),
            "'2024-03-10 03:00+00'",
            "2024-03-09 19:00:00-05",
        ),
        (
            col("timestamp without time zone", "timestamp", 'D'),
            Transform::TruncateTime(TimeUnit::Month),
            "'2024-02-29 23:59'",
            "2024-02-01 00:00:00",
        ),
        (col("date", "date", 'D'), Transform::TruncateTime(TimeUnit::Year), "'2024-07-04'", "2024-01-01"),
        (col("timestamp with time zone", "timestamptz", 'D'), Transform::TruncateTime(TimeUnit::Minute), "NULL", ""),
        // ipPrefix: v4 and v6 lengths, host bits cleared, NULL.
        (col("inet", "inet", 'I'), Transform::IpPrefix { v4: 24, v6: 48 }, "'203.0.113.77'", "203.0.113.0/24"),
        (col("inet", "inet", 'I'), Transform::IpPrefix { v4: 24, v6: 48 }, "'203.0.113.77/32'", "203.0.113.0/24"),
        (
            col("inet", "inet", 'I'),
            Transform::IpPrefix { v4: 24, v6: 48 },
            "'2001:db8:abcd:12:34::1'",
            "2001:db8:abcd::/48",
        ),
        (col("inet", "inet", 'I'), Transform::IpPrefix { v4: 0, v6: 0 }, "'::ffff:10.1.2.3'", "::/0"),
        (col("inet", "inet", 'I'), Transform::IpPrefix { v4: 32, v6: 128 }, "'10.1.2.3'", "10.1.2.3/32"),
        (col("cidr", "cidr", 'I'), Transform::IpPrefix { v4: 8, v6: 32 }, "'10.1.0.0/16'", "10.0.0.0/8"),
        (col("inet", "inet", 'I'), Transform::IpPrefix { v4: 24, v6: 48 }, "NULL", ""),
        // round: negative values, negative digits, integers, NaN, NULL.
        (col("double precision", "float8", 'N'), Transform::Round(1), "-33.8688", "-33.9"),
        (col("double precision", "float8", 'N'), Transform::Round(1), "-0.04", "0"),
        (col("double precision", "float8", 'N'), Transform::Round(-2), "-151.2", "-200"),
        (col("double precision", "float8", 'N'), Transform::Round(2), "'NaN'", "NaN"),
        (col("integer", "int4", 'N'), Transform::Round(-1), "-15", "-20"),
        (col("numeric(10,4)", "numeric", 'N'), Transform::Round(2), "1.005", "1.0100"),
        (col("double precision", "float8", 'N'), Transform::Round(1), "NULL", ""),
        // prefix: characters, not bytes.
        (col("text", "text", 'S'), Transform::Prefix(3), "'Zürich-Ost'", "Zür"),
        (col("text", "text", 'S'), Transform::Prefix(2), "'東京都港区'", "東京"),
        (col("text", "text", 'S'), Transform::Prefix(5), "'ab'", "ab"),
        (col("text", "text", 'S'), Transform::Prefix(5), "''", ""),
        (col("integer", "int4", 'N'), Transform::Prefix(2), "-12345", "-1"),
        (col("text", "text", 'S'), Transform::Prefix(5), "NULL", ""),
        // keep.
        (col("text", "text", 'S'), Transform::Keep, "'a''b'", "a'b"),
    ];
    for (c, t, literal, want) in cases {
        assert_eq!(eval(&server, c, *t, literal), *want, "{t:?} on {} {literal}", c.type_sql);
    }
}

#[test]
fn generalizing_transforms_refuse_wrong_types() {
    assert!(render(&col("text", "text", 'S'), Transform::IpPrefix { v4: 24, v6: 48 }).is_err());
    assert!(render(&col("text", "text", 'S'), Transform::Round(1)).is_err());
    assert!(render(&col("bigint", "int8", 'N'), Transform::TruncateTime(TimeUnit::Day)).is_err());
    assert!(render(&col("text", "text", 'S'), Transform::Drop).unwrap().is_none());
}
