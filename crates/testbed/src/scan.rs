//! Scanning a database for values that must not be there: the residency tests'
//! canary check (personal data planted at the source must never show up raw in
//! another region's databases).

use crate::{PgServer, TestbedError};

impl PgServer {
    /// Every user table of `db` (all schemas but the catalogs and temporary ones),
    /// every column cast to text, searched for rows containing one of `needles` as a
    /// substring: `table.column=count, …` per hit in name order, empty when there is none.
    ///
    /// The needles travel as string literals (quotes doubled) into a temporary table
    /// the scan joins, never into the dynamic SQL itself. `%` and `_` in a needle act
    /// as `LIKE` wildcards.
    pub fn canary_hits(&self, db: &str, needles: &[&str]) -> Result<String, TestbedError> {
        let rows: Vec<String> = needles.iter().map(|n| format!("('{}')", n.replace('\'', "''"))).collect();
        let values =
            if rows.is_empty() { String::new() } else { format!("INSERT INTO needles VALUES {};", rows.join(", ")) };
        self.psql(
            db,
            &format!(
                "CREATE TEMP TABLE needles (x text); {values}
                 CREATE TEMP TABLE hits (t text, c text, n bigint);
                 DO $scan$ DECLARE r record; n bigint; BEGIN
                   FOR r IN SELECT c.oid::regclass::text AS t, a.attname FROM pg_class c
                     JOIN pg_namespace ns ON ns.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
                     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                       AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname NOT LIKE 'pg_t%'
                   LOOP
                     EXECUTE format('SELECT count(*) FROM %s WHERE %I::text LIKE ANY (SELECT ''%%'' || x || ''%%'' FROM needles)', r.t, r.attname) INTO n;
                     IF n > 0 THEN INSERT INTO hits VALUES (r.t, r.attname, n); END IF;
                   END LOOP; END $scan$;
                 SELECT coalesce(string_agg(t || '.' || c || '=' || n, ', ' ORDER BY t, c), '') FROM hits;"
            ),
        )
    }
}
