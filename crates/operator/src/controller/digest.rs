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

/// The drift state of one database, shared by its poller (every reading) and the
/// reconciles (after one that changed something).
///
/// Why reconciles mark it stale: a repair restores the digest of before the drift,
/// so the sequence drift → repair → the same drift again can complete between two
/// readings, and a plain "differs from the last reading" would miss the second drift
/// (A-B-A). After a reconcile that changed the database, the next reading therefore
/// always requests one more reconcile; its audit sees the current state.
#[derive(Debug, Default)]
pub struct DriftWatch {
    state: State,
}

#[derive(Debug, Default)]
enum State {
    /// No reading yet: the first one is the baseline.
    #[default]
    Fresh,
    /// A reconcile changed the database: the next reading requests a reconcile.
    Stale,
    /// The last reading.
    Seen(String),
}

impl DriftWatch {
    /// Record a reading; `true` when it should be audited: it differs from the last
    /// reading, or the watch was marked stale since.
    pub fn changed(&mut self, digest: String) -> bool {
        let changed = match &self.state {
            State::Fresh => false,
            State::Stale => true,
            State::Seen(last) => *last != digest,
        };
        self.state = State::Seen(digest);
        changed
    }

    /// A reconcile changed the database (a repair, an installation).
    pub fn mark_stale(&mut self) {
        self.state = State::Stale;
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

    #[test]
    fn a_repair_makes_the_next_reading_count_even_when_it_looks_unchanged() {
        let mut w = DriftWatch::default();
        assert!(!w.changed("clean".into()));
        // drift, seen, reconciled and repaired; the same drift again before the next
        // reading: the reading equals the last one, yet it must be audited.
        assert!(w.changed("drifted".into()));
        w.mark_stale();
        assert!(w.changed("drifted".into()));
        assert!(!w.changed("drifted".into()), "one request per repair, not a loop");
        w.mark_stale();
        assert!(w.changed("clean".into()));
        assert!(!w.changed("clean".into()));
    }
}
