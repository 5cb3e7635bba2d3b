//! `PgServer::canary_hits` finds planted values in any schema and column, quotes
//! included, and nothing where they are absent.

#[test]
fn canary_scan_finds_planted_values_and_only_those() {
    let server = testbed::PgServer::start().expect("start PostgreSQL");
    server.create_database("app").unwrap();
    server
        .psql(
            "app",
            "CREATE SCHEMA crm;
             CREATE TABLE crm.people (id int, name text, seen timestamptz);
             INSERT INTO crm.people VALUES (1, 'Dara O''Brien', now()), (2, 'someone else', NULL);
             CREATE TABLE public.metrics (device inet, reading numeric);
             INSERT INTO public.metrics VALUES ('2001:db8::7', 1.5);",
        )
        .unwrap();
    assert_eq!(server.canary_hits("app", &["O'Brien"]).unwrap(), "crm.people.name=1");
    assert_eq!(server.canary_hits("app", &["2001:db8::7", "O'Brien"]).unwrap(), "crm.people.name=1, metrics.device=1");
    assert_eq!(server.canary_hits("app", &["not planted"]).unwrap(), "");
    assert_eq!(server.canary_hits("app", &[]).unwrap(), "");
}
