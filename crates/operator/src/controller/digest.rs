//! Catalog digests as a cue to audit (DESIGN §9: drift repaired within a second).
//!
//! Some drift reaches no notification: PostgreSQL fires no event trigger for
//! replication slots (created by a function), for DDL on event triggers themselves,
//! or in a database where regionstack installs none (the application's source
//! database). Served databases are therefore polled every `Config::drift_poll`
//! (250 ms) with one cheap catalog query whose result is a digest (an md5 of the
//! relevant catalog rows); a reconcile, with its full audit, is requested only when
//! the digest changed. The audit stays the only judge: the digest says "look now".
//! Users: the PII listeners (`pii::Registry`) and the export pollers
//! (`telemetry::drift`).

/// The latest digest of one database: [`DriftWatch::changed`] says whether a new
/// reading differs from the one before (the first reading is the baseline).
#[derive(Debug, Default)]
pub struct DriftWatch {
    last: Option<String>,
}

impl DriftWatch {
    /// Record `digest`; `true` when an earlier one was recorded and differs.
    pub fn changed(&mut self, digest: String) -> bool {
        let changed = self.last.as_ref().is_some_and(|last| *last != digest);
        self.last = Some(digest);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_watch_reports_changes_after_the_baseline() {
        let mut w = DriftWatch::default();
        let steps = [("a", false), ("a", false), ("b", true), ("b", false), ("a", true)];
        for (i, (digest, want)) in steps.into_iter().enumerate() {
            assert_eq!(w.changed(digest.to_owned()), want, "step {i}: {digest}");
        }
    }
}
